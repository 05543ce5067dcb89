"""Crash safety: a real ``kill -9`` of a real stanceterm process, at several points of import,
import-labels, merge and an annotation session. After each kill the DB passes
``PRAGMA integrity_check``; re-running the interrupted command completes it exactly (the result
is byte-identical to an uninterrupted run); the TUI loses at most the keystroke in flight.

Kill points are chosen by watching the process, not by sleeping: committed rows (a read-only
connection), how far it has read its input file (``/proc/PID/fdinfo``), and the WAL growing with
the frames of a transaction not yet committed.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
import pytest

from stanceterm.export import Filters, export, import_labels
from stanceterm.ingest import import_file
from stanceterm.schema import load_schema
from stanceterm.store import Store
from tests.conftest import ROOT, Tui

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="watches the process through /proc (Linux)"
)

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
ENV.pop("STANCETERM_DB", None)
ALL_STATUSES = Filters(statuses=("done", "skipped", "flagged", "draft"))

WORDS = [
    "le",
    "ministre",
    "a",
    "déclaré",
    "que",
    "accord",
    "armement",
    "Moscou",
    "Pyongyang",
    "sanctions",
    "président",
    "rencontre",
    "jeudi",
    "officiel",
    "cosmodrome",
    "satellites",
    "négociations",
    "frontière",
    "délégation",
    "communiqué",
]


def sentence(rng: random.Random, tag: str, words: int = 14) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + f" (réf. {tag})."


def article_text(rng: random.Random, i: int, n: int) -> str:
    return " ".join(sentence(rng, f"{i}-{j}") for j in range(n))


# --------------------------------------------------------------------------- watching a process


def stanceterm(*args: str) -> subprocess.Popen[bytes]:
    """A stanceterm process in its own session, so kill -9 reaches it and any helper process."""
    return subprocess.Popen(
        [sys.executable, "-m", "stanceterm", *args],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def run_ok(*args: str) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "stanceterm", *args], env=ENV, capture_output=True, timeout=120
    )
    assert p.returncode == 0, p.stderr.decode()


def kill9(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.stderr is not None
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def kill_when(
    proc: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    what: str,
    timeout: float = 60,
    may_finish: bool = False,
) -> bool:
    """kill -9 ``proc`` as soon as ``ready()``; True when it was killed. Fails if it finished
    before getting there, unless ``may_finish`` (then False: the caller checks the result)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            if may_finish and proc.returncode == 0:
                return False
            pytest.fail(f"the process ended (rc {proc.returncode}) before {what}: {err}")
        if time.monotonic() > deadline:
            kill9(proc)
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.002)
    kill9(proc)
    return True


