from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stanceterm.schema import LabelSchema, load_schema
from stanceterm.store import NewArticle, Store
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
