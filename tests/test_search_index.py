"""The `/` search on an FTS5 trigram index (migration v9): same answers as the scan it replaces,
kept in sync by triggers, built in batches when a DB is upgraded, and run off the UI thread."""

from __future__ import annotations

import random
import re
import sqlite3
from pathlib import Path

import pytest

from stanceterm.segment import match_key
from stanceterm.store import MIGRATIONS, ImportCounts, NewArticle, Store
from stanceterm.store import migrations as store_mod

TEXTS = [
    "Les États-Unis accusent la Russie d'avoir livré des armes.",
    "Le Département d'État dément « toute implication ».",
    "Washington warned Moscow on Tuesday.",
    "ÇA SUFFIT, a dit le président Macron.",
    "Kim Jong-un denied the report (again).",
    "Nothing else happened in the 1990s, said 50% of voters.",
    'He said "no" \\ again',
    "Ünïcödé straße — Œuvre cœur",
]


def add_article(store: Store, article_id: str, sentences: list[str]) -> None:
    """Insert an article with the norms that `stanceterm import` stores (segment.match_key)."""
    art = NewArticle(
        id=article_id,
        title=None,
        source=None,
        url=None,
        published=None,
        lang="fr",
        content_hash="h-" + article_id,
        sentences=sentences,
        norms=[match_key(t) for t in sentences],
    )
    with store.tx():
        store.corpus.insert_articles([art], ImportCounts())


def _traced(store: Store) -> list[str]:
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    return seen


def _scan(store: Store, query: str, after: int) -> str | None:
    """The search's meaning, written out: the first visible sentence after ``after`` (wrapping)
    whose norm, quote marks read as spaces, holds match_key(query) read the same way (spaces
    collapsed, ends stripped)."""
    q = " ".join(match_key(query).replace('"', " ").split())
    if not q:
        return None
    rows = store.conn.execute("SELECT seq, id, norm FROM sentences ORDER BY seq").fetchall()
    for lo in (after, -1):
        for seq, sid, norm in rows:
            if seq > lo and q in norm.replace('"', " "):
                return str(sid)
    return None


def test_search_uses_the_index_and_answers_like_a_scan(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "s.db")
    for i in range(3):
        add_article(s, f"a{i}", TEXTS)
    assert s.search_index_ready()
    rng = random.Random(7)
    queries = ["ÉTATS-unis", "etats", "«", "(again)", "50%", "\\", "straße", "cœur", "zzz-none"]
    for _ in range(150):
        t = rng.choice(TEXTS)
        i = rng.randrange(len(t))
        queries.append(t[i : i + rng.randrange(1, 12)])
    seqs = [r[0] for r in s.conn.execute("SELECT seq FROM sentences")]
    seen = _traced(s)
    for q in queries:
        after = rng.choice([-1, *seqs])
        hit = s.corpus.search(q, after)
        assert (None if hit is None else hit.id) == _scan(s, q, after), (q, after)
    assert any("sentences_fts" in x for x in seen), "the index was never used"
    # a run of 3 characters other than quotes, spaces and GLOB's * ? [ gives a trigram to ask for
    long_only = [q for q in queries if re.search(r'[^"\s*?\[]{3}', match_key(q))]
    seen.clear()
    for q in long_only:
        s.corpus.search(q, -1)
    scans = [x for x in seen if " GLOB " in x and "sentences_fts" not in x]
    assert not scans, "a query of 3+ characters scanned"
    s.close()


def test_short_queries_scan(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "s.db")
    add_article(s, "a", TEXTS)
    seen = _traced(s)
    hit = s.corpus.search("ÇA", -1)  # 2 characters: no trigram, a scan
    assert hit is not None and hit.id == _scan(s, "ÇA", -1) == "a:1"  # « implication »
    assert any(" GLOB " in x for x in seen) and not any("sentences_fts" in x for x in seen)
    s.close()


def test_triggers_keep_the_index_in_sync(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "s.db")
    add_article(s, "a", TEXTS[:3])
    add_article(s, "b", ["Une phrase ajoutée plus tard."])
    hit = s.corpus.search("ajoutee", -1)
    assert hit is not None and hit.id == "b:0"
    with s.tx() as c:
        c.execute("UPDATE sentences SET norm = 'texte remplace' WHERE id = 'b:0'")
    assert s.corpus.search("ajoutee", -1) is None
    hit = s.corpus.search("remplace", -1)
    assert hit is not None and hit.id == "b:0"
    with s.tx() as c:
        c.execute("INSERT INTO sentences_fts(sentences_fts) VALUES ('integrity-check')")
    s.close()


