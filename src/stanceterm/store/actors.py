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
    trusted = int(created_by is None)  # the schema's gazetteer; never the picker's
    for alias in [name, *aliases]:
        alias = alias.strip()
        if alias:
            c.execute(
                "INSERT INTO actor_aliases(key, alias, actor_id, trusted) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET trusted = max(trusted, excluded.trusted) "
                "WHERE actor_id = excluded.actor_id",
                (alias_key(alias), alias, actor_id, trusted),
            )
    return actor_id


# --- safeimport: actors planned while staging an import, created when it applies
def free_actor_id(c: sqlite3.Connection, name: str, taken: set[str]) -> str:
    """The id :func:`add_actor_row` would give a new actor ``name`` now, avoiding ``taken`` too
    (ids planned by the same import). A read: it writes nothing."""
    base = slugify(name.strip())
    actor_id, n = base, 2
    while (
        actor_id in taken or c.execute("SELECT 1 FROM actors WHERE id = ?", (actor_id,)).fetchone()
    ):
        actor_id, n = f"{base}-{n}", n + 1
    return actor_id


def add_actor_with_id(c: sqlite3.Connection, actor_id: str, name: str, created_by: str) -> None:
    """Create the actor ``actor_id`` planned by :func:`free_actor_id`, in the caller's
    transaction (its name is its alias)."""
    require_tx(c, "add_actor_with_id")
    name = name.strip()
    c.execute(
        "INSERT INTO actors(id, name, created_by, created_at) VALUES (?, ?, ?, ?)",
        (actor_id, name, created_by, now()),
    )
    c.execute(
        "INSERT OR IGNORE INTO actor_aliases(key, alias, actor_id) VALUES (?, ?, ?)",
        (alias_key(name), name, actor_id),
    )


# --- end safeimport


def add_alias_row(c: sqlite3.Connection, actor_id: str, alias: str, *, trusted: bool) -> None:
    """Make ``alias`` a name of ``actor_id``, in the caller's transaction.

    ``trusted``: the alias was added by a project lead (``stanceterm actors alias``), so dedup
    may treat the two names as one actor; an alias made in the picker by one annotator is never
    trusted (one keystroke must not merge sentences). Moving an alias to another actor takes the
    new ``trusted``; adding it again to the same actor never lowers it.
    """
    require_tx(c, "add_alias_row")
    c.execute(
        "INSERT INTO actor_aliases(key, alias, actor_id, trusted) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET alias = excluded.alias, "
        "trusted = CASE WHEN actor_id = excluded.actor_id THEN max(trusted, excluded.trusted) "
        "ELSE excluded.trusted END, actor_id = excluded.actor_id",
        (alias_key(alias), alias.strip(), actor_id, int(trusted)),
    )


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

    def add_alias(self, actor_id: str, alias: str, *, trusted: bool = False) -> None:
        """Make ``alias`` a name of ``actor_id`` (see :func:`add_alias_row`)."""
        with self._db.tx() as c:
            add_alias_row(c, actor_id, alias, trusted=trusted)

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
        """Alias -> actor id of the trusted aliases (``actor_aliases.trusted``: the label
        schema's gazetteer and aliases a lead added), and the display names of the actors that
        have one: the only names dedup may treat as one actor. Aliases made in the picker are
        left out, so one keystroke cannot merge sentences."""
        with self._db.read() as c:
            rows = c.execute("SELECT alias, actor_id FROM actor_aliases WHERE trusted = 1")
            out = {str(r[0]): str(r[1]) for r in rows}
            for r in c.execute(
                "SELECT name, id FROM actors WHERE id IN "
                "(SELECT actor_id FROM actor_aliases WHERE trusted = 1)"
            ):
                out[str(r[0])] = str(r[1])
        return out
