"""Getting text and labels in and out: ``import``, ``export``, ``import-labels``, ``stats``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich import box
from rich.table import Table
from rich.text import Text

from stanceterm.cli.context import AppContext, fail, pass_app
from stanceterm.cli.options import annotators_filter_option
from stanceterm.cli.render import alpha_text, duration, err_console, out_console
from stanceterm.textsafe import clean
from stanceterm.wording import count, verb

# --------------------------------------------------------------------------- import


def run_import(
    app: AppContext,
    paths: tuple[str, ...],
    quiet: bool = False,
    jobs: int | None = None,
    replace: bool = False,
) -> int:
    """Import files and folders; prints per-file errors and a summary. Returns the exit code."""
    from collections import Counter

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from stanceterm.ingest import SUFFIXES, describe_skipped, discover, import_file
    from stanceterm.store import ImportCounts

    # --- hour (issue 15 §7): folder imports name the files they skipped, by type
    skipped: Counter[str] = Counter()
    files = list(discover(paths, skipped))
    skipped_note = describe_skipped(skipped)
    if not files:
        fail(
            f"nothing to import: no {', '.join(SUFFIXES)} files in "
            + ", ".join(map(clean, paths))
            + (f" ({skipped_note})" if skipped_note else "")
        )
    if skipped_note:
        click.echo(f"warning: {clean(skipped_note)}", err=True)
    # --- end hour
    if not any(p.exists() for p in files):  # a typo in every name: leave no empty DB behind
        for p in files:
            click.echo(f"error: {clean(p)}: no such file", err=True)
        return 1
    schema = app.record_schema()
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
                replace=replace,
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
            # --- safeimport (issue 12 §6)
            total.articles_replaced += c.articles_replaced
            total.dropped_labels.extend(c.dropped_labels)
            # --- end safeimport
    if not quiet or failed:
        click.echo(
            f"Imported {count(total.articles_added, 'article')}"
            + (
                f", replaced {count(total.articles_replaced, 'article')}"
                if total.articles_replaced
                else ""
            )
            + f", {count(total.sentences_added, 'sentence')}; "
            f"skipped {count(total.articles_skipped, 'article')} already present "
            f"({count(total.sentences_skipped, 'sentence')}); "
            f"{count(failed, 'file')} refused. DB: {clean(store.path)}",
            err=True,
        )
    # --- safeimport (issue 12 §6)
    if total.articles_replaced:
        click.echo(
            f"Replaced {count(total.articles_replaced, 'changed article')}; "
            f"{count(len(total.dropped_labels), 'label')} on changed sentences left the "
            "current labels "
            + ("(kept in the history):" if total.dropped_labels else "(kept in the history)."),
            err=True,
        )
        for aid, annotator, text in total.dropped_labels:
            click.echo(f"  {clean(aid)}  {clean(annotator)}: {clean(text)}", err=True)
    # --- end safeimport
    return 1 if failed else 0


@click.command("import")
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
@click.option(
    "--replace",
    is_flag=True,
    help="Update an article already imported under the same id with another text: labels on "
    "its unchanged sentences are kept (matched by text); the others are listed and kept in "
    "the history.",
)
@pass_app
def import_cmd(
    app: AppContext, paths: tuple[str, ...], quiet: bool, jobs: int | None, replace: bool
) -> None:
    """Import articles from .txt, .jsonl, .csv and .html/.htm files or folders.

    A .csv file holds one article per record (a "text" column is required; "id", "title",
    "source", "url", "published" and "lang" are optional). An .html/.htm file is a saved news
    page: its main text, title, date, site and canonical URL are extracted (trafilatura); the
    canonical URL is its id.

    A .txt file is one article whose first non-empty line is the title. A .jsonl file holds one
    article per line: "text" is required; "id", "title", "source", "url", "published" and "lang"
    are optional. Each file is one transaction: a file with a bad line is refused whole (the error
    names the line) and the other files still import. Importing the same article twice adds nothing.
    """
    code = run_import(app, paths, quiet, jobs, replace)
    if code:
        sys.exit(code)


# --------------------------------------------------------------------------- export / import-labels


@click.command("export")
@click.option(
    "--kind",
    type=click.Choice(["annotations", "sentences", "gold", "final"]),
    default="annotations",
    show_default=True,
    help="What to write.",
)
# --- hour2 (issue 15 §6): options of --kind final
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "parquet"]),
    default="jsonl",
    show_default=True,
    help="final only: JSON lines, or flat CSV / Parquet (one row per stance; Parquet needs "
    "pip install 'stanceterm[parquet]').",
)
@click.option(
    "--min-annotators",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="final only: annotators who must have labelled a sentence done, all agreeing.",
)
@click.option(
    "--allow-single",
    is_flag=True,
    help="final only: also ship sentences that one annotator labelled done (source: single).",
)
# --- end hour2
@click.option(
    "--out",
    "out",
    metavar="FILE",
    help="Output file, '-' for stdout (default: exports/KIND-TIMESTAMP.jsonl).",
)
@annotators_filter_option()
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["done", "skipped", "flagged", "draft"]),
    help="Only this status (repeatable; default: done, skipped and flagged).",
)
@click.option("--article", "articles", multiple=True, help="Only this article id (repeatable).")
@click.option(
    "--history",
    is_flag=True,
    help="With --kind gold: every gold decision and undo, oldest first (the audit trail).",
)
@pass_app
def export_cmd(
    app: AppContext,
    kind: str,
    out: str | None,
    annotators: tuple[str, ...],
    statuses: tuple[str, ...],
    articles: tuple[str, ...],
    fmt: str = "jsonl",
    min_annotators: int = 2,
    allow_single: bool = False,
    history: bool = False,
) -> None:
    """Export sentences, annotations, gold labels or the final dataset.

    annotations: one line per (sentence, annotator) with status, claims, stances
    ({"claim", "actor", "stance"}), propagated_from, note and timestamps. A "done" line with
    "claims": [] means "no claim"; "skipped" means missing data.

    sentences: one line per sentence with its cluster_id and all its annotations.

    gold: one line per adjudicated sentence with the gold labels and the annotators' versions.
    With --history: one line per gold event (decide, undo, restore) with its adjudicator, time,
    the decision it made and the one it replaced, and whether it is the standing one.

    final: the dataset to ship, one line per sentence: the gold decision; else the labels that
    every annotator with a done label gave, when at least --min-annotators did (a flag sends the
    sentence to review); "source" says which (adjudicated, agreed, single) and "annotators" who.
    Copies of a dedup cluster carry its decision with "propagated_from". The rest is counted as
    "needs review". With --format csv or parquet: one row per stance (CSV cells that a
    spreadsheet would run as a formula start with ').
    """
    if history and kind != "gold":
        fail("--history goes with --kind gold")
    # --- hour2 (issue 15 §6)
    if kind == "final":
        run_final_export(
            app, out, fmt, min_annotators, allow_single, annotators, statuses, articles
        )
        return
    if fmt != "jsonl":
        fail(f"--format {fmt} is for --kind final only; {kind} is written as JSON lines")
    # --- end hour2
    from stanceterm.export import ExportCounts, Filters, default_out_path, drafts_hint, export

    store = app.store(create=False)
    target = out or str(default_out_path("gold-history" if history else kind))
    filters = Filters(annotators, statuses or ("done", "skipped", "flagged"), articles)
    counts = ExportCounts()
    n = export(store, "gold-history" if history else kind, target, filters, counts)
    where = "stdout" if target == "-" else target
    click.echo(f"Wrote {count(n, 'line')} ({kind}) to {clean(where)}", err=True)
    # drafts are never silently missing from an export (issue 12 §6); counted in the same pass
    if counts.drafts_left_out:
        click.echo(drafts_hint(counts.drafts_left_out), err=True)


# --- hour2 (issue 15 §6): export --kind final
def run_final_export(
    app: AppContext,
    out: str | None,
    fmt: str,
    min_annotators: int,
    allow_single: bool,
    annotators: tuple[str, ...],
    statuses: tuple[str, ...],
    articles: tuple[str, ...],
) -> None:
    """``export --kind final``: write, then say what came from where and what needs review."""
    from stanceterm.export import default_out_path
    from stanceterm.final import FinalError, export_final

    if statuses or annotators:
        fail(
            "--kind final takes no --status or --annotator: it decides from every annotator's "
            "done labels (see --min-annotators, --allow-single)"
        )
    store = app.store(create=False)
    target = out or str(default_out_path("final").with_suffix(f".{fmt}"))
    try:
        counts = export_final(
            store,
            target,
            fmt=fmt,
            min_annotators=min_annotators,
            allow_single=allow_single,
            articles=articles,
        )
    except FinalError as exc:
        fail(str(exc))
    where = "stdout" if target == "-" else target
    click.echo(f"Wrote {count(counts.lines, 'final sentence')} to {clean(where)}", err=True)
    click.echo(counts.summary(), err=True)
    for hint in counts.hints():
        click.echo(hint, err=True)


# --- end hour2


@click.command("import-labels")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--force",
    is_flag=True,
    help="Replace the DB's labels even when they are newer than the file's records.",
)
@pass_app
def import_labels_cmd(app: AppContext, file: str, force: bool) -> None:
    """Import an annotations export (JSONL) back into the DB.

    Every record is checked against the label schema and the DB; an unknown claim, stance or
    sentence id, or a "text" that differs from the sentence's, refuses the whole file with an
    error naming the line. A record older than the DB's label for that sentence and annotator
    (by updated_at; a tie keeps the DB's) does not replace it, unless --force; records without
    timestamps count as now. Importing the same file twice changes nothing; each label keeps
    its annotator. The whole file is validated before anything is written, then written in
    short transactions (annotators keep saving meanwhile); an interrupted import resumes when
    run again. Undo a whole import with `stanceterm undo-import RUN` (runs: `stanceterm history
    --imports`).
    """
    from stanceterm.export import import_labels

    path = Path(file)
    if not path.is_file():
        fail(f"{path}: no such file")
    store = app.store(create=False)
    result = import_labels(store, path, app.record_schema(), force=force)
    kept = (
        f", {result.kept_newer} kept as newer in the DB (--force replaces them)"
        if result.kept_newer
        else ""
    )
    if result.future_records:
        click.echo(
            f"warning: {clean(path)}: {count(result.future_records, 'record')} dated in the "
            "future, the "
            f"latest {result.future_latest}, {result.future_ahead_s / 60:.0f} min in the future: "
            "the clock of the machine that wrote them looks skewed. Their dates were clamped to "
            "now, so later edits and undo are not outranked by them.",
            err=True,
        )
    resumed = " (resumed an interrupted run)" if result.resumed else ""
    click.echo(
        f"Imported {count(result.written, 'label record')} ({result.unchanged} unchanged{kept}, "
        f"{count(result.actors_created, 'new actor')}) from {clean(path)}; run {result.run_id}{resumed} "
        f"(undo: stanceterm undo-import {result.run_id})",
        err=True,
    )


@click.command("history")
@click.option("--imports", "imports", is_flag=True, help="List the import-labels runs.")
@pass_app
def history_cmd(app: AppContext, imports: bool) -> None:
    """The history of the DB: with --imports, every import-labels run (latest first), with its
    id for `stanceterm undo-import RUN`."""
    if not imports:
        fail("say what to list: stanceterm history --imports")
    store = app.store(create=False)
    runs = store.imports.runs()
    if not runs:
        click.echo("No import-labels runs.", err=True)
        return
    for r in runs:
        click.echo(
            f"{r['id']}  {r['status']:<8}  {r['started_at'][:19]}  {count(r['records'], 'record')}: "
            f"{r['written']} written, {r['unchanged']} unchanged, {r['kept_newer']} kept as "
            f"newer  {clean(r['file'])}"
        )


@click.command("undo-import")
@click.argument("run_id", metavar="[RUN]", required=False)
@pass_app
def undo_import_cmd(app: AppContext, run_id: str | None) -> None:
    """Revert a whole import-labels run (default: the latest one not undone). Labels changed
    since the import (by a screen, a merge, a later import) are kept and counted."""
    store = app.store(create=False)
    done, restored, changed = store.imports.undo(run_id)
    click.echo(
        f"Undid import run {done}: {count(restored, 'label')} restored, {changed} changed since "
        f"the import and kept; {count(store.imports.removed_actors, 'actor')} it created "
        "removed (those nothing else uses)",
        err=True,
    )


@click.command("upgrade")
@pass_app
def upgrade_cmd(app: AppContext) -> None:
    """Migrate the DB to this stanceterm's schema version, safely.

    Other commands never migrate an existing DB (other screens may be connected); they stop and
    name this command. It refuses while any other process holds the DB (close every screen,
    server and command first), takes a backup beside it (DB.vN-TIME.bak, through SQLite's
    backup API), then migrates.
    """
    from stanceterm.store.maintenance import upgrade

    path = app.db_path
    if not path.exists():
        app.store(create=False)  # "no such database": names the DBs found in the folder
    try:
        done = upgrade(path)
    except KeyboardInterrupt:
        click.echo(_interrupted_upgrade(path), err=True)
        sys.exit(130)
    if done.backup is not None:
        click.echo(
            f"Upgraded {clean(path)} from schema v{done.old} to v{done.new}; backup: "
            f"{clean(done.backup)}",
            err=True,
        )
    elif done.indexed:
        click.echo(
            f"{clean(path)}: already at schema v{done.new}; completed its search index "
            f"({count(done.indexed, 'sentence')} an interrupted upgrade had left out)",
            err=True,
        )
    else:
        click.echo(f"{clean(path)}: already at schema v{done.new}; nothing to do", err=True)


def _interrupted_upgrade(path: Path) -> str:
    """One line saying where an interrupted upgrade left the DB, and what to run."""
    import shlex

    from stanceterm.store import StoreError
    from stanceterm.store.maintenance import upgrade_state
    from stanceterm.store.migrations import LATEST_VERSION

    again = f"`stanceterm --db {shlex.quote(str(path))} upgrade`"
    try:
        version, todo = upgrade_state(path)
    except StoreError:
        return f"interrupted: {clean(path)} may be mid-migration; run {again} again"
    if version < LATEST_VERSION:
        return f"interrupted: {clean(path)} is still at schema v{version}; run {again} again"
    if todo:
        return (
            f"interrupted: {clean(path)} is at schema v{version}, its search index is missing "
            f"{count(todo, 'sentence')} (searches read every sentence meanwhile); run {again} again, or "
            "any command, to complete it"
        )
    return f"interrupted after the upgrade finished: {clean(path)} is at schema v{version}"


@click.command("backup")
@click.argument("out", type=click.Path(dir_okay=False))
@pass_app
def backup_cmd(app: AppContext, out: str) -> None:
    """Copy the DB to OUT consistently, even while annotators write (SQLite's backup API).

    Use this, never cp, Dropbox or a network share on a live DB: its recent writes sit in the
    -wal file beside it, and a plain copy can be torn.
    """
    from stanceterm.store.maintenance import backup

    store = app.store(create=False, read_only=True)  # any version: the copy before an upgrade
    size = backup(store, out)
    click.echo(f"Backed up {clean(store.path)} to {clean(out)} ({size} bytes)", err=True)


@click.command("stats")
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
    per = store.labels.status_counts()
    if not per:
        out_console.print("No annotations yet.")
        return
    from stanceterm.reliability import store_claim_agreement
    from stanceterm.team import SESSION_GAP_SECONDS, activity

    rates = activity(store.team.iter_activity())
    overall, agree = store_claim_agreement(store)
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
            "-" if act is None else duration(act.active_seconds),
            "-" if ag is None else alpha_text(ag.alpha),
            "0" if ag is None else str(ag.units),
        )
    out_console.print(table)
    click.echo(
        f"All annotators: α claims = {alpha_text(overall.alpha)} on "
        f"{count(overall.units, 'shared sentence')}."
    )
    drafts = sum(by.get("draft", 0) for by in per.values())
    if drafts:
        click.echo(
            f"{count(drafts, 'draft')}: labels changed but not accepted with Enter; "
            f"{verb(drafts, 'it is', 'they are')} not finished, and `stanceterm export` leaves them out unless given --status draft."
        )
    click.echo(
        "skip, flag: skipped, flagged. prop: labels propagated to duplicate sentences. "
        "lab/h: sentences finished (done, skipped, flagged) per hour of active time, which "
        f"sums the pauses shorter than {SESSION_GAP_SECONDS / 60:g} min between an annotator's changes. "
        "α: Krippendorff's alpha (MASI) on the claim sets of the sentences an annotator "
        "shares with others (shared: how many; done labels count, skipped, flagged and draft "
        "are missing, as in `stanceterm agreement`; propagated copies count once); n/a when "
        "undefined.",
        err=True,
    )