def test_upgrade_builds_the_index_in_batches_resumably(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "v5.db"
    before = [m for m in MIGRATIONS if m[0] < 9]
    with monkeypatch.context() as mp:
        mp.setattr(store_mod, "MIGRATIONS", before)
        mp.setattr(store_mod, "LATEST_VERSION", before[-1][0])
        s = Store.open(p)
        add_article(s, "a", TEXTS)
        add_article(s, "b", TEXTS)
        s.close()
    # the upgrade is interrupted right after the migration: nothing indexed yet
    with monkeypatch.context() as mp:
        mp.setattr(Store, "build_search_index", lambda self, batch=None: 0)
        s = Store.open(p, migrate=True)  # as `stanceterm upgrade` does
    assert s.schema_version() >= 9 and not s.search_index_ready()
    seen = _traced(s)
    hit = s.corpus.search("washington", -1)  # still answers, by a scan
    assert hit is not None and hit.id == "a:2"
    assert not any("sentences_fts" in x for x in seen)
    # a sentence written meanwhile is indexed by the trigger, and not twice by the build
    add_article(s, "c", ["Washington again."])
    seen.clear()
    assert s.build_search_index(batch=3) == 2 * len(TEXTS)
    begins = [x for x in seen if x.startswith("BEGIN")]
    assert len(begins) >= 2 * len(TEXTS) // 3, "not built in batches"
    assert s.search_index_ready()
    with s.tx() as c:
        c.execute("INSERT INTO sentences_fts(sentences_fts) VALUES ('integrity-check')")
        n = c.execute(
            "SELECT count(*) FROM sentences_fts WHERE norm GLOB '*washington*'"
        ).fetchone()[0]
    assert n == 3
    seen.clear()
    hit = s.corpus.search("washington", s.corpus.sentence("b:2").seq)  # type: ignore[union-attr]
    assert hit is not None and hit.id == "c:0"
    assert any("sentences_fts" in x for x in seen)
    s.close()
    with sqlite3.connect(p) as c:
        done, end = (
            c.execute(f"SELECT value FROM meta WHERE key = '{k}'").fetchone()[0]
            for k in ("fts_done", "fts_end")
        )
    assert done == end


def _fts_sql(store: Store) -> str:
    return str(
        store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'sentences_fts'").fetchone()[
            0
        ]
    )


def test_glob_and_like_characters_are_plain_text_in_a_search(tmp_path: Path) -> None:
    """The index is asked with a pattern: the query's own *, ?, [, ], %, _ and \\ are text."""
    s = Store.open(tmp_path / "s.db")
    texts = [
        "Le taux [sic] est de 5*3 ou 15? oui_non 100% sûr \\ fin.",
        "Le taux sic est de 513 ou 15 oui non 100 sûr fin.",
        "[a-z] and [!x] and a^b and {x}.",
    ]
    add_article(s, "a", texts)
    add_article(s, "b", list(reversed(texts)))
    seen = _traced(s)
    for q in [
        "[sic]",
        "5*3",
        "15? ",
        "oui_non",
        "100%",
        "\\ fin",
        "[a-z]",
        "[!x]",
        "sic] est",
        "5*",
        "*3 o",
        "x] and",
        "a^b",
        "{x}",
        "ic]",
    ]:
        for after in (-1, 1, 3, 5):
            hit = s.corpus.search(q, after)
            assert (None if hit is None else hit.id) == _scan(s, q, after), (q, after)
    assert any("sentences_fts" in x for x in seen), "the index was never used"
    s.close()


