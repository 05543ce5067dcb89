"""Merging a DB made by the previous schema version (no gold/actor history yet): it is opened
read-only, never migrated, and its rows still merge."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from stanceterm.store import Annotation, Gold
from stanceterm.team import merge_databases
from tests.conftest import S, demo_db


def test_merge_reads_a_v5_db(tmp_path: Path) -> None:
    old = demo_db(tmp_path / "old.db")
    old.labels.save(Annotation(S(0), "alice", "done", ("denial",)))
    old.gold.set(Gold(S(0), "gold", ("denial",), (), "lead", "alice"))
    old.close()
    con = sqlite3.connect(tmp_path / "old.db")  # as the previous version wrote it
    con.executescript(
        "DROP TABLE gold_events; DROP TABLE actor_events; DROP INDEX annotation_events_key; "
        "ALTER TABLE actor_aliases DROP COLUMN trusted; ALTER TABLE annotations DROP COLUMN "
        "suggested; PRAGMA user_version = 5;"
    )
    con.close()
    here = demo_db(tmp_path / "here.db")
    ((_, counts),) = merge_databases(here, [tmp_path / "old.db"])
    assert counts.labels_taken == 1 and counts.gold_taken == 1
    ann = here.labels.get(S(0), "alice")
    assert ann is not None and ann.claims == ("denial",) and ann.suggested is None
    got = here.gold.get(S(0))
    assert got is not None and got.claims == ("denial",)
    here.close()
    con = sqlite3.connect(tmp_path / "old.db")
    assert con.execute("PRAGMA user_version").fetchone()[0] == 5  # left as it was
    con.close()
