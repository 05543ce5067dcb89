"""``agreement``: parse the options, call :func:`stanceterm.reliability.report`, render it."""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from stanceterm.cli.context import AppContext, fail, pass_app
from stanceterm.cli.options import annotators_filter_option, format_option, json_option, seed_option


@click.command("agreement")
@json_option()
@format_option
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
@seed_option("Bootstrap random seed.")
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
@annotators_filter_option("Only this annotator (repeatable, 2 or more).")
@click.option(
    "--include-flagged",
    is_flag=True,
    help="Count flagged labels as final (default: flagged is missing data).",
)
@click.option(
    "--unassisted-only",
    is_flag=True,
    help="Only units where no label was made with claim suggestions shown (the DB's "
    "provenance, or the `suggested` field of the --from export).",
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
    unassisted_only: bool = False,
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
    from stanceterm.cli.render import (
        agreement_footer,
        agreement_json,
        agreement_text,
        print_agreement_table,
    )
    from stanceterm.export import atomic_output
    from stanceterm.reliability import AgreementError, report

    if as_json and disagreements_file == "-":
        fail("--disagreements - would mix with the JSON on stdout; give it a file name")
    path = None
    if from_file is not None:
        path = Path(from_file)
        if not path.is_file():
            fail(f"{path}: no such file")
        store = app.store_if_exists()
    else:
        store = app.store(create=False)
    try:
        result = report(
            store,
            app.record_schema(explicit_only=True)
            if store is not None
            else app.schema(with_db=False),
            from_file=path,
            by=by,
            min_annotators=min_annotators,
            ci=ci,
            n_boot=n_boot,
            seed=seed,
            annotators=annotators,
            include_flagged=include_flagged,
            with_disagreements=disagreements_file is not None,
            unassisted_only=unassisted_only,
        )
    except AgreementError as exc:
        fail(str(exc))
    if disagreements_file is not None and result.disagreements is not None:
        try:
            with atomic_output(disagreements_file) as f:
                for d in result.disagreements:
                    f.write(orjson.dumps(d.as_json(result.actor_names)))
                    f.write(b"\n")
        except OSError as exc:
            fail(f"{disagreements_file}: cannot write: {exc.strerror or exc}")
    if as_json:
        click.echo(agreement_json(result, disagreements_file))
    elif fmt in ("markdown", "latex"):
        click.echo(agreement_text(result, fmt), nl=False)
    else:
        print_agreement_table(result)
    click.echo(agreement_footer(result, disagreements_file), err=True)
