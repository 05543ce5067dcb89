"""``stanceterm actors``: list, rename, merge and alias actors, and undo the latest operation.

Each operation is a replicated event (``actor_events``): it goes into the history and converges
under ``stanceterm merge`` like labels (docs/ARCHITECTURE.md, "Merge ordering").
"""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from stanceterm.cli.context import AppContext, fail, pass_app
from stanceterm.cli.options import annotator_option, json_option
from stanceterm.cli.render import out_console
from stanceterm.store.actors import ActorOpError, ActorOps
from stanceterm.textsafe import clean
from stanceterm.wording import count


@click.group("actors")
def actors_cmd() -> None:
    """Manage the actor gazetteer: list, rename, merge, alias, undo."""


def _who(app: AppContext, annotator: str | None) -> str | None:
    return app.annotator(annotator, required=False)


def _ops(app: AppContext) -> tuple[ActorOps, type[ActorOpError]]:
    return app.store(create=False).actor_ops, ActorOpError


@actors_cmd.command("list")
@json_option()
@pass_app
def list_cmd(app: AppContext, as_json: bool) -> None:
    """Every actor with its id, aliases (* trusted for dedup) and how many labels name it."""
    import orjson

    ops, _ = _ops(app)
    rows = ops.rows()
    if as_json:
        click.echo(
            orjson.dumps(
                [
                    {
                        "id": r.id,
                        "name": r.name,
                        "aliases": [{"alias": a, "trusted": t} for a, t in r.aliases],
                        "merged_into": r.merged_into,
                        "labels": r.labels,
                    }
                    for r in rows
                ]
            ).decode()
        )
        return
    table = Table(title="actors", title_justify="left")
    for col in ("id", "name", "aliases (* trusted)", "labels"):
        table.add_column(col, justify="right" if col == "labels" else "left")
    for r in rows:
        aliases = ", ".join(f"{a}{'*' if t else ''}" for a, t in r.aliases if a != r.name)
        if r.merged_into:
            aliases = f"merged into {r.merged_into}"
        table.add_row(Text(clean(r.id)), Text(clean(r.name)), Text(clean(aliases)), str(r.labels))
    out_console.print(table)


@actors_cmd.command("rename")
@click.argument("actor")
@click.argument("new_name")
@annotator_option(help="Who makes the change (recorded in the history).")
@pass_app
def rename_cmd(app: AppContext, actor: str, new_name: str, annotator: str | None) -> None:
    """Give ACTOR (id, name or alias) the display name NEW_NAME (the old name stays an alias)."""
    ops, err = _ops(app)
    try:
        ops.rename(actor, new_name, _who(app, annotator))
    except err as exc:
        fail(str(exc))
    click.echo(f"Renamed {clean(actor)} to {clean(new_name)}.", err=True)


@actors_cmd.command("merge")
@click.argument("keep")
@click.argument("gone")
@annotator_option(help="Who makes the change (recorded in the history).")
@pass_app
def merge_cmd(app: AppContext, keep: str, gone: str, annotator: str | None) -> None:
    """Merge actor GONE into actor KEEP: GONE's names become aliases of KEEP, and labels naming
    GONE name KEEP (through the label history, without making them newer; `actors undo` reverts
    it). Agreement, review and exports follow."""
    ops, err = _ops(app)
    try:
        _uid, n = ops.merge(keep, gone, _who(app, annotator))
    except err as exc:
        fail(str(exc))
    click.echo(f"Merged {clean(gone)} into {clean(keep)}: {count(n, 'label')} rewritten.", err=True)


@actors_cmd.command("alias")
@click.argument("actor")
@click.argument("alias")
@click.option(
    "--move",
    is_flag=True,
    help="ALIAS is an alias of another actor: move it to ACTOR (never another actor's name: "
    "use `actors merge` for that).",
)
@annotator_option(help="Who makes the change (recorded in the history).")
@pass_app
def alias_cmd(app: AppContext, actor: str, alias: str, move: bool, annotator: str | None) -> None:
    """Make ALIAS a name of ACTOR. A lead's alias is trusted: dedup may treat it as the same
    name (aliases made in the actor picker are not). A name of another actor is refused (that
    would join the two actors: use `actors merge`), and another actor's alias moves only with
    --move."""
    ops, err = _ops(app)
    try:
        ops.alias(actor, alias, _who(app, annotator), move=move)
    except err as exc:
        fail(str(exc))
    click.echo(f"{clean(alias)!r} is now an alias of {clean(actor)}.", err=True)


@actors_cmd.command("undo")
@annotator_option(help="Who makes the change (recorded in the history).")
@pass_app
def undo_cmd(app: AppContext, annotator: str | None) -> None:
    """Undo the latest actor operation made in this DB (a merge puts the labels back)."""
    ops, _ = _ops(app)
    done = ops.undo(_who(app, annotator))
    if done is None:
        fail("no actor operation to undo")
    op, actor = done
    click.echo(f"Undid {op} of {clean(actor)}.", err=True)
