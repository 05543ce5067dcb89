"""The ``stanceterm`` command line: each command parses its options, calls one core function, and
prints.

Layout: this module holds the group and :func:`main`; :mod:`.context` the :class:`AppContext`
(DB, label schema, annotator, theme) and the one-line :class:`UserError`; :mod:`.options` the
shared option decorators; one module per command family (:mod:`.corpus`, :mod:`.annotate`,
:mod:`.team`, :mod:`.dedup`, :mod:`.agreement`, :mod:`.schemas`); :mod:`.render` the rich tables,
Markdown, LaTeX and JSON. The UI is imported only inside the commands that open it.

Errors a user can cause (bad files, bad DB, bad schema) end as one line on stderr and a non-zero
exit, never a traceback (set ``STANCETERM_DEBUG=1`` to see one for a bug report).
"""

from __future__ import annotations

import os
import sys

import click

from stanceterm import __version__
from stanceterm.cli import (
    actors,
    agreement,
    annotate,
    corpus,
    dedup,
    schemas,
    serve,
    suggest,
    team,
)
from stanceterm.cli.context import AppContext, UserError, fail, pass_app, pause_gc, resume_gc
from stanceterm.config import ConfigError, load_settings
from stanceterm.fileguard import ConnectedFileError
from stanceterm.schema import SchemaError
from stanceterm.store import StoreError
from stanceterm.textsafe import clean

__all__ = ["AppContext", "UserError", "cli", "fail", "main", "pass_app"]


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
    if ctx.invoked_subcommand not in SCREEN_COMMANDS:
        resume_gc()
    app = AppContext(db, schema, load_settings())
    ctx.obj = app
    ctx.call_on_close(lambda: [close() for close in app.closers])


for _command in (
    corpus.import_cmd,
    corpus.export_cmd,
    corpus.import_labels_cmd,
    corpus.history_cmd,  # safeimport
    corpus.undo_import_cmd,  # safeimport
    corpus.upgrade_cmd,  # safeimport
    corpus.backup_cmd,  # safeimport
    corpus.stats_cmd,
    schemas.schemas_cmd,
    annotate.demo_cmd,
    annotate.annotate_cmd,
    annotate.review_cmd,
    team.annotators_cmd,
    team.assign_cmd,
    team.merge_cmd,
    actors.actors_cmd,
    serve.serve_cmd,
    serve.invite_cmd,
    dedup.dedup_cmd,
    agreement.agreement_cmd,
    suggest.suggest_cmd,
):
    cli.add_command(_command)


#: Commands that end the garbage collector's start-up pause at their first frame (see
#: :func:`~stanceterm.cli.context.pause_gc`); every other command ends it as it starts.
SCREEN_COMMANDS = frozenset({"annotate", "demo"})


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors a user can cause that end as one line. ``LabelsError`` (a bad labels file) is
    raised only by :mod:`stanceterm.export`, so it is caught only once that module is loaded:
    importing it here would load pydantic into every command, the annotation screen included
    (startup, issue 17)."""
    export = sys.modules.get("stanceterm.export")
    labels: tuple[type[Exception], ...] = () if export is None else (export.LabelsError,)
    return (StoreError, SchemaError, ConfigError, ConnectedFileError, *labels)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors become one line on stderr, never a traceback."""
    pause_gc()  # until the command starts (the annotation screen: until its first frame)
    try:
        _main(argv)
    finally:
        resume_gc()


def _main(argv: list[str] | None) -> None:
    debug = bool(os.environ.get("STANCETERM_DEBUG"))
    try:
        cli.main(args=argv, prog_name="stanceterm", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:  # one line naming the command, not click's Usage block
        where = exc.ctx.command_path if exc.ctx is not None else "stanceterm"
        message = " ".join(exc.format_message().split())
        click.echo(f"error: {clean(where)}: {clean(message)} (see --help)", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.message = clean(exc.message)  # type: ignore[misc]  # click repr()s only some values
        exc.show()
        sys.exit(exc.exit_code)
    except _user_errors() as exc:
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
