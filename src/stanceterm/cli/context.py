"""What every command shares: the one-line user error and the :class:`AppContext`.

The context resolves the DB, the label schema (one resolver for every command, ``agreement
--from`` included), the annotator and the theme, each with the precedence of
:mod:`stanceterm.config` (flag > environment > config file > default).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click

from stanceterm.config import (
    ENV_THEME,
    Settings,
    resolve_annotator,
    resolve_db,
    resolve_schema,
    resolve_theme,
)
from stanceterm.schema import LabelSchema, check_annotator_name, load_schema
from stanceterm.store import Store
from stanceterm.textsafe import clean


class UserError(click.ClickException):
    """A one-line error for the user (exit 1)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {clean(self.format_message())}", err=True)


def fail(message: str) -> NoReturn:
    raise UserError(message)


# --- startup (issue 17): no cyclic garbage collection while the CLI starts
_gc_paused = False


def pause_gc() -> None:
    """Pause Python's cyclic garbage collector while the CLI starts: importing Textual and
    building the screen make many objects and no garbage worth a collection, and the collections
    cost about 40 ms of the annotation screen's cold start. :func:`resume_gc` ends the pause:
    every command but the screen at its start, the screen at its first frame."""
    global _gc_paused
    if gc.isenabled():
        gc.disable()
        _gc_paused = True


def resume_gc() -> None:
    global _gc_paused
    if _gc_paused:
        _gc_paused = False
        gc.enable()


# --- end startup


@dataclass
class AppContext:
    db_flag: str | None
    schema_flag: str | None
    settings: Settings
    _store: Store | None = None
    _schema: LabelSchema | None = None
    _schema_explicit: bool = False
    _schema_recorded: bool = False
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def db_path(self) -> Path:
        return resolve_db(self.db_flag, self.settings)

    def store(self, create: bool = True, *, read_only: bool = False) -> Store:
        """The DB, opened once per command. ``read_only`` (for commands that only read, of any
        schema version: ``backup``) opens it without migrating checks or writes."""
        if self._store is None:
            # --- hour (issue 15 §5): "no such database" names the stanceterm DBs in the folder
            path = self.db_path
            if not create and not path.exists():
                from stanceterm.config import missing_db_message
                from stanceterm.store import StoreError, stanceterm_databases

                raise StoreError(missing_db_message(path, stanceterm_databases(path.parent)))
            # --- end hour
            self._store = Store.open(path, create=create, read_only=read_only)
            self.closers.append(self._store.close)
            _warn_network_fs(self.db_path)
        return self._store

    def store_if_exists(self) -> Store | None:
        """The DB if its file exists (``agreement --from`` works without one), else None."""
        if self._store is None and not self.db_path.is_file():
            return None
        return self.store(create=False)

    def schema(self, *, with_db: bool = True) -> LabelSchema:
        """The label schema: an explicit --schema/env/config file, else the DB's, else the default.

        A getter: it never writes the DB (read-only commands take no write lock). Commands that
        record it call :meth:`record_schema`. ``with_db=False`` (no DB file to read or record it
        in): the explicit one, else the bundled default.
        """
        if self._schema is None:
            # an explicit schema is checked before the DB is opened: a bad one creates no file
            explicit = resolve_schema(self.schema_flag, self.settings)
            loaded = load_schema(explicit) if explicit else None
            if not with_db:
                return loaded if loaded is not None else load_schema()
            self._schema_explicit = loaded is not None
            schema = loaded if loaded is not None else self.store().label_schema()
            if schema is None:
                schema = load_schema()
            self._schema = schema
        return self._schema

    def record_schema(self, *, explicit_only: bool = False) -> LabelSchema:
        """:meth:`schema`, recorded in the DB with its actor gazetteer seeded, so every later
        command agrees on it: the explicit write path of ``--schema``. ``explicit_only``: record
        only an explicitly chosen schema (commands that otherwise only read)."""
        schema = self.schema()
        if not self._schema_recorded and (self._schema_explicit or not explicit_only):
            self.store().set_label_schema(schema)
            self._schema_recorded = True
        return schema

    def theme(self) -> str | None:
        """The TUI theme ($STANCETERM_THEME or the config's ``theme``), checked by name."""
        from stanceterm.ui.themes import theme_names

        name = resolve_theme(self.settings)
        names = theme_names()
        if name is not None and name not in names:
            where = "$STANCETERM_THEME" if os.environ.get(ENV_THEME) else self.settings.path
            fail(
                f"{clean(where)}: unknown theme {clean(name)!r}; choose one of " + ", ".join(names)
            )
        return name

    def annotator(self, flag: str | None, required: bool = True) -> str | None:
        name = resolve_annotator(flag, self.settings)
        if name is None and required:
            fail(
                "no annotator: pass --annotator NAME, set STANCETERM_ANNOTATOR, or put "
                'annotator = "NAME" in stanceterm.toml'
            )
        if name is not None:  # one rule for names, in the core
            try:
                name = check_annotator_name(name)
            except ValueError as exc:
                fail(str(exc))
        return name


pass_app = click.make_pass_decorator(AppContext)


# --- safeimport: WAL does not work on network filesystems
_warned_fs: set[str] = set()


def _warn_network_fs(path: Path) -> None:
    """Warn once per process when the DB sits on NFS/SMB (WAL needs shared memory)."""
    from stanceterm.store.maintenance import network_fs

    fs = network_fs(path)
    if fs is not None and str(path) not in _warned_fs:
        _warned_fs.add(str(path))
        click.echo(
            f"warning: {clean(path)} is on a network filesystem ({fs}): SQLite's WAL does not "
            "work there and concurrent writes can corrupt it; keep the DB on a local disk "
            "(copy it with `stanceterm backup`)",
            err=True,
        )


# --- end safeimport
