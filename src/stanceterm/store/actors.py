"""The actor gazetteer: actors, their aliases, and the label schema that seeds them.

Reached as ``store.actors``. Alias keys and the alias-merging rule live in
:mod:`stanceterm.actors` (no SQL there); this module reads and writes the rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from stanceterm.actors import alias_key, follow_aliases, slugify
from stanceterm.schema import LabelSchema
from stanceterm.store.base import Handle, require_tx
from stanceterm.store.models import now


def add_actor_row(
    c: sqlite3.Connection, name: str, aliases: Iterable[str], created_by: str | None
) -> str:
    """Create an actor (or find the one whose alias matches ``name``) and add its aliases, in the
    caller's transaction. Returns the actor id."""
    require_tx(c, "add_actor_row")
    if not name.strip():
        raise ValueError("actor name is empty")
    name = name.strip()
    key = alias_key(name)
    row = c.execute("SELECT actor_id FROM actor_aliases WHERE key = ?", (key,)).fetchone()
    if row is not None:
        actor_id = str(row[0])
    else:
        row = c.execute("SELECT id FROM actors WHERE name = ?", (name,)).fetchone()
        if row is not None:
            actor_id = str(row[0])
        else:
            base = slugify(name)
            actor_id, n = base, 2
            while c.execute("SELECT 1 FROM actors WHERE id = ?", (actor_id,)).fetchone():
                actor_id, n = f"{base}-{n}", n + 1
            c.execute(
                "INSERT INTO actors(id, name, created_by, created_at) VALUES (?, ?, ?, ?)",
                (actor_id, name, created_by, now()),
            )
    for alias in [name, *aliases]:
        alias = alias.strip()
        if alias:
            c.execute(
                "INSERT OR IGNORE INTO actor_aliases(key, alias, actor_id) VALUES (?, ?, ?)",
                (alias_key(alias), alias, actor_id),
            )
    return actor_id


def record_label_schema(c: sqlite3.Connection, schema: LabelSchema) -> bool:
    """Store the label schema in ``meta`` and seed its actor gazetteer, in the caller's
    transaction. Returns True if the stored schema changed."""
    require_tx(c, "record_label_schema")
    text = schema.canonical_json()
    row = c.execute("SELECT value FROM meta WHERE key = 'label_schema'").fetchone()
    changed = row is None or row[0] != text
    if changed:
        c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('label_schema', ?)", (text,))
        c.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('label_schema_fingerprint', ?)",
            (schema.fingerprint,),
        )
    for entry in schema.actors:
        add_actor_row(c, entry.name, entry.aliases, created_by=None)
    return changed


class Actors:
    """``store.actors``: the actor gazetteer."""

    def __init__(self, db: Handle) -> None:
        self._db = db

    def add(self, name: str, aliases: Iterable[str] = (), created_by: str | None = None) -> str:
        """Create an actor (or return the existing one whose alias matches ``name``)."""
        with self._db.tx() as c:
            return add_actor_row(c, name, aliases, created_by)

    def add_alias(self, actor_id: str, alias: str) -> None:
        with self._db.tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO actor_aliases(key, alias, actor_id) VALUES (?, ?, ?)",
                (alias_key(alias), alias.strip(), actor_id),
            )

    def resolve(self, name_or_id: str) -> str | None:
        """Actor id for an id, a display name or any alias (accent- and case-insensitive)."""
        with self._db.read() as c:
            row = c.execute("SELECT id FROM actors WHERE id = ?", (name_or_id,)).fetchone()
            if row is None:
                row = c.execute(
                    "SELECT actor_id FROM actor_aliases WHERE key = ?", (alias_key(name_or_id),)
                ).fetchone()
        return None if row is None else str(row[0])

    def names(self) -> dict[str, str]:
        """Actor id -> display name."""
        with self._db.read() as c:
            return {str(r[0]): str(r[1]) for r in c.execute("SELECT id, name FROM actors")}

    def alias_map(self) -> dict[str, str]:
        """Every alias (and display name) -> actor id."""
        with self._db.read() as c:
            out = {
                str(r[0]): str(r[1]) for r in c.execute("SELECT alias, actor_id FROM actor_aliases")
            }
            out.update({str(r[1]): str(r[0]) for r in c.execute("SELECT id, name FROM actors")})
        return out

    def alias_keys(self) -> dict[str, str]:
        """Alias key (:func:`~stanceterm.actors.alias_key`) -> actor id, for every alias."""
        with self._db.read() as c:
            return {str(k): str(a) for k, a in c.execute("SELECT key, actor_id FROM actor_aliases")}

    def canonical(self) -> dict[str, str]:
        """Actor id -> the id it stands for once aliases are merged
        (:func:`~stanceterm.actors.follow_aliases`), for the actors that were later made an alias
        of another one; actors standing for themselves are left out."""
        names, keys = self.names(), self.alias_keys()
        merged = {a: follow_aliases(a, names, keys) for a in names}
        return {a: t for a, t in merged.items() if t != a}

    def trusted_alias_map(self) -> dict[str, str]:
        """Alias -> actor id for the actors of the label schema (created by nobody): the only
        aliases dedup may treat as one actor. Actors made in the picker (``created_by`` set) are
        left out, so one keystroke cannot merge sentences."""
        with self._db.read() as c:
            rows = c.execute(
                "SELECT a.alias, a.actor_id FROM actor_aliases a JOIN actors t ON t.id = a.actor_id "
                "WHERE t.created_by IS NULL"
            )
            out = {str(r[0]): str(r[1]) for r in rows}
            for r in c.execute("SELECT id, name FROM actors WHERE created_by IS NULL"):
                out[str(r[1])] = str(r[0])
        return out
