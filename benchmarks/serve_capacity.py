"""How many browser annotators one host holds: RSS and CPU per `stanceterm serve` session.

Starts a real `stanceterm serve` on the bundled demo article (data/putin-kim-arms-fr.txt, a
French news article) with N invited annotators, opens one websocket session each exactly as the
browser does (Origin + cookie, then textual-serve's ["stdin", key] envelopes), waits for every
screen, then has every annotator press a key every ``--interval`` seconds (j: next sentence,
which re-renders the screen; alternating with 0: label "no claim") for ``--seconds``. Reads
/proc for the RSS and CPU time of every process below the server.

    python benchmarks/serve_capacity.py --sessions 4 --seconds 30 --interval 1.0

With ``--browser`` the sessions are real Chromium tabs instead (Debian's /usr/bin/chromium driven
by Playwright, one browser context per annotator, each opening her personal link and pressing
keys in the page, so xterm.js, resizes and the page's own traffic are included). The server-side
figures are measured the same way; Chromium's own RSS and CPU are reported beside them (that cost
is on the annotators' machines, not the server's).

    python benchmarks/serve_capacity.py --browser --sessions 3 --seconds 30 --interval 1.0
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "putin-kim-arms-fr.txt"
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def usage(pid: int) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of one process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        statm = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return 0.0, 0
    return (int(stat[11]) + int(stat[12])) / TICK, int(statm[1]) * PAGE


def cli(*args: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-m", "stanceterm", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


async def session(
    url: str,
    origin: str,
    token: str,
    start: asyncio.Event,
    stop: asyncio.Event,
    interval: float,
    ready: list[float],
) -> int:
    headers = {"Origin": origin, "Cookie": f"stanceterm_link={token}"}
    keys = 0
    t0 = time.monotonic()
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=headers) as ws:
        got = b""
        while b"sentence" not in got:
            msg = await ws.receive(timeout=60)
            if msg.type == aiohttp.WSMsgType.BINARY:
                got += msg.data
        ready.append(time.monotonic() - t0)

        async def drain() -> None:
            async for _ in ws:
                pass

        reader = asyncio.create_task(drain())
        await start.wait()
        while not stop.is_set():
            await ws.send_json(["stdin", "0" if keys % 2 else "j"])
            keys += 1
            await asyncio.sleep(interval)
        reader.cancel()
    return keys


def snapshot(pids: list[int]) -> dict[int, tuple[float, int]]:
    return {p: usage(p) for p in pids}


def chromium_pids() -> list[int]:
    """Chromium processes started below this benchmark (Playwright's driver starts them)."""
    out = []
    for p in descendants(os.getpid()):
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            continue
        if b"chromium" in cmd.split(b"\0", 1)[0]:
            out.append(p)
    return out


def pss(pid: int) -> int:
    """Proportional set size in bytes (shared pages split between their users), 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_browser(args: argparse.Namespace, port: int, tokens: list[str], server_pid: int) -> None:
    """The same measurement with real Chromium tabs (synchronous Playwright)."""
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{port}"
    ready: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        pages = []
        for tok in tokens:
            page = browser.new_context(viewport={"width": 1100, "height": 700}).new_page()
            t0 = time.monotonic()
            page.goto(f"{base}/a/{tok}")
            page.wait_for_url(f"{base}/")
            page.wait_for_selector("body.-first-byte", timeout=90_000)
            ready.append(time.monotonic() - t0)
            page.locator("#terminal").click()
            pages.append(page)
        time.sleep(3.0)  # settle
        kids = descendants(server_pid)
        apps = [p for p in kids if usage(p)[1] > 30 * 2**20]
        chrome = chromium_pids()
        idle0, c_idle0 = snapshot(kids), snapshot(chrome)
        time.sleep(10.0)
        idle1, srv1, c_idle1 = snapshot(kids), usage(server_pid), snapshot(chrome)
        t0 = time.monotonic()
        keys = 0
        while time.monotonic() - t0 < args.seconds:
            for page in pages:
                page.keyboard.press("0" if (keys // len(pages)) % 2 else "j")
                keys += 1
                time.sleep(args.interval / len(pages))
        busy1, srv2, c_busy1 = snapshot(kids), usage(server_pid), snapshot(chrome)
        elapsed = time.monotonic() - t0
        c_pss = sum(pss(p) for p in chrome)
        browser.close()
    report(args, apps, idle0, idle1, busy1, srv1, srv2, elapsed, ready, keys, server_pid)
    c_cpu = sum(c_busy1[p][0] - c_idle1[p][0] for p in chrome) / elapsed
    c_idle = sum(c_idle1[p][0] - c_idle0[p][0] for p in chrome) / 10.0
    print(
        f"chromium ({len(chrome)} processes, {len(pages)} tabs; on the annotators' machines): "
        f"PSS {c_pss / 2**20:.0f} MiB in all, "
        f"CPU idle {100 * c_idle:.1f}%, typing {100 * c_cpu:.1f}% of a core in all"
    )


def report(
    args: argparse.Namespace,
    apps: list[int],
    idle0: dict[int, tuple[float, int]],
    idle1: dict[int, tuple[float, int]],
    busy1: dict[int, tuple[float, int]],
    srv1: tuple[float, int],
    srv2: tuple[float, int],
    elapsed: float,
    ready: list[float],
    keys: object,
    server_pid: int,
) -> None:
    rss = sorted(busy1[p][1] for p in apps)
    cpu_idle = sorted((idle1[p][0] - idle0[p][0]) / 10.0 for p in apps)
    cpu = sorted((busy1[p][0] - idle1[p][0]) / elapsed for p in apps)
    srv_cpu = (srv2[0] - srv1[0]) / elapsed
    mem_total = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    per_rss = statistics.median(rss)
    per_cpu = statistics.median(cpu)
    print(f"load average after: {os.getloadavg()}")
    print(f"{len(apps)} sessions (app processes), keys sent: {keys}")
    print(
        f"first screen after connecting: median {statistics.median(ready):.2f}s, "
        f"best {min(ready):.2f}s"
    )
    print(f"RSS per session: median {per_rss / 2**20:.0f} MiB, smallest {rss[0] / 2**20:.0f} MiB")
    print(
        f"CPU per session, idle: median {100 * statistics.median(cpu_idle):.1f}% of a core; "
        f"typing a key every {args.interval}s: median {100 * per_cpu:.1f}%, "
        f"lowest {100 * cpu[0]:.1f}%"
    )
    print(
        f"server process: RSS {srv2[1] / 2**20:.0f} MiB, "
        f"CPU {100 * srv_cpu:.1f}% of a core for {len(apps)} typing sessions"
    )
    by_mem = int(0.7 * mem_total / per_rss)
    by_cpu = int(0.7 * 2 / max(per_cpu + srv_cpu / max(1, len(apps)), 1e-6))
    print(
        f"host memory {mem_total / 2**30:.1f} GiB: 70% of it holds {by_mem} sessions; "
        f"70% of 2 cores holds {by_cpu} sessions typing at this pace"
    )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--browser", action="store_true", help="real Chromium tabs (Playwright)")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    db = tmp / "t.db"
    cli("--db", str(db), "import", str(DEMO), cwd=tmp)
    tokens = [
        cli("--db", str(db), "invite", f"a{i}", cwd=tmp).rsplit("/", 1)[1]
        for i in range(args.sessions)
    ]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    server = subprocess.Popen(
        [sys.executable, "-m", "stanceterm", "--db", str(db), "serve", "--port", str(port)],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    if args.browser:
        try:
            await asyncio.sleep(2.0)
            print(f"server process alone: RSS {usage(server.pid)[1] / 2**20:.0f} MiB")
            await asyncio.to_thread(run_browser, args, port, tokens, server.pid)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        return
    start, stop = asyncio.Event(), asyncio.Event()
    ready: list[float] = []
    try:
        await asyncio.sleep(2.0)
        server_alone = usage(server.pid)
        origin = f"http://127.0.0.1:{port}"
        url = f"ws://127.0.0.1:{port}/ws?width=120&height=36"
        tasks = [
            asyncio.create_task(session(url, origin, tok, start, stop, args.interval, ready))
            for tok in tokens
        ]
        while len(ready) < len(tokens):
            if any(t.done() for t in tasks):
                await asyncio.gather(*tasks)
            await asyncio.sleep(0.2)
        await asyncio.sleep(3.0)  # settle
        kids = descendants(server.pid)
        idle0 = snapshot(kids)
        await asyncio.sleep(10.0)
        idle1, srv1 = snapshot(kids), usage(server.pid)
        start.set()
        t0 = time.monotonic()
        await asyncio.sleep(args.seconds)
        busy1, srv2 = snapshot(kids), usage(server.pid)
        elapsed = time.monotonic() - t0
        stop.set()
        keys = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    apps = [p for p in kids if idle0[p][1] > 30 * 2**20]  # the Python app processes
    print(f"server process alone: RSS {server_alone[1] / 2**20:.0f} MiB")
    report(args, apps, idle0, idle1, busy1, srv1, srv2, elapsed, ready, keys, server.pid)


if __name__ == "__main__":
    asyncio.run(main())
