"""Incremental dedup equals a full rebuild under any interleaving (issue 14, "Clusters stay right
as work goes on"): a hypothesis state machine imports articles, runs dedup, writes labels on
hidden copies and representatives (import-labels and the screen), adds actors and aliases (in
the picker and as a lead), splits sentences and changes the threshold; after every step an
incremental run on a copy of the DB must give the same clusters, hidden flags and propagated
labels as ``--full`` on another copy."""

from __future__ import annotations

from typing import Any

from conftest import add_article
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from stanceterm.dedup import DEFAULT_THRESHOLD, run_dedup
from stanceterm.schema import load_schema
from stanceterm.store import Annotation, Stance, Store

#: Groups of sentences: copies that merge only with the right knowledge, and near-misses.
POOL = [
    # a benign copy (quotes and the attribution moved)
    "The minister said the convoy would leave the border town at dawn on Friday, officials said.",
    "“The minister said the convoy would leave the border town at dawn on Friday,” officials said.",
    # a typo between names: merges while "Kowalsky" is no known name, never once it is one
    "Minister Kowalski told reporters the grain convoy would cross the river before the winter.",
    "Minister Kowalsky told reporters the grain convoy would cross the river before the winter.",
    "Later that week, Kowalsky also met the mayor of the northern port city for lunch.",
    "The mayor of the port said Kowalsky would come back in the spring with his advisers.",
    # two aliases of one actor: merge only once a lead made them one actor
    "Shoigu told the generals that the new brigades would be ready before the end of the year.",
    "Sergei Shoigu told the generals that the new brigades would be ready before the end of the year.",
    # a near-miss that never merges
    "The minister said the convoy would not leave the border town at dawn on Friday, officials said.",
    "Analysts in Warsaw said the pipeline talks had stalled again over the price of transit fees.",
]

ANNOTATORS = ("alice", "bob")


def label(sid: str, who: str, stance: str) -> Annotation:
    return Annotation(
        sid, who, "done", ("arms_deal",), (Stance("arms_deal", "les-etats-unis", stance),)
    )


def copy_of(store: Store) -> Store:
    other = Store.memory()
    store.conn.backup(other.conn)
    return other


def outcome(store: Store) -> tuple[Any, ...]:
    clusters, members = store.clusters.snapshot()
    with store.read() as c:
        hidden = c.execute("SELECT id FROM sentences WHERE hidden = 1 ORDER BY id").fetchall()
        labels = c.execute(
            "SELECT sentence_id, annotator, status, claims, stances, propagated_from "
            "FROM annotations ORDER BY sentence_id, annotator"
        ).fetchall()
    return clusters, members, hidden, labels


class IncrementalEqualsFull(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = Store.memory()
        self.store.set_label_schema(load_schema())
        self.articles = 0
        self.threshold = DEFAULT_THRESHOLD

    def teardown(self) -> None:
        self.store.close()

    def _ids(self) -> list[str]:
        with self.store.read() as c:
            return [str(r[0]) for r in c.execute("SELECT id FROM sentences ORDER BY seq")]

    @rule(picks=st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=3))
    def import_article(self, picks: list[int]) -> None:
        self.articles += 1
        add_article(self.store, f"art{self.articles}", [POOL[i] for i in picks])

    @rule()
    def dedup(self) -> None:
        run_dedup(self.store, self.threshold)

    @rule(t=st.sampled_from([85.0, 90.0, 95.0]))
    def threshold_change(self, t: float) -> None:
        self.threshold = t
        run_dedup(self.store, t)

    @rule(i=st.integers(0, 50), who=st.sampled_from(ANNOTATORS), imported=st.booleans())
    def label_a_sentence(self, i: int, who: str, imported: bool) -> None:
        """A label on any sentence (a hidden copy, a representative): from the screen or from
        import-labels / merge (written as given, with its timestamps)."""
        ids = self._ids()
        if not ids:
            return
        ann = label(ids[i % len(ids)], who, "support" if i % 2 else "oppose")
        if imported:
            ann = Annotation(
                ann.sentence_id,
                who,
                "done",
                ann.claims,
                ann.stances,
                created_at="2026-01-01T00:00:00+00:00",
                updated_at="2026-01-01T00:00:00+00:00",
            )
            with self.store.tx():
                self.store.labels.import_records([ann])
        else:
            self.store.labels.save(ann)

    @rule(lead=st.booleans())
    def alias_added(self, lead: bool) -> None:
        """The picker (one annotator) or a lead (`stanceterm actors alias`) makes "Shoigu" an
        alias of "Sergei Shoigu"."""
        actor = self.store.actors.add("Sergei Shoigu", created_by=None if lead else "alice")
        self.store.actors.add_alias(actor, "Shoigu", trusted=lead)

    @rule(name=st.sampled_from(["Kowalsky", "Mariupol Port Authority"]))
    def actor_added_in_the_picker(self, name: str) -> None:
        self.store.actors.add(name, created_by="bob")

    @rule(i=st.integers(0, 50))
    def split(self, i: int) -> None:
        ids = self._ids()
        if ids:
            self.store.clusters.split(ids[i % len(ids)], "lea")

    @invariant()
    def incremental_equals_full(self) -> None:
        inc, full = copy_of(self.store), copy_of(self.store)
        try:
            run_dedup(inc, self.threshold)
            run_dedup(full, self.threshold, full=True)
            assert outcome(inc) == outcome(full)
        finally:
            inc.close()
            full.close()


IncrementalEqualsFull.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestIncrementalEqualsFull = IncrementalEqualsFull.TestCase


def test_known_names_seen_later_do_not_change_earlier_verdicts() -> None:
    """The corpus's "known names" rule (two names each seen capitalised in two sentences are
    never typos of each other) sees, for each sentence, the sentences imported up to it: names
    that arrive later, or sit in hidden copies, change no earlier verdict, in both modes."""
    m = IncrementalEqualsFull()
    try:
        m.import_article([2, 2, 3])  # Kowalski twice, then the one-letter "typo" Kowalsky
        m.dedup()
        m.incremental_equals_full()
        m.import_article([4, 5])  # "Kowalsky" is a known name from now on
        m.incremental_equals_full()
        m.dedup()
        m.import_article([3])
        m.incremental_equals_full()
    finally:
        m.teardown()
