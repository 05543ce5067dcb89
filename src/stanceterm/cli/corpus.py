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

# --------------------------------------------------------------------------- import


def run_import(
    app: AppContext, paths: tuple[str, ...], quiet: bool = False, jobs: int | None = None
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
@pass_app
def import_cmd(app: AppContext, paths: tuple[str, ...], quiet: bool, jobs: int | None) -> None:
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
    code = run_import(app, paths, quiet, jobs)
    if code:
        sys.exit(code)


# --------------------------------------------------------------------------- export / import-labels


@click.command("export")
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
@annotators_filter_option()
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
    from stanceterm.export import DRAFTS_HINT, Filters, default_out_path, export, left_out_drafts

    store = app.store(create=False)
    target = out or str(default_out_path(kind))
    filters = Filters(annotators, statuses or ("done", "skipped", "flagged"), articles)
    n = export(store, kind, target, filters)
    where = "stdout" if target == "-" else target
    click.echo(f"Wrote {n} {kind} line(s) to {clean(where)}", err=True)
    # drafts are never silently missing from an export (issue 12 §6)
    drafts = left_out_drafts(store, filters) if kind in ("annotations", "sentences") else 0
    if drafts:
        click.echo(DRAFTS_HINT.format(n=drafts), err=True)


@click.command("import-labels")
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
    result = import_labels(store, path, app.record_schema())
    click.echo(
        f"Imported {result.written} label record(s) ({result.unchanged} unchanged, "
        f"{result.actors_created} new actor(s)) from {clean(path)}",
        err=True,
    )


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
        f"All annotators: α claims = {alpha_text(overall.alpha)} on {overall.units} shared "
        "sentence(s)."
    )
    drafts = sum(by.get("draft", 0) for by in per.values())
    if drafts:
        click.echo(
            f"{drafts} draft(s): labels changed but not accepted with Enter; they are not "
            "finished, and `stanceterm export` leaves them out unless given --status draft."
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
