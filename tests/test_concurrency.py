"""Several annotator processes on one DB file: nothing lost, no "database is locked" surfaces."""

from __future__ import annotations

import multiprocessing as mp
import traceback
from pathlib import Path

from stanceterm.schema import load_schema
from stanceterm.store import Annotation, Store
from tests.conftest import add_article

N_SENTENCES = 60
PROCS = 4
SAVES = 300
CLAIMS = ("arms_deal", "denial", "sanctions_efficacy")


def _writer(path: str, who: str, saves: int, start: mp.synchronize.Barrier, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """One annotator: open (racing the others), then save, read back and undo sometimes."""
    errors: list[str] = []
    last: dict[str, tuple[str, ...]] = {}
    try:
        start.wait(60)  # all processes imported and ready: go together
        store = Store.open(path)
        for i in range(saves):
            sid = f"a{i % 3}:{(i * 7 + len(who)) % (N_SENTENCES // 3)}"  # overlapping sentences
            claims = (CLAIMS[i % 3],) if i % 4 else ()
            try:
                saved = store.labels.save(Annotation(sid, who, "done", claims))
                last[sid] = saved.claims
                if i % 50 == 49:  # a read between writes, like the TUI's progress bar
                    store.team.progress_by_annotator()
            except Exception:
                errors.append(traceback.format_exc(limit=2))
        store.close()
    except Exception:
        errors.append(traceback.format_exc(limit=3))
    out.put((who, errors, last))


def test_processes_lose_nothing_and_never_see_locks(tmp_path: Path) -> None:
    path = tmp_path / "team.db"
    s = Store.open(path)
    s.set_label_schema(load_schema())
    for a in range(3):
        add_article(s, f"a{a}", [f"Sentence {a}.{i}." for i in range(N_SENTENCES // 3)])
    s.close()

    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(PROCS), ctx.Queue()
    names = [f"annotator{i}" for i in range(PROCS)]
    procs = [ctx.Process(target=_writer, args=(str(path), n, SAVES, start, out)) for n in names]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    errors = [e for _, errs, _ in results for e in errs]
    assert errors == [], errors[0]
    store = Store.open(path)
    with store.read() as c:
        events = c.execute(
            "SELECT annotator, count(*) FROM annotation_events GROUP BY 1"
        ).fetchall()
    assert dict(events) == dict.fromkeys(names, SAVES)  # every save is in the history
    for who, _, last in results:
        for sid, claims in last.items():  # and the latest save of each sentence is its state
            got = store.labels.get(sid, who)
            assert got is not None and got.claims == claims
        assert store.team.progress_by_annotator()[who]["done"] == len(last)
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
