from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from stanceterm.store import LATEST_VERSION, MIGRATIONS, Annotation, Stance, Store, StoreError
from tests.conftest import add_article


def test_pragmas(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "x.db")
    c = s.conn
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert c.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert s.schema_version() == LATEST_VERSION
    s.close()


@pytest.mark.parametrize(
    "content",
    [b"\x00\x01random bytes\xff" * 50, b"just a text file\nwith lines\n"],
    ids=["random", "text"],
)
def test_refuses_non_sqlite_and_leaves_it_untouched(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "notes.db"
    p.write_bytes(content)
    with pytest.raises(StoreError, match="not a stanceterm database"):
        Store.open(p)
    assert p.read_bytes() == content
    assert sorted(x.name for x in tmp_path.iterdir()) == ["notes.db"]


def test_refuses_other_programs_sqlite(tmp_path: Path) -> None:
    p = tmp_path / "other.db"
    conn = sqlite3.connect(p)
    conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    conn.commit()
    conn.close()
    before = p.read_bytes()
    with pytest.raises(StoreError, match="another program"):
        Store.open(p)
    assert p.read_bytes() == before


def test_refuses_newer_schema(tmp_path: Path) -> None:
    p = tmp_path / "new.db"
    Store.open(p).close()
    conn = sqlite3.connect(p)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer stanceterm"):
        Store.open(p)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "nope" / "x.db")


def test_upgrade_from_every_older_version(tmp_path: Path) -> None:
    """A DB made by an older stanceterm (any earlier migration) upgrades in place, data kept."""
    from stanceterm.store import migrations as store_mod

    for stop in range(len(MIGRATIONS)):
        p = tmp_path / f"v{stop}.db"
        old = MIGRATIONS[: stop + 1]
        store_mod.MIGRATIONS[:] = old
        try:
            saved_latest = store_mod.LATEST_VERSION
            store_mod.LATEST_VERSION = old[-1][0]
            s = Store.open(p)
            add_article(s, "a1", ["One.", "Two."])
            s.close()
        finally:
            store_mod.MIGRATIONS[:] = MIGRATIONS_FULL
            store_mod.LATEST_VERSION = saved_latest
        if old[-1][0] < LATEST_VERSION:
            # never migrated implicitly: the user is sent to `stanceterm upgrade`
            with pytest.raises(StoreError, match=r"`stanceterm --db .* upgrade`"):
                Store.open(p)
        from stanceterm.store.maintenance import upgrade

        upgrade(p)
        s = Store.open(p)
        assert s.schema_version() == LATEST_VERSION
        assert s.counts()["sentences"] == 2
        assert s.integrity_ok()
        s.close()


MIGRATIONS_FULL = list(MIGRATIONS)


def test_save_history_and_undo(filled: Store) -> None:
    s = filled
    first = s.labels.save(Annotation("a1:0", "alice", "draft", ("arms_deal",)))
    assert first.created_at and first.updated_at
    s.labels.save(
        Annotation(
            "a1:0",
            "alice",
            "done",
            ("arms_deal",),
            (Stance("arms_deal", "vladimir-poutine", "support"),),
        )
    )
    s.labels.save(Annotation("a1:1", "alice", "done", ()))
    assert s.labels.get("a1:1", "alice") is not None
    assert s.labels.undo("alice") == "a1:1"
    assert s.labels.get("a1:1", "alice") is None
    assert s.labels.undo("alice") == "a1:0"
    got = s.labels.get("a1:0", "alice")
    assert got is not None and got.status == "draft" and got.stances == ()
    assert s.labels.undo("alice") == "a1:0"
    assert s.labels.get("a1:0", "alice") is None
    assert s.labels.undo("alice") is None
    n_events = s.conn.execute("SELECT count(*) FROM annotation_events").fetchone()[0]
    assert n_events == 6  # 3 changes + 3 undos, append-only


def test_undo_is_per_annotator(filled: Store) -> None:
    filled.labels.save(Annotation("a1:0", "alice", "done", ()))
    filled.labels.save(Annotation("a1:0", "bob", "skipped", ()))
    assert filled.labels.undo("alice") == "a1:0"
    assert filled.labels.get("a1:0", "bob") is not None


