from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stanceterm.schema import LabelSchema, load_schema
from stanceterm.store import NewArticle, Store

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
