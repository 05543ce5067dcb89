"""Issue 12 §1, end to end: a team on one DB file loses nothing, whatever runs beside it.

Two real ``stanceterm annotate`` screens (each in a real terminal: a private tmux server) type
labels at a steady pace, with their background reader threads and team poll running as users run
them. At the same time other processes run, over and over: ``stats``, ``export``,
``import-labels`` (300 labels of a third annotator), ``merge`` (a copy DB holding a fourth
annotator's labels), ``dedup`` and ``agreement``. Then everyone quits normally.

Checked, only through the CLI, SQLite itself and the file system (never store internals):
- the exact number of labels per annotator: what each screen was sent, the imported and the
  merged ones, and the labels present before the screens opened;
- the ``-wal`` file is never removed (nor replaced by another inode) while a screen is open;
- ``PRAGMA integrity_check`` is ``ok``; every command run succeeded.

Before the fix of a26878c this failed: opening a reader in a screen read the DB file with plain
I/O, and closing that descriptor dropped the screen's POSIX locks, so the next command to close
deleted the -wal under the screens and their later writes vanished.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("STANCETERM_")}
ENV.update(PYTHONPATH=str(ROOT / "src"), COLUMNS="200")

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="real terminals through tmux (Linux)"
)

ARTICLES, PER_ARTICLE = 12, 50  # 600 sentences
SENTENCES = ARTICLES * PER_ARTICLE
WORDS = [
    "minister",
    "said",
    "the",
    "talks",
    "would",
    "continue",
    "despite",
    "pressure",
    "from",
    "allies",
    "while",
    "officials",
    "denied",
    "any",
    "deal",
    "on",
    "weapons",
    "sanctions",
    "trade",
    "energy",
    "grain",
    "border",
    "troops",
    "envoy",
    "summit",
    "vote",
    "parliament",
    "court",
    "budget",
    "reform",
]
CLAIMS = ("arms_deal", "denial", "sanctions_efficacy")
ACTORS = ("la Russie", "la Corée du Nord", "les États-Unis")
SCREENS = ("alice", "bob")
KEY_EVERY_S = 0.3  # per screen: a steady pace (the two screens alternate)
MIN_KEYS = 25  # per screen, at the least
MAX_KEYS = 120  # per screen, at the most (there are 600 sentences)
ROUNDS = 2  # wanted runs of each background command while the screens type
OVERLAP_DEADLINE_S = 90.0  # every command must have run at least once by then


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stanceterm", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_ok(*args: str) -> str:
    p = cli(*args)
    assert p.returncode == 0, f"stanceterm {' '.join(args)}: {p.stderr}"
    return p.stdout


def write_corpus(path: Path) -> None:
    rng = random.Random(12)
    with path.open("w", encoding="utf-8") as f:
        for a in range(ARTICLES):
            sents = [
                f"Item {a} {i} " + " ".join(rng.choice(WORDS) for _ in range(9)) + "."
                for i in range(PER_ARTICLE)
            ]
            rec = {"id": f"art{a}", "title": f"Story {a}", "lang": "en", "text": " ".join(sents)}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def write_labels(path: Path, annotator: str, sentence_ids: list[str], seed: int) -> int:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for sid in sentence_ids:
            claims = sorted(rng.sample(CLAIMS, rng.randint(0, 2)), key=CLAIMS.index)
            stances = [
                {
                    "claim": c,
                    "actor": rng.choice(ACTORS),
                    "stance": rng.choice(("support", "oppose")),
                }
                for c in claims
            ]
            rec = {"sentence_id": sid, "annotator": annotator, "status": "done"}
            f.write(json.dumps({**rec, "claims": claims, "stances": stances}) + "\n")
    return len(sentence_ids)


def label_counts(db: Path, tmp: Path) -> Counter[str]:
    """Labels per annotator, every status, as ``stanceterm export`` writes them."""
    out = tmp / "count.jsonl"
    args = ["--db", str(db), "export", "--kind", "annotations", "--out", str(out)]
    for status in ("done", "skipped", "flagged", "draft"):
        args += ["--status", status]
    cli_ok(*args)
    with out.open(encoding="utf-8") as f:
        return Counter(json.loads(line)["annotator"] for line in f if line.strip())


class Screens:
    """``stanceterm annotate`` screens, one tmux session each, on a private tmux server."""

    def __init__(self, cwd: Path, db: Path) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is needed to run the annotation screens in a terminal")
        self.dir = Path(tempfile.mkdtemp(prefix="stl"))  # short: sockets have a path limit
        self.sock = str(self.dir / "s")
        self.cwd, self.db = cwd, db

    def tmux(self, *args: str) -> str:
        p = subprocess.run(
            ["tmux", "-S", self.sock, *args], capture_output=True, text=True, timeout=30, env=ENV
        )
        assert p.returncode == 0, p.stderr
        return p.stdout

    def open(self, annotator: str) -> None:
        rc = self.dir / f"{annotator}.rc"
        cmd = (
            f"{sys.executable} -m stanceterm --db {self.db} annotate --annotator {annotator}"
            f"; echo $? >{rc}"
        )
        new = ["new-session", "-d", "-s", annotator, "-x", "100", "-y", "30", "-c", str(self.cwd)]
        if not Path(self.sock).exists():
            new = ["-f", "/dev/null", *new]
        self.tmux(*new, "sh", "-c", cmd)
        self.tmux("set-option", "-t", annotator, "remain-on-exit", "on")

    def screen(self, annotator: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", annotator)

    def wait_for(self, annotator: str, ok: Callable[[str], bool], timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(annotator)
            if ok(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"{annotator}'s screen never showed what was expected:\n{screen}")
            time.sleep(0.05)

    def key(self, annotator: str, key: str) -> None:
        self.tmux("send-keys", "-t", annotator, key)

    def exit_code(self, annotator: str, timeout: float = 60) -> tuple[int, str]:
        rc = self.dir / f"{annotator}.rc"
        deadline = time.monotonic() + timeout
        while not rc.exists() or not rc.read_text().strip():
            if time.monotonic() > deadline:
                pytest.fail(f"{annotator}'s screen did not quit:\n{self.screen(annotator)}")
            time.sleep(0.05)
        return int(rc.read_text()), self.screen(annotator)  # what it printed on leaving

    def __enter__(self) -> Screens:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, env=ENV)
        shutil.rmtree(self.dir, ignore_errors=True)


class WalWatch(threading.Thread):
    """Polls the -wal file's inode (``stat`` only: it never opens the file)."""

    def __init__(self, db: Path) -> None:
        super().__init__(daemon=True)
        self.wal = Path(f"{db}-wal")
        self.stop = threading.Event()
        self.inodes: set[int] = set()
        self.missing = 0
        self.polls = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.inodes.add(os.stat(self.wal).st_ino)
            except FileNotFoundError:
                self.missing += 1
            self.polls += 1
            time.sleep(0.005)