def committed(db: Path, sql: str) -> int:
    """A count as another reader sees it: only committed rows."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return 0
    try:
        return int(conn.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet
    finally:
        conn.close()


def read_offset(pid: int, path: Path) -> int:
    """How far process ``pid`` has read ``path`` (0 while it is not open)."""
    target = str(path.resolve())
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != target:
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("pos:"):
                        return int(line.split()[1])
        except OSError:
            continue
    return 0


def wal_size(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    try:
        return wal.stat().st_size
    except OSError:
        return 0


class WalGrowth:
    """True once the WAL has grown by ``by`` bytes since ``proc`` started reading ``path``:
    frames of the still-open import transaction are on disk."""

    def __init__(self, proc: subprocess.Popen[bytes], db: Path, path: Path, by: int) -> None:
        self.proc, self.db, self.path, self.by = proc, db, path, by
        self.base: int | None = None

    def __call__(self) -> bool:
        if self.base is None:
            if read_offset(self.proc.pid, self.path) > 0:
                self.base = wal_size(self.db)
            return False
        return wal_size(self.db) >= self.base + self.by


def after_kill(db: Path) -> dict[str, int]:
    """Open the DB as the next command would: it must be sound. Returns its counts."""
    s = Store.open(db)
    try:
        assert s.integrity_ok()
        with s.read() as c:
            assert c.execute("PRAGMA foreign_key_check").fetchall() == []
            events = int(c.execute("SELECT count(*) FROM annotation_events").fetchone()[0])
        return {**s.counts(), "events": events}
    finally:
        s.close()


def export_bytes(db: Path, kind: str, tmp: Path) -> bytes:
    s = Store.open(db)
    out = tmp / f"check-{kind}.jsonl"
    try:
        export(s, kind, out, ALL_STATUSES if kind == "annotations" else Filters())
    finally:
        s.close()
    return out.read_bytes()


def new_db(path: Path) -> None:
    s = Store.open(path)
    s.set_label_schema(load_schema())
    s.close()


# --------------------------------------------------------------------------- import


def test_kill_import_of_many_files_then_rerun_completes_exactly(tmp_path: Path) -> None:
    rng = random.Random(7)
    folder = tmp_path / "corpus"
    folder.mkdir()
    n_files, per = 80, 5
    for i in range(n_files):
        (folder / f"f{i:03d}.txt").write_text(
            f"Titre {i}\n\n{article_text(rng, i, per)}\n", encoding="utf-8"
        )
    ref, db = tmp_path / "ref.db", tmp_path / "t.db"
    run_ok("--db", str(ref), "import", str(folder))
    expected = after_kill(ref)
    assert expected["articles"] == n_files and expected["sentences"] == n_files * per

    seen = []
    for stop in (n_files // 3, 2 * n_files // 3):
        proc = stanceterm("--db", str(db), "import", str(folder))
        kill_when(
            proc,
            lambda stop=stop: committed(db, "SELECT count(*) FROM articles") >= stop,
            f"{stop} files committed",
        )
        counts = after_kill(db)
        # one transaction per file: whole files only, never a file's first sentences
        assert counts["sentences"] == per * counts["articles"]
        assert stop <= counts["articles"] <= n_files  # the kill may land after the last file
        seen.append(counts["articles"])
    assert seen == sorted(seen)  # each re-run kept what the one before committed
    assert seen[0] < n_files, "no kill landed mid-import: make the corpus bigger"
    run_ok("--db", str(db), "import", str(folder))
    assert after_kill(db) == expected
    assert export_bytes(db, "sentences", tmp_path) == export_bytes(ref, "sentences", tmp_path)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One large JSONL file (one transaction) and the DB an uninterrupted import makes of it."""
    tmp = tmp_path_factory.mktemp("big")
    rng = random.Random(11)
    corpus = tmp / "big.jsonl"
    with corpus.open("wb") as f:
        for i in range(250):
            f.write(
                orjson.dumps({"id": f"a{i}", "title": f"T{i}", "text": article_text(rng, i, 10)})
            )
            f.write(b"\n")
    ref = tmp / "ref.db"
    new_db(ref)
    s = Store.open(ref)
    assert import_file(s, corpus).error is None
    s.close()
    return corpus, ref


def test_kill_import_of_a_large_jsonl_then_rerun_completes_exactly(
    tmp_path: Path, big: tuple[Path, Path]
) -> None:
    corpus, ref = big
    expected = after_kill(ref)
    size = corpus.stat().st_size
    db = tmp_path / "t.db"
    new_db(db)
    empty = after_kill(db)
    states = []
    for part in (0.3, 0.8):  # mid-file: one transaction per file, so nothing of it is kept
        proc = stanceterm("--db", str(db), "import", str(corpus))
        kill_when(
            proc,
            lambda p=proc.pid, x=part: read_offset(p, corpus) >= size * x,
            f"{part:.0%} read",
            may_finish=part > 0.5,  # a fast import may be done before the poller sees 80%
        )
        states.append(after_kill(db))
        assert states[-1] in (empty, expected)  # all or nothing (a reader may run ahead)
        if states[-1] == expected:
            break
    assert states[0] == empty, "no kill landed mid-import: make the corpus bigger"
    run_ok("--db", str(db), "import", str(corpus))
    assert after_kill(db) == expected
    assert export_bytes(db, "sentences", tmp_path) == export_bytes(ref, "sentences", tmp_path)


# --------------------------------------------------------------------------- import-labels


#: enough labels that reading the file takes long enough to be killed mid-read
ANNOTATORS = ("alice", "bob", "carol", "dan", "eve", "fay")


def labels_file(ref: Path, path: Path) -> None:
    """An annotations file labelling every sentence: claims, stances, known and new actors."""
    schema = load_schema()
    s = Store.open(ref)
    rng = random.Random(3)
    actors = [
        "Vladimir Poutine",
        "Kim Jong Un",
        "Washington",
        *(f"Porte-parole {i}" for i in range(40)),
    ]
    with path.open("wb") as f:
        for _seq, sid, aid, _idx, text, _cluster in s.corpus.iter_sentence_rows():
            for annotator in ANNOTATORS:
                claims = sorted(
                    rng.sample(schema.claim_ids, rng.randint(0, 2)), key=schema.claim_ids.index
                )
                stances = [
                    {"claim": c, "actor": rng.choice(actors), "stance": rng.choice(schema.stances)}
                    for c in claims
                ]
                rec = {
                    "schema_version": 1,
                    "sentence_id": sid,
                    "article_id": aid,
                    "text": text,
                    "annotator": annotator,
                    "status": rng.choice(["done", "done", "skipped", "flagged"]),
                    "claims": claims,
                    "stances": stances,
                    "propagated_from": None,
                    "note": rng.choice([None, "à revoir"]),
                    "created_at": "2026-01-01T00:00:00.000000Z",
                    "updated_at": "2026-01-02T00:00:00.000000Z",
                }
                f.write(orjson.dumps(rec) + b"\n")
    s.close()


