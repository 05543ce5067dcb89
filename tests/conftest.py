"""Fixtures and the helpers that several test modules share (no test module imports another)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from functools import wraps
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
import pytest

from stanceterm.export import Filters, export
from stanceterm.ingest import import_file
from stanceterm.schema import LabelSchema, load_schema
from stanceterm.segment import match_key
from stanceterm.store import Annotation, ImportCounts, NewArticle, Stance, Store
from stanceterm.suggest import Example

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "putin-kim-arms-fr.txt"


@pytest.fixture
def schema() -> LabelSchema:
    return load_schema()


@pytest.fixture
def store(schema: LabelSchema) -> Iterator[Store]:
    s = Store.memory()
    s.set_label_schema(schema)
    yield s
    s.close()


def add_article(store: Store, article_id: str, sentences: list[str], title: str = "T") -> None:
    """Insert an article directly (no segmentation), for store-level tests."""
    from stanceterm.store import ImportCounts

    art = NewArticle(
        id=article_id,
        title=title,
        source=None,
        url=None,
        published=None,
        lang="en",
        content_hash="h-" + article_id,
        sentences=sentences,
        norms=[s.casefold() for s in sentences],
    )
    with store.tx():
        store.corpus.insert_articles([art], ImportCounts())


@pytest.fixture
def filled(store: Store) -> Store:
    add_article(store, "a1", ["Putin said yes.", "Kim denied it.", "Sanctions fail."])
    add_article(store, "a2", ["Washington warned Moscow.", "Nothing else."])
    return store


#: claim suggestions (test_suggest, test_ui_suggest): a small fixed bilingual corpus
SUGGEST_CLAIMS = ["arms_deal", "denial", "sanctions_efficacy"]

ARMS = [
    "Moscow will buy artillery shells and rockets from Pyongyang.",
    "La Russie achète des obus et des roquettes à la Corée du Nord.",
    "Kim offered Putin weapons and ammunition for the war.",
    "Pyongyang livrerait des munitions et des armes à Moscou.",
    "The arms deal would supply millions of artillery shells.",
    "Un accord d'armement portant sur des obus d'artillerie.",
    "North Korea may sell rockets and shells to Russia.",
    "Moscou chercherait des armes et des munitions nord-coréennes.",
]
DENIAL = [
    "The Kremlin denied any such talks took place.",
    "Le Kremlin a démenti toute négociation de ce genre.",
    "Pyongyang rejected the claim as a lie.",
    "Moscou a nié ces allégations américaines.",
    "Officials denied the report, calling it absurd.",
    "Les deux parties nient l'affirmation des États-Unis.",
]
NONE = [
    "The weather in Vladivostok was mild on Tuesday.",
    "Le train blindé est arrivé à la gare à midi.",
    "The summit took place at a space launch centre.",
    "Les journalistes attendaient devant le bâtiment.",
    "Kim travelled by train across the border.",
    "La délégation comprenait plusieurs ministres.",
]


def suggest_corpus() -> list[Example]:
    out = [Example(f"a:{i}", t, ("arms_deal",)) for i, t in enumerate(ARMS)]
    out += [Example(f"d:{i}", t, ("denial",)) for i, t in enumerate(DENIAL)]
    out += [Example(f"n:{i}", t, ()) for i, t in enumerate(NONE)]
    return out


# --------------------------------------------------------------------------- the CLI as a user runs it


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("STANCETERM_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "stanceterm", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin.decode() if stdin else None,
    )


def assert_clean_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert lines, proc.stderr
    for needle in needles:
        assert any(needle in ln for ln in lines), proc.stderr


# --------------------------------------------------------------------------- demo DBs (merge, crash)


def demo_cli_db(tmp_path: Path) -> tuple[str, list[dict[str, Any]]]:
    """The bundled article imported through the CLI into ``tmp_path/t.db``: (the DB path, its
    sentences as `export --kind sentences` writes them)."""
    db = str(tmp_path / "t.db")
    p = run("--db", db, "import", str(DEMO), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = run("--db", db, "export", "--kind", "sentences", "--out", "-", cwd=tmp_path)
    return db, [orjson.loads(x) for x in out.stdout.splitlines()]


def label_record(row: dict[str, Any], annotator: str = "alice", **kw: Any) -> dict[str, Any]:
    """An import-labels record for a sentence row (done, arms_deal, dated 2026-01-02); ``kw``
    overrides a field, and a field given as ``...`` is left out."""
    rec: dict[str, Any] = {
        "sentence_id": row["sentence_id"],
        "article_id": row["article_id"],
        "text": row["text"],
        "annotator": annotator,
        "status": "done",
        "claims": ["arms_deal"],
        "stances": [],
        "created_at": "2026-01-01T00:00:00.000000Z",
        "updated_at": "2026-01-02T00:00:00.000000Z",
    }
    rec.update(kw)
    return {k: v for k, v in rec.items() if v is not ...}


def demo_db(path: Path, schema: LabelSchema | None = None) -> Store:
    s = Store.open(path)
    s.set_label_schema(schema or load_schema())
    res = import_file(s, DEMO)
    assert res.error is None
    return s


def fingerprint(path: Path) -> tuple[str, float]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime


def snapshot(store: Store, tmp: Path) -> tuple[dict[str, int], bytes, bytes, int]:
    out = tmp / "snap.jsonl"
    export(store, "annotations", out, Filters(statuses=("done", "skipped", "flagged", "draft")))
    ann = out.read_bytes()
    export(store, "gold", out)
    with store.read() as c:
        events = c.execute("SELECT count(*) FROM annotation_events").fetchone()[0]
    return store.counts(), ann, out.read_bytes(), events


def _demo_article_id() -> str:
    s = Store.memory()
    s.set_label_schema(load_schema())
    import_file(s, DEMO)
    (aid,) = s.corpus.article_ids()
    s.close()
    return aid


AID = _demo_article_id()


def S(i: int) -> str:
    """Id of sentence i of the demo article (stable wherever it is imported)."""
    return f"{AID}:{i}"


# --------------------------------------------------------------------------- the TUI in a terminal

TUI_ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
TUI_ENV.pop("STANCETERM_DB", None)


class Tui:
    """``stanceterm annotate`` running in a real terminal (a private tmux server)."""

    def __init__(self, cwd: Path, db: Path, annotator: str, size: tuple[int, int] = (110, 30)):
        if shutil.which("tmux") is None:
            pytest.fail("tmux is needed to run the TUI in a terminal")
        self.dir = Path(tempfile.mkdtemp(prefix="stc"))  # short: sockets have a path limit
        self.sock = str(self.dir / "s")
        self.cwd, self.db, self.annotator, self.size = cwd, db, annotator, size

    def tmux(self, *args: str) -> str:
        p = subprocess.run(
            ["tmux", "-S", self.sock, *args],
            capture_output=True,
            text=True,
            timeout=30,
            env=TUI_ENV,
        )
        assert p.returncode == 0, p.stderr
        return p.stdout

    def __enter__(self) -> Tui:
        cols, rows = self.size
        cmd = [sys.executable, "-m", "stanceterm", "--db", str(self.db), "annotate"]
        self.tmux(
            "-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(cols), "-y", str(rows),
            "-c", str(self.cwd), "--", *cmd, "--annotator", self.annotator,
        )  # fmt: skip
        self.tmux("set-option", "-t", "t", "remain-on-exit", "on")
        self.pid = int(self.tmux("display-message", "-p", "-t", "t", "#{pane_pid}").strip())
        return self

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def title(self) -> str:
        return self.tmux("display-message", "-p", "-t", "t", "#{pane_title}").strip()

    def wait_for(self, ok: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if ok(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"the screen never showed what was expected:\n{screen}")
            time.sleep(0.01)

    def key(self, key: str) -> None:
        self.tmux("send-keys", "-t", "t", {"enter": "Enter"}.get(key, key))

    def keys(self, keys: Sequence[str]) -> None:
        self.tmux("send-keys", "-t", "t", *({"enter": "Enter"}.get(k, k) for k in keys))

    def kill9(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.tmux("display-message", "-p", "-t", "t", "#{pane_dead}").strip() != "1":
            assert time.monotonic() < deadline
            time.sleep(0.01)

    def exited(self) -> bool:
        return self.tmux("display-message", "-p", "-t", "t", "#{pane_dead}").strip() == "1"

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, env=TUI_ENV)
        shutil.rmtree(self.dir, ignore_errors=True)


def run_in_pty(
    argv: list[str], log: Path, timeout: float = 60, until: str = "PAINT", linger: float = 0.0
) -> str:
    """The terminal's output until ``until`` is in ``log`` (then ``linger`` seconds more)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TERM": "xterm-256color"}
    env.pop("STANCETERM_DB", None)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI in a terminal
        os.execve(sys.executable, [sys.executable, *argv], env)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if log.exists() and until in log.read_text():
                if linger <= 0:
                    break
                deadline, linger = time.monotonic() + linger, 0.0
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)
    return out.decode(errors="replace")


