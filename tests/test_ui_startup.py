"""Cold start of the annotation screen (issue 17): what runs before the first paint.

- The real CLI (`python -m stanceterm annotate`, in a pseudo-terminal) must not import numpy,
  rapidfuzz, pysbd, scikit-learn, scipy or pydantic before its first screen is painted, even
  with a suggestion model beside the DB (the model's numpy is loaded after the first paint).
- What runs "after the first paint" waits until the whole first screen is on the terminal.
- The SQL work before the first paint must not grow with the DB (sentences, actors): counted in
  SQLite virtual machine steps on the screen's connection, for the same situation at two sizes.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stanceterm import suggest, suggest_trainer
from stanceterm.schema import load_schema
from stanceterm.segment import match_key
from stanceterm.store import Annotation, ImportCounts, NewArticle, Store
from stanceterm.store.actors import add_actor_row
from stanceterm.ui.app import AnnotateApp
from tests.conftest import ROOT, make_db, run_async, run_in_pty, settle, suggest_corpus

HEAVY = ("numpy", "rapidfuzz", "pysbd", "sklearn", "scipy", "pydantic")

# Runs the real CLI entry point; logs every import of a heavy package (from any thread) and the
# first paint, in the order they happen, then leaves at once at the first paint.
_WRAPPER = """
import os, sys, threading
LOG = open(sys.argv[1], "a", buffering=1)
HEAVY = {heavy!r}
lock = threading.Lock()
def log(line):
    with lock:
        LOG.write(line + "\\n")
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name in HEAVY:
            log("import " + name + " in " + threading.current_thread().name)
        return None
sys.meta_path.insert(0, Spy())
import gc
import stanceterm.cli
from stanceterm.ui.screens.annotate import AnnotateScreen
def painted(self):
    log("PAINT")
    LOG.close()
    os._exit(0)
AnnotateScreen._first_screen = painted
gc.callbacks.append(lambda phase, info: phase == "start" and log("gc collection"))
stanceterm.cli.main(sys.argv[2:])
"""


def test_no_heavy_module_is_imported_before_the_first_paint(tmp_path: Path) -> None:
    db_path = tmp_path / "t.db"
    make_db(db_path).close()
    schema = load_schema()
    # a team DB has a suggestion model beside it: loading it pulls numpy in
    model = suggest_trainer.train(suggest_corpus(), schema.claim_ids, schema.fingerprint, seed=0)
    suggest_trainer.save_model(model, suggest.model_path(db_path))
    log = tmp_path / "imports.log"
    wrapper = _WRAPPER.format(heavy=HEAVY)
    argv = ["-c", wrapper, str(log), "--db", str(db_path), "annotate", "--annotator", "alice"]
    out = run_in_pty(argv, log)
    lines = log.read_text().splitlines() if log.exists() else []
    assert "PAINT" in lines, f"no first paint; terminal said: {out[-2000:]!r}"
    before = lines[: lines.index("PAINT")]
    assert before == [], f"imported before the first paint: {before}"


# The real CLI again; the trainer's start is the screen's "after the first paint" hook. It logs,
# then blocks the UI thread for a while (so nothing painted after it can reach the terminal), and
# leaves.
_HOOK_WRAPPER = """
import os, sys, time
from stanceterm import suggest_trainer
def hook(*args, **kwargs):
    import gc
    with open(sys.argv[1], "a") as fh:
        fh.write("HOOK\\n" + ("GC on\\n" if gc.isenabled() else "GC off\\n"))
    time.sleep(1.0)
    os._exit(0)
suggest_trainer.start_trainer = hook
from textual.drivers.linux_driver import LinuxDriver
write = LinuxDriver.write
import re
ANSI = re.compile(r"\\x1b\\[[0-?]*[ -/]*[@-~]|\\x1b[()][0-9A-B]|\\x1b[=>]|\\x1b\\][^\\x07]*\\x07")
def spy(self, data):
    plain = ANSI.sub("", data)
    if "cosmodrome" in plain:  # the first sentence: one line per write that shows it
        with open(sys.argv[1], "a") as fh:
            fh.write("SENTENCE with top bar\\n" if "stanceterm · ann" in plain else "SENTENCE\\n")
    return write(self, data)
