"""The actor gazetteer: actors, their aliases, and the label schema that seeds them.

Reached as ``store.actors``. Alias keys and the alias-merging rule live in
:mod:`stanceterm.actors` (no SQL there); this module reads and writes the rows.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from stanceterm.actors import alias_key, follow_aliases, slugify
from stanceterm.schema import LabelSchema
from stanceterm.store.base import Handle, require_tx
from stanceterm.store.gold import resolve_gold
from stanceterm.store.labels import (
    actor_map_in,
    event_merges,
    record_event,
    resolve_label,
    standing_actor_events,
)
from stanceterm.store.models import dumps, now, stamp_after


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
                "INSERT INTO actors(id, name, created_by, created_at, base_name) "
                "VALUES (?, ?, ?, ?, ?)",
                (actor_id, name, created_by, now(), name),
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


# add_actor_with_id (creating the planned actors) is in store/labels.py, with the import runs
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

    def name(self, actor_id: str) -> str | None:
        """The display name of one actor (None: no such id)."""
        with self._db.read() as c:
            row = c.execute("SELECT name FROM actors WHERE id = ?", (actor_id,)).fetchone()
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
        with self._db.read() as c:
            merged.update(actor_map_in(c))  # actors merge, and one name one actor (same_as)
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


# --------------------------------------------------------------------------- actor operations
# Rename, alias and merge are replicated events (``actor_events``), ordered by (ts, uid) like
# label events (docs/ARCHITECTURE.md, "Merge ordering"); :func:`replay_actors` derives the actor
# names and alias rows they touch, :func:`actor_map_in` the merges standing (merged id -> kept).


def fill_base_names(c: sqlite3.Connection) -> None:
    """``actors.base_name`` (v12) where it is unknown: the name before the first rename, or the
    name (actors made before v12, or by a writer that does not set it)."""
    c.execute(
        "UPDATE actors SET base_name = coalesce((SELECT json_extract(e.arg, '$.was') "
        "FROM actor_events e WHERE e.op = 'rename' AND e.actor_id = actors.id "
        "ORDER BY e.ts, e.uid LIMIT 1), name) WHERE base_name IS NULL"
    )


def replay_actors(c: sqlite3.Connection) -> None:
    """Derive the actors' names, the alias rows touched by actor operations and the "same name"
    rule from the replicated data, as a function of it alone (docs/ARCHITECTURE.md, "Merge
    ordering"), so that every replica holding the same rows and events derives the same tables:

    * an actor's name: its latest standing rename by (ts, uid), else ``base_name``;
    * an alias key touched by events: the state before its first event, then each standing
      alias / merge event in (ts, uid) order; trusted when a standing alias event (a lead's) set
      it, else the trust recorded with the state before;
    * **one name, one actor**: an actor whose name is (by alias key) a name of another actor in
      the alias table stands for that actor (``actors.same_as``; labels naming it are read as
      naming the other, as after ``actors merge``). Two actors renamed to one name on two
      machines: the key belongs to the later alias event, and the other actor joins it; two
      actors made with one name (no events): the key's owner is the smaller id (merge's rule
      for alias rows), and the other joins it;
    * display names stay unique: an actor standing for another whose name is taken shows as
      ``name (id)``.
    """
    require_tx(c, "replay_actors")
    fill_base_names(c)
    rows = c.execute("SELECT id, name, base_name, created_by FROM actors ORDER BY id").fetchall()
    display = {str(r[0]): str(r[1]) for r in rows}
    names = {str(r[0]): str(r[2]) for r in rows}
    gazetteer = {str(r[0]) for r in rows if r[3] is None}
    everything = c.execute(
        "SELECT ts, uid, op, actor_id, arg FROM actor_events WHERE op != 'undo' ORDER BY ts, uid"
    ).fetchall()
    standing = {e[1] for e in standing_actor_events(c)}
    keys: dict[str, tuple[str | None, str]] = {}  # key -> (actor id or None, alias text)
    trusted: dict[str, int] = {}

    def first(k: str, was: object, text: str, was_trusted: object) -> None:
        if k not in keys:
            keys[k] = (None if was is None else str(was), text)
            if isinstance(was_trusted, int):
                trusted[k] = int(was_trusted)
            else:  # events made before v12: a gazetteer actor's aliases are trusted
                trusted[k] = int(was is not None and str(was) in gazetteer)

    for _ts, uid, op, actor, arg in everything:
        d = orjson.loads(arg) if arg else {}
        if op == "rename":
            if uid in standing and str(actor) in names:
                names[str(actor)] = str(d["name"])
        elif op == "alias":
            k = str(d["key"])
            first(k, d.get("was"), str(d["alias"]), d.get("was_trusted"))
            if uid in standing:
                keys[k] = (str(actor), str(d["alias"]))
                trusted[k] = 1
        elif op == "merge":
            for k, entry in d.get("keys", {}).items():
                text, was = entry[0], entry[1]
                first(k, was, str(text), entry[2] if len(entry) > 2 else None)
                if uid in standing:
                    keys[k] = (str(actor), str(text))
    for k, (actor_id, text) in keys.items():
        if actor_id is None or actor_id not in names:
            c.execute("DELETE FROM actor_aliases WHERE key = ?", (k,))
            continue
        c.execute(
            "INSERT INTO actor_aliases(key, alias, actor_id, trusted) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET alias = excluded.alias, actor_id = excluded.actor_id, "
            "trusted = excluded.trusted",
            (k, text, actor_id, trusted.get(k, 0)),
        )
    # one name, one actor
    owner = {str(k): str(a) for k, a in c.execute("SELECT key, actor_id FROM actor_aliases")}
    merged = event_merges(c)
    same_as: dict[str, str] = {}

    def follow(a: str) -> str:
        seen = set()
        while (a in merged or a in same_as) and a not in seen:
            seen.add(a)
            a = merged.get(a) or same_as[a]
        return a

    for a in sorted(names):
        if a in merged:
            continue
        o = owner.get(alias_key(names[a]))
        if o is not None and o != a and o in names and follow(o) != a:
            same_as[a] = o
    # display names: unique; the actors standing for themselves first
    order = sorted(names, key=lambda a: (a in merged or a in same_as, a))
    taken: set[str] = set()
    want: dict[str, str] = {}
    for a in order:
        name = names[a] if names[a] not in taken else f"{names[a]} ({a})"
        taken.add(name)
        want[a] = name
    changed = [a for a in order if display[a] != want[a]]
    for a in changed:  # two steps: no transient clash with the UNIQUE name
        c.execute("UPDATE actors SET name = ? WHERE id = ?", ("\x00" + a, a))
    for a in changed:
        c.execute("UPDATE actors SET name = ? WHERE id = ?", (want[a], a))
    c.execute(
        "UPDATE actors SET same_as = NULL WHERE same_as IS NOT NULL AND id NOT IN "
        f"({','.join('?' * len(same_as))})",
        list(same_as),
    )
    for a, o in same_as.items():
        c.execute("UPDATE actors SET same_as = ? WHERE id = ? AND same_as IS NOT ?", (o, a, o))


def record_actor_event(
    c: sqlite3.Connection,
    op: str,
    actor_id: str,
    arg: dict[str, object] | None,
    made_by: str | None,
    undoes: str | None = None,
) -> str:
    row = c.execute("SELECT max(ts) FROM actor_events").fetchone()
    uid = uuid.uuid4().hex
    c.execute(
        "INSERT INTO actor_events(uid, ts, op, actor_id, arg, made_by, undoes) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            uid,
            stamp_after(row[0] if row else None),
            op,
            actor_id,
            None if arg is None else dumps(arg),
            made_by,
            undoes,
        ),
    )
    return uid


def _naming(actor_ids: Iterable[str]) -> list[str]:
    return [f'%"actor":{dumps(a)}%' for a in actor_ids]


def rederive_actor_labels(db: Handle, actor_ids: set[str], op_uid: str | None = None) -> int:
    """Labels and gold naming any of ``actor_ids`` (now or in their winning event) take their
    state again from that event through the current actor merges, in short transactions.

    The labels are not made newer (``updated_at`` unchanged; the rewrite is no write in the
    (ts, uid) order). When ``op_uid`` is given (a local actor operation), each rewritten label
    gets an ``actor-merge`` history event naming it. Returns the number of labels rewritten."""
    if not actor_ids:
        return 0
    likes = _naming(actor_ids)
    where = " OR ".join(["{col} LIKE ?"] * len(likes))
    with db.read() as c:
        keys = sorted(
            {
                (str(a), str(b))
                for a, b in c.execute(
                    "SELECT sentence_id, annotator FROM annotations WHERE propagated_from IS NULL "
                    f"AND ({where.format(col='stances')}) UNION SELECT sentence_id, annotator "
                    f"FROM annotation_events WHERE {where.format(col='after')}",
                    likes + likes,
                )
            }
        )
        golds = sorted(
            {
                str(r[0])
                for r in c.execute(
                    f"SELECT sentence_id FROM gold WHERE {where.format(col='stances')} UNION "
                    f"SELECT sentence_id FROM gold_events WHERE {where.format(col='after')}",
                    likes + likes,
                )
            }
        )
    n = 0
    for start in range(0, len(keys), 500):
        with db.tx() as c:
            amap = actor_map_in(c)
            for sid, annotator in keys[start : start + 500]:
                changed = resolve_label(c, sid, annotator, None, amap)
                if changed is not None:
                    n += 1
                    if op_uid is not None:
                        before, after = changed
                        ts = after.updated_at if after else before.updated_at if before else now()
                        record_event(
                            c,
                            sid,
                            annotator,
                            "actor-merge",
                            before,
                            after,
                            None,
                            f"actor:{op_uid}",
                            ts=ts,
                        )
    for start in range(0, len(golds), 500):
        with db.tx() as c:
            amap = actor_map_in(c)
            for sid in golds[start : start + 500]:
                resolve_gold(c, sid, None, amap)
    return n


class ActorOpError(ValueError):
    """An actor operation that cannot be done; the message is one line."""


@dataclass(frozen=True, slots=True)
class ActorRow:
    id: str
    name: str
    aliases: tuple[tuple[str, bool], ...]  # (alias, trusted)
    merged_into: str | None
    labels: int


class ActorOps:
    """``store.actor_ops``: rename, alias, merge and undo (replicated events)."""

    def __init__(self, db: Handle) -> None:
        self._db = db

    def _find(self, c: sqlite3.Connection, name_or_id: str) -> str:
        row = c.execute("SELECT id FROM actors WHERE id = ?", (name_or_id,)).fetchone()
        if row is None:
            row = c.execute(
                "SELECT actor_id FROM actor_aliases WHERE key = ?", (alias_key(name_or_id),)
            ).fetchone()
        if row is None:
            raise ActorOpError(f"no actor named {name_or_id!r} (see `stanceterm actors list`)")
        return actor_map_in(c).get(str(row[0]), str(row[0]))

    def rows(self) -> list[ActorRow]:
        with self._db.read() as c:
            amap = actor_map_in(c)
            aliases: dict[str, list[tuple[str, bool]]] = {}
            for alias, actor, trusted in c.execute(
                "SELECT alias, actor_id, trusted FROM actor_aliases ORDER BY alias"
            ):
                aliases.setdefault(str(actor), []).append((str(alias), bool(trusted)))
            counts = dict(
                c.execute(
                    "SELECT json_extract(j.value, '$.actor'), count(DISTINCT a.sentence_id || "
                    "char(31) || a.annotator) FROM annotations a, json_each(a.stances) j "
                    "WHERE a.propagated_from IS NULL GROUP BY 1"
                ).fetchall()
            )
            return [
                ActorRow(
                    str(i),
                    str(n),
                    tuple(aliases.get(str(i), [])),
                    amap.get(str(i)),
                    int(counts.get(i, 0)),
                )
                for i, n in c.execute("SELECT id, name FROM actors ORDER BY name COLLATE NOCASE")
            ]

    def rename(self, actor: str, new_name: str, made_by: str | None = None) -> str:
        new_name = new_name.strip()
        if not new_name or any(ch in new_name for ch in "\n\r\t"):
            raise ActorOpError("the new name is empty or has a line break")
        with self._db.tx() as c:
            aid = self._find(c, actor)
            old = str(c.execute("SELECT name FROM actors WHERE id = ?", (aid,)).fetchone()[0])
            clash = c.execute(
                "SELECT id FROM actors WHERE name = ? AND id != ?", (new_name, aid)
            ).fetchone()
            if clash is not None:
                raise ActorOpError(
                    f"another actor is already named {new_name!r}: use `stanceterm actors merge`"
                )
            key = alias_key(new_name)
            owner = c.execute("SELECT actor_id FROM actor_aliases WHERE key = ?", (key,)).fetchone()
            if owner is not None and actor_map_in(c).get(str(owner[0]), str(owner[0])) != aid:
                # (else this actor would stand for that one: docs/ARCHITECTURE.md, one name)
                raise ActorOpError(
                    f"{new_name!r} is a name of another actor: use `stanceterm actors merge`"
                )
            uid = record_actor_event(c, "rename", aid, {"name": new_name, "was": old}, made_by)
            if owner is None:
                record_actor_event(
                    c,
                    "alias",
                    aid,
                    {"alias": new_name, "key": key, "was": None, "was_trusted": 0},
                    made_by,
                )
            replay_actors(c)
            return uid

    def alias(
        self,
        actor: str,
        alias: str,
        made_by: str | None = None,
        *,
        trusted: bool = True,
        move: bool = False,
    ) -> str:
        """Make ``alias`` a name of ``actor``. ``trusted``: a lead's alias (``stanceterm actors
        alias``), which dedup may treat as the same name; the picker's are not.

        A lead's alias that is (by alias key) the display name of another actor is refused: by
        the one-name-one-actor rule it would join the two actors, which is ``actors merge``'s
        job. An alias of another actor moves only with ``move``."""
        alias = alias.strip()
        if not alias or any(ch in alias for ch in "\n\r\t"):
            raise ActorOpError("the alias is empty or has a line break")
        with self._db.tx() as c:
            aid = self._find(c, actor)
            key = alias_key(alias)
            owner = c.execute(
                "SELECT actor_id, trusted FROM actor_aliases WHERE key = ?", (key,)
            ).fetchone()
            was = None if owner is None else str(owner[0])
            was_trusted = 0 if owner is None else int(owner[1])
            if (
                was is not None
                and was != aid
                and c.execute(
                    "SELECT 1 FROM actors WHERE id = ? AND name = ?", (was, alias)
                ).fetchone()
            ):
                raise ActorOpError(
                    f"{alias!r} is the name of another actor: use `stanceterm actors merge`"
                )
            if trusted:
                merged = actor_map_in(c)
                mine = merged.get(aid, aid)
                for oid, oname in c.execute("SELECT id, name FROM actors WHERE id != ?", (aid,)):
                    if alias_key(str(oname)) == key and merged.get(str(oid), str(oid)) != mine:
                        raise ActorOpError(
                            f"{alias!r} is a name of another actor ({oid}, {oname!r}): to make "
                            "them one actor use `stanceterm actors merge`"
                        )
                if was is not None and merged.get(was, was) != mine and not move:
                    raise ActorOpError(
                        f"{alias!r} is already an alias of {was}: add --move to move it here"
                    )
            if not trusted:
                if was is not None:
                    return ""  # already a name of some actor: nothing to add
                add_alias_row(c, aid, alias, trusted=False)
                return ""
            uid = record_actor_event(
                c,
                "alias",
                aid,
                {"alias": alias, "key": key, "was": was, "was_trusted": was_trusted},
                made_by,
            )
            replay_actors(c)
            return uid

    def merge(self, keep: str, gone: str, made_by: str | None = None) -> tuple[str, int]:
        """Merge actor ``gone`` into ``keep``: its name and aliases become aliases of ``keep``
        and labels naming it name ``keep`` (through the history; their ``updated_at`` unchanged).
        Returns (the operation's uid, labels rewritten)."""
        with self._db.tx() as c:
            k, g = self._find(c, keep), self._find(c, gone)
            if k == g:
                raise ActorOpError(f"{keep!r} and {gone!r} are already the same actor")
            keys = {
                str(key): [str(alias), str(actor), int(trusted)]
                for key, alias, actor, trusted in c.execute(
                    "SELECT key, alias, actor_id, trusted FROM actor_aliases WHERE actor_id = ?",
                    (g,),
                )
            }
            uid = record_actor_event(c, "merge", k, {"from": g, "keys": keys}, made_by)
            replay_actors(c)
        return uid, rederive_actor_labels(self._db, {g}, uid)

    def undo(self, made_by: str | None = None) -> tuple[str, str] | None:
        """Undo the latest actor operation made here and not yet undone; returns (op, actor)."""
        with self._db.tx() as c:
            row = c.execute(
                "SELECT uid, op, actor_id, arg FROM actor_events e WHERE op != 'undo' "
                "AND origin IS NULL AND NOT EXISTS (SELECT 1 FROM actor_events u "
                "WHERE u.op = 'undo' AND u.undoes = e.uid) ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            uid, op, actor, arg = str(row[0]), str(row[1]), str(row[2]), row[3]
            before = set(actor_map_in(c))
            undo_uid = record_actor_event(c, "undo", actor, None, made_by, undoes=uid)
            replay_actors(c)
            after = set(actor_map_in(c))
        if op == "merge":
            gone = str(orjson.loads(arg)["from"])
            rederive_actor_labels(self._db, before ^ after | {gone, actor}, undo_uid)
        return op, actor