class Loop(threading.Thread):
    """One command, run again and again in its own process until stopped. ``args`` may hold
    ``{}``, replaced by the run's item: ``items[run % len(items)]``."""

    def __init__(self, name: str, args: list[str], items: list[str] | None = None) -> None:
        super().__init__(daemon=True)
        self.name, self.args, self.items = name, args, items or [""]
        self.stop = threading.Event()
        self.runs: list[tuple[str, int, str]] = []

    def run(self) -> None:
        while not self.stop.is_set():
            item = self.items[len(self.runs) % len(self.items)]
            p = cli(*(a.replace("{}", item) for a in self.args), timeout=180)
            self.runs.append((item, p.returncode, p.stderr.strip()[-400:]))

    @property
    def wanted(self) -> int:
        return max(ROUNDS, len(self.items))

    def done(self) -> set[str]:
        return {item for item, rc, _ in self.runs if rc == 0}


def test_two_screens_and_every_command_beside_them_lose_nothing(tmp_path: Path) -> None:
    db, copy = tmp_path / "team.db", tmp_path / "copy.db"
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus)
    cli_ok("--db", str(db), "import", "--jobs", "1", str(corpus))
    cli_ok("--db", str(copy), "import", "--jobs", "1", str(corpus))
    out = tmp_path / "sentences.jsonl"
    cli_ok("--db", str(db), "export", "--kind", "sentences", "--out", str(out))
    with out.open(encoding="utf-8") as f:
        ids = [json.loads(line)["sentence_id"] for line in f if line.strip()]
    assert len(ids) == SENTENCES, "the corpus should segment into one sentence per item"

    expected: Counter[str] = Counter()
    # labels present before anyone opens a screen (agreement needs two annotators from the start)
    before = tmp_path / "before.jsonl"
    expected["erin"] = write_labels(before, "erin", ids[-40:], seed=1)
    frank = tmp_path / "frank.jsonl"
    expected["frank"] = write_labels(frank, "frank", ids[-40:], seed=2)
    cli_ok("--db", str(db), "import-labels", str(before))
    cli_ok("--db", str(db), "import-labels", str(frank))
    # imported while the screens type: a third annotator; merged in: a fourth one's copy DB
    # (in 4 files of 75, one per run, so that imports land at different moments)
    carol = [str(tmp_path / f"carol{k}.jsonl") for k in range(4)]
    for k, path in enumerate(carol):
        write_labels(Path(path), "carol", ids[300 + 75 * k : 375 + 75 * k], seed=3 + k)
    dave = tmp_path / "dave.jsonl"
    expected["dave"] = write_labels(dave, "dave", ids[200:350], seed=4)
    cli_ok("--db", str(copy), "import-labels", str(dave))
    assert label_counts(db, tmp_path) == Counter(erin=40, frank=40)

    d = ["--db", str(db)]
    loops = [
        Loop("stats", [*d, "stats"]),
        Loop("export", [*d, "export", "--kind", "annotations", "--out", str(tmp_path / "e.jsonl")]),
        Loop("import-labels", [*d, "import-labels", "{}"], carol),
        Loop("merge", [*d, "merge", str(copy)]),
        Loop("dedup", [*d, "dedup"]),
        Loop("agreement", [*d, "agreement", "--bootstrap", "50"]),
    ]
    watch = WalWatch(db)
    typed = dict.fromkeys(SCREENS, 0)
    with Screens(tmp_path, db) as screens:
        for who in SCREENS:
            screens.open(who)
        for who in SCREENS:  # the first count is shown: the screen's readers are open
            screens.wait_for(who, lambda s: f"0/{SENTENCES} done" in s)
        watch.start()
        for loop in loops:
            loop.start()
        t0 = time.monotonic()
        while True:
            for who in SCREENS:
                screens.key(who, "0")  # "no claim": saved as done, then the next sentence
                typed[who] += 1
                time.sleep(KEY_EVERY_S / len(SCREENS))
            n = min(typed.values())
            if n >= MAX_KEYS or (n >= MIN_KEYS and all(len(x.runs) >= x.wanted for x in loops)):
                break
            if time.monotonic() - t0 > OVERLAP_DEADLINE_S and all(x.runs for x in loops):
                break
        for loop in loops:
            loop.stop.set()
        for loop in loops:
            loop.join(timeout=200)
        slow = [loop.name for loop in loops if not loop.runs]
        assert not slow, f"these commands never ran beside the screens: {slow}"
        # a few more keys after the last command closed the DB: still saved
        for _ in range(3):
            for who in SCREENS:
                screens.key(who, "0")
                typed[who] += 1
                time.sleep(KEY_EVERY_S / len(SCREENS))
        shown = {}
        for who in SCREENS:  # the screen took every key (its own count, before quitting)
            shown[who] = screens.wait_for(
                who, lambda s, n=typed[who]: f"{n}/{SENTENCES} done" in s or "NOT SAVED" in s
            )
        watch.stop.set()
        watch.join()
        for who in SCREENS:
            screens.key(who, "q")
        exits = {who: screens.exit_code(who) for who in SCREENS}

    problems = []  # every check, so one run shows all that went wrong
    for who, screen in shown.items():
        if "NOT SAVED" in screen:
            problems.append(f"{who}'s screen: {screen.strip().splitlines()[-3]}")
    for who, (rc, said) in exits.items():
        if rc != 0 or "NOT SAVED" in said:
            problems.append(f"{who}'s screen exited with {rc}: {said.strip()[-300:]}")
    failed = [(loop.name, rc, err) for loop in loops for _, rc, err in loop.runs if rc != 0]
    if failed:
        problems.append(f"{len(failed)} command run(s) failed beside the screens: {failed[:3]}")
    if watch.missing or len(watch.inodes) != 1:
        problems.append(
            f"the -wal was removed under the open screens: missing in {watch.missing} of "
            f"{watch.polls} polls, {len(watch.inodes)} different inode(s)"
        )
    expected.update(typed)
    expected["carol"] = 75 * len(loops[2].done())
    try:
        got = label_counts(db, tmp_path)
        if got != expected:
            problems.append(f"labels per annotator: expected {dict(expected)}, found {dict(got)}")
    except AssertionError as exc:  # export could not read the DB
        problems.append(str(exc).splitlines()[0])
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        integrity = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        integrity = [str(exc)]
    finally:
        conn.close()
    if integrity != ["ok"]:
        problems.append(f"integrity_check: {integrity[:5]}")
    assert watch.polls > 100, "the -wal watch did not run"
    assert not problems, "\n".join(problems)
