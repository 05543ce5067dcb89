"""What every concern module of the store needs from the handle, with no import of it.

:class:`Handle` is the part of :class:`~stanceterm.store.db.Store` the repositories use (the
connection, :meth:`tx`, :meth:`read`, ``meta``), typed as a protocol so that ``db.py`` imports the
concern modules and never the other way round (no import cycle, not even for typing).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from stanceterm.store.models import StoreError

#: A dedup cluster is ONE unit (agreement, review, gold): the joins that give the unit of a label
#: row ``a`` (``annotations`` or ``gold``), and the unit's id, sequence and text. A clustered
#: sentence's unit is its cluster's representative; any other sentence is its own unit.
UNIT_JOIN = (
    "JOIN sentences s ON s.id = a.sentence_id LEFT JOIN clusters k ON k.id = s.cluster_id "
    "LEFT JOIN sentences r ON r.id = k.representative_id"
)
UNIT_ID = "coalesce(r.id, s.id)"
UNIT_SEQ = "coalesce(r.seq, s.seq)"
UNIT_TEXT = "coalesce(r.text, s.text)"


class Handle(Protocol):
    """The store handle as the concern modules see it."""

    conn: sqlite3.Connection
    path: str
    read_only: bool

    def tx(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def read(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def temp_tx(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def snapshot(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def checkpoint_passive(self) -> None: ...

    def stream(self, sql: str, params: Sequence[Any], batch: int) -> Iterator[tuple[Any, ...]]: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def search_index_ready(self) -> bool: ...

    @property
    def db_uid(self) -> str: ...


def require_tx(c: sqlite3.Connection, what: str) -> None:
    """The check of a helper that writes in the caller's transaction (see the contract in
    :mod:`stanceterm.store.db`)."""
    if not c.in_transaction:
        raise StoreError(f"{what} writes in the caller's transaction: call it inside store.tx()")


def rows_in(c: sqlite3.Connection, sql: str, ids: Sequence[str], chunk: int = 500) -> Iterator[Any]:
    """Rows of ``sql``, whose ``{}`` is an ``IN`` list, over ``ids`` in chunks that stay under
    SQLite's bound-variable limit."""
    for start in range(0, len(ids), chunk):
        part = list(ids[start : start + chunk])
        yield from c.execute(sql.format(",".join("?" * len(part))), part)
