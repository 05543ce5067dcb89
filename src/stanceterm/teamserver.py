"""One web server for the whole team: personal links, origin-checked websockets, a dashboard.

Built on aiohttp, reusing textual-serve's :class:`~textual_serve.app_service.AppService` (one
Textual process per browser tab, bridged to the websocket) and its static files (xterm.js).

Who is who
    ``GET /a/<token>`` (a personal link from ``stanceterm invite``) sets an HttpOnly,
    SameSite=Strict cookie holding the token and sends the browser on to ``/`` with a small
    same-site page (a ``<meta refresh>``, not a 302: a cross-site click followed by a redirect
    would not carry a Strict cookie). Every later request is checked against the DB again, so a
    revoked link stops working at once, and links survive a restart (only hashes are stored).

The websocket
    ``/ws`` (and ``/ws/review`` for a lead) is accepted only with a valid cookie AND an
    ``Origin`` among the configured ones (``http://127.0.0.1:PORT``, ``http://localhost:PORT``
    and ``--public-url``), never derived from the ``Host`` header: another web page open in the
    annotator's browser cannot drive her screen (cross-site websocket hijacking), and a DNS
    rebinding page has a foreign origin too. Each person has at most ``--max-sessions`` screens.

Roles
    annotator: ``annotate --annotator NAME`` (her assigned queue); adjudicator: ``review``;
    lead: a dashboard (progress, rate, last change, agreement; no article text) and the review
    screen at ``/review``.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import math
import shlex
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from stanceterm.invites import BadTokenLimiter, Identity, invite_command, match_token
from stanceterm.store import Store
from stanceterm.teampages import APP_PAGE, DASHBOARD, LANDING, NOTHING_TO_REVIEW, REFUSED, page

log = logging.getLogger("stanceterm.serve")

COOKIE = "stanceterm_link"
COOKIE_MAX_AGE = 30 * 24 * 3600
#: the dashboard's browser polls progress this often
DASHBOARD_POLL_SECONDS = 3
#: agreement (and rates) are recomputed at most this often, in a background thread
AGREEMENT_EVERY_SECONDS = 60.0
#: an open screen re-checks its link this often (a revoked link's screens close)
RECHECK_SECONDS = 5.0

_SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _static_path() -> Path:
    import textual_serve

    return Path(textual_serve.__file__).resolve().parent / "static"


def allowed_origins(port: int, public_url: str | None) -> frozenset[str]:
    """The origins a websocket may come from: loopback on this port, and the public URL."""
    out = {f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}"}
    if public_url:
        out.add(origin_of(public_url))
    return frozenset(out)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased, default ports dropped."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # "http://127.0.0.1:8000.evil.example": no origin of ours
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")


# --------------------------------------------------------------------------- dashboard data


def _fmt(x: float, digits: int = 3) -> str | None:
    return None if x != x else f"{x:.{digits}f}"


def team_progress(store: Store, rates: dict[str, float | None]) -> list[dict[str, Any]]:
    """One row per annotator: labels (own, drafts too), finished (done+skipped+flagged), queue
    (assigned sentences, None without ``assign``), rate, last change. Whoever holds a live
    annotator's link is listed from the start, with zeros until her first label."""
    rows = []
    progress = store.team.progress_by_annotator()
    zero = {k: 0 for k in ("done", "skipped", "flagged", "draft", "assigned")}
    for name, role, _ in store.invites.live_hashes():
        if role == "annotator" and name not in progress:
            progress[name] = {**zero, "last_activity": None}
    for name, entry in sorted(progress.items()):
        finished = int(entry["done"]) + int(entry["skipped"]) + int(entry["flagged"])
        last = entry["last_activity"]
        rate = rates.get(name)
        rows.append(
            {
                "annotator": name,
                "labels": finished + int(entry["draft"]),
                "finished": finished,
                "queue": int(entry["assigned"]) or None,
                "done": int(entry["done"]),
                "skipped": int(entry["skipped"]),
                "flagged": int(entry["flagged"]),
                "draft": int(entry["draft"]),
                "rate": None if rate is None else f"{rate:.0f}",
                "last_change": None if last is None else str(last)[:19].replace("T", " "),
            }
        )
    return rows


