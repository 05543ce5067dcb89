"""Teams: ``annotators``, ``assign`` and ``merge``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from stanceterm.cli.context import AppContext, fail, pass_app
from stanceterm.cli.options import seed_option
from stanceterm.cli.render import merge_table, out_console
from stanceterm.textsafe import clean
from stanceterm.wording import count, verb


@click.command("annotators")
@pass_app
def annotators_cmd(app: AppContext) -> None:
    """List the annotators with their label counts, assigned sentences and latest activity.

    Counts are the annotator's own labels (copies propagated to duplicate sentences are not
    counted); "assigned" is the size of their queue (see `stanceterm assign`).
    """
    store = app.store(create=False)
    progress = store.team.progress_by_annotator()
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


@click.command("assign")
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
@seed_option("Random seed of the plan.")
@click.option(
    "--replace", is_flag=True, help="Drop every earlier assignment and plan again (labels kept)."
)
@click.option(
    "--extend",
    is_flag=True,
    help="Assign only the units (sentences, dedup clusters) nobody has been assigned.",
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

    A dedup cluster is one unit: it is given out as its representative, and its copies are
    never given out on their own. Run `stanceterm dedup` first; an assignment made before dedup
    follows the representative (whoever held a copy now holds the representative, unless they
    had already labelled their copy, which then stays in their queue as their version).
    Loads differ by at most one sentence; the plan is the same for the same seed, and each
    annotator's queue is a few runs of consecutive sentences. `annotate` then walks only the
    annotator's queue. With --overlap-sample, a seeded fraction of the sentences is annotated
    K times (enough for agreement) and the rest once.

    A DB that already has assignments is refused: --replace plans again from scratch (labels
    stay; an annotator's queue may then hold sentences someone else labelled), --extend gives
    out only the sentences nobody has yet (after a new import), favouring the least loaded.
    """
    from stanceterm.team import AssignmentError, assign

    if replace and extend:
        fail("--replace and --extend exclude each other")
    store = app.store(create=False)
    try:
        done = assign(
            store,
            names.split(","),
            overlap,
            seed=seed,
            overlap_sample=overlap_sample,
            replace=replace,
            extend=extend,
        )
    except AssignmentError as exc:
        fail(str(exc))
    if done is None:
        click.echo("Nothing to assign: every visible sentence is already assigned.", err=True)
        return
    plan, annotators, written = done.plan, done.annotators, done.written
    summary = store.team.assignment_summary()
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
        f"Assigned {count(plan.units, 'sentence')} ({how}; "
        f"{count(written, 'queue entry', 'queue entries')}) to "
        f"{count(len(annotators), 'annotator')}, seed {seed}.",
        err=True,
    )


@click.command("merge")
@click.argument("others", nargs=-1, required=True, type=click.Path(dir_okay=False))
@pass_app
def merge_cmd(app: AppContext, others: tuple[str, ...]) -> None:
    """Fold other annotators' databases (e.g. offline copies) into this one.

    Sentences match by their stable id; articles missing here are copied. The history is the
    union of both (events are copied by id, so merging twice changes nothing). When the same
    sentence was labelled by the same annotator in both, the later change wins and both stay in
    the history; an undo or delete is a change like any other. Ties and clocks: events are
    ordered by (time, event id), so merging in any order, any number of times, gives the same
    labels, gold and actors. Actors match by id (never remapped); actor renames, aliases and
    merges are replayed, and two actors with one name become one by one rule everywhere. Events
    about another text of their sentence (after `import --replace`) are skipped, with a warning. Each OTHER.db is opened read-only and left untouched; a DB with another
    label schema (other claim types or stances) or a labelled sentence whose text differs is
    refused before anything is written. The merge is applied in short transactions (annotators
    keep saving meanwhile): an interrupted merge leaves part of OTHER applied, and running it
    again completes it.
    """
    from stanceterm.team import merge_databases

    store = app.store()
    results = merge_databases(store, others)
    out_console.print(merge_table(Path(store.path).name, results))
    for path, counts in results:
        if counts.future_skew_s > 0:
            click.echo(
                f"warning: {clean(str(path))}: its latest change is dated "
                f"{counts.future_skew_s / 60:.0f} min in the future: that machine's clock looks "
                "skewed. Merged as dated; edits made here from now on are ordered after it.",
                err=True,
            )
        stale = counts.events_other_text + counts.gold_events_other_text
        if stale:
            gold = (
                f" and {count(counts.gold_events_other_text, 'gold event')}"
                if counts.gold_events_other_text
                else ""
            )
            click.echo(
                f"warning: {clean(str(path))}: "
                f"{count(counts.events_other_text, 'label event')}{gold} "
                f"{verb(stale, 'was', 'were')} about another text of their sentence (its article was replaced with "
                "`import --replace` since); skipped, so no label lands on another statement",
                err=True,
            )
    click.echo(
        "labels taken: the other DB's change was later and now stands here; kept: ours was later "
        "or equal; deleted: undone there after our last change. Run `stanceterm dedup` if "
        "articles were added.",
        err=True,
    )
