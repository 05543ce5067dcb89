"""``suggest``: claim suggestions learnt from the team's labels (train, status, evaluate, the
anchoring check, blind units, the background trainer); the core is :mod:`stanceterm.suggest`,
:mod:`stanceterm.suggest_trainer` and :mod:`stanceterm.suggest_eval`."""

from __future__ import annotations

import sys
from typing import Any

import click
import orjson
from rich import box
from rich.table import Table
from rich.text import Text

from stanceterm.cli.context import AppContext, fail, pass_app
from stanceterm.cli.render import out_console
from stanceterm.textsafe import clean
from stanceterm.wording import count


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


@click.command("suggest")
@click.option("--train", "do_train", is_flag=True, help="Train the claim model now (foreground).")
@click.option("--status", "do_status", is_flag=True, help="Model, training labels, blind units.")
@click.option("--evaluate", "do_eval", is_flag=True, help="k-fold cross-validation on the labels.")
@click.option("--bias", is_flag=True, help="With --evaluate: the anchoring check.")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True)
@click.option(
    "--blind-sample",
    type=click.FloatRange(0.0, 1.0),
    help="Mark a seeded share of the units as 'no suggestions for anyone' (replaces the set).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--min-labels",
    type=click.IntRange(1),
    default=50,
    show_default=True,
    help="Training labels needed before a model is trained.",
)
@click.option(
    "--every",
    type=click.IntRange(1),
    default=25,
    show_default=True,
    help="Background trainer: retrain after this many new training labels.",
)
@click.option("--trainer", is_flag=True, help="Run the DB's background trainer (one per DB).")
@click.option("--once", is_flag=True, help="With --trainer: one check (train if due), then exit.")
@click.option(
    "--with-screens",
    is_flag=True,
    hidden=True,
    help="With --trainer: exit soon after the last annotation screen closes (annotate's).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def suggest_cmd(
    app: AppContext,
    do_train: bool,
    do_status: bool,
    do_eval: bool,
    bias: bool,
    folds: int,
    blind_sample: float | None,
    seed: int,
    min_labels: int,
    every: int,
    trainer: bool,
    once: bool,
    with_screens: bool,
    as_json: bool,
) -> None:
    """Claim suggestions learnt from the team's own labels (see the README)."""
    from stanceterm import suggest as sg
    from stanceterm import suggest_eval as se
    from stanceterm import suggest_trainer as tr

    if not (do_train or do_status or do_eval or blind_sample is not None or trainer):
        do_status = True
    if bias and not do_eval:
        fail("--bias goes with --evaluate")
    store = app.store(create=False)
    schema = app.schema()
    out: dict[str, Any] = {}
    try:
        if trainer:
            code = tr.run_trainer(
                store.path,
                schema,
                every=every,
                min_labels=min_labels,
                seed=seed,
                once=once,
                screens_grace=tr.SCREENS_GRACE if with_screens else None,
                log=lambda m: click.echo(f"trainer: {clean(m)}", err=True),
            )
            sys.exit(code)
        if blind_sample is not None:
            n = sg.mark_blind(store, blind_sample, seed)
            out["blind_units"] = n
            if not as_json:
                click.echo(
                    f"{count(n, 'unit')} marked blind (no suggestions for anyone; seed {seed})"
                )
        if do_train:
            model = tr.train_store(store, schema, min_labels=min_labels, seed=seed)
            out["model"] = model.model_id
            if not as_json:
                click.echo(f"trained on {model.n_train} labels: {clean(model.model_id)}")
        if do_status:
            st = tr.status(store, schema, min_labels=min_labels)
            out["status"] = {
                "training_labels": st.labels,
                "min_labels": st.min_labels,
                "model": None if st.model is None else st.model.model_id,
                "trained_on": None if st.model is None else st.model.n_train,
                "trained_at": None if st.model is None else st.model.trained_at,
                "stale_schema": st.stale_schema,
                "blind_units": st.blind,
                "trainer_running": st.trainer_running,
            }
            if not as_json:
                if st.model is None:
                    what = (
                        "a model of another label schema (ignored)" if st.stale_schema else "none"
                    )
                    click.echo(f"model: {what}")
                else:
                    click.echo(
                        f"model: {clean(st.model.model_id)} (trained on {st.model.n_train} "
                        f"labels, {st.model.trained_at})"
                    )
                click.echo(f"training labels: {st.labels} (a model needs {st.min_labels})")
                click.echo(f"blind units: {st.blind}")
                click.echo(f"trainer: {'running' if st.trainer_running else 'not running'}")
        if do_eval:
            examples = sg.store_examples(store, schema)
            ev = se.evaluate(examples, schema.claim_ids, folds=folds, seed=seed)
            out["evaluate"] = {
                "labels": ev.n,
                "folds": ev.folds,
                "claims": [
                    {
                        "claim": c.claim,
                        "precision": c.precision,
                        "recall": c.recall,
                        "f1": c.f1,
                        "support": c.support,
                    }
                    for c in ev.claims
                ],
                "micro_f1": ev.micro_f1,
                "exact": ev.exact,
                "curve": [{"labels": n, "f1": f, "exact": e} for n, f, e in ev.curve],
            }
            if not as_json:
                table = Table(box=box.SIMPLE, title=f"{ev.folds}-fold CV on {ev.n} labels")
                for col in ("claim", "precision %", "recall %", "F1 %", "support"):
                    table.add_column(col, justify="left" if col == "claim" else "right")
                for c in ev.claims:
                    table.add_row(
                        Text(c.claim),
                        _pct(c.precision),
                        _pct(c.recall),
                        _pct(c.f1),
                        str(c.support),
                    )
                out_console.print(table)
                click.echo(f"micro F1 {_pct(ev.micro_f1)}%; exactly right {_pct(ev.exact)}%")
                click.echo(
                    "learning curve: "
                    + "; ".join(f"{n} labels F1 {_pct(f)}%" for n, f, _e in ev.curve)
                )
            if bias:
                a = se.store_anchoring(store, examples, schema.claim_ids, folds=folds, seed=seed)
                out["bias"] = {
                    "with_suggestions": a.with_shown,
                    "equal_with": a.with_share,
                    "without_suggestions": a.without_shown,
                    "equal_without": a.without_share,
                    "effect": a.effect,
                    "left_out": a.left_out,
                }
                if not as_json:
                    skipped = (
                        f" {a.left_out} labels made without a suggestion elsewhere are left out "
                        "(before a model existed, or not a control unit)."
                        if a.left_out
                        else ""
                    )
                    if not a.without_shown:
                        click.echo(
                            f"anchoring: labels equal the suggestion on {_pct(a.with_share)}% of "
                            f"{a.with_shown} assisted labels; no unassisted labels on blind or "
                            "overlap units to compare with, so no effect: mark some with "
                            "`stanceterm suggest --blind-sample 0.1` or `assign --overlap`."
                            + skipped
                        )
                    else:
                        click.echo(
                            f"anchoring: labels equal the suggestion on {_pct(a.with_share)}% of "
                            f"{a.with_shown} assisted labels and {_pct(a.without_share)}% of "
                            f"{a.without_shown} unassisted ones on blind or overlap units (scored "
                            f"by {folds}-fold models that did not see them); effect "
                            f"{_pct(a.effect)} points." + skipped
                        )
    except sg.SuggestError as exc:
        fail(str(exc))
    if as_json:
        click.echo(orjson.dumps(out).decode())
