"""Personal links of the team server: tokens, their hashes, roles, and bad-token slow-down.

A link is ``BASE/a/<token>``, the token 32 random bytes from :mod:`secrets` (URL-safe base64).
The DB keeps only ``sha256(token)``: 256 random bits need no slow hash (nobody can guess a
preimage), and a stolen DB file then gives no working link. A presented token is hashed and
compared with every live hash through :func:`hmac.compare_digest`, with no early exit, so the
time taken does not tell whether, or which, name matched.

Pure logic plus :class:`~stanceterm.store.Store` calls; never imports Textual or aiohttp.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import shlex
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from stanceterm.store import Store

ROLES = ("annotator", "adjudicator", "lead")
#: what a token looks like (token_urlsafe(32) is 43 characters); anything else is refused unhashed
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,128}")


class InviteError(ValueError):
    """A bad name, role or unknown link; the message is one line."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid token belongs to."""

    name: str
    role: str


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def match_token(token: str | None, entries: Iterable[tuple[str, str, str]]) -> Identity | None:
    """The identity whose stored hash matches ``token`` among (name, role, hash) ``entries``.

    Every entry is compared in constant time and the loop never stops early.
    """
    if token is None or TOKEN_RE.fullmatch(token) is None:
        return None
    digest = hash_token(token).encode("ascii")
    found: Identity | None = None
    for name, role, stored in entries:
        if hmac.compare_digest(digest, stored.encode("ascii")) and found is None:
            found = Identity(name, role)
    return found


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InviteError("the name must be 1-100 printable characters")
    return name


def invite(store: Store, name: str, role: str = "annotator") -> str:
    """Give ``name`` a new personal link (an earlier one stops working); returns the token."""
    name = check_name(name)
    if role not in ROLES:
        raise InviteError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    token = new_token()
    store.invites.set(name, role, hash_token(token))
    return token


def revoke(store: Store, name: str) -> None:
    if not store.invites.revoke(name):
        raise InviteError(f"{name!r} has no live link (see `stanceterm invite --list`)")


def link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/a/{token}"


#: the roles, as the invite command line shows them
ROLE_CHOICE = "[--role annotator|adjudicator|lead]"


def invite_command(db: str | Path) -> str:
    """The command that gives a personal link for this DB (what ``serve`` and the lead's
    dashboard show); the DB path quoted for the shell."""
    return shlex.join(["stanceterm", "--db", str(Path(db).resolve()), "invite"]) + " NAME"


def base_url_for_invite(
    store: Store, *, port: int | None, public_url: str | None, default: str
) -> tuple[str, str]:
    """(base URL of the link, where it came from): ``--public-url``, else ``--port`` (on
    127.0.0.1), else the address ``stanceterm serve`` recorded in the DB, else ``default``."""
    if public_url is not None:
        return public_url, "--public-url"
    if port is not None:
        return f"http://127.0.0.1:{port}", "--port"
    served = store.invites.served_url()
    if served:
        return served, "served"
    return default, "default"


@dataclass
class BadTokenLimiter:
    """Slows down clients that present bad tokens: after ``free`` failures within ``window``
    seconds, each request from that address waits ``base_delay * 2**(extra failures)`` seconds
    (at most ``max_delay``) before its token is even looked at. A success does not reset it:
    a guesser who also holds one valid link gains nothing."""

    free: int = 5
    window: float = 600.0
    base_delay: float = 0.5
    max_delay: float = 10.0
    _fails: dict[str, list[float]] = field(default_factory=dict)

    def _recent(self, address: str, now: float) -> list[float]:
        times = [t for t in self._fails.get(address, []) if now - t < self.window]
        if times:
            self._fails[address] = times
        else:
            self._fails.pop(address, None)
        return times

    def delay(self, address: str, now: float | None = None) -> float:
        """Seconds to wait before answering ``address``."""
        now = time.monotonic() if now is None else now
        extra = len(self._recent(address, now)) - self.free
        if extra < 0:
            return 0.0
        return float(min(self.max_delay, self.base_delay * 2.0 ** min(extra, 30)))

    def failed(self, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        times = self._recent(address, now)
        times.append(now)
        self._fails[address] = times[-1000:]
        if len(self._fails) > 10_000:  # a flood of addresses: forget the oldest
            for key in list(self._fails)[:5000]:
                del self._fails[key]
