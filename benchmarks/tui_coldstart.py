"""TUI cold start as a user sees it: process launch -> first screen, in a pseudo-terminal.

`python -m stanceterm --db DB annotate --annotator NAME` is started in a pty (80x24, TERM
xterm-256color); the clock runs from just before the fork until the terminal output, escape
sequences stripped, shows the annotator's name in the header (the first frame, which Textual
paints with the sentence). The process is then terminated. Baseline, same run, launched the same
way: a bare Textual app with a Header carrying the same name (Python + Textual start-up, nothing
of stanceterm). Ratio = stanceterm / bare Textual (medians). Target: ratio <= 2 (issue 17:
< 0.7 s; a bare Textual app needs about a third of that here). DBs: real text (realtext.py) with
4 annotators' labels, at the sizes given (capped by the unique real text available).

    python benchmarks/tui_coldstart.py --sentences 30000,200000
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import signal
import statistics
import struct
import sys
import termios
import time

from _common import SRC, WORK, load, result
from realtext import build_db

MARK = "coldstartbench"
BARE = f"""
from textual.app import App
from textual.widgets import Header, Static
class A(App):
    TITLE = "stanceterm"
    def compose(self):
        yield Header()
        yield Static("hello")
    def on_mount(self):
        self.sub_title = "{MARK}"
A().run()
"""
ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]|\x1b\][^\x07]*\x07")


def launch(argv: list[str], timeout: float = 30.0) -> float:
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "PYTHONPATH": str(SRC),
        "COLUMNS": "80",
        "LINES": "24",
    }
    t0 = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execve(sys.executable, [sys.executable, *argv], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    buf = b""
    took = float("nan")
    try:
        while time.perf_counter() - t0 < timeout:
            r, _, _ = select.select([fd], [], [], 0.05)
            if not r:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            if MARK.encode() in ANSI.sub(b"", buf):
                took = time.perf_counter() - t0
                break
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)
    if took != took:
        raise RuntimeError(f"no first screen within {timeout}s: {ANSI.sub(b'', buf)[-500:]!r}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sentences", default="30000")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    for n in (int(x) for x in args.sentences.split(",")):
        db, corpus, _ = build_db(n, 4, WORK)
        ours, bare = [], []
        for _ in range(args.repeats):  # taking turns, so neither always runs warm
            ours.append(
                launch(["-m", "stanceterm", "--db", str(db), "annotate", "--annotator", MARK])
            )
            bare.append(launch(["-c", BARE]))
        med, best, bmed = statistics.median(ours), min(ours), statistics.median(bare)
        ratio = med / bmed
        print(
            f"{corpus.note}: first screen median {med * 1000:.0f} ms best {best * 1000:.0f} ms; "
            f"bare Textual median {bmed * 1000:.0f} ms; ratio {ratio:.2f}"
        )
        result(
            "tui_cold_start",
            ratio <= 2.0,
            source="realtext" + ("_SHORT" if corpus.short else ""),
            sentences=n,
            ms_median=round(med * 1000),
            ms_best=round(best * 1000),
            target_ms=700,
            bare_textual_ms=round(bmed * 1000),
            ratio=f"{ratio:.2f}",
            target_ratio="<=2",
            load=load(),
        )


if __name__ == "__main__":
    main()
