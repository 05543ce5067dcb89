"""TUI latency: time to first screen, and keypress → committed row, at 1k vs 1M sentences.

Targets (issue 4): first screen < 1 s; p95 keypress → committed row < 20 ms; the 1M/1k ratio
near 1 (the UI's queries must not grow with the DB). Baseline in the same run: the smallest size.
The verdict is the ratio (< 2), as ROUND-NOTES has it for run-all; the absolute figures are
printed beside it with their targets.

Each DB holds articles of 50 synthetic sentences; 20 % of the sentences are already done by the
benchmark annotator (so resuming has to skip them) and another annotator has labels too.
Measured headless (App.run_test, 80×24):

* first screen: from opening the DB until the resumed sentence is rendered (best of 5 opens,
  the sizes taking turns; the first open of each fresh DB, which also warms the process up, is
  shown apart: it has no resume hint yet, so it walks over everything already done once). The progress counts and the team's progress come after the
  first paint, from a background thread: "counts ready" is when the progress line is complete;
* keypress → commit: N times `1` (toggle a claim, saved as draft) then `enter` (done, advance);
  from the key's action handler to the store's commit in the writer thread (the app's
  ``on_commit`` hook), p50/p95 over all writes. Also the UI side: how long the key's handler
  holds the UI thread (reads for the next sentence included).

    python benchmarks/tui_latency.py --sizes 1000,1000000 --presses 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable

from _common import WORK, result

PER_ARTICLE = 50
DONE_FRACTION = 0.2
WORDS = [
    "Moscou",
    "Pyongyang",
    "accord",
    "armes",
    "sanctions",
    "satellites",
    "négociations",
    "Kremlin",
    "Washington",
    "livraison",
    "obus",
    "missiles",
    "sommet",
    "cosmodrome",
    "train",
    "blindé",
    "experts",
    "analystes",
    "guerre",
    "Ukraine",
]


def build(path: str, n: int) -> None:
    """A DB of n sentences (one transaction), 20 % done by 'bench', some labels by 'other'."""
    from stanceterm.schema import load_schema
    from stanceterm.store import Annotation, ImportCounts, NewArticle, Store

    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    store = Store.open(path)
    store.set_label_schema(load_schema())
    n_articles = max(1, n // PER_ARTICLE)

    def article(a: int) -> NewArticle:
        sents = [
            f"Selon Jean Dupont {a}, {WORDS[(a + i) % len(WORDS)]} et {WORDS[(a * 7 + i) % len(WORDS)]}"
            f" : phrase {i} de l'article {a}."
            for i in range(PER_ARTICLE)
        ]
        return NewArticle(
            id=f"art{a}",
            title=f"Article {a}",
            source="wire",
            url=None,
            published="2023-09-14",
            lang="fr",
            content_hash=f"h{a}",
            sentences=sents,
            norms=[s.casefold() for s in sents],
        )

    with store.tx():
        store.corpus.insert_articles((article(a) for a in range(n_articles)), ImportCounts())
    n_done = int(n_articles * PER_ARTICLE * DONE_FRACTION)
    stamp = "2023-09-14T00:00:00.000000Z"

    def done_rows():  # type: ignore[no-untyped-def]
        for k in range(n_done):
            a, i = divmod(k, PER_ARTICLE)
            claims = ("arms_deal",) if k % 3 == 0 else ()
            yield Annotation(f"art{a}:{i}", "bench", "done", claims, (), None, None, stamp, stamp)
            if k % 2 == 0:
                yield Annotation(
                    f"art{a}:{i}", "other", "done", ("denial",), (), None, None, stamp, stamp
                )

    store.labels.bulk_load(done_rows())
    store.close()


def db_for(n: int) -> str:
    WORK.mkdir(parents=True, exist_ok=True)
    path = str(WORK / f"tui-{n}.db")
    t0 = time.perf_counter()
    build(path, n)  # fresh each run: the keypresses below change the DB
    print(f"built {n:,} sentences in {time.perf_counter() - t0:.1f}s", flush=True)
    return path


async def first_screen(path: str) -> tuple[float, float]:
    """(seconds to the first screen, seconds until the background counts are shown)."""
    from stanceterm.store import Store
    from stanceterm.ui.app import StanceApp

    shown: list[float] = []
    t0 = time.perf_counter()
    store = Store.open(path)
    schema = store.label_schema()
    assert schema is not None
    app = StanceApp(
        store, schema, "bench", on_first_screen=lambda: shown.append(time.perf_counter())
    )
    async with app.run_test(size=(80, 24)) as pilot:
        while not shown:
            await pilot.pause(0.001)
        screen = app.screen
        sentence = screen.sentence  # type: ignore[attr-defined]
        assert sentence is not None and sentence.idx >= 0
        while screen.counting or screen.progress.total is None:  # type: ignore[attr-defined]
            await pilot.pause(0.001)
        counted = time.perf_counter()
        expected = store.team.progress_counts("bench")
        p = screen.progress  # type: ignore[attr-defined]
        assert (p.total, p.done) == expected[:2], ((p.total, p.done), expected)
        # let the other background reads end too, so they do not slow the next measurement
        while screen.checking_resume or screen._team_polling:  # type: ignore[attr-defined]
            await pilot.pause(0.001)
        await app.flush()
    store.close()
    return shown[0] - t0, counted - t0


async def keypresses(path: str, presses: int) -> tuple[list[float], list[float]]:
    from stanceterm.store import Store
    from stanceterm.ui.app import StanceApp
    from stanceterm.ui.writer import Job

    commits: list[float] = []

    def on_commit(seconds: float, job: Job) -> None:
        if job.label == "save":
            commits.append(seconds)

    store = Store.open(path)
    schema = store.label_schema()
    assert schema is not None
    app = StanceApp(store, schema, "bench", on_commit=on_commit, nudge_stances=False)
    ui: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.flush()
        screen = app.screen
        while screen.counting:  # type: ignore[attr-defined]  # steady state: counts shown
            await pilot.pause(0.01)
        for name in ("action_toggle_claim", "action_accept"):  # time the UI side of each key
            setattr(screen, name, timed(getattr(screen, name), ui))
        for k in range(presses):
            await pilot.press("1" if k % 2 == 0 else "enter")
        await app.flush()
        await pilot.press("q")
    store.close()
    assert len(commits) == presses, (len(commits), presses)
    return commits, ui


def timed(fn: Callable[..., None], into: list[float]) -> Callable[..., None]:
    def wrapper(*args: object) -> None:
        t0 = time.perf_counter()
        fn(*args)
        into.append(time.perf_counter() - t0)

    return wrapper


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100)[94] if len(xs) >= 20 else max(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000,1000000", help="sentence counts, smallest = baseline")
    ap.add_argument("--presses", type=int, default=200)
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    first: dict[int, float] = {}
    p95s: dict[int, float] = {}
    paths = {n: db_for(n) for n in sizes}
    # The first open of each fresh DB (no resume hint yet); these also warm the process up
    # (imports, CSS), whose one-time costs are not the DB's.
    cold = {n: asyncio.run(first_screen(paths[n])) for n in sizes}
    # Then the sizes in turn, so that a drift of the machine's load hits them alike.
    runs: dict[int, list[tuple[float, float]]] = {n: [] for n in sizes}
    for _ in range(5):
        for n in sizes:
            runs[n].append(asyncio.run(first_screen(paths[n])))
    for n in sizes:
        first[n] = min(r[0] for r in runs[n])
        counts = min(r[1] for r in runs[n])
        commits, ui = asyncio.run(keypresses(paths[n], args.presses))
        p95s[n] = p95(commits)
        print(
            f"{n:>9,} sentences: first open of the fresh DB {cold[n][0] * 1000:7.1f} ms | "
            f"first screen {first[n] * 1000:7.1f} ms | counts ready {counts * 1000:7.1f} ms",
            flush=True,
        )
        print(
            f"{n:>9,} sentences: press→commit "
            f"p50 {statistics.median(commits) * 1000:5.2f} ms p95 {p95s[n] * 1000:5.2f} ms | "
            f"key handler (UI thread) p95 {p95(ui) * 1000:5.2f} ms",
            flush=True,
        )
    base, big = sizes[0], sizes[-1]
    fr = first[big] / first[base]
    kr = p95s[big] / p95s[base]
    result(
        "tui_first_screen",
        fr < 2.0,
        sentences=big,
        ms=f"{first[big] * 1000:.0f}",
        baseline_sentences=base,
        baseline_ms=f"{first[base] * 1000:.0f}",
        ratio=f"{fr:.2f}",
        target="ratio<2(<1000ms_reported)",
    )
    result(
        "tui_keypress_p95",
        kr < 2.0,
        sentences=big,
        ms=f"{p95s[big] * 1000:.2f}",
        baseline_sentences=base,
        baseline_ms=f"{p95s[base] * 1000:.2f}",
        ratio=f"{kr:.2f}",
        presses=args.presses,
        target="ratio<2(<20ms_reported)",
    )


if __name__ == "__main__":
    main()