# --------------------------------------------------------------------------- the UI under pilot


UI_ARTICLES: list[tuple[str, str, str, str, list[str]]] = [
    (
        "art-a",
        "Sommet à Vostochny",
        "AFP",
        "2023-09-14",
        [
            "Vladimir Poutine a reçu Kim Jong Un au cosmodrome de Vostochny.",
            "Les deux parties nient l'affirmation des États-Unis sur un accord d'armement.",
            "Selon Jean Dupont, les sanctions ne fonctionnent plus.",
            "Moscou a indiqué qu'elle aiderait Pyongyang à développer ses satellites.",
        ],
    ),
    (
        "art-b",
        "Kim heads home",
        "Reuters",
        "2023-09-15",
        [
            "The sanctions have failed, analysts said.",
            "Kim Jong Un returned home by armoured train.",
        ],
    ),
]


def make_db(
    path: Path, articles: list[tuple[str, str, str, str, list[str]]] | None = None
) -> Store:
    """A file DB with the default label schema and fixed articles (deterministic content)."""
    store = Store.open(path)
    store.set_label_schema(load_schema())
    arts = [
        NewArticle(
            id=aid,
            title=title,
            source=source,
            url=None,
            published=published,
            lang="fr",
            content_hash="h-" + aid,
            sentences=sentences,
            norms=[match_key(s) for s in sentences],
        )
        for aid, title, source, published, sentences in (articles or UI_ARTICLES)
    ]
    with store.tx():
        store.corpus.insert_articles(arts, ImportCounts())
    return store


