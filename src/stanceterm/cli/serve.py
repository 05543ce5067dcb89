"""The team server: ``serve`` and its personal links, ``invite`` (issue 16).

The logic lives in :mod:`stanceterm.serve` (what is printed, the options' checks),
:mod:`stanceterm.invites` (tokens, roles) and :mod:`stanceterm.teamserver` (the aiohttp app,
imported only when serving, so the other commands do not load aiohttp).
"""

from __future__ import annotations

from pathlib import Path

import click

from stanceterm.cli.context import AppContext, fail, pass_app
from stanceterm.serve import DEFAULT_HOST, DEFAULT_PORT
from stanceterm.textsafe import clean


@click.command("serve")
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to listen on. Keep the loopback default; see below to reach it from elsewhere.",
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True, help="Port."
)
@click.option(
    "--public-url",
    metavar="URL",
    help="The address browsers use, when behind a reverse proxy (e.g. https://annot.example.org).",
)
@click.option(
    "--max-sessions",
    type=click.IntRange(1, 100),
    default=2,
    show_default=True,
    help="Screens (browser tabs) open at once per person.",
)
@click.option(
    "--trust-proxy",
    is_flag=True,
    help="Take the client address from X-Forwarded-For (only behind your own reverse proxy).",
)
@click.option(
    "--annotator",
    help="Single-annotator mode: serve only this annotator, with a one-time link printed here.",
)
@pass_app
def serve_cmd(
    app: AppContext,
    host: str,
    port: int,
    public_url: str | None,
    max_sessions: int,
    trust_proxy: bool,
    annotator: str | None,
) -> None:
    """Serve the team in a web browser: one server, a personal link per person.

    Give each person a link with `stanceterm invite NAME [--role annotator|adjudicator|lead]`.
    An annotator's link opens her annotation screen (her assigned queue), an adjudicator's the
    review screen, a lead's a live dashboard. Every browser tab runs its own
    `python -m stanceterm annotate` process. With --annotator NAME only that annotator is
    served, through a link printed at start (valid until the server stops).

    It listens on 127.0.0.1 only. To annotate from another computer, open an SSH tunnel there:
    `ssh -L 8000:localhost:8000 THIS_HOST`, then open the link with localhost:8000. For a team
    on other machines, put a reverse proxy with TLS in front and pass --public-url
    https://... (see the README). A --host other than a loopback address, without an https
    --public-url, sends the articles, labels and links in clear text.
    """
    from stanceterm import serve as serve_mod

    store = app.store(create=False)
    if annotator is not None:
        name = app.annotator(annotator)
        assert name is not None
        if store.corpus.first(name) is None:
            fail(f"{store.path}: no sentences to annotate; run `stanceterm import FILES` first")
    schema = Path(app.schema_flag) if app.schema_flag else None
    try:
        serve_mod.run_server(
            Path(store.path),
            host=host,
            port=port,
            public_url=public_url,
            max_sessions=max_sessions,
            trust_proxy=trust_proxy,
            annotator=annotator,
            schema=schema,
        )
    except serve_mod.ServeError as exc:
        fail(str(exc))


@click.command("invite")
@click.argument("name", required=False)
@click.option(
    "--role",
    type=click.Choice(["annotator", "adjudicator", "lead"]),
    default="annotator",
    show_default=True,
    help="annotator: the annotation screen; adjudicator: the review screen; lead: the dashboard.",
)
@click.option("--list", "show_list", is_flag=True, help="List the links given (never the tokens).")
@click.option("--revoke", metavar="NAME", help="Revoke NAME's link at once.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port of the server on 127.0.0.1, for the printed link. Default: the address "
    f"`stanceterm serve` recorded when it started on this DB, else {DEFAULT_PORT}.",
)
@click.option(
    "--public-url",
    metavar="URL",
    help="The address browsers use (for the link). Default: the one `stanceterm serve` recorded.",
)
@pass_app
def invite_cmd(
    app: AppContext,
    name: str | None,
    role: str,
    show_list: bool,
    revoke: str | None,
    port: int | None,
    public_url: str | None,
) -> None:
    """Give NAME a personal link to `stanceterm serve` (prints it once; giving a new one
    revokes the old). Only a hash of the link is kept in the DB: a lost link cannot be shown
    again, give a new one.

    The link names the address `stanceterm serve` recorded in the DB when it started (its
    --public-url, else its --host and --port), so the server's options need not be repeated
    here; --public-url or --port override it."""
    from stanceterm import invites
    from stanceterm import serve as serve_mod

    given = sum([name is not None, show_list, revoke is not None])
    if given != 1:
        fail("give exactly one of NAME, --list or --revoke NAME")
    store = app.store(create=False)
    try:
        if show_list:
            rows = store.invites.all()
            if not rows:
                click.echo("No links given yet: stanceterm invite NAME")
            for who, rl, created, revoked in rows:
                state = f"revoked {revoked[:19]}" if revoked else "live"
                click.echo(f"{clean(who)}\t{rl}\tgiven {created[:19]}\t{state}")
        elif revoke is not None:
            invites.revoke(store, revoke)
            click.echo(f"Revoked the link of {clean(revoke)}.")
        else:
            assert name is not None
            if public_url is not None:
                public_url = serve_mod.check_public_url(public_url)
            base, source = invites.base_url_for_invite(
                store,
                port=port,
                public_url=public_url,
                default=serve_mod.public_url_for(DEFAULT_HOST, DEFAULT_PORT),
            )
            token = invites.invite(store, name, role)
            click.echo(invites.link(base, token))
            click.echo(
                f"Personal {role} link for {clean(name.strip())}: send it privately; anyone "
                "holding it works under this name. Shown once.",
                err=True,
            )
            if source == "served":
                click.echo(
                    f"(The address `stanceterm serve` recorded on this DB: {clean(base)}.)",
                    err=True,
                )
            elif source == "default":
                click.echo(
                    f"(`stanceterm serve` has not run on this DB yet: the link assumes {base}; "
                    "start the server, or pass --port/--public-url, for another address.)",
                    err=True,
                )
    except (invites.InviteError, serve_mod.ServeError) as exc:
        fail(str(exc))