LinuxDriver.write = spy
import stanceterm.cli
stanceterm.cli.main(sys.argv[2:])
"""


def test_other_commands_run_with_the_garbage_collector_on(tmp_path: Path) -> None:
    """The CLI pauses Python's cyclic garbage collector while it starts (start-up makes many
    objects and no garbage worth a collection); every command but the annotation screen, which
    ends the pause at its first frame, runs with it on again, and so does the caller after
    ``main``."""
    db_path = tmp_path / "t.db"
    make_db(db_path).close()
    code = (
        "import gc\n"
        "from stanceterm.cli import cli, main\n"
        "seen = []\n"
        "@cli.command('gc-probe')\n"
        "def probe():\n"
        "    seen.append(gc.isenabled())\n"
        "try:\n"
        f"    main(['--db', {str(db_path)!r}, 'gc-probe'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert seen == [True] and gc.isenabled(), (seen, gc.isenabled())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr


def test_the_whole_first_screen_is_on_the_terminal_before_the_background_work(
    tmp_path: Path,
) -> None:
    """What runs "after the first paint" (the trainer's start, the counts, the suggestions
    worker that loads numpy) waits until the first frame is really on the terminal: the top bar
    and the sentence are there when the hook runs, and came in one update. (Textual's start-up
    batch drops the first full frame; the work used to start before any frame and delay it,
    and the top bar came in a later update than the sentence.)"""
    db_path = tmp_path / "t.db"
    make_db(db_path).close()
    log = tmp_path / "hook.log"
    argv = ["-c", _HOOK_WRAPPER, str(log), "--db", str(db_path), "annotate", "--annotator", "ann"]
    out = run_in_pty(argv, log, until="HOOK", linger=0.5)
    lines = log.read_text().splitlines() if log.exists() else []
    assert "HOOK" in lines, out[-2000:]
    assert "GC on" in lines, lines  # the start-up pause of the garbage collector is over
    plain = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]|\x1b\][^\x07]*\x07", "", out)
    assert "stanceterm · ann" in plain, plain[-2000:]
    assert "cosmodrome" in plain, plain[-2000:]  # the first sentence
    # the first update that shows the sentence is the whole screen, top bar included
    assert lines[0] == "SENTENCE with top bar", lines


# --------------------------------------------------------------------------- SQL before paint


def _db(path: Path, n: int, done: int) -> Store:
    """n sentences in articles of 50; alice has done the first ``done``; no resume hint yet
    (a first session, or labels that came from import-labels or a merge)."""
    store = Store.open(path)
    store.set_label_schema(load_schema())
    texts = [f"Phrase {i} sur Moscou et Pyongyang, selon l'agence {i % 7}." for i in range(n)]
    arts = [
        NewArticle(
            id=f"a{a}",
            title=None,
            source="t",
            url=None,
            published=None,
            lang="fr",
            content_hash=f"h{a}",
            sentences=texts[a : a + 50],
            norms=[match_key(t) for t in texts[a : a + 50]],
        )
        for a in range(0, n, 50)
    ]
    with store.tx():
        store.corpus.insert_articles(arts, ImportCounts())
    stamp = "2026-01-01T00:00:00.000000Z"
    store.labels.bulk_load(
        Annotation(f"a{k - k % 50}:{k % 50}", "alice", "done", (), (), None, None, stamp, stamp)
        for k in range(done)
    )
    return store


async def _steps_before_paint(store: Store) -> tuple[int, Any]:
    """SQLite VM steps (in thousands) run on the screen's connection before the first paint,
    and the app (still running its background checks) for more assertions."""
    steps = [0]
    painted = [False]

    def count() -> int:
        if not painted[0]:
            steps[0] += 1
        return 0

    store.conn.set_progress_handler(count, 1000)
    schema = store.label_schema()
    assert schema is not None

    def first() -> None:
        painted[0] = True

    app = AnnotateApp(store, schema, "alice", on_first_screen=first, nudge_stances=False)
    return steps, app


def _current(app: AnnotateApp) -> str | None:
    """The sentence of the annotate screen, under any prompt open over it."""
    for screen in reversed(app.screen_stack):
        sentence = getattr(screen, "sentence", None)
        if sentence is not None:
            return str(sentence.id)
    return None


@run_async
async def test_sql_before_the_first_paint_does_not_grow_with_the_db(tmp_path: Path) -> None:
    got: dict[tuple[str, int], int] = {}
    for case in ("all done", "far undone"):
        for n in (500, 5000):
            store = _db(tmp_path / f"{case[0]}{n}.db", n, n if case == "all done" else n - 1)
            steps, app = await _steps_before_paint(store)
            async with app.run_test(size=(100, 30)) as pilot:
                await settle(app, pilot)
                got[(case, n)] = steps[0]
                # behaviour kept: after the background check, the screen is on the first
                # sentence still to do (or says everything is done)
                want = "a0:0" if case == "all done" else f"a{n - 50}:49"
                for _ in range(500):
                    if _current(app) == want and not app.screen.checking_resume:  # type: ignore[attr-defined]
                        break
                    await pilot.pause(0.01)
                assert _current(app) == want, (case, n, _current(app))
                if case == "all done":
                    messages = [str(x.message) for x in app._notifications]
                    assert any("Every sentence is done" in m for m in messages), messages
                await app.flush()
            store.conn.set_progress_handler(None, 0)
            store.close()
    for case in ("all done", "far undone"):
        small, big = got[(case, 500)], got[(case, 5000)]
        assert big <= 2 * small + 20, f"{case}: {small}k VM steps at 500, {big}k at 5000"


@run_async
async def test_sql_before_the_first_paint_does_not_grow_with_the_actors(tmp_path: Path) -> None:
    """The screen names actors as it shows them (one lookup each), instead of reading every
    actor's name before its first paint: a team's gazetteer grows to tens of thousands."""
    got: dict[int, int] = {}
    for n in (200, 20000):
        store = _db(tmp_path / f"actors{n}.db", 500, 0)
        with store.tx() as c:
            for i in range(n):
                add_actor_row(c, f"Acteur numéro {i}", (), created_by=None)
        steps, app = await _steps_before_paint(store)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            got[n] = steps[0]
            # behaviour kept: a stance shows its actor's display name
            assert app.writer.display_actor("acteur-numero-7") == "Acteur numéro 7"
            assert app.writer.display_actor("no-such-actor") == "no-such-actor"
            await app.flush()
        store.conn.set_progress_handler(None, 0)
        store.close()
    assert got[20000] <= 2 * got[200] + 20, (
        f"{got[200]}k VM steps at 200 actors, {got[20000]}k at 20,000"
    )


def test_the_progress_handler_counts_a_scan() -> None:
    """The measure itself: a full scan of 5,000 rows shows up in thousands of VM steps."""
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t(x)")
    con.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(5000)])
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    con.set_progress_handler(count, 1000)
    con.execute("SELECT count(*) FROM t WHERE x % 3 = 1").fetchone()
    assert steps[0] >= 20


def test_the_search_does_not_load_pysbd(tmp_path: Path) -> None:
    """The `/` search normalises its query (textkey.match_key) without loading pysbd: the first
    search of a session would otherwise wait for that import."""
    db_path = tmp_path / "t.db"
    make_db(db_path).close()
    code = (
        "import sys\n"
        "from stanceterm.store import Store\n"
        f"store = Store.open({str(db_path)!r})\n"
        "hit = store.corpus.search('ÉTATS-UNIS', -1)\n"
        "assert hit is not None and 'États-Unis' in hit.text, hit\n"
        "assert store.corpus.search('zz', -1) is None\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pysbd', 'numpy'))\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr


@run_async
async def test_searches_share_one_reader_connection(tmp_path: Path) -> None:
    """The `/` search keeps one reader for the session (a warm page cache), not a new
    connection per search; it is closed with the screen."""
    store = make_db(tmp_path / "t.db")
    opened: list[Store] = []
    real_open = store.open_reader

    def counting() -> Store | None:
        reader = real_open()
        assert reader is not None
        opened.append(reader)
        return reader

    store.open_reader = counting  # type: ignore[method-assign]
    schema = store.label_schema()
    assert schema is not None
    app = AnnotateApp(store, schema, "alice", nudge_stances=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        before = len(opened)  # the counts and the resume check have their own readers
        for query, want in (("armoured", "art-b:1"), ("états-unis", "art-a:1")):
            await pilot.press("slash")
            await pilot.pause()
            await pilot.press(*query, "enter")
            for _ in range(300):
                if _current(app) == want:
                    break
                await pilot.pause(0.01)
            assert _current(app) == want
            await pilot.press("escape")  # the prompt stays open until Esc
        searches = opened[before:]
        assert len(searches) == 1, f"{len(searches)} connections for 2 searches"
        await app.flush()
    await asyncio.sleep(0.1)
    with pytest.raises(sqlite3.ProgrammingError):  # closed with the screen
        searches[0].conn.execute("SELECT 1")
    store.close()
