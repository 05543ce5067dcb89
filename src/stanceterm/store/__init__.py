"""The store: the only package with SQL.

``Store`` (:mod:`.db`) is the handle: connections, ``tx()``/``read()``, meta, readers and
snapshots. Domain SQL lives in one module per concern, reached through the handle:

* ``store.corpus`` (:mod:`.corpus`): articles, sentences, import staging, navigation, search;
* ``store.labels`` (:mod:`.labels`): labels, their history, undo and propagation;
* ``store.actors`` (:mod:`.actors`): the actor gazetteer;
* ``store.clusters`` (:mod:`.clusters`): dedup clusters and splits;
* ``store.gold`` (:mod:`.gold`): gold decisions and review rows;
* ``store.team`` (:mod:`.team`): assignments, progress, resume hints;
* ``store.merge`` (:mod:`.merge`): folding another DB into this one.

Value objects and errors (:mod:`.models`) are re-exported here, as are the migrations'
version constants.
"""

from stanceterm.store.db import APP_ID, Store, stanceterm_databases
from stanceterm.store.migrations import LATEST_VERSION, MIGRATIONS
from stanceterm.store.models import (
    Annotation,
    Article,
    DedupState,
    Gold,
    ImportCounts,
    MergeConflict,
    MergeCounts,
    NewArticle,
    Sentence,
    Stance,
    StoreError,
    now,
)

__all__ = [
    "APP_ID",
    "LATEST_VERSION",
    "MIGRATIONS",
    "Annotation",
    "Article",
    "DedupState",
    "Gold",
    "ImportCounts",
    "MergeConflict",
    "MergeCounts",
    "NewArticle",
    "Sentence",
    "Stance",
    "Store",
    "StoreError",
    "now",
    "stanceterm_databases",
]
