"""Personal links of the team server (``stanceterm invite``, ``stanceterm serve``).

Reached as ``store.invites``. One row per person: name, role and the SHA-256 of the token; the
token itself is never stored. Hashing, matching (constant time) and roles live in
:mod:`stanceterm.invites` (no SQL there).
"""

from __future__ import annotations

from stanceterm.store.base import Handle
from stanceterm.store.models import now

#: ``meta`` key: the address browsers use, recorded by ``stanceterm serve`` when it starts (no
#: migration: a key of the meta table)
SERVED_URL_KEY = "serve.base_url"


class Invites:
    """``store.invites``: the links given, revoked and live."""

    def __init__(self, db: Handle) -> None:
        self._db = db

    def set(self, name: str, role: str, token_hash: str) -> None:
        """Give ``name`` a new link (replacing and so invalidating any earlier one)."""
        with self._db.tx() as c:
            c.execute(
                "INSERT INTO invites(name, role, token_hash, created_at, revoked_at) "
                "VALUES (?, ?, ?, ?, NULL) ON CONFLICT(name) DO UPDATE SET role = excluded.role, "
                "token_hash = excluded.token_hash, created_at = excluded.created_at, "
                "revoked_at = NULL",
                (name, role, token_hash, now()),
            )

    def served_url(self) -> str | None:
        """The base URL the team server last served on (``--public-url``, else
        ``http://HOST:PORT``), or None when ``stanceterm serve`` never ran on this DB."""
        return self._db.get_meta(SERVED_URL_KEY)

    def record_served_url(self, url: str) -> None:
        """Record where the team server serves, for the links ``stanceterm invite`` prints."""
        self._db.set_meta(SERVED_URL_KEY, url)

    def revoke(self, name: str) -> bool:
        """Revoke ``name``'s link; False when there is no live link of that name."""
        with self._db.tx() as c:
            cur = c.execute(
                "UPDATE invites SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (now(), name),
            )
            return cur.rowcount > 0

    def all(self) -> list[tuple[str, str, str, str | None]]:
        """(name, role, created_at, revoked_at) of every link ever given, by name."""
        with self._db.read() as c:
            return [
                (str(n), str(r), str(t), None if v is None else str(v))
                for n, r, t, v in c.execute(
                    "SELECT name, role, created_at, revoked_at FROM invites ORDER BY name"
                )
            ]

    def live_hashes(self) -> list[tuple[str, str, str]]:
        """(name, role, token_hash) of the links that are not revoked."""
        with self._db.read() as c:
            return [
                (str(n), str(r), str(h))
                for n, r, h in c.execute(
                    "SELECT name, role, token_hash FROM invites WHERE revoked_at IS NULL"
                )
            ]
