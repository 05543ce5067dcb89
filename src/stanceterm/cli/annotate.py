"""The screens: ``annotate``, ``demo`` and ``review`` (``serve`` lives in ``cli/serve.py``).

The UI is imported inside the commands that open it, on purpose: ``export`` and ``stats`` then
start without loading Textual.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from stanceterm.cli.context import AppContext, fail, pass_app, resume_gc
from stanceterm.cli.corpus import run_import
from stanceterm.cli.options import annotator_option
from stanceterm.config import ENV_DB, demo_article_path, resolve_schema
from stanceterm.textsafe import clean
from stanceterm.wording import count, verb

if TYPE_CHECKING:
    from stanceterm.store import Store

DEMO_DB = "stanceterm-demo.db"


@click.command("demo")
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
        f"Demo article in {clean(store.path)}: {count(counts['articles'], 'article')}, "
        f"{count(counts['sentences'], 'sentence')}.",
        err=True,
    )
    name = app.annotator(annotator) or "demo"
    if not no_ui:
        _annotate(app, name, show_others=False)
    # --- hour (issue 15 §5): the next commands, with this demo's --db
    from stanceterm.config import next_commands

    click.echo("Next, on this demo DB:", err=True)
    for command in next_commands(app.db_path, name):
        click.echo(f"  {clean(command)}", err=True)
    # --- end hour


@click.command("annotate")
@annotator_option()
@click.option(
    "--show-others",
    is_flag=True,
    help="Also show other annotators' labels for each sentence (off: annotators are blind).",
)
@click.option(
    "--suggest/--no-suggest",
    "use_suggest",
    default=True,
    show_default=True,
    help="Show claim suggestions (◌) from the team's model, and run its background trainer.",
)
@click.option(
    "--suggest-on-overlap", is_flag=True, help="Also suggest on overlap units (off: honest α)."
)
@click.option(
    "--suggester",
    metavar="MODULE:FUNCTION",
    help="Your own model: sentences -> claim probabilities.",
)
@click.option(
    "--order",
    type=click.Choice(["document", "uncertain"]),
    default="document",
    show_default=True,
    help="uncertain: the model's least sure sentences of your queue first.",
)
@pass_app
def annotate_cmd(
    app: AppContext,
    annotator: str | None,
    show_others: bool,
    use_suggest: bool = True,
    suggest_on_overlap: bool = False,
    suggester: str | None = None,
    order: str = "document",
) -> None:
    """Open the annotation screen (press ? inside for every key).

    Resumes at the first sentence this annotator has not done. Every key press is saved at once;
    the keymap can be changed in the config file's [keys] table (action = "key,key").
    """
    name = app.annotator(annotator)
    assert name is not None
    live, start_trainer = _live_suggestions(app, use_suggest, suggest_on_overlap, suggester, order)
    _annotate(app, name, show_others, live, order, after_first_paint=start_trainer)


def _live_suggestions(
    app: AppContext, use: bool, on_overlap: bool, spec: str | None, order: str
) -> tuple[Any, Callable[[], None] | None]:  # suggest block (issue 18)
    """The screen's suggestions, and how to start the DB's trainer process: after the first
    paint (startup, issue 17: a second Python process loading scikit-learn would share the two
    cores with the screen's start)."""
    from stanceterm import suggest as sg
    from stanceterm import suggest_trainer as tr

    if not use:
        if order == "uncertain":
            fail("--order uncertain needs suggestions (drop --no-suggest)")
        return None, None
    store = app.store(create=False)  # first: a file that is not a DB is refused untouched
    if store.corpus.first(None) is None:
        return None, None  # nothing to annotate: _annotate says so
    schema = app.record_schema()
    plugin = None
    start_trainer: Callable[[], None] | None = None
    if spec:
        try:
            plugin = sg.PluginModel(sg.load_suggester(spec), schema.claim_ids, spec)
        except sg.SuggestError as exc:
            fail(str(exc))
    elif store.path != ":memory:":
        explicit = resolve_schema(app.schema_flag, app.settings)
        schema_file = None if explicit is None else str(explicit)
        try:
            tr.hold_screen_lock(store.path)  # the trainer lives while a screen holds it
        except OSError:  # a read-only folder: the screen still loads a model, trains none
            pass
        else:

            def start_trainer() -> None:
                tr.start_trainer(store.path, schema_file, 25, 50)

    live = sg.LiveSuggestions(
        store.path, schema.fingerprint, schema.claim_ids, plugin=plugin, on_overlap=on_overlap
    )
    return live, start_trainer


def _refuse_case_twin(store: Store, annotator: str) -> None:
    """A new name that differs from a known annotator's only in case is a slip (Alice for
    alice): it would open every sentence for a third annotator and split one person's work in
    two in the agreement figures. Names stay case-sensitive; this one is refused."""
    known = set(store.labels.annotators()) | set(store.team.assigned_loads())
    if annotator in known:
        return
    twins = sorted(k for k in known if k.casefold() == annotator.casefold())
    if twins:
        fail(
            f"annotator {clean(repr(annotator))} is new in {clean(store.path)}, and "
            f"{clean(repr(twins[0]))} is not: names are case-sensitive, so this would be another "
            f"annotator; pass --annotator {clean(shlex.quote(twins[0]))}"
        )


def _annotate(
    app: AppContext,
    annotator: str,
    show_others: bool,
    suggestions: Any = None,
    order: str = "document",
    after_first_paint: Callable[[], None] | None = None,
) -> None:
    from stanceterm.ui.app import AnnotateApp
    from stanceterm.ui.base import run
    from stanceterm.ui.keymap import KeymapError, check_keymap

    store = app.store(create=False)
    _refuse_case_twin(store, annotator)
    schema = app.record_schema()
    if store.corpus.first(annotator) is None:
        fail(f"{store.path}: no sentences to annotate; run `stanceterm import FILES` first")
    try:
        keymap = check_keymap(app.settings.keys, schema.stances)
    except KeymapError as exc:
        fail(f"{app.settings.path}: [keys]: {exc}")

    def first_frame() -> None:
        resume_gc()  # the CLI's start-up pause of the garbage collector ends with the first frame
        if after_first_paint is not None:
            after_first_paint()

    try:
        result = run(
            AnnotateApp(
                store,
                schema,
                annotator,
                show_others=show_others,
                keymap=keymap,
                suggestions=suggestions,
                order=order,
                nudge_stances=app.settings.nudge_stances,  # hour (issue 15 §3)
                on_first_screen=first_frame,
            ),
            app.theme(),
        )
    finally:
        resume_gc()
    if result.failed_writes:
        for line in result.errors:
            click.echo(f"error: {clean(line)}", err=True)
        n = result.failed_writes
        fail(f"{count(n, 'sentence')} {verb(n, 'has', 'have')} changes that could not be saved")


# --------------------------------------------------------------------------- review


@click.command("review")
@annotator_option("Who adjudicates (default: $STANCETERM_ANNOTATOR or config).")
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
    from stanceterm.ui.base import run
    from stanceterm.ui.keymap import KeymapError, check_keymap
    from stanceterm.ui.review_app import ReviewApp

    name = app.annotator(annotator)
    assert name is not None
    store = app.store(create=False)
    schema = app.record_schema(explicit_only=True)
    queue = review_queue(store, include_all=include_all)
    if not queue:
        what = "no sentence has a label" if include_all else "no disagreements and no flags"
        hint = "" if include_all else " (--all reviews every labelled sentence)"
        click.echo(f"Nothing to review in {clean(store.path)}: {what}{hint}.", err=True)
        return
    try:  # the gold editor follows the [keys] of the label editor
        keymap = check_keymap(app.settings.keys, schema.stances)
    except KeymapError as exc:
        fail(f"{app.settings.path}: [keys]: {exc}")
    result = run(ReviewApp(store, schema, name, queue=queue, keymap=keymap), app.theme())
    if result.failed_writes:
        for line in result.errors:
            click.echo(f"error: {clean(line)}", err=True)
        fail(f"{count(result.failed_writes, 'gold decision')} could not be saved")