def test_kill_import_labels_then_rerun_completes_exactly(
    tmp_path: Path, big: tuple[Path, Path]
) -> None:
    _, base = big
    labels = tmp_path / "labels.jsonl"
    labels_file(base, labels)
    ref, db = tmp_path / "ref.db", tmp_path / "t.db"
    shutil.copy(base, ref)
    shutil.copy(base, db)
    s = Store.open(ref)
    res = import_labels(s, labels, load_schema())
    s.close()
    expected = after_kill(ref)
    assert res.written == expected["annotations"] == len(ANNOTATORS) * expected["sentences"]
    assert res.actors_created > 0
    unlabelled = after_kill(db)
    size = labels.stat().st_size

    proc = stanceterm("--db", str(db), "import-labels", str(labels))
    kill_when(proc, lambda: read_offset(proc.pid, labels) >= size * 0.5, "half the file read")
    assert after_kill(db) == unlabelled  # the file is validated before anything is written
    proc = stanceterm("--db", str(db), "import-labels", str(labels))
    kill_when(proc, WalGrowth(proc, db, labels, 256 * 1024), "the WAL grew by 256 KiB")
    # applied in short batches (annotators keep saving): a kill mid-apply leaves a sound DB
    # with part of the file and the run marked "applying" (resumable, undoable as a whole)
    partial = after_kill(db)
    if partial not in (unlabelled, expected):
        # every batch may be in (a fast import killed before the run was marked done)
        assert 0 < partial["annotations"] <= expected["annotations"], (partial, expected)
        hist = subprocess.run(
            [sys.executable, "-m", "stanceterm", "--db", str(db), "history", "--imports"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "applying" in hist.stdout, hist.stdout
    out = subprocess.run(
        [sys.executable, "-m", "stanceterm", "--db", str(db), "import-labels", str(labels)],
        capture_output=True,
        text=True,
        check=True,
    )
    if partial not in (unlabelled, expected):
        assert "resumed" in out.stderr, out.stderr
    assert after_kill(db) == expected  # same labels, same history, same actors: no duplicates
    assert export_bytes(db, "annotations", tmp_path) == export_bytes(ref, "annotations", tmp_path)
    # and once more changes nothing
    run_ok("--db", str(db), "import-labels", str(labels))
    assert after_kill(db) == expected


# --------------------------------------------------------------------------- merge


def test_kill_merge_then_rerun_completes_exactly(tmp_path: Path) -> None:
    from stanceterm.store import Annotation
    from stanceterm.store.labels import save_in
    from stanceterm.team import merge_databases
    from tests.conftest import S, add_article, demo_db, snapshot

    other = demo_db(tmp_path / "other.db")
    add_article(other, "bulk", [f"Phrase numéro {i} du lot." for i in range(5000)])
    with other.tx():
        for i in range(5000):
            ann = Annotation(f"bulk:{i}", "bob", "done", ("arms_deal",), note=f"n{i}")
            save_in(other.conn, ann, "set")
    other.close()
    team = demo_db(tmp_path / "team.db")
    team.labels.save(Annotation(S(0), "carol", "done", ()))
    before = snapshot(team, tmp_path)
    team.close()
    shutil.copy(tmp_path / "team.db", tmp_path / "ref.db")
    ref = Store.open(tmp_path / "ref.db")
    merge_databases(ref, [tmp_path / "other.db"])
    expected = snapshot(ref, tmp_path)
    ref.close()

    db = tmp_path / "team.db"
    proc = stanceterm("--db", str(db), "merge", str(tmp_path / "other.db"))
    base = wal_size(db)
    kill_when(proc, lambda: wal_size(db) > base + 256 * 1024, "the WAL grew by 256 KiB")
    s = Store.open(db)
    assert s.integrity_ok()
    # merge commits in short transactions (resumable, docs/ARCHITECTURE.md "Merge ordering"):
    # every label is at its old or its merged state, never anything else
    partial = snapshot(s, tmp_path)
    assert set(partial[1].splitlines()) <= set(before[1].splitlines()) | set(
        expected[1].splitlines()
    )
    s.close()
    run_ok("--db", str(db), "merge", str(tmp_path / "other.db"))
    s = Store.open(db)
    assert s.integrity_ok()
    assert snapshot(s, tmp_path) == expected
    s.close()


# --------------------------------------------------------------------------- annotating


State = dict[str, tuple[str, tuple[str, ...]]]


class Model:
    """What the annotate screen should show and the DB hold after each key of a plan."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.schema = load_schema()
        self.ids = list(ids)
        self.state: State = {}
        self.at = 0

    def then(self, key: str) -> Model:
        nxt = Model(self.ids)
        nxt.state, nxt.at = dict(self.state), self.at
        nxt.apply(key)
        return nxt

    def apply(self, key: str) -> None:
        sid = self.ids[self.at]
        status, claims = self.state.get(sid, ("draft", ()))
        if key in "123":
            claim = self.schema.claim_by_key(int(key))
            assert claim is not None
            on = set(claims) ^ {claim.id}
            self.state[sid] = (status, tuple(self.schema.order_claims(list(on))))
            return
        if key == "0":
            self.state[sid] = ("done", ())
        elif key == "enter":
            self.state[sid] = ("done", claims)
        elif key == "x":
            self.state[sid] = ("skipped", claims)
        elif key == "f":
            self.state[sid] = ("flagged", claims)
        self.at += 1

    def shown(self, screen: str) -> bool:
        n = len(self.ids)
        finished = sum(1 for st, _ in self.state.values() if st != "draft")
        if f"sentence {self.at + 1}/{n} " not in screen or f"{finished}/{n} finished" not in screen:
            return False
        _, claims = self.state.get(self.ids[self.at], ("draft", ()))
        for k in (1, 2, 3):
            claim = self.schema.claim_by_key(k)
            assert claim is not None
            mark = "●" if claim.id in claims else "○"
            if f"{k} {claim.id} {mark}" not in screen:
                return False
        return True


def db_state(db: Path, annotator: str) -> State:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT sentence_id, status, claims FROM annotations WHERE annotator = ?", (annotator,)
        ).fetchall()
    finally:
        conn.close()
    return {sid: (status, tuple(orjson.loads(claims))) for sid, status, claims in rows}


def test_kill_annotate_loses_at_most_the_key_in_flight(tmp_path: Path) -> None:
    """Keys are sent one by one, each acknowledged on the screen before the next (and once as a
    fast burst acknowledged only at its end). A kill -9 right after an acknowledgement leaves
    every earlier key in the DB (the last one may be in flight). The next session resumes where
    the DB says, and the plan then completes exactly."""
    from tests.conftest import add_article

    n = 14
    db = tmp_path / "t.db"
    # the plan presses Enter on claims without stances: no "no stance" nudge (issue 15 §3)
    (tmp_path / "stanceterm.toml").write_text("nudge_stances = false\n", encoding="utf-8")
    s = Store.open(db)
    s.set_label_schema(load_schema())
    add_article(s, "art", [f"Phrase {i} : le ministre a parlé." for i in range(n)])
    ids = [row[1] for row in s.corpus.iter_sentence_rows()]
    s.close()
    groups = [["0"], ["1", "enter"], ["x"], ["2", "3", "enter"], ["f"], ["1", "3", "x"], ["0"]]
    groups += [["3", "enter"], ["2", "f"], ["0"], ["1", "2", "3", "enter"], ["x"]]
    plan = [k for keys in groups for k in keys]
    prefix = [Model(ids)]  # prefix[i]: after the first i keys
    for key in plan:
        prefix.append(prefix[-1].then(key))

    kill_after = [6, 11, 19]  # keys acknowledged when each kill -9 lands
    burst_to = 19  # the keys before this kill are sent at once, as fast typing
    n_kills = len(kill_after)
    sent = 0
    sessions = 0
    while sent < len(plan):
        sessions += 1
        assert sessions <= n_kills + 1
        with Tui(tmp_path, db, "alice") as tui:
            # resumes at the first sentence not finished, showing its saved draft claims
            tui.wait_for(prefix[sent].shown)
            while sent < len(plan):
                if kill_after and kill_after[0] == burst_to:  # typed fast, acknowledged once
                    tui.keys(plan[sent:burst_to])
                    sent = burst_to
                else:
                    tui.key(plan[sent])
                    sent += 1
                tui.wait_for(prefix[sent].shown)  # acknowledged on the screen
                if kill_after and sent == kill_after[0]:
                    kill_after.pop(0)
                    tui.kill9()
                    got = db_state(db, "alice")
                    assert got in (prefix[sent].state, prefix[sent - 1].state), (sent, got)
                    assert after_kill(db)["annotations"] == len(got)
                    if got != prefix[sent].state:
                        sent -= 1  # the key in flight was lost: type it again
                    break
            else:
                tui.key("q")
                deadline = time.monotonic() + 30
                while not tui.exited():
                    assert time.monotonic() < deadline, tui.screen()
                    time.sleep(0.02)
    assert kill_after == [] and sessions == n_kills + 1
    assert db_state(db, "alice") == prefix[-1].state
    assert after_kill(db)["annotations"] == len(prefix[-1].state)
