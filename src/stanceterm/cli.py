"""The ``stanceterm`` command line: each command parses its options, calls the core, and prints.

Errors a user can cause (bad files, bad DB, bad schema) end as one line on stderr and a non-zero
exit, never a traceback (set ``STANCETERM_DEBUG=1`` to see one for a bug report).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click
import orjson
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from stanceterm import __version__
from stanceterm.config import (
    ENV_DB,
    ENV_THEME,
    ConfigError,
    Settings,
    demo_article_path,
    load_settings,
    resolve_annotator,
    resolve_db,
    resolve_schema,
    resolve_theme,
)
from stanceterm.fileguard import ConnectedFileError
from stanceterm.schema import LabelSchema, SchemaError, json_schemas, load_schema
from stanceterm.serve import DEFAULT_HOST, DEFAULT_PORT
from stanceterm.store import Store, StoreError
from stanceterm.textsafe import clean

DEMO_DB = "stanceterm-demo.db"
err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)


class UserError(click.ClickException):
    """A one-line error for the user (exit 1)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {clean(self.format_message())}", err=True)


def fail(message: str) -> NoReturn:
    raise UserError(message)


@dataclass
class AppContext:
    db_flag: str | None
    schema_flag: str | None
    settings: Settings
    _store: Store | None = None
    _schema: LabelSchema | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def db_path(self) -> Path:
        return resolve_db(self.db_flag, self.settings)

    def store(self, create: bool = True) -> Store:
        if self._store is None:
            self._store = Store.open(self.db_path, create=create)
            self.closers.append(self._store.close)
        return self._store

    def schema(self) -> LabelSchema:
        """The label schema: an explicit --schema/env/config file, else the DB's, else the default.

        An explicitly chosen schema is recorded in the DB so every later command agrees on it.
        """
        if self._schema is None:
            # an explicit schema is checked before the DB is opened: a bad one creates no file
            explicit = resolve_schema(self.schema_flag, self.settings)
            loaded = load_schema(explicit) if explicit else None
            store = self.store()
            schema = loaded if loaded is not None else store.label_schema()
            if schema is None:
                schema = load_schema()
            store.set_label_schema(schema)
            self._schema = schema
        return self._schema

    def theme(self) -> str | None:
        """The TUI theme ($STANCETERM_THEME or the config's ``theme``), checked by name."""
        from textual.theme import BUILTIN_THEMES

        name = resolve_theme(self.settings)
        if name is not None and name not in BUILTIN_THEMES:
            where = "$STANCETERM_THEME" if os.environ.get(ENV_THEME) else self.settings.path
            fail(
                f"{clean(where)}: unknown theme {clean(name)!r}; choose one of "
                + ", ".join(sorted(BUILTIN_THEMES))
            )
        return name

    def annotator(self, flag: str | None, required: bool = True) -> str | None:
        name = resolve_annotator(flag, self.settings)
        if name is None and required:
            fail(
                "no annotator: pass --annotator NAME, set STANCETERM_ANNOTATOR, or put "
                'annotator = "NAME" in stanceterm.toml'
            )
        if name is not None and (len(name) > 100 or any(ord(ch) < 32 for ch in name)):
            fail("annotator name must be 1-100 printable characters")
        return name


pass_app = click.make_pass_decorator(AppContext)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stanceterm")
@click.option(
    "--db",
    "db",
    metavar="PATH",
    help="SQLite database (default: $STANCETERM_DB, the config file, or ./stanceterm.db).",
)
@click.option(
    "--schema",
    "schema",
    metavar="FILE",
    help="Label schema JSON (default: $STANCETERM_SCHEMA, the one stored in the DB, or the bundled one).",
)
@click.pass_context
def cli(ctx: click.Context, db: str | None, schema: str | None) -> None:
    """Annotate claims and actor stances in news text, in the terminal.

    The whole loop lives in one SQLite file: import articles, annotate, deduplicate,
    export, measure agreement and adjudicate.
    """
    app = AppContext(db, schema, load_settings())
    ctx.obj = app
    ctx.call_on_close(lambda: [close() for close in app.closers])


# --------------------------------------------------------------------------- import


