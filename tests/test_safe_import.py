"""import-labels never overwrites newer work, never misattaches, and can be undone as a whole;
long imports stage first and write in short batches (issue 12 §3 and §5)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from stanceterm.export import import_labels
from stanceterm.schema import load_schema
from stanceterm.store import Store
from tests.conftest import assert_clean_error, demo_cli_db, label_record, run


def _write(path: Path, recs: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))
    return path


def _labels(db: str) -> dict[tuple[str, str], tuple[str, str, str]]:
    c = sqlite3.connect(db)
    try:
        return {
            (r[0], r[1]): (r[2], r[3], r[4])
            for r in c.execute(
                "SELECT sentence_id, annotator, status, claims, updated_at FROM annotations"
            )
        }
    finally:
        c.close()


def test_text_mismatch_refuses_the_file(tmp_path: Path) -> None:
    db, rows = demo_cli_db(tmp_path)
    f = _write(
        tmp_path / "l.jsonl",
        [
            label_record(rows[0]),
            label_record(rows[1], text=rows[2]["text"]),
        ],  # line 2: another sentence's text
    )
    p = run("--db", db, "import-labels", str(f), cwd=tmp_path)
    assert_clean_error(p, f"{f}:2: sentence {rows[1]['sentence_id']!r}", "text differs")
    assert _labels(db) == {}
    # the same normalisation as import: NFC, spaces and zero-width characters do not count
    import unicodedata

    text = unicodedata.normalize("NFD", rows[1]["text"]).replace(" ", "\u00a0", 1) + "\u200b"
    ok = _write(tmp_path / "ok.jsonl", [label_record(rows[1], text=text)])
    p = run("--db", db, "import-labels", str(ok), cwd=tmp_path)
    assert p.returncode == 0, p.stderr


def test_older_record_keeps_newer_db_label_tie_keeps_db_force_overrides(tmp_path: Path) -> None:
    db, rows = demo_cli_db(tmp_path)
    sid0, sid1, sid2 = (rows[i]["sentence_id"] for i in range(3))
    first = _write(
        tmp_path / "a.jsonl",
        [label_record(rows[0]), label_record(rows[1]), label_record(rows[2])],
    )
    assert run("--db", db, "import-labels", str(first), cwd=tmp_path).returncode == 0
    older = _write(
        tmp_path / "b.jsonl",
        [
            # older than the DB's label: kept
            label_record(rows[0], claims=[], updated_at="2026-01-01T12:00:00.000000Z"),
            # same time, other labels: a tie keeps the DB's label
            label_record(rows[1], claims=[], updated_at="2026-01-02T00:00:00.000000Z"),
            # newer (another ISO spelling, same instant rules): replaces
            label_record(rows[2], claims=[], updated_at="2026-01-03T00:00:00+00:00"),
        ],
    )
    p = run("--db", db, "import-labels", str(older), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "2 kept as newer" in p.stderr, p.stderr
    labels = _labels(db)
    assert labels[(sid0, "alice")][1] == '["arms_deal"]'
    assert labels[(sid1, "alice")][1] == '["arms_deal"]'
    assert labels[(sid2, "alice")] == ("done", "[]", "2026-01-03T00:00:00.000000Z")
    p = run("--db", db, "import-labels", "--force", str(older), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    labels = _labels(db)
    assert labels[(sid0, "alice")][1] == "[]" and labels[(sid1, "alice")][1] == "[]"


def test_records_without_timestamps_count_as_now(tmp_path: Path) -> None:
    db, rows = demo_cli_db(tmp_path)
    sid = rows[0]["sentence_id"]
    # dated 100 s ahead: within the clock-skew tolerance (120 s), so not clamped to now
    ahead = (datetime.now(UTC) + timedelta(seconds=100)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    first = _write(tmp_path / "a.jsonl", [label_record(rows[0], updated_at=ahead)])
    assert run("--db", db, "import-labels", str(first), cwd=tmp_path).returncode == 0
    # a hand-written file: no timestamps -> "now", older than the DB's label: kept
    hand = _write(
        tmp_path / "h.jsonl", [label_record(rows[0], claims=[], created_at=..., updated_at=...)]
    )
    p = run("--db", db, "import-labels", str(hand), cwd=tmp_path)
    assert "1 kept as newer" in p.stderr, p.stderr
    assert _labels(db)[(sid, "alice")][1] == '["arms_deal"]'
    hand2 = _write(
        tmp_path / "h2.jsonl", [label_record(rows[1], claims=[], created_at=..., updated_at=...)]
    )
    p = run("--db", db, "import-labels", str(hand2), cwd=tmp_path)
    assert p.returncode == 0 and "Imported 1 label record " in p.stderr, p.stderr


@pytest.mark.parametrize("name", ["   ", "a\nb", "a\x1bb"])
def test_annotator_names_one_rule(tmp_path: Path, name: str) -> None:
    db, rows = demo_cli_db(tmp_path)
    f = _write(tmp_path / "l.jsonl", [label_record(rows[0]), label_record(rows[1], annotator=name)])
    p = run("--db", db, "import-labels", str(f), cwd=tmp_path)
    assert_clean_error(p, f"{f}:2:", "annotator")
    assert _labels(db) == {}
    # the same rule as --annotator (AppContext.annotator uses the same core function)
    from stanceterm.schema import check_annotator_name

    with pytest.raises(ValueError):
        check_annotator_name(name)


def test_undo_import_reverts_the_whole_run(tmp_path: Path) -> None:
    db, rows = demo_cli_db(tmp_path)
    sid0, sid1 = rows[0]["sentence_id"], rows[1]["sentence_id"]
    base = _write(tmp_path / "a.jsonl", [label_record(rows[0], claims=[])])
    assert run("--db", db, "import-labels", str(base), cwd=tmp_path).returncode == 0
    before = _labels(db)
    f = _write(
        tmp_path / "b.jsonl",
        [
            label_record(rows[0], updated_at="2026-02-01T00:00:00.000000Z"),
            label_record(rows[1], annotator="bob"),
        ],
    )
    p = run("--db", db, "import-labels", str(f), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert _labels(db)[(sid0, "alice")][1] == '["arms_deal"]' and (sid1, "bob") in _labels(db)
    hist = run("--db", db, "history", "--imports", cwd=tmp_path)
    assert hist.returncode == 0, hist.stderr
    lines = [ln for ln in hist.stdout.splitlines() if "b.jsonl" in ln]
    assert len(lines) == 1 and "done" in lines[0], hist.stdout
    run_id = lines[0].split()[0]
    p = run("--db", db, "undo-import", run_id, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "2 labels restored" in p.stderr, p.stderr
    # the labels are back (re-stamped: a revert is a change, as `u` in the screen)
    assert {k: v[:2] for k, v in _labels(db).items()} == {k: v[:2] for k, v in before.items()}
    hist = run("--db", db, "history", "--imports", cwd=tmp_path)
    assert any("undone" in ln for ln in hist.stdout.splitlines() if run_id in ln), hist.stdout
    again = run("--db", db, "undo-import", run_id, cwd=tmp_path)
    assert_clean_error(again, "already undone")
    # no RUN: the latest run that is not undone (a.jsonl)
    p = run("--db", db, "undo-import", cwd=tmp_path)
    assert p.returncode == 0 and _labels(db) == {}, p.stderr


def test_undo_import_keeps_labels_changed_since(tmp_path: Path) -> None:
    db, rows = demo_cli_db(tmp_path)
    sid0 = rows[0]["sentence_id"]
    f = _write(tmp_path / "b.jsonl", [label_record(rows[0]), label_record(rows[1])])
    assert run("--db", db, "import-labels", str(f), cwd=tmp_path).returncode == 0
    s = Store.open(db)
    from stanceterm.store import Annotation

    s.labels.save(Annotation(sid0, "alice", "done", ("sanctions",)))
    s.close()
    p = run("--db", db, "undo-import", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "1 label restored" in p.stderr and "1 changed since" in p.stderr, p.stderr
    assert _labels(db)[(sid0, "alice")][1] == '["sanctions"]'


# --------------------------------------------------------------------------- §3 short transactions


class _TxCounter:
    def __init__(self, store: Store) -> None:
        self.n = 0
        self.max_rows = 0
        self._tx = store.tx
        store.tx = self  # type: ignore[method-assign]
        self._store = store

    def __call__(self) -> Any:
        from contextlib import contextmanager

        @contextmanager
        def wrapped() -> Any:
            c = self._store.conn
            before = c.total_changes
            with self._tx() as conn:
                yield conn
            self.n += 1
            self.max_rows = max(self.max_rows, c.total_changes - before)

        return wrapped()


def _file_db(tmp_path: Path) -> tuple[Store, list[tuple[str, str, str]]]:
    from tests.conftest import demo_db

    s = demo_db(tmp_path / "f.db")
    rows = [(r[1], r[2], r[4]) for r in s.corpus.iter_sentence_rows()]
    return s, rows


def test_validation_runs_before_any_write_transaction(tmp_path: Path) -> None:
    s, rows = _file_db(tmp_path)
    recs = [
        label_record({"sentence_id": sid, "article_id": aid, "text": text}, annotator=a)
        for sid, aid, text in rows
        for a in ("alice", "bob")
    ]
    recs[-1]["claims"] = ["no_such_claim"]
    f = _write(tmp_path / "l.jsonl", recs)
    counter = _TxCounter(s)
    from stanceterm.export import LabelsError

    with pytest.raises(LabelsError, match=f"{len(recs)}: claims"):
        import_labels(s, f, load_schema())
    assert counter.n == 0  # refused while staging: no write lock was ever taken


def test_import_writes_in_short_batches(tmp_path: Path) -> None:
    s, rows = _file_db(tmp_path)
    recs = [
        label_record({"sentence_id": sid, "article_id": aid, "text": text}, annotator=a)
        for sid, aid, text in rows
        for a in ("alice", "bob", "carol")
    ]
    f = _write(tmp_path / "l.jsonl", recs)
    counter = _TxCounter(s)
    res = import_labels(s, f, load_schema(), batch=10)
    assert res.written == len(recs)
    assert counter.n >= len(recs) // 10  # many short transactions, not one
    # a batch writes its labels, their events and the annotators' counters: a few rows each
    assert counter.max_rows <= 10 * 4 + 10


def test_undo_import_without_a_run_skips_runs_that_changed_nothing(tmp_path: Path) -> None:
    """Importing the same file twice records a second run that wrote nothing; a plain
    `undo-import` undid that empty run ("0 labels restored") instead of the one that wrote
    the labels (a new user's report)."""
    db, rows = demo_cli_db(tmp_path)
    f = _write(tmp_path / "a.jsonl", [label_record(rows[0]), label_record(rows[1])])
    assert run("--db", db, "import-labels", str(f), cwd=tmp_path).returncode == 0
    p = run("--db", db, "import-labels", str(f), cwd=tmp_path)
    assert p.returncode == 0 and "2 unchanged" in p.stderr, p.stderr
    p = run("--db", db, "undo-import", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "2 labels restored" in p.stderr, p.stderr
    assert _labels(db) == {}
