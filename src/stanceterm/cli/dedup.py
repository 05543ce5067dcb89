"""Near-duplicates: ``dedup`` (cluster repeated sentences) and ``dedup split ID``."""

from __future__ import annotations

from typing import Any

import click

from stanceterm.cli.context import AppContext, fail, pass_app
from stanceterm.cli.options import annotator_option, json_option
from stanceterm.cli.render import article_pairs_table, err_console, out_console
from stanceterm.textsafe import clean
from stanceterm.wording import count


@click.group("dedup", invoke_without_command=True)
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
    help="Same as `dedup split SENTENCE_ID` (kept for old scripts).",
)
@click.option(
    "--explain",
    "explain_ids",
    nargs=2,
    metavar="SID1 SID2",
    help="Print the word alignment of two sentences, each difference with its class, and the "
    "verdict (merge or keep apart).",
)
@annotator_option("Who splits (recorded with --split; optional).")
@json_option("Print the summary as one JSON object.")
@click.pass_context
def dedup_cmd(
    ctx: click.Context,
    threshold: float | None,
    full: bool,
    articles: bool,
    min_overlap: float,
    split_id: str | None,
    explain_ids: tuple[str, str] | None,
    annotator: str | None,
    as_json: bool,
) -> None:
    """Cluster repeated sentences across articles, so each is annotated once.

    Wire copy repeats with small changes (quotes, spaces, dashes, "said X" vs "X said", a
    "Selon l'AFP," prefix, number formats, typos). Two sentences merge only when every word-level
    difference is such a benign edit (see --explain); any other difference (a word, name, number,
    negation or a reordering) keeps them apart. Each cluster shows one representative in the
    annotation screen (the earliest imported copy); labels on it propagate to the other copies.
    Runs are incremental: only sentences imported since the last run are compared.

    `stanceterm dedup split SENTENCE_ID` takes a sentence out of its cluster for good.
    """
    import json as json_mod

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from stanceterm.dedup import last_threshold, overlap_rows, run_dedup

    if ctx.invoked_subcommand is not None:
        return  # `dedup split ID`: the subcommand does the work
    app = ctx.find_object(AppContext)
    assert app is not None
    if split_id is not None:
        _split(app, split_id, annotator, as_json)
        return
    if explain_ids:
        _explain(app, *explain_ids)
        return
    store = app.store(create=False)
    app.record_schema()  # seeds the actor gazetteer the fact guard uses
    if threshold is None:
        threshold = last_threshold(store)
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
        f"{count(result.checked, 'sentence')} checked against {result.known} known; "
        f"{result.joined} joined a cluster ({count(result.new_clusters, 'new cluster')}); "
        f"{count(result.propagated, 'label')} propagated; near-misses kept apart: {guarded}. "
        f"Now {count(result.clusters, 'cluster')}, {count(result.hidden, 'copy', 'copies')} "
        "hidden from the "
        f"annotation queue. {result.seconds:.1f}s",
        err=True,
    )
    if articles:
        if not pairs:
            click.echo(f"No article pairs share {min_overlap:.0%} of their sentences.", err=True)
            return
        out_console.print(article_pairs_table(pairs))


@dedup_cmd.command("split")
@click.argument("sentence_id")
@annotator_option("Who splits (recorded in the history; optional).")
@json_option("Print the result as one JSON object.")
@pass_app
def split_cmd(app: AppContext, sentence_id: str, annotator: str | None, as_json: bool) -> None:
    """Take SENTENCE_ID out of its cluster for good (its propagated labels are withdrawn).

    It is never merged again, by later runs or `dedup --full`.
    """
    _split(app, sentence_id, annotator, as_json)


def _split(app: AppContext, split_id: str, annotator: str | None, as_json: bool) -> None:
    import json as json_mod

    store = app.store(create=False)
    sentence = store.corpus.sentence(split_id)
    if sentence is None:
        fail(f"unknown sentence id: {split_id}")
    who = app.annotator(annotator, required=False)
    cluster = sentence.cluster_id
    withdrawn = store.clusters.split(split_id, who)
    if as_json:
        click.echo(
            json_mod.dumps({"split": split_id, "cluster_id": cluster, "withdrawn": withdrawn})
        )
    elif cluster is None:
        click.echo(f"{clean(split_id)} was in no cluster; it will never be merged.", err=True)
    else:
        click.echo(
            f"Split {clean(split_id)} out of {clean(cluster)}; "
            f"{count(withdrawn, 'propagated label')} withdrawn. It will never be merged again.",
            err=True,
        )


def _explain(app: AppContext, sid_a: str, sid_b: str) -> None:
    """``dedup --explain``: one core call; the text is printed escaped (it is data)."""
    from rapidfuzz import fuzz

    from stanceterm.dedup import (
        compare_key,
        explain,
        format_explanation,
        last_threshold,
        trusted_aliases,
    )

    store = app.store(create=False)
    a, b = store.corpus.sentence(sid_a), store.corpus.sentence(sid_b)
    for sid, found in ((sid_a, a), (sid_b, b)):
        if found is None:
            fail(f"unknown sentence id: {sid}")
    assert a is not None and b is not None
    expl = explain(a.text, b.text, trusted_aliases(store, app.schema()))
    threshold = last_threshold(store)
    score = fuzz.ratio(compare_key(a.text), compare_key(b.text))
    if a.cluster_id is not None and a.cluster_id == b.cluster_id:
        shown = [s.id for s in (a, b) if not s.hidden]
        hidden = [s.id for s in (a, b) if s.hidden]
        now = (
            "one cluster ("
            + ", ".join([f"{i} is shown" for i in shown] + [f"{i} hidden" for i in hidden])
            + ")"
        )
    else:
        now = "in different clusters"
    head = [
        f"A  {a.id}  {a.text}",
        f"B  {b.id}  {b.text}",
        f"score {score:.1f} (dedup proposes a pair at {threshold:g} or more): rapidfuzz ratio of "
        "the compared forms (normalised, attribution set aside)",
        f"now: {now}",
    ]
    lines = [*head, *format_explanation(expl).split("\n")]
    click.echo("\n".join(clean(line) for line in lines))