def agreement_snapshot(store: Store) -> dict[str, Any]:
    """The fields of ``stanceterm agreement`` (α, % agree, units, annotators), without the
    bootstrap, plus labels per hour per annotator (both read the whole history: run in the
    background at most once a minute)."""
    from stanceterm.agreement import alpha, percent_agreement
    from stanceterm.reliability import ActorResolver, collect, iter_fields, rows_from_store
    from stanceterm.schema import load_schema
    from stanceterm.team import activity

    rates = {a: act.per_hour for a, act in activity(store.team.iter_activity()).items()}
    schema = store.label_schema() or load_schema()
    resolver = ActorResolver.from_store(store)
    corpus = collect(
        rows_from_store(store, resolver=resolver),
        schema.claim_ids,
        stances=schema.stances,
        keep_text=False,
    )
    names = corpus.annotators
    fields: list[dict[str, Any]] = []
    if len(names) >= 2:
        for fld in iter_fields(corpus):
            fld = fld.at_least(2)
            data = fld.matrix(names)
            value = alpha(data, fld.level) if fld.units else math.nan
            pct = percent_agreement(data) if fld.units else math.nan
            present = {a for u in fld.units for a in u.values}
            fields.append(
                {
                    "field": fld.name,
                    "level": fld.level,
                    "alpha": _fmt(value),
                    "percent_agreement": _fmt(100 * pct, 1),
                    "units": len(fld.units),
                    "annotators": len(present),
                }
            )
        note = (
            f"{len(names)} annotators; done labels; units labelled by at least 2 annotators; "
            f"computed {time.strftime('%H:%M:%S', time.gmtime())} UTC."
        )
    else:
        note = "Agreement needs done labels from at least 2 annotators."
    return {"fields": fields, "note": note, "rates": rates}


# --------------------------------------------------------------------------- the server