def run_import(
    app: AppContext, paths: tuple[str, ...], quiet: bool = False, jobs: int | None = None
) -> int:
    """Import files and folders; prints per-file errors and a summary. Returns the exit code."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from stanceterm.ingest import discover, import_file
    from stanceterm.store import ImportCounts

    files = list(discover(paths))
    if not files:
        fail("nothing to import: no .txt or .jsonl files in " + ", ".join(map(clean, paths)))
    schema = app.schema()
    store = app.store()
    total = ImportCounts()
    failed = 0
    show_progress = err_console.is_terminal and not quiet
    progress = Progress(
        TextColumn("[bold]importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[sentences]} sentences"),
        TimeElapsedColumn(),
        console=err_console,
        disable=not show_progress,
        transient=True,
    )
    with progress:
        task = progress.add_task("import", total=len(files), sentences=0)
        added = 0

        def on_article(n: int) -> None:
            nonlocal added
            added += n
            progress.update(task, sentences=added)

        for path in files:
            result = import_file(
                store,
                path,
                boilerplate=schema.boilerplate or None,
                on_article=on_article,
                jobs=jobs,
            )
            progress.advance(task)
            if result.error:
                failed += 1
                click.echo(f"error: {clean(result.error)}", err=True)
                continue
            if result.warning:
                click.echo(f"warning: {clean(result.warning)}", err=True)
            c = result.counts
            total.articles_added += c.articles_added
            total.articles_skipped += c.articles_skipped
            total.sentences_added += c.sentences_added
            total.sentences_skipped += c.sentences_skipped
    if not quiet or failed:
        click.echo(
            f"Imported {total.articles_added} article(s), {total.sentences_added} sentence(s); "
            f"skipped {total.articles_skipped} article(s) already present "
            f"({total.sentences_skipped} sentence(s)); {failed} file(s) refused. DB: {clean(store.path)}",
            err=True,
        )
    return 1 if failed else 0


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Processes for sentence splitting (default 2, or env STANCETERM_JOBS; 1 = no pool). "
    "Small files always stay in one process.",
)
@pass_app
def import_cmd(app: AppContext, paths: tuple[str, ...], quiet: bool, jobs: int | None) -> None:
    """Import articles from .txt files, .jsonl files or folders.

    A .txt file is one article whose first non-empty line is the title. A .jsonl file holds one
    article per line: "text" is required; "id", "title", "source", "url", "published" and "lang"
    are optional. Each file is one transaction: a file with a bad line is refused whole (the error
    names the line) and the other files still import. Importing the same article twice adds nothing.
    """
    code = run_import(app, paths, quiet, jobs)
    if code:
        sys.exit(code)


# --------------------------------------------------------------------------- export / import-labels


@cli.command("export")
@click.option(
    "--kind",
    type=click.Choice(["annotations", "sentences", "gold"]),
    default="annotations",
    show_default=True,
    help="What to write.",
)
@click.option(
    "--out",
    "out",
    metavar="FILE",
    help="Output file, '-' for stdout (default: exports/KIND-TIMESTAMP.jsonl).",
)
@click.option("--annotator", "annotators", multiple=True, help="Only this annotator (repeatable).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["done", "skipped", "flagged", "draft"]),
    help="Only this status (repeatable; default: done, skipped and flagged).",
)
@click.option("--article", "articles", multiple=True, help="Only this article id (repeatable).")
@pass_app
def export_cmd(
    app: AppContext,
    kind: str,
    out: str | None,
    annotators: tuple[str, ...],
    statuses: tuple[str, ...],
    articles: tuple[str, ...],
) -> None:
    """Export sentences, annotations or gold labels as JSONL.

    annotations: one line per (sentence, annotator) with status, claims, stances
    ({"claim", "actor", "stance"}), propagated_from, note and timestamps. A "done" line with
    "claims": [] means "no claim"; "skipped" means missing data.

    sentences: one line per sentence with its cluster_id and all its annotations.

    gold: one line per adjudicated sentence with the gold labels and the annotators' versions.
    """
    from stanceterm.export import Filters, default_out_path, export

    store = app.store(create=False)
    target = out or str(default_out_path(kind))
    filters = Filters(annotators, statuses or ("done", "skipped", "flagged"), articles)
    n = export(store, kind, target, filters)
    where = "stdout" if target == "-" else target
    click.echo(f"Wrote {n} {kind} line(s) to {clean(where)}", err=True)


@cli.command("import-labels")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_app
def import_labels_cmd(app: AppContext, file: str) -> None:
    """Import an annotations export (JSONL) back into the DB.

    Every record is checked against the label schema; an unknown claim, stance or sentence id
    refuses the whole file with an error naming the line. Importing the same file twice changes
    nothing; each label keeps its annotator.
    """
    from stanceterm.export import import_labels

    path = Path(file)
    if not path.is_file():
        fail(f"{path}: no such file")
    store = app.store(create=False)
    result = import_labels(store, path, app.schema())
    click.echo(
        f"Imported {result.written} label record(s) ({result.unchanged} unchanged, "
        f"{result.actors_created} new actor(s)) from {clean(path)}",
        err=True,
    )


# --------------------------------------------------------------------------- stats / schemas / demo


@cli.command("stats")
@pass_app
def stats_cmd(app: AppContext) -> None:
    """Articles, sentences, and annotations per annotator and per status."""
    store = app.store(create=False)
    counts = store.counts()
    head = Table(title="stanceterm database", show_header=False, title_justify="left")
    head.add_column("what")
    head.add_column("count", justify="right")
    head.add_row("database", Text(clean(store.path)))
    for key in (
        "articles",
        "sentences",
        "visible_sentences",
        "clusters",
        "annotators",
        "actors",
        "gold",
    ):
        head.add_row(key.replace("_", " "), str(counts[key]))
    out_console.print(head)
    per = store.status_counts()
    if not per:
        out_console.print("No annotations yet.")
        return
    from stanceterm.team import activity, claim_agreement

    rates = activity(store.iter_activity())
    overall, agree = claim_agreement(store.iter_shared_claims())
    statuses = ["done", "skipped", "flagged", "draft"]
    # short headers and no vertical rules: the table fits 80 columns (the footnote explains)
    table = Table(
        title="annotations per annotator",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("annotator", overflow="fold", min_width=9)
    for head_name in ("done", "skip", "flag", "draft", "prop", "lab/h", "active", "α", "shared"):
        table.add_column(head_name, justify="right", no_wrap=True)
    for annotator, by in per.items():
        prop = sum(v for k, v in by.items() if k.endswith("+prop"))
        act = rates.get(annotator)
        rate = None if act is None else act.per_hour
        ag = agree.get(annotator)
        table.add_row(
            Text(clean(annotator)),
            *(str(by.get(s, 0)) for s in statuses),
            str(prop),
            "-" if rate is None else f"{rate:.0f}",
            "-" if act is None else _duration(act.active_seconds),
            "-" if ag is None else _alpha_text(ag.alpha),
            "0" if ag is None else str(ag.units),
        )
    out_console.print(table)
    click.echo(
        f"All annotators: α claims = {_alpha_text(overall.alpha)} on {overall.units} shared "
        "sentence(s)."
    )
    click.echo(
        "skip, flag: skipped, flagged. prop: labels propagated to duplicate sentences. "
        "lab/h: sentences finished (done, skipped, flagged) per hour of active time, which "
        f"sums the pauses shorter than {SESSION_GAP_MINUTES} min between an annotator's changes. "
        "α: Krippendorff's alpha (MASI) on the claim sets of the sentences an annotator "
        "shares with others (shared: how many; done labels count, skipped, flagged and draft "
        "are missing, as in `stanceterm agreement`; propagated copies count once); n/a when "
        "undefined.",
        err=True,
    )


SESSION_GAP_MINUTES = 10


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes >= 60 else f"{minutes} min"


def _alpha_text(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"  # NaN: undefined (no variation)


@cli.command("schemas")
@click.option(
    "--check", is_flag=True, help="Fail if the files in --dir are stale instead of writing."
)
@click.option(
    "--dir", "folder", default="schemas", show_default=True, type=click.Path(file_okay=False)
)
def schemas_cmd(check: bool, folder: str) -> None:
    """Write the JSON Schema of every record type (label schema, article, exports)."""
    target = Path(folder)
    stale = []
    for name, text in json_schemas().items():
        path = target / name
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            stale.append(name)
            if not check:
                target.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    if check and stale:
        fail(f"stale JSON Schemas in {target}: {', '.join(stale)}; run `stanceterm schemas`")
    click.echo(
        ("up to date" if not stale else f"wrote {', '.join(stale)}") + f" in {clean(target)}",
        err=True,
    )


@cli.command("demo")
@click.option(
    "--annotator",
    default="demo",
    show_default=True,
    help="Annotate as this user (the demo ignores $STANCETERM_ANNOTATOR and the config file).",
)
@click.option("--no-ui", is_flag=True, help="Only import the demo article; do not open the TUI.")
@pass_app
def demo_cmd(app: AppContext, annotator: str, no_ui: bool) -> None:
    """Import the bundled demo article (a French news story, Sept 2023) and annotate it.

    The DB is --db (or $STANCETERM_DB, or the config file's db) if given, else
    ./stanceterm-demo.db, so the demo never mixes with a real ./stanceterm.db. The article is
    imported only when absent; the annotation screen then opens as user "demo" (or
    --annotator).
    """
    if not (app.db_flag or os.environ.get(ENV_DB) or app.settings.db):
        app.db_flag = DEMO_DB
    store = app.store()
    article = demo_article_path()
    code = run_import(app, (str(article),), quiet=True)
    if code:
        sys.exit(code)
    counts = store.counts()
    click.echo(
        f"Demo article in {clean(store.path)}: {counts['articles']} article(s), "
        f"{counts['sentences']} sentence(s).",
        err=True,
    )
    if not no_ui:
        _annotate(app, app.annotator(annotator) or "demo", show_others=False)


@cli.command("annotate")
@click.option("--annotator", help="Who is annotating (default: $STANCETERM_ANNOTATOR or config).")
@click.option(
    "--show-others",
    is_flag=True,
    help="Also show other annotators' labels for each sentence (off: annotators are blind).",
)
@pass_app
def annotate_cmd(app: AppContext, annotator: str | None, show_others: bool) -> None:
    """Open the annotation screen (press ? inside for every key).

    Resumes at the first sentence this annotator has not done. Every key press is saved at once;
    the keymap can be changed in the config file's [keys] table (action = "key,key").
    """
    name = app.annotator(annotator)
    assert name is not None
    _annotate(app, name, show_others)


def _annotate(app: AppContext, annotator: str, show_others: bool) -> None:
    from stanceterm.ui.app import KeymapError, check_keymap, run_app

    store = app.store(create=False)
    schema = app.schema()
    if store.first(annotator) is None:
        fail(f"{store.path}: no sentences to annotate; run `stanceterm import FILES` first")
    try:
        keymap = check_keymap(app.settings.keys, schema.stances)
    except KeymapError as exc:
        fail(f"{app.settings.path}: [keys]: {exc}")
    result = run_app(
        store, schema, annotator, show_others=show_others, keymap=keymap, theme=app.theme()
    )
    if result.failed_writes:
        for line in result.errors:
            click.echo(f"error: {clean(line)}", err=True)
        fail(f"{result.failed_writes} sentence(s) have changes that could not be saved")


# --------------------------------------------------------------------------- review


@cli.command("review")
@click.option("--annotator", help="Who adjudicates (default: $STANCETERM_ANNOTATOR or config).")
@click.option(
    "--all",
    "include_all",
    is_flag=True,
    help="Review every sentence somebody labelled or skipped, not only the disagreements.",
)
@pass_app
def review_cmd(app: AppContext, annotator: str | None, include_all: bool) -> None:
    """Adjudicate: turn the annotators' disagreements into gold labels (press ? inside).

    Walks, in document order, the sentences where at least two annotators' labels (done or
    flagged; claim sets and stances, actors through their aliases) differ, and those an
    annotator flagged. Skipped is missing data, not a disagreement; labels propagated to
    duplicate sentences count once. 1-9 accepts annotator n's labels as gold, e edits them,
    r marks the sentence unresolvable, u undoes. Resumes at the first sentence without a gold
    decision. Gold records carry the adjudicator, the time and every annotator's version:
    `stanceterm export --kind gold` writes them.
    """
    from stanceterm.adjudicate import review_queue
    from stanceterm.ui.review_app import run_review

    name = app.annotator(annotator)
    assert name is not None
    store = app.store(create=False)
    schema = app.schema()
    queue = review_queue(store, include_all=include_all)
    if not queue:
        what = "no sentence has a label" if include_all else "no disagreements and no flags"
        hint = "" if include_all else " (--all reviews every labelled sentence)"
        click.echo(f"Nothing to review in {clean(store.path)}: {what}{hint}.", err=True)
        return
    result = run_review(store, schema, name, queue=queue, theme=app.theme())
    if result.failed_writes:
        for line in result.errors:
            click.echo(f"error: {clean(line)}", err=True)
        fail(f"{result.failed_writes} gold decision(s) could not be saved")


# --------------------------------------------------------------------------- teams


@cli.command("annotators")
@pass_app
def annotators_cmd(app: AppContext) -> None:
    """List the annotators with their label counts, assigned sentences and latest activity.

    Counts are the annotator's own labels (copies propagated to duplicate sentences are not
    counted); "assigned" is the size of their queue (see `stanceterm assign`).
    """
    store = app.store(create=False)
    progress = store.progress_by_annotator()
    if not progress:
        out_console.print("No annotators yet.")
        return
    kinds = ["done", "skipped", "flagged", "draft", "assigned"]
    table = Table(title="annotators", title_justify="left")
    table.add_column("annotator")
    for kind in kinds:
        table.add_column(kind, justify="right")
    table.add_column("last activity (UTC)")
    for name, entry in progress.items():
        last = entry["last_activity"]
        table.add_row(
            Text(clean(name)),
            *(str(entry[k]) for k in kinds),
            "-" if last is None else str(last)[:19].replace("T", " "),
        )
    out_console.print(table)


@cli.command("assign")
@click.option(
    "--annotators",
    "names",
    required=True,
    metavar="A,B,C",
    help="Comma-separated annotator names.",
)
@click.option(
    "--overlap",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Annotators per sentence (K, at most the number of annotators).",
)
@click.option(
    "--overlap-sample",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    metavar="FRACTION",
    help="Give only this seeded fraction of the sentences K annotators, the rest one.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the plan.")
@click.option(
    "--replace", is_flag=True, help="Drop every earlier assignment and plan again (labels kept)."
)
@click.option(
    "--extend", is_flag=True, help="Assign only the visible sentences nobody has been assigned."
)
@pass_app
def assign_cmd(
    app: AppContext,
    names: str,
    overlap: int,
    overlap_sample: float | None,
    seed: int,
    replace: bool,
    extend: bool,
) -> None:
    """Split the visible sentences between annotators, each sentence to K of them.

    Visible sentences are the unclustered ones and the representative of each dedup cluster.
    Loads differ by at most one sentence; the plan is the same for the same seed, and each
    annotator's queue is a few runs of consecutive sentences. `annotate` then walks only the
    annotator's queue. With --overlap-sample, a seeded fraction of the sentences is annotated
    K times (enough for agreement) and the rest once.

    A DB that already has assignments is refused: --replace plans again from scratch (labels
    stay; an annotator's queue may then hold sentences someone else labelled), --extend gives
    out only the sentences nobody has yet (after a new import), favouring the least loaded.
    """
    from stanceterm.team import AssignmentError, check_annotator_names, plan_assignment

    if replace and extend:
        fail("--replace and --extend exclude each other")
    store = app.store(create=False)
    try:
        annotators = check_annotator_names(names.split(","))
    except AssignmentError as exc:
        fail(str(exc))
    existing = store.assignment_count()
    if existing and not (replace or extend):
        fail(
            f"{store.path}: already has {existing} assignment(s); pass --replace to plan again "
            "from scratch (labels are kept) or --extend to assign only the sentences nobody has"
        )
    seqs = store.visible_seqs(unassigned_only=extend)
    if extend and not seqs:
        click.echo("Nothing to assign: every visible sentence is already assigned.", err=True)
        return
    if not seqs:
        fail(f"{store.path}: no sentences to assign; run `stanceterm import FILES` first")
    try:
        plan = plan_assignment(
            seqs,
            annotators,
            overlap,
            seed=seed,
            overlap_sample=overlap_sample,
            existing=store.assigned_loads() if extend else None,
        )
    except AssignmentError as exc:
        fail(str(exc))
    written = store.write_assignments(plan.queues, replace=replace)
    summary = store.assignment_summary()
    table = Table(title="assignments", title_justify="left")
    table.add_column("annotator")
    table.add_column("assigned", justify="right")
    table.add_column("shared with others", justify="right")
    table.add_column("this run", justify="right")
    for name, (n, shared) in summary.items():
        table.add_row(Text(clean(name)), str(n), str(shared), str(len(plan.queues.get(name, []))))
    out_console.print(table)
    how = f"{overlap} per sentence"
    if overlap_sample is not None:
        how = f"{plan.shared} of them to {overlap} annotators, the rest to one"
    click.echo(
        f"Assigned {plan.units} sentence(s) ({how}; {written} queue entries) to "
        f"{len(annotators)} annotator(s), seed {seed}.",
        err=True,
    )


@cli.command("merge")
@click.argument("others", nargs=-1, required=True, type=click.Path(dir_okay=False))
@pass_app
def merge_cmd(app: AppContext, others: tuple[str, ...]) -> None:
    """Fold other annotators' databases (e.g. offline copies) into this one.

    Sentences match by their stable id; articles missing here are copied. The history is the
    union of both (events are copied by id, so merging twice changes nothing). When the same
    sentence was labelled by the same annotator in both, the later change wins and both stay in
    the history. Actors match by name and aliases. Gold labels: the later decision wins. Each
    OTHER.db is opened read-only and left untouched; a DB with another label schema (other claim
    types or stances) or a labelled sentence whose text differs is refused. All files merge in
    one transaction: an interruption leaves this DB as it was.
    """
    from stanceterm.team import merge_databases

    store = app.store()
    results = merge_databases(store, others)
    table = Table(title="merged", title_justify="left")
    table.add_column(Text("into " + clean(Path(store.path).name)))
    for path, _ in results:
        table.add_column(Text(clean(path.name)), justify="right")
    for label, attr in (
        ("articles added", "articles_added"),
        ("sentences added", "sentences_added"),
        ("history events copied", "events_added"),
        ("labels taken", "labels_taken"),
        ("labels kept", "labels_kept"),
        ("labels deleted", "labels_deleted"),
        ("gold taken", "gold_taken"),
        ("gold kept", "gold_kept"),
        ("actors added", "actors_added"),
        ("annotators added", "annotators_added"),
        ("cluster splits applied", "splits_applied"),
    ):
        table.add_row(label, *(str(getattr(c, attr)) for _, c in results))
    out_console.print(table)
    click.echo(
        "labels taken: the other DB's change was later and now stands here; kept: ours was later "
        "or equal; deleted: undone there after our last change. Run `stanceterm dedup` if "
        "articles were added.",
        err=True,
    )


@cli.command("serve")
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to listen on. Keep the loopback default; see below to reach it from elsewhere.",
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True, help="Port."
)
@click.option("--annotator", help="Who annotates (default: $STANCETERM_ANNOTATOR or config).")
@click.option(
    "--public-url",
    metavar="URL",
    help="The address browsers use, when behind a reverse proxy (e.g. https://annot.example.org).",
)
@pass_app
def serve_cmd(
    app: AppContext, host: str, port: int, annotator: str | None, public_url: str | None
) -> None:
    """Serve the annotation screen in a web browser (textual-serve).

    One server annotates as one annotator: textual-serve cannot tell browsers apart, so each
    annotator runs their own `stanceterm serve --annotator NAME --port P`. Every browser tab
    runs `python -m stanceterm --db DB annotate --annotator NAME`.

    It listens on 127.0.0.1 only. To annotate from another computer, open an SSH tunnel there:
    `ssh -L 8000:localhost:8000 THIS_HOST`, then browse http://localhost:8000. To serve a team,
    put a reverse proxy with authentication and TLS in front and pass --public-url. textual-serve
    has no login and no encryption: a --host other than a loopback address lets anyone who
    reaches the port annotate under this name and read every article.
    """
    from stanceterm import serve as serve_mod

    name = app.annotator(annotator)
    assert name is not None
    store = app.store(create=False)
    if store.first(name) is None:
        fail(f"{store.path}: no sentences to annotate; run `stanceterm import FILES` first")
    schema = Path(app.schema_flag) if app.schema_flag else None
    command = serve_mod.annotate_command(Path(store.path), name, schema=schema)
    url = public_url or serve_mod.public_url(host, port)
    if serve_mod.is_loopback(host):
        click.echo(
            f"Serving stanceterm as {clean(name)} on {clean(url)} (only this machine can connect).",
            err=True,
        )
        click.echo(serve_mod.exposure_help(port), err=True)
    else:
        err_console.print(
            serve_mod.exposure_warning(host, port), markup=False, style="bold red", soft_wrap=True
        )
    serve_mod.serve(command, host=host, port=port, title=f"stanceterm · {name}", url=public_url)


# --------------------------------------------------------------------------- dedup


@cli.command("dedup")
@click.option(
    "--threshold",
    type=click.FloatRange(50, 100),
    default=None,
    help="Similarity (rapidfuzz ratio on normalised text, 50-100) needed to merge "
    "(default: the last run's, else 90).",
)
@click.option("--full", is_flag=True, help="Rebuild every cluster instead of adding new sentences.")
@click.option(
    "--articles",
    is_flag=True,
    help="Also report article pairs that share many sentences (the same story twice); they are "
    "not merged.",
)
@click.option(
    "--min-overlap",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="With --articles: shared sentences / sentences of the shorter article.",
)
@click.option(
    "--split",
    "split_id",
    metavar="SENTENCE_ID",
    help="Take this sentence out of its cluster for good (its propagated labels are withdrawn).",
)
@click.option("--annotator", help="Who splits (recorded with --split; optional).")
@click.option(
    "--explain",
    "explain_ids",
    nargs=2,
    metavar="SID1 SID2",
    help="Print the word alignment of two sentences, each difference with its class, and the "
    "verdict (merge or keep apart).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@pass_app
def dedup_cmd(
    app: AppContext,
    threshold: float | None,
    full: bool,
    articles: bool,
    min_overlap: float,
    split_id: str | None,
    annotator: str | None,
    explain_ids: tuple[str, str] | None,
    as_json: bool,
) -> None:
    """Cluster repeated sentences across articles, so each is annotated once.

    Wire copy repeats with small changes (quotes, spaces, dashes, "said X" vs "X said", a
    "Selon l'AFP," prefix, number formats, typos). Two sentences merge only when every word-level
    difference is such a benign edit (see --explain); any other difference (a word, name, number,
    negation or a reordering) keeps them apart. Each cluster shows one representative in the
    annotation screen (the earliest imported copy); labels on it propagate to the other copies.
    Runs are incremental: only sentences imported since the last run are compared.
    """
    import json as json_mod

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from stanceterm.dedup import DEFAULT_THRESHOLD, overlap_rows, run_dedup

    store = app.store(create=False)
    # --- dedup --explain (issue 14): one core call, text escaped ---------------------------
    if explain_ids:
        from stanceterm.dedup import explain_sentences, format_explanation

        app.schema()  # seeds the trusted gazetteer
        try:
            expl = explain_sentences(store, *explain_ids)
        except KeyError as exc:
            fail(f"unknown sentence id: {clean(exc.args[0])}")
        click.echo("\n".join(clean(line) for line in format_explanation(expl).split("\n")))
        return
    # --- end dedup --explain ------------------------------------------------------------------
    if split_id is not None:
        sentence = store.sentence(split_id)
        if sentence is None:
            fail(f"unknown sentence id: {split_id}")
        who = app.annotator(annotator, required=False)
        cluster = sentence.cluster_id
        withdrawn = store.split_sentence(split_id, who)
        if as_json:
            click.echo(
                json_mod.dumps({"split": split_id, "cluster_id": cluster, "withdrawn": withdrawn})
            )
        elif cluster is None:
            click.echo(f"{clean(split_id)} was in no cluster; it will never be merged.", err=True)
        else:
            click.echo(
                f"Split {clean(split_id)} out of {clean(cluster)}; {withdrawn} propagated label(s) withdrawn. "
                "It will never be merged again.",
                err=True,
            )
        return
    app.schema()  # seeds the actor gazetteer the fact guard uses
    if threshold is None:
        last = store.dedup_state().threshold
        threshold = last if last == last else DEFAULT_THRESHOLD  # nan: never run
    progress = Progress(
        TextColumn("[bold]dedup {task.fields[phase]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sentences"),
        TimeElapsedColumn(),
        console=err_console,
        disable=not err_console.is_terminal or as_json,
        transient=True,
    )
    with progress:
        task = progress.add_task("dedup", total=None, phase="")

        def on_progress(phase: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, phase=phase)

        result = run_dedup(store, threshold, full=full, progress=on_progress)
    pairs = overlap_rows(store, min_overlap) if articles else []
    if as_json:
        payload: dict[str, Any] = result.as_dict()
        if articles:
            payload["article_pairs"] = pairs
        click.echo(json_mod.dumps(payload, ensure_ascii=False))
        return
    guarded = ", ".join(f"{k} {v}" for k, v in sorted(result.guarded.items())) or "none"
    click.echo(
        f"dedup ({result.mode}: {result.reason}), threshold {result.threshold:g}: "
        f"{result.checked} sentence(s) checked against {result.known} known; "
        f"{result.joined} joined a cluster ({result.new_clusters} new cluster(s)); "
        f"{result.propagated} label(s) propagated; near-misses kept apart: {guarded}. "
        f"Now {result.clusters} cluster(s), {result.hidden} copy(ies) hidden from the "
        f"annotation queue. {result.seconds:.1f}s",
        err=True,
    )
    if articles:
        if not pairs:
            click.echo(f"No article pairs share {min_overlap:.0%} of their sentences.", err=True)
            return
        table = Table(title="near-duplicate articles (reported, not merged)", title_justify="left")
        for col in ("article A", "article B", "shared", "overlap", "title A", "title B"):
            table.add_column(col, justify="right" if col in ("shared", "overlap") else "left")
        for p in pairs:
            table.add_row(
                Text(clean(p["article_a"])),
                Text(clean(p["article_b"])),
                str(p["shared"]),
                f"{float(str(p['overlap'])):.0%}",
                Text(clean(p["title_a"] or "")),
                Text(clean(p["title_b"] or "")),
            )
        out_console.print(table)


# --------------------------------------------------------------------------- agreement


@cli.command("agreement")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown", "latex"]),
    default="table",
    show_default=True,
    help="Table style: a terminal table, Markdown, or a LaTeX booktabs tabular.",
)
@click.option(
    "--by",
    type=click.Choice(["annotator", "claim", "actor"]),
    default=None,
    help="annotator: add the pairwise Cohen's κ matrix; claim: claim presence and stance per "
    "claim type; actor: stance per actor.",
)
@click.option(
    "--min-annotators",
    type=click.IntRange(min=2),
    default=2,
    show_default=True,
    metavar="K",
    help="Use only the units labelled by at least K annotators.",
)
@click.option(
    "--ci",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Confidence level of the bootstrap interval.",
)
@click.option(
    "--bootstrap",
    "n_boot",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    metavar="N",
    help="Bootstrap resamples of the units.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap random seed.")
@click.option(
    "--from",
    "from_file",
    metavar="FILE.jsonl",
    type=click.Path(dir_okay=False),
    help="Read an `export --kind annotations` file instead of the DB.",
)
@click.option(
    "--disagreements",
    "disagreements_file",
    metavar="FILE",
    help="Write the units annotators disagree on, worst first, as JSONL ('-' for stdout).",
)
@click.option(
    "--annotator", "annotators", multiple=True, help="Only this annotator (repeatable, 2 or more)."
)
@click.option(
    "--include-flagged",
    is_flag=True,
    help="Count flagged labels as final (default: flagged is missing data).",
)
@pass_app
def agreement_cmd(
    app: AppContext,
    as_json: bool,
    fmt: str,
    by: str | None,
    min_annotators: int,
    ci: float,
    n_boot: int,
    seed: int,
    from_file: str | None,
    disagreements_file: str | None,
    annotators: tuple[str, ...],
    include_flagged: bool,
) -> None:
    """Inter-annotator agreement: Krippendorff's α per field, with a bootstrap CI.

    \b
    Fields (one row each):
      claims         the claim set of a sentence, compared with MASI (partial
                     overlap counts as partial agreement)
      claim:ID       presence of claim type ID in a sentence (yes/no, nominal)
      stance         the stance per (sentence, claim, actor), nominal; "none" is
                     a value: the annotator tagged the claim but gave this actor
                     no stance while another annotator did. An annotator who did
                     not tag the claim is missing here (that disagreement is in
                     claim:ID)
      actors         the set of actors given a stance in a sentence (aliases
                     merged), compared with MASI
      stance:ID      (--by claim) stance restricted to one claim type
      stance@ACTOR   (--by actor) stance restricted to one actor

    \b
    Columns:
      α            Krippendorff's alpha: 1 = perfect agreement, 0 = no better
                   than chance, below 0 = systematic disagreement. A common
                   reading: α ≥ 0.8 reliable, 0.667-0.8 tentative conclusions
                   only, below 0.667 unreliable. n/a = undefined: no variation
                   at all (everyone gave the same value everywhere) or no unit
                   labelled by two annotators; never reported as 1.
      CI           percentile bootstrap interval over units (--ci, --bootstrap,
                   --seed): how much α could move with another sample of
                   sentences. A wide interval means too few units.
      % agree      raw share of agreeing pairs of values per unit (not chance
                   corrected; high on rare claims even when α is low).
      units        units labelled by at least two annotators (or K, with
                   --min-annotators K); only these enter α.
      annotators   annotators with a value in one of those units.

    \b
    What counts: status "done" labels. "skipped", "draft" and "flagged" (unless
    --include-flagged) are missing data, never "no claim"; a sentence an annotator
    never saw is missing. Labels copied to duplicate sentences (dedup clusters)
    are left out, so a cluster counts once. With --by annotator, Cohen's κ of each
    pair is computed on claim presence pooled over claim types (units: sentence x
    claim type, both annotators present).

    --from reads an annotations export instead (the DB, if there is one, still
    resolves actor aliases and the label schema).
    """
    from stanceterm.config import resolve_schema
    from stanceterm.export import atomic_output
    from stanceterm.reliability import (
        ActorResolver,
        Disagreement,
        ci_text,
        claim_presence_field,
        collect,
        counted_statuses,
        format_kappa_latex,
        format_kappa_markdown,
        format_latex,
        format_markdown,
        iter_fields,
        kappa_matrix,
        measure,
        pairwise_kappa,
        rows_from_export,
        rows_from_store,
        unit_disagreements,
        worst_first,
    )

    if as_json and disagreements_file == "-":
        fail("--disagreements - would mix with the JSON on stdout; give it a file name")
    store: Store | None = None
    if from_file is not None:
        path = Path(from_file)
        if not path.is_file():
            fail(f"{path}: no such file")
        if app.db_path.is_file():
            store = app.store(create=False)
            schema = app.schema()
        else:
            explicit = resolve_schema(app.schema_flag, app.settings)
            schema = load_schema(explicit) if explicit else load_schema()
        resolver = ActorResolver.from_store(store)
        rows = rows_from_export(path, resolver, schema.claim_ids)
        source = str(path)
    else:
        store = app.store(create=False)
        schema = app.schema()
        resolver = ActorResolver.from_store(store)
        rows = rows_from_store(
            store, annotators=annotators, include_flagged=include_flagged, resolver=resolver
        )
        source = store.path
    corpus = collect(
        rows,
        schema.claim_ids,
        stances=schema.stances,
        annotators=annotators,
        include_flagged=include_flagged,
        keep_text=disagreements_file is not None,
    )
    names = corpus.annotators
    if len(names) < 2:
        found = f"{len(names)} ({', '.join(names)})" if names else "none"
        fail(
            f"{source}: agreement needs final labels from at least 2 annotators; found {found}"
            + (f" among --annotator {', '.join(annotators)}" if annotators else "")
        )
    results = []
    found_units: list[Disagreement] = []
    for fld in iter_fields(corpus, by):  # one field at a time: memory stays at one field's units
        fld = fld.at_least(min_annotators)
        results.append(measure(fld, names, n_boot=n_boot, ci=ci, seed=seed))
        if disagreements_file is not None:
            found_units.extend(unit_disagreements(fld, corpus))
    pairs = None
    if by == "annotator":
        presence = [
            claim_presence_field(corpus, c).at_least(min_annotators) for c in corpus.claim_types
        ]
        pairs = pairwise_kappa(presence, names)
    n_disagree = None
    if disagreements_file is not None:
        found_units = worst_first(found_units, [r.field for r in results], corpus)
        try:
            with atomic_output(disagreements_file) as f:
                for d in found_units:
                    f.write(orjson.dumps(d.as_json(resolver.names)))
                    f.write(b"\n")
        except OSError as exc:
            fail(f"{disagreements_file}: cannot write: {exc.strerror or exc}")
        n_disagree = len(found_units)

    labels = {r.field: clean(r.field) for r in results}
    for r in results:
        if r.actor is not None:
            labels[r.field] = clean(f"stance @ {resolver.display(r.actor)}")
    undefined = any(r.value != r.value for r in results)
    statuses = counted_statuses(include_flagged)
    if as_json:
        payload: dict[str, Any] = {
            "source": source,
            "annotators": names,
            "counted_statuses": list(statuses),
            "min_annotators": min_annotators,
            "ci": ci,
            "bootstrap": n_boot,
            "seed": seed,
            "by": by,
            "fields": [r.as_json(resolver.names) for r in results],
        }
        if pairs is not None:
            payload["kappa"] = {
                "metric": "cohen_kappa",
                "units": "claim presence: (sentence, claim type) pairs both annotators labelled",
                "pairs": [p.as_json() for p in pairs],
            }
        if n_disagree is not None:
            payload["disagreements"] = {"file": disagreements_file, "units": n_disagree}
        click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
    elif fmt in ("markdown", "latex"):
        # line by line: annotator names come from data, their control characters are escaped
        text = (format_markdown if fmt == "markdown" else format_latex)(results, labels)
        if pairs is not None:
            kappa = format_kappa_markdown if fmt == "markdown" else format_kappa_latex
            text += "\n" + kappa(pairs, names)
        click.echo("".join(clean(line) + "\n" for line in text.splitlines()), nl=False)
    else:
        level = f"{round(100 * ci, 2):g}%"
        # one metric for every row goes in the title; no edge padding: fits 80 columns
        metrics = sorted({r.metric for r in results})
        show_metric = len(metrics) > 1
        what = "Krippendorff's α" if metrics == ["alpha"] else "agreement"
        table = Table(
            title=f"Inter-annotator agreement: {what}, {level} bootstrap CI "
            f"({n_boot} resamples, seed {seed})",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,
            caption="n/a: α undefined (no variation, or no unit labelled twice). "
            "% agree: raw pairwise agreement. ann.: annotators."
            if undefined
            else "% agree: raw pairwise agreement. ann.: annotators.",
            caption_justify="left",
        )
        columns = [("field", "left"), ("metric", "left")] if show_metric else [("field", "left")]
        for name, justify in (
            *columns,
            ("level", "left"),
            ("α", "right"),
            (f"{level} CI", "right"),
            ("% agree", "right"),
            ("units", "right"),
            ("ann.", "right"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        table.columns[0].overflow = "fold"
        for col in table.columns[1:]:
            col.no_wrap = True
        for r in results:
            pct = (
                "n/a"
                if r.percent_agreement != r.percent_agreement
                else (f"{100 * r.percent_agreement:.1f}")
            )
            table.add_row(
                Text(labels[r.field]),
                *([r.metric] if show_metric else []),
                r.level,
                _alpha_text(r.value),
                ci_text(r.ci_low, r.ci_high),
                pct,
                str(r.units),
                str(r.annotators),
            )
        # piped into a file, the table keeps its natural width instead of 80 columns
        console = out_console if out_console.is_terminal else Console(highlight=False, width=200)
        console.print(table)
        if pairs is not None:
            matrix = Table(
                title="Cohen's κ (units) per pair, on claim presence",
                title_justify="left",
                box=box.SIMPLE_HEAD,
            )
            matrix.add_column("")
            for a in names:
                matrix.add_column(Text(clean(a)), justify="right")
            for a, row in zip(names, kappa_matrix(pairs, names), strict=True):
                matrix.add_row(Text(clean(a)), *row)
            console.print(matrix)
    missing = "skipped, draft" + ("" if include_flagged else ", flagged")
    click.echo(
        f"{len(names)} annotator(s) from {clean(source)}; counted: {', '.join(statuses)} labels "
        f"({missing} and unseen sentences are missing data; propagated copies left out); "
        f"units labelled by at least {min_annotators} annotators."
        + (
            ""
            if n_disagree is None
            else f" Wrote {n_disagree} disagreement(s) to "
            f"{'stdout' if disagreements_file == '-' else clean(disagreements_file)}."
        ),
        err=True,
    )


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors become one line on stderr, never a traceback."""
    from stanceterm.export import LabelsError

    debug = bool(os.environ.get("STANCETERM_DEBUG"))
    try:
        cli.main(args=argv, prog_name="stanceterm", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.message = clean(exc.message)  # type: ignore[misc]  # click repr()s only some values
        exc.show()
        sys.exit(exc.exit_code)
    except (StoreError, SchemaError, ConfigError, LabelsError, ConnectedFileError) as exc:
        click.echo(f"error: {clean(exc)}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
    except OSError as exc:  # a folder given as a file, disk full, permission denied...
        if debug:
            raise
        where = f"{clean(exc.filename)}: " if exc.filename else ""
        click.echo(f"error: {where}{clean(exc.strerror or exc)}", err=True)
        sys.exit(1)
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"error: internal error ({type(exc).__name__}: {clean(exc)}); rerun with STANCETERM_DEBUG=1 "
            "for details and report it",
            err=True,
        )
        sys.exit(2)
