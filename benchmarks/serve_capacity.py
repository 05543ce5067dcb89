"""How many browser annotators one host holds: RSS and CPU per `stanceterm serve` session.

Starts a real `stanceterm serve` on the bundled demo article (data/putin-kim-arms-fr.txt, a
French news article) with N invited annotators, opens one websocket session each exactly as the
browser does (Origin + cookie, then textual-serve's ["stdin", key] envelopes), waits for every
screen, then has every annotator press a key every ``--interval`` seconds (j: next sentence,
which re-renders the screen; alternating with 0: label "no claim") for ``--seconds``. Reads
/proc for the RSS and CPU time of every process below the server.

    python benchmarks/serve_capacity.py --sessions 4 --seconds 30 --interval 1.0
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


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--interval", type=float, default=1.0)
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
    rss = sorted(busy1[p][1] for p in apps)
    cpu_idle = sorted((idle1[p][0] - idle0[p][0]) / 10.0 for p in apps)
    cpu = sorted((busy1[p][0] - idle1[p][0]) / elapsed for p in apps)
    srv_cpu = (srv2[0] - srv1[0]) / elapsed
    mem_total = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    per_rss = statistics.median(rss)
    per_cpu = statistics.median(cpu)
    print(f"load average before/after: {os.getloadavg()}")
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
        f"server process: RSS {srv2[1] / 2**20:.0f} MiB (alone {server_alone[1] / 2**20:.0f}), "
        f"CPU {100 * srv_cpu:.1f}% of a core for {len(apps)} typing sessions"
    )
    by_mem = int(0.7 * mem_total / per_rss)
    by_cpu = int(0.7 * 2 / max(per_cpu + srv_cpu / max(1, len(apps)), 1e-6))
    print(
        f"host memory {mem_total / 2**30:.1f} GiB: 70% of it holds {by_mem} sessions; "
        f"70% of 2 cores holds {by_cpu} sessions typing at this pace"
    )


if __name__ == "__main__":
    asyncio.run(main())
