"""Several annotator processes on one DB file: nothing lost, no "database is locked" surfaces.

Each annotator runs the code the screens run (the app's writer thread, reader connections and
team poll), not bare ``Store.save`` calls; ``tests/test_live_team.py`` runs real terminals with
the other commands beside them.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from pathlib import Path

from stanceterm.schema import load_schema
from stanceterm.store import Store
from tests.conftest import add_article

N_SENTENCES = 60
PROCS = 3
KEYS = 25  # label keys per annotator (fewer than the sentences: each finishes a new one)


def _annotator(
    path: str, who: str, keys: int, start: mp.synchronize.Barrier, out: mp.Queue
) -> None:  # type: ignore[type-arg]
    """One annotator: the real annotation app (headless, through pilot), with its writer
    thread, its reader connections and its team poll; presses ``keys`` label keys."""
    import asyncio

    from stanceterm.ui.app import StanceApp

    async def session() -> tuple[int, list[str], int]:
        store = Store.open(path)
        schema = store.label_schema()
        assert schema is not None
        shown: list[int] = []
        app = StanceApp(
            store,
            schema,
            who,
            team_refresh=0.2,
            on_first_screen=lambda: shown.append(1),
            nudge_stances=False,  # "1, enter" finishes the sentence at the first press
        )
        finished = 0
        async with app.run_test(size=(100, 30)) as pilot:
            while not shown:
                await pilot.pause(0.01)
            start.wait(60)  # every screen is open: type together
            for i in range(keys):
                if i % 3 == 2:
                    await pilot.press("1", "enter")  # a claim (draft), then done
                else:
                    await pilot.press("0")  # no claim: done
                finished += 1
            await app.flush()
            errors = list(app.result.errors)
            await pilot.press("q")
        store.close()
        return finished, errors, app.result.failed_writes

    try:
        finished, errors, failed = asyncio.run(session())
        out.put((who, finished, errors + [f"{failed} failed writes"] * bool(failed)))
    except Exception:
        out.put((who, 0, [traceback.format_exc(limit=4)]))


def test_annotation_screens_in_processes_lose_nothing(tmp_path: Path) -> None:
    """Several real annotation apps (writer thread, readers, team poll every 0.2 s) in their own
    processes on one DB: every key is a label in the DB, no write fails, the DB is whole."""
    path = tmp_path / "team.db"
    s = Store.open(path)
    s.set_label_schema(load_schema())
    for a in range(3):
        add_article(s, f"a{a}", [f"Sentence {a}.{i}." for i in range(N_SENTENCES // 3)])
    s.close()

    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(PROCS), ctx.Queue()
    names = [f"annotator{i}" for i in range(PROCS)]
    procs = [ctx.Process(target=_annotator, args=(str(path), n, KEYS, start, out)) for n in names]
    for p in procs:
        p.start()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    errors = [e for _, _, errs in results for e in errs]
    assert errors == [], errors[0]
    store = Store.open(path)
    progress = store.team.progress_by_annotator()
    for who, finished, _ in results:
        assert finished == KEYS
        assert progress[who]["done"] == KEYS, (who, progress[who])
    assert store.integrity_ok()
    store.close()


def _opener(path: str, start: mp.synchronize.Barrier, out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        start.wait(60)  # all processes imported and ready: go together
        s = Store.open(path)
        s.labels.ensure_annotator("x")
        out.put((s.schema_version(), ""))
        s.close()
    except Exception as exc:
        out.put((0, f"{type(exc).__name__}: {exc}"))


def test_many_processes_create_the_same_new_db_at_once(tmp_path: Path) -> None:
    """Annotators starting together on a file that does not exist yet all get a working DB."""
    from stanceterm.store import LATEST_VERSION

    ctx = mp.get_context("spawn")
    for round_ in range(3):
        path = str(tmp_path / f"new{round_}.db")
        start, out = ctx.Barrier(PROCS), ctx.Queue()
        procs = [ctx.Process(target=_opener, args=(path, start, out)) for _ in range(PROCS)]
        for p in procs:
            p.start()
        got = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        assert [e for _, e in got if e] == []
        assert {v for v, _ in got} == {LATEST_VERSION}


def test_the_wal_shrinks_back_after_a_big_import_while_a_screen_stays_open(
    tmp_path: Path,
) -> None:
    """A checkpoint resets the -wal, but without a size limit the file keeps its high-water size
    (a big import: tens of MB) for as long as any connection stays open, i.e. all day under an
    open screen. With one, the next write after the checkpoint truncates it back."""
    import json
    import os
    import random
    import subprocess
    import sys

    from tests.conftest import ROOT

    rng = random.Random(5)
    words = ["le", "ministre", "a", "déclaré", "que", "accord", "Moscou", "sanctions", "jeudi"]
    big = tmp_path / "big.jsonl"
    with big.open("w", encoding="utf-8") as f:
        for a in range(1200):
            text = " ".join(
                " ".join(rng.choice(words) for _ in range(14)).capitalize() + f" ({a}-{i})."
                for i in range(40)
            )
            f.write(json.dumps({"id": f"a{a}", "text": text, "lang": "fr"}) + "\n")
    db = tmp_path / "t.db"
    wal = Path(f"{db}-wal")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANCETERM_")}
    env["PYTHONPATH"] = str(ROOT / "src")

    def cli(*args: str) -> None:
        p = subprocess.run(
            [sys.executable, "-m", "stanceterm", "--db", str(db), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert p.returncode == 0, p.stderr

    screen = Store.open(db)  # a long-lived connection, as an open screen holds
    try:
        screen.counts()
        cli("import", "-j1", str(big))
        high = wal.stat().st_size
        assert high > 10 * 2**20, f"the import should grow the -wal past 10 MiB ({high})"
        labels = tmp_path / "l.jsonl"
        for i in range(3):  # a few later writes, from other processes
            rec = {"sentence_id": f"a{i}:0", "annotator": "bob", "status": "done", "claims": []}
            labels.write_text(json.dumps(rec) + "\n", encoding="utf-8")
            cli("import-labels", str(labels))
        assert screen.counts()["sentences"] == 48_000
        assert wal.stat().st_size <= 8 * 2**20, f"-wal still {wal.stat().st_size} bytes"
    finally:
        screen.close()