def test_the_index_stores_no_positions(tmp_path: Path) -> None:
    """v16: positions cost an import a third of the index's time, and the search needs none."""
    s = Store.open(tmp_path / "s.db")
    assert "detail=none" in _fts_sql(s).replace(" ", "")
    tables = {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master")}
    assert "sentences_fts_docsize" not in tables  # columnsize=0: no token counts either
    s.close()


def test_upgrade_from_v15_rebuilds_the_index_without_positions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "v15.db"
    before = [m for m in MIGRATIONS if m[0] <= 15]
    with monkeypatch.context() as mp:
        mp.setattr(store_mod, "MIGRATIONS", before)
        mp.setattr(store_mod, "LATEST_VERSION", 15)
        s = Store.open(p)
        add_article(s, "a", TEXTS)
        assert s.search_index_ready() and "detail" not in _fts_sql(s)
        s.close()
    # interrupted right after the migration: the old index is gone, the search scans
    with monkeypatch.context() as mp:
        mp.setattr(Store, "build_search_index", lambda self, batch=None: 0)
        s = Store.open(p, migrate=True)
    assert s.schema_version() >= 16 and not s.search_index_ready()
    assert "detail=none" in _fts_sql(s).replace(" ", "")
    hit = s.corpus.search("washington", -1)
    assert hit is not None and hit.id == "a:2"
    add_article(s, "c", ["Washington again."])  # indexed by the trigger, not twice by the build
    assert s.build_search_index(batch=4) == len(TEXTS)
    assert s.search_index_ready()
    with s.tx() as c:
        c.execute("INSERT INTO sentences_fts(sentences_fts) VALUES ('integrity-check')")
    seen = _traced(s)
    hit = s.corpus.search("washington", s.corpus.sentence("a:2").seq)  # type: ignore[union-attr]
    assert hit is not None and hit.id == "c:0"
    assert any("sentences_fts" in x for x in seen)
    s.close()


@pytest.mark.parametrize("ready", [True, False], ids=["index", "scan"])
def test_search_ignores_quote_marks_between_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ready: bool
) -> None:
    """match_key glues quote marks to the words beside them (sa « réfutation » de -> sa"refutation"de),
    so a query typed without them found nothing (new-user review); with them, the same text
    without quotes was missed. Either way is the same sentence to a reader."""
    s = Store.open(tmp_path / "s.db")
    add_article(s, "a", ["Johnson défendait sa « réfutation » de Berkeley.", "Rien ici."])
    add_article(s, "b", ["Il a parlé d’une “victoire” claire.", "Une victoire claire, dit-il."])
    if not ready:
        monkeypatch.setattr(Store, "search_index_ready", lambda self: False)
    for q, want in [
        ("sa réfutation de", "a:0"),
        ("réfutation de", "a:0"),
        ("sa « réfutation » de", "a:0"),
        ("d'une victoire claire", "b:0"),
        ("une “victoire” claire", "b:0"),
        ('"victoire" claire', "b:0"),
    ]:
        hit = s.corpus.search(q, -1)
        assert hit is not None and hit.id == want, q
    hit = s.corpus.search(
        "une « victoire » claire, dit", -1
    )  # quotes in the query, none in the text
    assert hit is not None and hit.id == "b:1"
    assert s.corpus.search("sa refutation berkeley", -1) is None  # words still in order, adjacent
    s.close()


def test_search_copies_finds_text_only_a_hidden_copy_holds(tmp_path: Path) -> None:
    """After dedup, "1000 containers" lives only in a hidden wire copy ("1,000" in the
    representative): the search said no sentence contains it (new-user review). The store
    says which copy holds it and which visible sentence stands for it."""
    from tests.conftest import run

    db = tmp_path / "d.db"
    s = Store.open(db)
    add_article(s, "afp", ["Kim signed a deal for 1,000 containers of shells, Seoul said."])
    add_article(s, "reuters", ["Kim signed a deal for 1000 containers of shells, Seoul said."])
    s.close()
    assert run("--db", str(db), "dedup", cwd=tmp_path).returncode == 0
    s = Store.open(db)
    hidden = [r[0] for r in s.conn.execute("SELECT id FROM sentences WHERE hidden = 1")]
    assert len(hidden) == 1
    copy = s.corpus.sentence(hidden[0])
    assert copy is not None
    query = "for 1000 containers" if "1000" in copy.text else "for 1,000 containers"
    assert s.corpus.search(query, -1) is None
    found = s.corpus.search_copies(query, -1)
    assert found is not None
    copy_id, rep = found
    assert copy_id == copy.id and rep.id != copy.id and rep.id in ("afp:0", "reuters:0")
    assert s.corpus.search_copies("nothing like this", -1) is None
    s.close()