def run_async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test function with asyncio.run (no pytest-asyncio needed)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), timeout=60))

    return wrapper


async def settle(app: Any, pilot: Any) -> None:
    """Let key handlers run, every queued write commit, and the UI catch up."""
    await pilot.pause()
    await app.flush()
    await pilot.pause()


def label_for_review(store: Store) -> dict[str, str]:
    """The review tests' labels on the UI DB (make_db): alice and bob disagree on A0 and A2, agree on A1, bob flagged B0; A3: one label, one skip."""
    A0, A1, A2, A3, B0 = "art-a:0", "art-a:1", "art-a:2", "art-a:3", "art-b:0"
    pid, rid, kid = (store.actors.resolve(n) for n in ("Poutine", "Moscou", "Kim"))
    assert pid and rid and kid
    s = store.labels.save
    s(Annotation(A0, "alice", "done", ("arms_deal",), (Stance("arms_deal", pid, "support"),)))
    s(Annotation(A0, "bob", "done", ("arms_deal",), (Stance("arms_deal", pid, "oppose"),)))
    s(Annotation(A1, "alice", "done", ("denial",)))
    s(Annotation(A1, "bob", "done", ("denial",)))
    s(Annotation(A2, "alice", "done", ("denial",), (Stance("denial", rid, "support"),)))
    s(Annotation(A2, "bob", "done", ()))
    s(Annotation(A3, "alice", "done", ("sanctions_efficacy",)))
    s(Annotation(A3, "bob", "skipped"))
    s(Annotation(B0, "bob", "flagged", ("sanctions_efficacy",), note="[bold]unsure[/bold]"))
    return {"putin": pid, "moscow": rid, "kim": kid}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of a module graph: its strongly connected components with more than one
    module, or a module importing itself (Tarjan), sorted. Used by test_layout (all of src) and
    test_ui_imports (ui/)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def children_of(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (from /proc): kill -9 tests check helpers exit."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out