def test_navigation_and_undone(filled: Store) -> None:
    s = filled
    first = s.corpus.first()
    assert first is not None and first.id == "a1:0"
    nxt = s.corpus.step(first.seq)
    assert nxt is not None and nxt.id == "a1:1"
    prev = s.corpus.step(nxt.seq, -1)
    assert prev is not None and prev.id == "a1:0"
    s.labels.save(Annotation("a1:0", "alice", "done", ()))
    s.labels.save(Annotation("a1:1", "alice", "draft", ("denial",)))
    undone = s.corpus.first("alice", undone_only=True)
    assert undone is not None and undone.id == "a1:1"  # drafts are not done
    assert s.team.done_count("alice") == 1
    assert s.team.queue_size() == 5
    found = s.corpus.search("washington", -1)
    assert found is not None and found.id == "a2:0"


def test_search_escapes_like_wildcards(filled: Store) -> None:
    assert filled.corpus.search("%", -1) is None
    assert filled.corpus.search("_", -1) is None


def test_sql_injection_is_data(store: Store) -> None:
    evil = "Robert'); DROP TABLE sentences;--"
    add_article(store, "x'; DROP TABLE articles;--", [evil, 'He said "no" \\ again'])
    actor = store.actors.add("O'Brien'; DROP TABLE actors;--")
    store.labels.save(
        Annotation(
            "x'; DROP TABLE articles;--:0",
            evil,
            "done",
            ("denial",),
            (Stance("denial", actor, "oppose"),),
            note=evil,
        )
    )
    assert store.counts()["sentences"] == 2
    assert store.actors.resolve("o'brien'; drop table actors;--") == actor
    got = store.labels.get("x'; DROP TABLE articles;--:0", evil)
    assert got is not None and got.note == evil


def test_actor_aliases(store: Store) -> None:
    pid = store.actors.resolve("M. Poutine")
    assert pid is not None
    assert store.actors.resolve("le president russe") == pid  # accents folded
    assert store.actors.resolve("PUTIN") == pid
    assert store.actors.resolve("les etats-unis") == store.actors.resolve("Washington")
    new = store.actors.add("Valeriy Akimenko", created_by="alice")
    assert store.actors.add("valeriy akimenko") == new


def test_propagation_to_cluster_members(filled: Store) -> None:
    s = filled
    with s.tx() as c:  # a cluster made by hand: a1:0 represents a2:0
        c.execute(
            "INSERT INTO clusters(id, representative_id, size, threshold, created_at) "
            "VALUES ('c1', 'a1:0', 2, 90, 'now')"
        )
        c.execute("UPDATE sentences SET cluster_id = 'c1' WHERE id IN ('a1:0', 'a2:0')")
        c.execute("UPDATE sentences SET hidden = 1 WHERE id = 'a2:0'")
    s.labels.save(Annotation("a1:0", "alice", "done", ("arms_deal",)))
    member = s.labels.get("a2:0", "alice")
    assert (
        member is not None and member.propagated_from == "a1:0" and member.claims == ("arms_deal",)
    )
    s.labels.undo("alice")
    assert s.labels.get("a2:0", "alice") is None
    assert s.team.queue_size() == 4


def test_db_is_a_sqlite_utils_view_of_the_same_connection(filled: Store) -> None:
    """sqlite-utils is imported on first use only (start-up time), and sees the same data."""
    assert filled.db.conn is filled.conn
    assert filled.db["sentences"].count == 5
    assert {"articles", "sentences", "annotations", "gold"} <= set(filled.db.table_names())


def test_one_transaction_contract() -> None:
    """A write helper runs in the caller's tx() or opens its own, never both: tx() does not
    nest, and the in-transaction helpers refuse to run outside one."""
    from stanceterm.store import ImportCounts, NewArticle

    s = Store.memory()
    art = NewArticle("a1", None, None, None, None, "fr", "h1", ["Un."], ["un."])
    with pytest.raises(StoreError, match="caller's transaction"):
        s.corpus.insert_articles([art], ImportCounts())
    with pytest.raises(StoreError, match="does not nest"), s.tx():
        s.labels.ensure_annotator("alice")
    assert s.labels.annotators() == []  # the outer transaction was rolled back
    with s.tx():
        s.corpus.insert_articles([art], ImportCounts())
    saved = s.labels.save(Annotation("a1:0", "alice", "done"))
    # undo_states gives the states the undo itself wrote (no re-read of its event)
    assert s.labels.undo_states("alice") == ("a1:0", saved, None)
    assert s.labels.get("a1:0", "alice") is None
    events = s.conn.execute("SELECT action FROM annotation_events ORDER BY id").fetchall()
    assert [e[0] for e in events] == ["set", "undo"]
