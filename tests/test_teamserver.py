"""The team server: personal links, cookies, origin-checked websockets, rate limit, sessions cap,
the lead's dashboard; in-process (aiohttp test client) and as a real `stanceterm serve` process,
and end to end in a real browser (Debian chromium driven by Playwright, marked ``browser``)."""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from stanceterm import invites
from stanceterm.invites import BadTokenLimiter, Identity, hash_token, match_token
from stanceterm.store import Annotation, Store
from stanceterm.teamserver import COOKIE, TeamServer, allowed_origins, origin_of
from tests.conftest import DEMO, ROOT

STANCETERM = [sys.executable, "-m", "stanceterm"]
CHROMIUM = os.environ.get("STANCETERM_CHROMIUM", "/usr/bin/chromium")  # tests: skip check
SHOTS = ROOT / "docs"
#: the README's screenshots are rewritten only when asked (STANCETERM_SCREENSHOTS=1), so a test
#: run does not dirty the working tree
WRITE_SHOTS = os.environ.get("STANCETERM_SCREENSHOTS") == "1"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("STANCETERM_DB", None)
    return subprocess.run(
        [*STANCETERM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    db = tmp_path / "t.db"
    assert cli("--db", str(db), "import", str(DEMO), cwd=tmp_path).returncode == 0
    return db


def token_of(link: str) -> str:
    m = re.search(r"/a/([A-Za-z0-9_-]+)$", link.strip())
    assert m, link
    return m.group(1)


# --------------------------------------------------------------------------- tokens


def test_only_the_hash_is_stored_and_compared_in_constant_time(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(demo_db) as store:
        token = invites.invite(store, "alice")
        invites.invite(store, "bob", "adjudicator")
        invites.invite(store, "lead", "lead")
        entries = store.invites.live_hashes()
    raw = demo_db.read_bytes()  # closed: everything is checkpointed into the file
    assert token.encode() not in raw and hash_token(token).encode() in raw
    assert len(token) >= 40  # 32 random bytes
    assert match_token(token, entries) == Identity("alice", "annotator")
    assert match_token(token[:-1] + ("A" if token[-1] != "A" else "B"), entries) is None
    assert match_token("x" * 43, entries) is None
    assert match_token("../../etc/passwd", entries) is None  # malformed: never hashed
    assert match_token(None, entries) is None
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(invites.hmac, "compare_digest", spy)
    # a match on the first entry still compares all of them: the time does not say which
    assert match_token(token, sorted(entries)) == Identity("alice", "annotator")
    assert len(calls) == len(entries) == 3


def test_invite_list_revoke_cli(demo_db: Path, tmp_path: Path) -> None:
    db = str(demo_db)
    out = cli("--db", db, "invite", "alice", "--port", "8123", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"http://127\.0\.0\.1:8123/a/[A-Za-z0-9_-]{43}\n", out.stdout)
    lead = cli(
        "--db",
        db,
        "invite",
        "carol",
        "--role",
        "lead",
        "--public-url",
        "https://x.org/",
        cwd=tmp_path,
    )
    assert lead.stdout.startswith("https://x.org/a/")
    listed = cli("--db", db, "invite", "--list", cwd=tmp_path)
    assert "alice\tannotator" in listed.stdout and "carol\tlead" in listed.stdout
    assert token_of(out.stdout) not in listed.stdout and "live" in listed.stdout
    rev = cli("--db", db, "invite", "--revoke", "alice", cwd=tmp_path)
    assert rev.returncode == 0 and "Revoked" in rev.stdout
    assert "revoked" in cli("--db", db, "invite", "--list", cwd=tmp_path).stdout
    again = cli("--db", db, "invite", "--revoke", "alice", cwd=tmp_path)
    assert (
        again.returncode == 1
        and again.stderr.startswith("error: ")
        and "Traceback" not in (again.stderr)
    )
    bad = cli("--db", db, "invite", "--list", "--revoke", "x", cwd=tmp_path)
    assert bad.returncode == 1 and "exactly one" in bad.stderr
    with Store.open(demo_db) as store:
        assert match_token(token_of(out.stdout), store.invites.live_hashes()) is None


# --------------------------------------------------------------------------- in-process server


def run_client(server: TeamServer, body: Callable[[TestClient[Any, Any]], Awaitable[None]]) -> None:
    async def main() -> None:
        async with TestClient(TestServer(server.app())) as client:
            await body(client)

    asyncio.run(main())


def team(db: Path, **kw: Any) -> tuple[TeamServer, dict[str, str]]:
    tokens = {}
    with Store.open(db) as store:
        tokens["alice"] = invites.invite(store, "alice")
        tokens["bob"] = invites.invite(store, "bob", "adjudicator")
        tokens["lead"] = invites.invite(store, "lead", "lead")
        tokens["gone"] = invites.invite(store, "gone")
        invites.revoke(store, "gone")
    return TeamServer(db, **kw), tokens


def test_landing_page_link_cookie_and_refusals(demo_db: Path) -> None:
    server, tokens = team(demo_db)

    async def body(client: TestClient[Any, Any]) -> None:
        resp = await client.get("/")
        text = await resp.text()
        assert resp.status == 200 and resp.content_type == "text/html"
        assert "ask your lead" in text and "Traceback" not in text
        assert resp.headers["X-Frame-Options"] == "DENY"
        # wrong, revoked, malformed: the same 403 page, which names nobody
        pages = set()
        for tok in ("A" * 43, tokens["gone"], "nope", tokens["alice"][:-2]):
            r = await client.get(f"/a/{tok}")
            assert r.status == 403
            pages.add(await r.text())
        assert len(pages) == 1 and "gone" not in pages.pop()
        client.session.cookie_jar.clear()
        r = await client.get(f"/a/{tokens['alice']}", allow_redirects=False)
        assert r.status == 200 and 'http-equiv="refresh"' in await r.text()
        cookie = r.headers["Set-Cookie"]
        assert f"{COOKIE}={tokens['alice']}" in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert r.headers["Referrer-Policy"] == "no-referrer"
        page = await (await client.get("/")).text()  # the cookie now opens her screen
        assert "textual.js" in page and "/ws" in page and "alice" in page
        assert (await client.get("/api/dashboard")).status == 403  # not a lead
        assert (await client.get("/review")).status == 403
        assert (await client.get("/no/such/page")).status == 404

    run_client(server, body)


def test_dashboard_for_the_lead_only_and_without_article_text(demo_db: Path) -> None:
    with Store.open(demo_db) as store:
        first = store.corpus.first("alice")
        assert first is not None
        text = first.text
    server, tokens = team(demo_db)

    async def body(client: TestClient[Any, Any]) -> None:
        assert (await client.get("/api/dashboard")).status == 403  # no cookie
        await client.get(f"/a/{tokens['lead']}")
        page = await (await client.get("/")).text()
        assert "team" in page and "/api/dashboard" in page and 'href="/review"' in page
        data = await (await client.get("/api/dashboard")).json()
        assert data["total_labels"] == 0 and "agreement" in data
        # who was given an annotator's link shows before her first label (revoked links do not)
        team_rows = {t["annotator"]: t for t in data["team"]}
        assert set(team_rows) == {"alice"} and team_rows["alice"]["finished"] == 0
        blob = page + str(data)
        assert text[:30] not in blob
        review = await (await client.get("/review")).text()
        assert "Nothing to review" in review  # no disagreement yet (the page follows below)

    run_client(server, body)


def test_nothing_to_review_is_a_page_not_an_ended_session(demo_db: Path) -> None:
    """An adjudicator's link (and the lead's /review) on a DB with no disagreement and no flag:
    a page saying so, not a terminal whose process exits at once ("Session ended.")."""
    server, tokens = team(demo_db)

    async def body(client: TestClient[Any, Any]) -> None:
        await client.get(f"/a/{tokens['bob']}")
        resp = await client.get("/")
        text = await resp.text()
        assert resp.status == 200 and "Nothing to review" in text and "textual.js" not in text
        assert "disagree" in text and "Traceback" not in text
        client.session.cookie_jar.clear()
        await client.get(f"/a/{tokens['lead']}")
        text = await (await client.get("/review")).text()
        assert "Nothing to review" in text and "textual.js" not in text
        with Store.open(demo_db) as store:  # two annotators disagree on a sentence
            first = store.corpus.first()
            assert first is not None
            store.labels.save(Annotation(first.id, "alice", "done", ("arms_deal",)))
            store.labels.save(Annotation(first.id, "carol", "done", ()))
        review = await (await client.get("/review")).text()
        assert "textual.js" in review and "/ws/review" in review
        client.session.cookie_jar.clear()
        await client.get(f"/a/{tokens['bob']}")
        assert "textual.js" in await (await client.get("/")).text()

    run_client(server, body)


def test_dashboard_agreement_in_background_at_most_once_a_minute(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stanceterm.teamserver as ts

    with Store.open(demo_db) as store:
        ids = []
        sentence = store.corpus.first()
        while sentence is not None and len(ids) < 6:
            ids.append(sentence.id)
            sentence = store.corpus.step(sentence.seq, 1)
        for i, sid in enumerate(ids):
            store.labels.save(Annotation(sid, "alice", "done", ("arms_deal",) if i % 2 else ()))
            store.labels.save(Annotation(sid, "bob", "done", ("arms_deal",) if i % 3 else ()))
    calls: list[float] = []
    real = ts.agreement_snapshot

    def counted(store: Store) -> dict[str, Any]:
        calls.append(time.monotonic())
        return real(store)

    monkeypatch.setattr(ts, "agreement_snapshot", counted)
    server, tokens = team(demo_db)

    async def body(client: TestClient[Any, Any]) -> None:
        await client.get(f"/a/{tokens['lead']}")
        data: dict[str, Any] = {}
        for _ in range(100):
            data = await (await client.get("/api/dashboard")).json()
            if data["agreement"]["fields"]:
                break
            await asyncio.sleep(0.1)
        fields = {f["field"]: f for f in data["agreement"]["fields"]}
        assert {"claims", "claim:arms_deal"} <= set(fields)
        assert fields["claims"]["units"] == 6 and fields["claims"]["annotators"] == 2
        assert fields["claims"]["alpha"] is not None and "ci_low" not in fields["claims"]
        rows = {t["annotator"]: t for t in data["team"]}
        assert rows["alice"]["done"] == 6 and rows["bob"]["finished"] == 6
        assert data["total_labels"] == 12
        for _ in range(5):  # polled again within the minute: not recomputed
            await client.get("/api/dashboard")
        assert len(calls) == 1
        shown.update(fields)

    shown: dict[str, Any] = {}
    run_client(server, body)
    # the same figures as `stanceterm agreement` (which adds the bootstrap interval)
    out = cli("--db", str(demo_db), "agreement", "--json", "--bootstrap", "10", cwd=demo_db.parent)
    assert out.returncode == 0, out.stderr
    for f in json.loads(out.stdout)["fields"]:
        mine = shown[f["field"]]
        assert mine["units"] == f["units"] and mine["annotators"] == f["annotators"]
        if f["value"] is None:
            assert mine["alpha"] is None
        else:
            assert mine["alpha"] == f"{f['value']:.3f}", f["field"]
        if f["percent_agreement"] is not None:
            assert mine["percent_agreement"] == f"{100 * f['percent_agreement']:.1f}"


def test_revoking_a_link_closes_its_open_screen(demo_db: Path) -> None:
    with Store.open(demo_db) as store:
        alice = invites.invite(store, "alice")
    with serving(demo_db) as (port, _):
        url = f"ws://127.0.0.1:{port}/ws?width=80&height=24"
        headers = {"Origin": f"http://127.0.0.1:{port}", "Cookie": f"{COOKIE}={alice}"}

        async def main() -> float:
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(url, headers=headers) as ws,
            ):
                assert b"sentence" in await screen(ws, b"sentence", 40)
                rev = await asyncio.to_thread(
                    cli, "--db", str(demo_db), "invite", "--revoke", "alice", cwd=demo_db.parent
                )
                assert rev.returncode == 0
                t0 = time.monotonic()
                while not ws.closed and time.monotonic() - t0 < 30:
                    try:
                        msg = await ws.receive(timeout=1)
                    except TimeoutError:
                        continue
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        break
                assert ws.closed or msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSED,
                )
                return time.monotonic() - t0

        took = asyncio.run(main())
        assert took < 15


def test_bad_tokens_are_slowed_down_per_address(demo_db: Path) -> None:
    limiter = BadTokenLimiter(free=3, base_delay=0.3, max_delay=1.0)
    server, tokens = team(demo_db, limiter=limiter)

    async def timed(client: TestClient[Any, Any], path: str, **headers: str) -> float:
        t = time.monotonic()
        await client.get(path, headers=headers)
        return time.monotonic() - t

    async def body(client: TestClient[Any, Any]) -> None:
        fast = [await timed(client, f"/a/{'B' * 43}") for _ in range(3)]
        assert max(fast) < 0.25
        slow = await timed(client, f"/a/{'B' * 43}")
        assert slow >= 0.3
        # a forged X-Forwarded-For is ignored without --trust-proxy: still slowed
        assert await timed(client, f"/a/{'B' * 43}", **{"X-Forwarded-For": "10.9.9.9"}) >= 0.3

    run_client(server, body)

    limiter2 = BadTokenLimiter(free=2, base_delay=0.3, max_delay=1.0)
    proxied = TeamServer(demo_db, trust_proxy=True, limiter=limiter2)

    async def body2(client: TestClient[Any, Any]) -> None:
        for _ in range(3):
            await client.get(f"/a/{'C' * 43}", headers={"X-Forwarded-For": "1.1.1.1, 10.0.0.1"})
        assert await timed(client, f"/a/{'C' * 43}", **{"X-Forwarded-For": "10.0.0.1"}) >= 0.3
        # another client behind the proxy is not slowed by the first one's mistakes
        other = await timed(client, f"/a/{tokens['alice']}", **{"X-Forwarded-For": "10.0.0.2"})
        assert other < 0.25

    run_client(proxied, body2)


def test_limiter_window_and_cap() -> None:
    lim = BadTokenLimiter(free=2, window=10.0, base_delay=1.0, max_delay=4.0)
    for t in range(2):
        lim.failed("a", now=float(t))
    assert lim.delay("a", now=2.0) == 1.0
    for t in range(10):
        lim.failed("a", now=3.0 + t / 10)
    assert lim.delay("a", now=4.0) == 4.0
    assert lim.delay("b", now=4.0) == 0.0
    assert lim.delay("a", now=100.0) == 0.0  # forgotten after the window


def test_allowed_origins_are_configured_not_taken_from_host() -> None:
    got = allowed_origins(8000, "https://Annot.Example.org/")
    assert got == {
        "http://127.0.0.1:8000",
        "http://localhost:8000",
        "http://[::1]:8000",
        "https://annot.example.org",
    }
    assert origin_of("https://annot.example.org:443/x") == "https://annot.example.org"
    assert origin_of("http://127.0.0.1:8000") in allowed_origins(8000, None)
    assert "http://127.0.0.1:9000" not in allowed_origins(8000, None)


def test_websocket_refusals_in_process(demo_db: Path) -> None:
    server, tokens = team(demo_db, port=8000)

    async def body(client: TestClient[Any, Any]) -> None:
        good = "http://127.0.0.1:8000"
        cases = [
            ({"Origin": "https://evil.example"}, tokens["alice"]),
            ({"Origin": "http://127.0.0.1:8000.evil.example"}, tokens["alice"]),
            ({}, tokens["alice"]),  # no Origin at all
            # the Host header says evil: origins are configured, never derived from Host
            ({"Origin": "http://evil.example", "Host": "evil.example"}, tokens["alice"]),
            ({"Origin": good}, None),
            ({"Origin": good}, tokens["gone"]),
            ({"Origin": good}, tokens["lead"]),  # a lead's /ws is the dashboard, not a screen
        ]
        for headers, tok in cases:
            if tok:
                headers = {**headers, "Cookie": f"{COOKIE}={tok}"}
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await client.ws_connect("/ws", headers=headers)
            assert err.value.status == 403, headers

    run_client(server, body)
    with Store.open(demo_db) as store:
        assert store.labels.status_counts() == {}


# --------------------------------------------------------------------------- a real server process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(db: Path, *args: str) -> Iterator[tuple[int, list[str]]]:
    """A real `stanceterm serve` process; the list gets its stderr once it has stopped."""
    port = free_port()
    logs: list[str] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("STANCETERM_DB", None)
    proc = subprocess.Popen(
        [*STANCETERM, "--db", str(db), "serve", "--port", str(port), *args],
        cwd=db.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # the server and the app processes it starts: one group
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    assert resp.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield port, logs
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate(timeout=15)
        logs.append(err.decode(errors="replace"))


async def screen(ws: aiohttp.ClientWebSocketResponse, want: bytes, timeout: float) -> bytes:
    got = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end and want not in got:
        try:
            msg = await ws.receive(timeout=0.5)
        except TimeoutError:
            continue
        if msg.type == aiohttp.WSMsgType.BINARY:
            got += msg.data
        elif msg.type == aiohttp.WSMsgType.TEXT:
            got += msg.data.encode()
        else:
            break
    return got


def labels(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return int(c.execute("SELECT count(*) FROM annotations").fetchone()[0])


def test_real_server_origin_cookie_and_max_sessions(demo_db: Path) -> None:
    with Store.open(demo_db) as store:
        alice = invites.invite(store, "alice")
    with serving(demo_db, "--max-sessions", "1") as (port, _):
        url = f"ws://127.0.0.1:{port}/ws?width=80&height=24"
        good = f"http://127.0.0.1:{port}"
        cookie = f"{COOKIE}={alice}"

        async def main() -> None:
            async with aiohttp.ClientSession() as session:
                # the hijack of the issue: a foreign page's socket, with her cookie
                for origin in ("https://evil.example", f"http://127.0.0.1:{port + 1}"):
                    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                        await session.ws_connect(url, headers={"Origin": origin, "Cookie": cookie})
                    assert err.value.status == 403
                async with session.ws_connect(
                    url, headers={"Origin": good, "Cookie": cookie}
                ) as ws:
                    assert b"sentence" in await screen(ws, b"sentence", 40)
                    # a second screen for the same link is over --max-sessions 1
                    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                        await session.ws_connect(url, headers={"Origin": good, "Cookie": cookie})
                    assert err.value.status == 429
                    await ws.send_json(["stdin", "0"])  # no claim: done
                    end = time.monotonic() + 20
                    while labels(demo_db) == 0 and time.monotonic() < end:
                        await asyncio.sleep(0.2)
                # closed: the slot is free again
                await asyncio.sleep(1.0)
                async with session.ws_connect(
                    url, headers={"Origin": good, "Cookie": cookie}
                ) as ws:
                    assert b"sentence" in await screen(ws, b"sentence", 40)

        asyncio.run(main())
    assert labels(demo_db) == 1


def test_single_annotator_mode_prints_a_token_link(demo_db: Path) -> None:
    with serving(demo_db, "--annotator", "alice") as (port, logs):
        pass
    text = logs[0]
    link = re.search(rf"http://127\.0\.0\.1:{port}/a/\S+", text)
    assert link is not None and "only" in text and "ssh -L" in text
    with serving(demo_db, "--annotator", "alice") as (port2, _):
        # a link of the previous run is dead: a new token each start
        req = urllib.request.Request(f"http://127.0.0.1:{port2}/a/{token_of(link.group(0))}")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 403
    with Store.open(demo_db) as store:
        assert store.invites.all() == []  # kept in memory, not in the DB


def test_exposed_host_without_https_prints_the_risk(demo_db: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [*STANCETERM, "--db", str(demo_db), "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    assert "WARNING" in err.decode() and "clear text" in err.decode()
    bad = cli("--db", str(demo_db), "serve", "--public-url", "ftp:/x", cwd=demo_db.parent)
    assert bad.returncode == 1 and "public-url" in bad.stderr and "Traceback" not in bad.stderr


def test_invite_links_follow_the_running_server_without_repeating_its_options(
    demo_db: Path,
) -> None:
    """Issue 16, seen by a new user: `invite` had to be given `serve`'s --port again, or its
    link named the wrong port. `serve` records the address browsers use; `invite` takes it."""
    here, db = demo_db.parent, str(demo_db)
    first = cli("--db", db, "invite", "alice", cwd=here)  # no server ever started: the default
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("http://127.0.0.1:8000/a/")
    assert "stanceterm serve" in first.stderr  # and it says where the address came from
    with serving(demo_db) as (port, logs):
        out = cli("--db", db, "invite", "bob", cwd=here)  # no --port
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(f"http://127.0.0.1:{port}/a/"), out.stdout
        with urllib.request.urlopen(out.stdout.strip(), timeout=5) as resp:  # the link works
            assert resp.status == 200 and "Welcome, bob" in resp.read().decode()
        # the options stay, and win
        port_given = cli("--db", db, "invite", "carol", "--port", "9001", cwd=here)
        assert port_given.stdout.startswith("http://127.0.0.1:9001/a/"), port_given.stderr
        url_given = cli(
            "--db", db, "invite", "dan", "--public-url", "https://annot.example.org", cwd=here
        )
        assert url_given.stdout.startswith("https://annot.example.org/a/"), url_given.stderr
    # the start message says how to give links, with this DB
    assert f"stanceterm --db {demo_db.resolve()} invite NAME" in logs[0], logs[0]
    # the address stays recorded when the server stops: links given now work after a restart
    later = cli("--db", db, "invite", "erin", cwd=here)
    assert later.stdout.startswith(f"http://127.0.0.1:{port}/a/"), later.stderr


def test_serve_records_its_public_url_and_warns_when_links_name_another(demo_db: Path) -> None:
    here, db = demo_db.parent, str(demo_db)
    with serving(demo_db, "--public-url", "https://annot.example.org/") as (_, _logs):
        out = cli("--db", db, "invite", "alice", "--role", "lead", cwd=here)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("https://annot.example.org/a/"), out.stdout
    with serving(demo_db) as (port, logs):  # restarted elsewhere: earlier links miss it
        pass
    assert "https://annot.example.org" in logs[0] and "invite" in logs[0], logs[0]
    assert "give new links" in logs[0], logs[0]
    later = cli("--db", db, "invite", "bob", cwd=here)
    assert later.stdout.startswith(f"http://127.0.0.1:{port}/a/")


def test_dashboard_says_how_to_give_links(demo_db: Path) -> None:
    server, tokens = team(demo_db)

    async def body(client: TestClient[Any, Any]) -> None:
        await client.get(f"/a/{tokens['lead']}")
        page = await (await client.get("/")).text()
        assert f"stanceterm --db {demo_db.resolve()} invite NAME" in page, page
        assert "--role annotator|adjudicator|lead" in page and "invite --list" in page

    run_client(server, body)


# --------------------------------------------------------------------------- a real browser


def _browser_or_skip() -> Any:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium (CI's .ci/run does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright missing: pip install -e '.[dev]'")
    return sync_playwright


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def shot(page: Any, name: str, **kw: Any) -> None:
    """Take the screenshot (it must render); write it to docs/ only with STANCETERM_SCREENSHOTS=1."""
    png = page.screenshot(**kw)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    if WRITE_SHOTS:
        (SHOTS / name).write_bytes(png)


def open_screen(page: Any, link: str, port: int) -> None:
    page.goto(link)
    page.wait_for_url(f"http://127.0.0.1:{port}/")
    page.wait_for_selector("body.-first-byte", timeout=40_000)
    page.wait_for_timeout(1500)  # the first frames
    page.locator("#terminal").click()


@pytest.mark.browser
def test_browser_annotator_labels_and_lead_sees_count(demo_db: Path, browser: Any) -> None:
    with Store.open(demo_db) as store:
        alice = invites.invite(store, "alice")
        lead = invites.invite(store, "lead", "lead")
        first = store.corpus.first("alice")
        assert first is not None
        # two other annotators have labelled the first sentences: agreement so far shows
        sentence = store.corpus.first()
        for i in range(8):
            assert sentence is not None
            store.labels.save(
                Annotation(sentence.id, "bob", "done", ("arms_deal",) if i % 2 else ())
            )
            store.labels.save(
                Annotation(sentence.id, "carol", "done", ("arms_deal",) if i % 3 else ())
            )
            sentence = store.corpus.step(sentence.seq, 1)
    with serving(demo_db) as (port, _):
        base = f"http://127.0.0.1:{port}"
        dash = browser.new_page(viewport={"width": 1000, "height": 640})
        dash.goto(f"{base}/a/{lead}")
        dash.wait_for_url(f"{base}/")
        dash.wait_for_function("document.getElementById('total').textContent === '16'")
        page = browser.new_page(viewport={"width": 1000, "height": 640})
        open_screen(page, f"{base}/a/{alice}", port)
        for key in ("1", "a"):
            page.keyboard.press(key)
            page.wait_for_timeout(300)
        page.keyboard.type("poutine", delay=50)
        page.wait_for_timeout(400)
        page.keyboard.press("Enter")
        page.wait_for_timeout(400)
        page.keyboard.press("s")

        def saved() -> bool:
            with Store.open(demo_db) as s:
                ann = s.labels.get(first.id, "alice")
            return ann is not None and len(ann.stances) == 1

        wait_until(saved, 30, "alice's label in the DB")
        with Store.open(demo_db) as s:
            ann = s.labels.get(first.id, "alice")
        assert ann is not None and ann.claims == ("arms_deal",)
        assert ann.stances[0].claim == "arms_deal" and ann.stances[0].stance == "support"
        assert ann.stances[0].actor == "vladimir-poutine"
        page.wait_for_timeout(500)
        shot(page, "serve-annotate.png")
        # the dashboard, refreshing by itself, counts the label
        dash.wait_for_function(
            "document.getElementById('total').textContent === '17'", timeout=20_000
        )
        assert "alice" in dash.inner_text("#team")
        assert "claims" in dash.inner_text("#agreement")  # computed in the background
        shot(dash, "serve-dashboard.png", full_page=True)


@pytest.mark.browser
def test_browser_adjudicator_with_nothing_to_review(demo_db: Path, browser: Any) -> None:
    with Store.open(demo_db) as store:
        bob = invites.invite(store, "bob", "adjudicator")
    with serving(demo_db) as (port, _):
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/a/{bob}")
        page.wait_for_url(f"http://127.0.0.1:{port}/")
        body = page.inner_text("body")
        assert "Nothing to review yet" in body and "Session ended" not in body
        assert page.locator("#terminal").count() == 0
        with Store.open(demo_db) as store:  # a disagreement appears: "check again" opens review
            first = store.corpus.first()
            assert first is not None
            store.labels.save(Annotation(first.id, "alice", "done", ("arms_deal",)))
            store.labels.save(Annotation(first.id, "carol", "done", ()))
        page.click("text=check again")
        page.wait_for_selector("body.-first-byte", timeout=40_000)
        assert page.locator("#terminal").count() == 1


@pytest.mark.browser
def test_browser_revoked_link_is_refused(demo_db: Path, browser: Any) -> None:
    with Store.open(demo_db) as store:
        alice = invites.invite(store, "alice")
        invites.revoke(store, "alice")
    with serving(demo_db) as (port, _):
        page = browser.new_page()
        resp = page.goto(f"http://127.0.0.1:{port}/a/{alice}")
        assert resp.status == 403
        assert "not valid" in page.inner_text("body")
        assert page.context.cookies() == []
        page.goto(f"http://127.0.0.1:{port}/")
        assert "ask your lead" in page.inner_text("body")
        assert page.locator("#terminal").count() == 0
    assert labels(demo_db) == 0


@pytest.mark.browser
def test_browser_foreign_page_cannot_open_her_socket(demo_db: Path, browser: Any) -> None:
    """A page from another origin, in the browser where alice is signed in, opens the socket
    (the cross-site websocket hijacking of issue 16): refused, nothing saved."""
    with Store.open(demo_db) as store:
        alice = invites.invite(store, "alice")
    with serving(demo_db) as (port, _), serving_static() as evil:
        context = browser.new_context()
        page = context.new_page()
        open_screen(page, f"http://127.0.0.1:{port}/a/{alice}", port)
        other = context.new_page()
        other.goto(evil)
        result = other.evaluate(
            """(url) => new Promise(done => {
                const ws = new WebSocket(url);
                ws.onopen = () => { ws.send(JSON.stringify(["stdin", "0"])); done("open"); };
                ws.onerror = () => done("refused");
            })""",
            f"ws://127.0.0.1:{port}/ws?width=80&height=24",
        )
        assert result == "refused"
        time.sleep(1)
    assert labels(demo_db) == 0


@contextmanager
def serving_static() -> Iterator[str]:
    """Another web site on this machine (another port of 127.0.0.1: a different origin but the
    SAME site, so the browser does send her SameSite=Strict cookie: only the Origin check
    stands in the way, as for any local dev server or notebook the annotator has open)."""
    port = free_port()
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"evil-{port}"
    folder.mkdir(exist_ok=True)
    (folder / "index.html").write_text("<html><body>cat pictures</body></html>")
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until(lambda: _reachable(url), 10, "the other site")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False
