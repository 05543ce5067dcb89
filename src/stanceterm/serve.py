"""Browser mode: how ``stanceterm serve`` starts, what it prints, and its safe defaults.

The web server itself is :mod:`stanceterm.teamserver` (aiohttp, imported only when serving, so
the CLI stays fast to start). One server serves the whole team: each person opens a personal
link (``stanceterm invite``), and each browser tab runs ``python -m stanceterm --db DB annotate
--annotator NAME`` (or ``review``), built as an argument list and quoted with
:func:`shlex.join`, so a DB path or name with spaces or shell characters is passed literally.

The default host is 127.0.0.1; other machines reach it through an SSH tunnel or a reverse proxy
with TLS (``--public-url https://...``). Without TLS, links and articles cross the network in
clear text, so a non-loopback ``--host`` without an https ``--public-url`` prints the risk.
"""

from __future__ import annotations

import ipaddress
import shlex
import sys
from pathlib import Path

from stanceterm.textsafe import clean

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


def public_url_for(host: str, port: int) -> str:
    """The URL browsers use when no --public-url is given (IPv6 literals bracketed)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def exposure_help(port: int) -> str:
    """How to reach a loopback-only server from another machine, safely."""
    return (
        f"To annotate from another computer, keep this server on 127.0.0.1 and open an SSH "
        f"tunnel from that computer: ssh -L {port}:localhost:{port} THIS_HOST, then open the "
        f"link with localhost:{port}. For a team on other machines, put a reverse proxy with TLS "
        "in front and pass --public-url https://... (the address browsers use; see the README)."
    )


def exposure_warning(host: str, port: int) -> str:
    return (
        f"WARNING: serving on {host}:{port}, which other machines can reach, without an https "
        "--public-url: the articles, the labels and the personal links (which work like "
        "passwords) cross the network in clear text. Prefer the default --host 127.0.0.1 with an "
        f"SSH tunnel (ssh -L {port}:localhost:{port} THIS_HOST), or a reverse proxy with TLS "
        "(see the README) and --public-url https://..."
    )


class ServeError(ValueError):
    """Options that cannot work; the message is one line."""


def check_public_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServeError(
            f"--public-url {url!r}: give the address browsers use, http(s)://HOST[:PORT]"
        )
    return url.strip().rstrip("/")


def run_server(
    db: Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    public_url: str | None = None,
    max_sessions: int = 2,
    trust_proxy: bool = False,
    annotator: str | None = None,
    schema: Path | None = None,
) -> None:
    """Print how to connect (and the risks), then serve the team until Ctrl+C (blocking).

    With ``annotator`` only that annotator is served, through a link made now and kept in
    memory (printed here, valid until the server stops); otherwise the DB's personal links.
    """
    from stanceterm.invites import (
        ROLE_CHOICE,
        Identity,
        hash_token,
        invite_command,
        link,
        new_token,
    )
    from stanceterm.store import Store
    from stanceterm.teamserver import TeamServer

    if public_url is not None:
        public_url = check_public_url(public_url)
    base = public_url or public_url_for(host, port)
    single = None
    lines = []
    if annotator is not None:
        token = new_token()
        single = (Identity(annotator, "annotator"), hash_token(token))
        lines.append(f"Serving stanceterm for {clean(annotator)} only. Open this link (valid until")
        lines.append(f"the server stops): {link(base, token)}")
    else:
        with Store.open(db, create=False) as store:
            live = store.invites.live_hashes()
            before = store.invites.served_url()
            store.invites.record_served_url(base)  # what `invite` puts in its links
        who = ", ".join(sorted(clean(n) for n, _, _ in live)) or "nobody yet"
        lines.append(f"Serving the stanceterm team on {clean(base)}; links given to: {who}.")
        if live and before is not None and before != base:
            lines.append(
                f"Links given earlier name {clean(before)}, not this address: they will not "
                f"reach this server. Serve there again, or give new links ({invite_command(db)})."
            )
        lines.append(
            f"Give a personal link with: {invite_command(db)} {ROLE_CHOICE} "
            "(it names this address); list them with `invite --list`."
        )
    if is_loopback(host):
        lines.append("Only this machine can connect. " + exposure_help(port))
    for line in lines:
        print(line, file=sys.stderr, flush=True)
    if not is_loopback(host) and not (public_url or "").startswith("https://"):
        print(exposure_warning(host, port), file=sys.stderr, flush=True)
    server = TeamServer(
        Path(db),
        host=host,
        port=port,
        public_url=public_url,
        schema=schema,
        max_sessions=max_sessions,
        trust_proxy=trust_proxy,
        single=single,
    )
    server.run()


public_url = public_url_for  # the name older callers use
