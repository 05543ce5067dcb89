"""Browser mode: serve the annotation screen through textual-serve.

textual-serve starts one process per browser tab by running a fixed shell command; it passes no
per-browser identity to that process (only the terminal size). So one server annotates as one
annotator: ``stanceterm serve --annotator alice`` (each annotator runs their own server, on their
own port). The command is built here as an argument list and quoted with :func:`shlex.join`, so a
DB path or annotator name with spaces or shell characters is passed literally, never run.

There is no login and no TLS in textual-serve: anyone who reaches the port annotates as that
annotator and reads every article. Hence the default host 127.0.0.1, reached from elsewhere
through an SSH tunnel, or a reverse proxy that adds authentication and TLS.
"""

from __future__ import annotations

import ipaddress
import shlex
import sys
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything, treat it as exposed


def annotate_argv(
    db: Path, annotator: str, *, schema: Path | None = None, python: str | None = None
) -> list[str]:
    """The command each browser session runs: ``python -m stanceterm --db DB annotate ...``."""
    argv = [python or sys.executable, "-m", "stanceterm", "--db", str(Path(db).resolve())]
    if schema is not None:
        argv += ["--schema", str(Path(schema).resolve())]
    return [*argv, "annotate", "--annotator", annotator]


def annotate_command(
    db: Path, annotator: str, *, schema: Path | None = None, python: str | None = None
) -> str:
    """:func:`annotate_argv` as the shell string textual-serve runs (safely quoted)."""
    return shlex.join(annotate_argv(db, annotator, schema=schema, python=python))


def public_url(host: str, port: int) -> str:
    """The URL browsers use when no --public-url is given (IPv6 literals bracketed)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def exposure_help(port: int) -> str:
    """How to reach a loopback-only server from another machine, safely."""
    return (
        f"To annotate from another computer, keep this server on 127.0.0.1 and open an SSH "
        f"tunnel from that computer: ssh -L {port}:localhost:{port} THIS_HOST, then browse "
        f"http://localhost:{port}. For a team, put a reverse proxy with authentication and TLS in "
        "front and pass --public-url https://... (the address browsers use)."
    )


def exposure_warning(host: str, port: int) -> str:
    return (
        f"WARNING: serving on {host}:{port}, which other machines can reach. textual-serve has no "
        "login and no encryption: anyone who can reach this port annotates under this name and "
        "reads every article, in clear text. Prefer the default --host 127.0.0.1 with an SSH "
        f"tunnel (ssh -L {port}:localhost:{port} THIS_HOST), or a reverse proxy with "
        "authentication and TLS."
    )


def serve(command: str, *, host: str, port: int, title: str, url: str | None = None) -> None:
    """Run the textual-serve web server until Ctrl+C (blocking)."""
    from textual_serve.server import Server

    server = Server(command, host=host, port=port, title=title, public_url=url or None)
    if url is None:
        server.public_url = public_url(host, port)
    server.serve()
