"""Which database files this process holds an SQLite connection to.

Closing *any* file descriptor on a file releases every POSIX lock the process holds on it
(SQLite's "How to corrupt an SQLite database file", section 2.2). If a process that holds a
connection to a live WAL database opens the file with plain I/O and closes it, its shared lock is
gone; another process's checkpoint then sees no reader, deletes the -wal, and the writes that
this process makes next vanish.

So every connection registers the file's (device, inode) here, and every plain read or write of a
path a user gave (``import-labels FILE``, ``agreement --from FILE``, ``--schema FILE``,
``merge OTHER.db``, ``export --out FILE``, an import folder) first asks :func:`refuse_if_connected`.
The check is a ``stat``, which opens no descriptor.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

__all__ = ["ConnectedFileError", "is_connected", "refuse_if_connected", "register", "unregister"]

_lock = threading.Lock()
_connected: dict[tuple[int, int], int] = {}


class ConnectedFileError(Exception):
    """A user-supplied path is a database this process is connected to."""


def _key(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


def register(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """Note a new connection to ``path``; returns the key to pass to :func:`unregister`."""
    key = _key(path)
    if key is not None:
        with _lock:
            _connected[key] = _connected.get(key, 0) + 1
    return key


def unregister(key: tuple[int, int] | None) -> None:
    if key is None:
        return
    with _lock:
        n = _connected.get(key, 0) - 1
        if n > 0:
            _connected[key] = n
        else:
            _connected.pop(key, None)


def is_connected(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` (through any link) is a file this process holds a connection to."""
    key = _key(path)
    if key is None:
        return False
    with _lock:
        return key in _connected


def refuse_if_connected(path: str | os.PathLike[str], what: str = "file") -> None:
    """Raise :class:`ConnectedFileError` (one line for the user) when ``path`` is the open DB."""
    if is_connected(path):
        raise ConnectedFileError(
            f"{Path(path)}: is the open database, not a {what}; refusing to read or write it"
        )