@dataclass
class TeamServer:
    """The aiohttp application; :meth:`run` serves it until Ctrl+C."""

    db: Path
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    schema: Path | None = None
    max_sessions: int = 2
    trust_proxy: bool = False
    #: single-annotator mode: (identity, token hash) kept in memory, the DB's links unused
    single: tuple[Identity, str] | None = None
    limiter: BadTokenLimiter = field(default_factory=BadTokenLimiter)
    agreement_every: float = AGREEMENT_EVERY_SECONDS
    #: open screens re-check their link this often; a revoked link's screens are closed
    recheck_every: float = RECHECK_SECONDS
    python: str = sys.executable
    on_ready: Callable[[], None] | None = None
    _store: Store | None = None
    _sessions: dict[str, int] = field(default_factory=dict)
    _agreement: dict[str, Any] | None = None
    _agreement_at: float = -math.inf
    _agreement_busy: bool = False

    @property
    def origins(self) -> frozenset[str]:
        return allowed_origins(self.port, self.public_url)

    # ---------------------------------------------------------------- identity

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.db, create=False)
        return self._store

    def identify(self, token: str | None) -> Identity | None:
        if self.single is not None:
            ident, digest = self.single
            return match_token(token, [(ident.name, ident.role, digest)])
        return match_token(token, self.store.invites.live_hashes())

    def client_address(self, request: web.Request) -> str:
        if self.trust_proxy:
            forwarded = request.headers.get("X-Forwarded-For", "")
            hops = [h.strip() for h in forwarded.split(",") if h.strip()]
            if hops:  # the address our proxy saw is the last one it appended
                return hops[-1]
        return request.remote or "?"

    async def _checked(self, request: web.Request, token: str | None) -> Identity | None:
        """Identify ``token``, slowing down addresses that sent bad ones."""
        address = self.client_address(request)
        wait = self.limiter.delay(address)
        if wait > 0:
            await asyncio.sleep(wait)
        ident = self.identify(token)
        if ident is None:
            self.limiter.failed(address)
        return ident

    async def cookie_identity(self, request: web.Request) -> Identity | None:
        token = request.cookies.get(COOKIE)
        if token is None:
            return None
        return await self._checked(request, token)

    # ---------------------------------------------------------------- handlers

    @staticmethod
    def _html(text: str, status: int = 200) -> web.Response:
        return web.Response(
            text=text, status=status, content_type="text/html", headers=_SECURITY_HEADERS
        )

    async def handle_index(self, request: web.Request) -> web.Response:
        ident = await self.cookie_identity(request)
        if ident is None:
            return self._html(LANDING)
        if ident.role == "lead":
            body = DASHBOARD.format(
                who=html.escape(ident.name),
                invite=html.escape(invite_command(self.db)),
                poll=DASHBOARD_POLL_SECONDS,
                poll_ms=DASHBOARD_POLL_SECONDS * 1000,
            )
            return self._html(page("stanceterm · team", body))
        if ident.role == "adjudicator" and not await self._anything_to_review():
            return self._html(NOTHING_TO_REVIEW)
        return self._app_page(request, ident, "/ws")

    async def handle_review(self, request: web.Request) -> web.Response:
        ident = await self.cookie_identity(request)
        if ident is None or ident.role not in ("lead", "adjudicator"):
            return self._html(REFUSED, 403)
        if not await self._anything_to_review():
            return self._html(NOTHING_TO_REVIEW)
        return self._app_page(request, ident, "/ws/review" if ident.role == "lead" else "/ws")

    async def _anything_to_review(self) -> bool:
        """Whether ``review`` would open a screen (it prints "Nothing to review" and exits
        otherwise, which the browser would show as an ended session). Computed off the event
        loop, on a connection of its own."""
        from stanceterm.adjudicate import review_queue

        def work() -> bool:
            with Store.open(self.db, create=False) as store:
                return bool(review_queue(store))

        return await asyncio.to_thread(work)

    def _app_page(self, request: web.Request, ident: Identity, path: str) -> web.Response:
        here = f"{request.scheme}://{request.host}"
        base = here if origin_of(here) in self.origins else (self.public_url or here)
        ws_base = (
            "wss:" + base.split(":", 1)[1]
            if base.startswith("https")
            else "ws:" + base.split(":", 1)[1]
        )
        try:
            font = max(8, min(40, int(request.query.get("fontsize", "16"))))
        except ValueError:
            font = 16
        text = APP_PAGE.format(
            title=html.escape(f"stanceterm · {ident.name}"),
            ws_url=html.escape(ws_base.rstrip("/") + path),
            font_size=font,
        )
        return self._html(text)

    async def handle_link(self, request: web.Request) -> web.Response:
        ident = await self._checked(request, request.match_info.get("token"))
        if ident is None:
            return self._html(REFUSED, 403)
        resp = self._html(
            page(
                "stanceterm",
                f'<p>Welcome, {html.escape(ident.name)}. <a href="/">Continue</a>.</p>',
                head='<meta http-equiv="refresh" content="0; url=/">',
            )
        )
        secure = request.secure or (
            self.trust_proxy and request.headers.get("X-Forwarded-Proto", "") == "https"
        )
        resp.set_cookie(
            COOKIE,
            request.match_info["token"],
            max_age=COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=secure,
        )
        return resp

    async def handle_dashboard_data(self, request: web.Request) -> web.Response:
        ident = await self.cookie_identity(request)
        if ident is None or ident.role != "lead":
            return web.json_response({"error": "not allowed"}, status=403)
        self._maybe_recompute_agreement()
        snap = self._agreement or {"fields": [], "note": "computing…", "rates": {}}
        team = team_progress(self.store, snap["rates"])
        payload = {
            "team": team,
            "total_labels": sum(t["labels"] for t in team),
            "agreement": {"fields": snap["fields"], "note": snap["note"]},
            "now": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        }
        return web.json_response(payload, headers={"Cache-Control": "no-store"})

    def _maybe_recompute_agreement(self) -> None:
        now = time.monotonic()
        if self._agreement_busy or now - self._agreement_at < self.agreement_every:
            return
        self._agreement_busy = True
        self._agreement_at = now

        def work() -> None:
            try:
                with Store.open(self.db, create=False) as store:
                    self._agreement = agreement_snapshot(store)
            except Exception as exc:  # shown on the dashboard, never a traceback in the page
                log.warning("agreement: %s", exc)
                self._agreement = {
                    "fields": [],
                    "note": f"agreement could not be computed: {exc}",
                    "rates": {},
                }
            finally:
                self._agreement_busy = False

        threading.Thread(target=work, name="stanceterm-agreement", daemon=True).start()

    def command_for(self, ident: Identity, screen: str) -> str:
        argv = [self.python, "-m", "stanceterm", "--db", str(Path(self.db).resolve())]
        if self.schema is not None:
            argv += ["--schema", str(Path(self.schema).resolve())]
        if screen == "review":
            argv += ["review", "--annotator", ident.name]
        else:
            argv += ["annotate", "--annotator", ident.name]
        return shlex.join(argv)

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or origin_of(origin) not in self.origins:
            return web.Response(status=403, text="forbidden origin")
        ident = await self.cookie_identity(request)
        if ident is None:
            return web.Response(status=403, text="no valid personal link")
        screen = request.match_info.get("screen", "")
        if ident.role == "lead" and screen != "review":
            return web.Response(status=403, text="a lead's link opens the dashboard")
        if ident.role == "adjudicator":
            screen = "review"
        elif ident.role == "annotator":
            screen = "annotate"
        if self._sessions.get(ident.name, 0) >= self.max_sessions:
            return web.Response(
                status=429,
                text=f"{self.max_sessions} screens are already open for this link; close one",
            )
        return await self._run_session(request, ident, screen, request.cookies[COOKIE])

    async def _run_session(
        self, request: web.Request, ident: Identity, screen: str, token: str
    ) -> web.StreamResponse:
        from textual_serve.app_service import AppService
        from textual_serve.download_manager import DownloadManager

        def to_int(value: str, default: int) -> int:
            try:
                return max(10, min(1000, int(value)))
            except ValueError:
                return default

        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        self._sessions[ident.name] = self._sessions.get(ident.name, 0) + 1
        websocket = web.WebSocketResponse(heartbeat=15)
        service: AppService | None = None
        try:
            await websocket.prepare(request)

            async def close() -> None:
                await websocket.close()

            service = AppService(
                self.command_for(ident, screen),
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=close,
                download_manager=DownloadManager(),
            )
            await service.start(width, height)
            watch = asyncio.create_task(self._watch_link(websocket, token))
            try:
                await self._pump(websocket, service)
            finally:
                watch.cancel()
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as exc:
            log.warning("session of %r ended: %s", ident.name, exc)
        finally:
            self._sessions[ident.name] -= 1
            if service is not None:
                await service.stop()
        return websocket

    async def _watch_link(self, websocket: web.WebSocketResponse, token: str) -> None:
        """Close the screen once its link is revoked (or replaced by a new one)."""
        while not websocket.closed:
            await asyncio.sleep(self.recheck_every)
            if self.identify(token) is None:
                log.info("a link was revoked: closing its screen")
                await websocket.close(code=4003, message=b"link revoked")
                return

    @staticmethod
    async def _pump(websocket: web.WebSocketResponse, service: Any) -> None:
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(envelope, list) or not envelope:
                continue
            kind = envelope[0]
            data = envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str):
                await service.send_bytes(data.encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                try:
                    await service.set_terminal_size(int(data["width"]), int(data["height"]))
                except (KeyError, TypeError, ValueError):
                    continue
            elif kind == "ping":
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await service.blur()
            elif kind == "focus":
                await service.focus()

    async def handle_not_found(self, request: web.Request) -> web.Response:
        return self._html(page("stanceterm", "<p>Not found. <a href='/'>Home</a>.</p>"), 404)

    # ---------------------------------------------------------------- app

    def app(self) -> web.Application:
        @web.middleware
        async def no_tracebacks(
            request: web.Request, handler: Callable[[web.Request], Any]
        ) -> web.StreamResponse:
            try:
                resp: web.StreamResponse = await handler(request)
                return resp
            except web.HTTPNotFound:
                return await self.handle_not_found(request)
            except web.HTTPException:
                raise
            except Exception as exc:
                log.exception("internal error on %s", request.path)
                return self._html(
                    page(
                        "stanceterm", f"<p>Internal error ({html.escape(type(exc).__name__)}).</p>"
                    ),
                    500,
                )

        app = web.Application(middlewares=[no_tracebacks])
        app.add_routes(
            [
                web.get("/", self.handle_index),
                web.get("/a/{token}", self.handle_link),
                web.get("/review", self.handle_review),
                web.get("/ws", self.handle_websocket),
                web.get("/ws/{screen:review}", self.handle_websocket),
                web.get("/api/dashboard", self.handle_dashboard_data),
                web.static("/static", _static_path(), show_index=False),
            ]
        )

        async def close_store(_: web.Application) -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        async def ready(_: web.Application) -> None:
            if self.on_ready is not None:
                self.on_ready()

        app.on_startup.append(ready)
        app.on_cleanup.append(close_store)
        return app

    def run(self) -> None:
        """Serve until Ctrl+C or SIGTERM (blocking)."""
        web.run_app(self.app(), host=self.host, port=self.port, print=None, handle_signals=True)
