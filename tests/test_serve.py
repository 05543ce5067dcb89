"""Browser mode: the command textual-serve runs, safe defaults, and a live loopback smoke test."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import click

from stanceterm import serve
from stanceterm.cli import cli
from stanceterm.store import Store
from tests.conftest import DEMO, ROOT, assert_clean_error, run


def test_defaults_are_loopback() -> None:
    assert serve.DEFAULT_HOST == "127.0.0.1"
    params = {p.name: p for p in cli.commands["serve"].params}  # type: ignore[attr-defined]
    assert params["host"].default == "127.0.0.1"
    assert params["port"].default == 8000
    for host in ("127.0.0.1", "127.0.1.1", "::1", "[::1]", "localhost"):
        assert serve.is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.20", "example.org"):
        assert not serve.is_loopback(host), host


def test_command_line_is_the_annotate_command(tmp_path: Path) -> None:
    db = tmp_path / "team db; rm -rf ~.db"  # spaces and shell characters stay literal
    argv = serve.annotate_argv(db, "alice $(whoami)")
    assert argv == [
        sys.executable,
        "-m",
        "stanceterm",
        "--db",
        str(db.resolve()),
        "annotate",
        "--annotator",
        "alice $(whoami)",
    ]
    cmd = serve.annotate_command(db, "alice $(whoami)")
    assert shlex.split(cmd) == argv
    rel = serve.annotate_argv(Path("rel.db"), "bob", schema=Path("s.json"))
    assert rel[4] == str(Path("rel.db").resolve()) and Path(rel[4]).is_absolute()
    assert rel[5:7] == ["--schema", str(Path("s.json").resolve())]


def test_help_and_warning_say_how_to_expose_it_safely() -> None:
    help_text = cli.commands["serve"].get_help(click.Context(cli.commands["serve"]))
    flat = " ".join(help_text.split())
    assert "ssh -L 8000:localhost:8000" in flat and "reverse proxy" in flat
    assert "TLS" in flat and "127.0.0.1" in flat
    warning = serve.exposure_warning("0.0.0.0", 8080)
    assert "WARNING" in warning and "ssh -L 8080:localhost:8080" in warning
    assert serve.public_url("::1", 8000) == "http://[::1]:8000"


def test_serve_needs_a_db_and_sentences(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    (tmp_path / "empty.toml").write_text("")
    env = {"STANCETERM_CONFIG": str(tmp_path / "empty.toml"), "STANCETERM_ANNOTATOR": ""}
    # no --annotator: the team server (personal links), no longer "error: no annotator"
    assert_clean_error(run("--db", db, "serve", cwd=tmp_path, env=env), "no such database")
    missing = run("--db", db, "serve", "--annotator", "alice", cwd=tmp_path, env=env)
    assert_clean_error(missing, "no such database")
    Store.open(tmp_path / "t.db").close()
    empty = run("--db", db, "serve", "--annotator", "alice", cwd=tmp_path, env=env)
    assert_clean_error(empty, "no sentences to annotate")


STANCETERM = [sys.executable, "-m", "stanceterm"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_page(url: str, proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # loopback only
                return resp.status, resp.read().decode()
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


async def _first_screen(
    url: str,
    timeout: float,
    keys: str = "",
    saved: Callable[[], bool] | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """Open the browser's websocket and collect what the app sends until its screen shows;
    then type ``keys`` as the browser does (``["stdin", key]``) and wait until ``saved()``."""
    import aiohttp

    got = b""
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers) as ws:
        end = loop.time() + timeout
        typed = False
        while loop.time() < end:
            if b"sentence" in got and not typed:
                if not keys:
                    break
                for key in keys:
                    await ws.send_json(["stdin", key])
                typed = True
            if typed and (saved is None or saved()):
                break
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


def test_live_serve_smoke(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    assert run("--db", str(db), "import", str(DEMO), cwd=tmp_path).returncode == 0
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("STANCETERM_DB", None)
    proc = subprocess.Popen(
        [*STANCETERM, "--db", str(db), "serve", "--port", str(port), "--annotator", "alice"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # the server and the app processes it starts: one group
    )
    printed: list[bytes] = []
    try:
        assert proc.stderr is not None
        line = b""
        while b"/a/" not in line:  # single-annotator mode prints its link at start
            line = proc.stderr.readline()
            assert line, "the server printed no link"
            printed.append(line)
        printed.append(proc.stderr.readline())
        link = line.decode().split("): ", 1)[1].strip()
        status, landing = _wait_for_page(f"http://127.0.0.1:{port}/", proc, timeout=30)
        assert status == 200 and "ask your lead" in landing and "textual.js" not in landing
        token = link.rsplit("/", 1)[1]
        cookie = f"stanceterm_link={token}"
        req = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Cookie": cookie})
        with urllib.request.urlopen(req, timeout=5) as resp:  # loopback only
            page = resp.read().decode()
        assert "textual.js" in page and f"ws://127.0.0.1:{port}/ws" in page

        def saved() -> bool:
            with Store.open(db) as s:
                return s.labels.get(first, "alice") is not None

        with Store.open(db) as s:
            first = s.corpus.first("alice")
            assert first is not None
            first = first.id
        url = f"ws://127.0.0.1:{port}/ws?width=80&height=24"
        headers = {"Origin": f"http://127.0.0.1:{port}", "Cookie": cookie}
        screen = asyncio.run(_first_screen(url, 40, keys="0", saved=saved, headers=headers))
        assert b"sentence" in screen  # the annotation screen itself, run by the served command
        with Store.open(db) as s:  # "0" typed in the browser: no claim, saved as done
            ann = s.labels.get(first, "alice")
        assert ann is not None and ann.status == "done" and ann.claims == ()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate(timeout=15)
    text = (b"".join(printed) + out + err).decode(errors="replace")
    assert "Only this machine can connect" in text and "ssh -L" in text
