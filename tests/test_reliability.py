"""Reliability data per field: hand-computed cases, the krippendorff package, sklearn."""

from __future__ import annotations

import itertools
import math
import random
import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import krippendorff
import numpy as np
import orjson
import pytest
from sklearn.metrics import cohen_kappa_score

from stanceterm.agreement import masi_distance
from stanceterm.cli.render import format_latex, format_markdown
from stanceterm.export import Filters, LabelsError, export
from stanceterm.reliability import (
    ActorResolver,
    AgreementError,
    Corpus,
    LabelRow,
    build_fields,
    claim_presence_field,
    claim_set_field,
    collect,
    disagreements,
    measure,
    pairwise_kappa,
    report,
    rows_from_export,
    rows_from_store,
    stance_field,
    unit_disagreement,
)
from stanceterm.store import Annotation, Stance, Store
from tests.conftest import add_article

CLAIMS = ["x", "y"]


def row(
    sid: str,
    annotator: str,
    claims: Sequence[str] = (),
    stances: Sequence[tuple[str, str, str]] = (),
    status: str = "done",
    prop: str | None = None,
) -> LabelRow:
    return LabelRow(sid, f"text of {sid}", annotator, status, tuple(claims), tuple(stances), prop)


def corpus_of(*rows: LabelRow, include_flagged: bool = False) -> Corpus:
    return collect(
        rows, CLAIMS, stances=["support", "oppose", "neutral"], include_flagged=include_flagged
    )


def alpha_of(fld: Any, corpus: Corpus) -> float:
    return measure(fld, corpus.annotators, n_boot=50).value


# --------------------------------------------------------------------------- references


def reference_nominal(data: list[list[Hashable | None]]) -> float:
    """krippendorff.alpha (nominal) on the same matrix, values coded as numbers."""
    codes: dict[Hashable, int] = {}
    arr = np.array(
        [[np.nan if v is None else codes.setdefault(v, len(codes)) for v in r] for r in data],
        dtype=float,
    )
    return _kripp(arr, "nominal")


def _kripp(arr: Any, level: Any) -> float:
    """krippendorff.alpha; its errors on degenerate data (one value, no pairable unit) are NaN."""
    if arr.size == 0:
        return math.nan
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return float(krippendorff.alpha(arr, level_of_measurement=level))
        except ValueError:
            return math.nan


def reference_masi(data: list[list[Hashable | None]]) -> float:
    """krippendorff.alpha with the MASI distance as a callable metric on coded sets."""
    codes: dict[frozenset[Any], int] = {}
    for r in data:
        for v in r:
            if v is not None:
                assert isinstance(v, frozenset)
                codes.setdefault(v, len(codes))
    domain = sorted(codes, key=codes.__getitem__)
    dist = np.array([[masi_distance(a, b) for b in domain] for a in domain])

    def metric(v1: Any, v2: Any, i1: Any, i2: Any, n_v: Any, dtype: Any = np.float64) -> Any:
        return dist[np.asarray(v1, dtype=int), np.asarray(v2, dtype=int)].astype(dtype)

    arr = np.array([[np.nan if v is None else codes[v] for v in r] for r in data], dtype=float)  # type: ignore[index]
    return _kripp(arr, metric)


# --------------------------------------------------------------------------- claims


def test_claim_presence_hand_computed_and_skipped_is_missing() -> None:
    c = corpus_of(
        row("s1", "A", ["x"]),
        row("s1", "B", ["x"]),
        row("s2", "A", []),
        row("s2", "B", ["x"]),
        row("s3", "A", ["x"]),
        row("s3", "B", [], status="skipped"),
        row("s4", "A", []),
        row("s4", "B", []),
    )
    fld = claim_presence_field(c, "x")
    # pairable values T,T,F,T,F,F: o(T,F) = o(F,T) = 1; alpha = 1 - (n-1) * 2 / (n^2 - sum n_c^2)
    res = measure(fld, c.annotators, n_boot=100)
    assert res.units == 3 and res.annotators == 2
    assert math.isclose(res.value, 1 - 5 * 2 / (36 - 9 - 9), abs_tol=1e-12)
    assert math.isclose(res.value, reference_nominal(fld.matrix(c.annotators)), abs_tol=1e-12)
    assert math.isclose(res.percent_agreement, 2 / 3)
    # had "skipped" meant "no claim", s3 would be a fourth unit, and a disagreeing one
    as_no_claim = corpus_of(
        *(
            row(sid, a, claims)
            for sid, a, claims in [
                ("s1", "A", ["x"]),
                ("s1", "B", ["x"]),
                ("s2", "A", []),
                ("s2", "B", ["x"]),
                ("s3", "A", ["x"]),
                ("s3", "B", []),
                ("s4", "A", []),
                ("s4", "B", []),
            ]
        )
    )
    wrong = measure(claim_presence_field(as_no_claim, "x"), c.annotators, n_boot=10)
    assert wrong.units == 4 and not math.isclose(wrong.value, res.value)


@pytest.mark.parametrize("status", ["skipped", "draft", "flagged"])
def test_non_final_statuses_are_missing(status: str) -> None:
    c = corpus_of(row("s1", "A", ["x"]), row("s1", "B", ["x"], status=status))
    assert c.annotators == ["A"]
    assert claim_presence_field(c, "x").units[0].values == {"A": True}


def test_flagged_counts_when_asked() -> None:
    c = corpus_of(
        row("s1", "A", ["x"]), row("s1", "B", ["x"], status="flagged"), include_flagged=True
    )
    assert c.annotators == ["A", "B"]
    skipped = corpus_of(
        row("s1", "A", ["x"]), row("s1", "B", ["x"], status="skipped"), include_flagged=True
    )
    assert skipped.annotators == ["A"]


def test_claim_set_masi_hand_computed() -> None:
    c = corpus_of(
        row("s1", "A", ["x"]),
        row("s1", "B", ["x", "y"]),
        row("s2", "A", ["y"]),
        row("s2", "B", ["y"]),
        row("s3", "A", []),
        row("s3", "B", []),
    )
    fld = claim_set_field(c)
    # values {x},{x,y},{y},{y},{},{} ; only s1 disagrees: d = 1 - (1/2)(2/3) = 2/3
    d_xy = 2 / 3
    d_x_y, d_x_e, d_xy_y, d_xy_e, d_y_e = 1.0, 1.0, 2 / 3, 1.0, 1.0
    observed = 2 * d_xy  # o({x},{x,y}) = o({x,y},{x}) = 1
    n = {"x": 1, "xy": 1, "y": 2, "e": 2}
    pairs = {
        ("x", "xy"): d_xy,
        ("x", "y"): d_x_y,
        ("x", "e"): d_x_e,
        ("xy", "y"): d_xy_y,
        ("xy", "e"): d_xy_e,
        ("y", "e"): d_y_e,
    }
    expected = 2 * sum(n[a] * n[b] * d for (a, b), d in pairs.items())
    want = 1 - (6 - 1) * observed / expected
    got = alpha_of(fld, c)
    assert math.isclose(got, want, abs_tol=1e-12)
    assert math.isclose(got, reference_masi(fld.matrix(c.annotators)), abs_tol=1e-12)


# --------------------------------------------------------------------------- stances


def test_stance_none_is_a_value_and_missing_is_not() -> None:
    c = corpus_of(
        # s1: A gives putin a stance; B tagged x but gave putin none; C did not tag x (missing)
        row("s1", "A", ["x"], [("x", "putin", "support")]),
        row("s1", "B", ["x"]),
        row("s1", "C", ["y"]),
        row("s2", "A", ["x"], [("x", "putin", "support")]),
        row("s2", "B", ["x"], [("x", "putin", "support")]),
        row("s3", "A", ["x"], [("x", "kim", "oppose")]),
        row("s3", "B", ["x"], [("x", "kim", "oppose")]),
        row("s3", "C", ["x"], status="skipped"),
    )
    fld = stance_field(c)
    values = {(u.sentence_id, u.claim, u.actor): dict(u.values) for u in fld.units}
    assert values == {
        ("s1", "x", "putin"): {"A": "support", "B": "none"},
        ("s2", "x", "putin"): {"A": "support", "B": "support"},
        ("s3", "x", "kim"): {"A": "oppose", "B": "oppose"},
    }
    # values support, none, support, support, oppose, oppose: n = 6, one disagreeing unit
    want = 1 - 5 * 2 / (36 - 9 - 1 - 4)
    got = alpha_of(fld, c)
    assert math.isclose(got, want, abs_tol=1e-12)
    assert math.isclose(got, reference_nominal(fld.matrix(c.annotators)), abs_tol=1e-12)


def test_stance_value_none_renamed_when_schema_has_a_none_stance() -> None:
    rows = [row("s1", "A", ["x"], [("x", "p", "none")]), row("s1", "B", ["x"])]
    c = collect(rows, CLAIMS, stances=["none", "some"])
    assert dict(stance_field(c).units[0].values) == {"A": "none", "B": "(no stance)"}


def test_stance_by_claim_and_by_actor_restrict_units() -> None:
    c = corpus_of(
        row("s1", "A", ["x", "y"], [("x", "p", "support"), ("y", "q", "oppose")]),
        row("s1", "B", ["x", "y"], [("x", "p", "oppose"), ("y", "q", "oppose")]),
    )
    by_claim = {f.name: f for f in build_fields(c, "claim")}
    assert list(by_claim) == ["claim:x", "stance:x", "claim:y", "stance:y"]
    assert [u.claim for u in by_claim["stance:y"].units] == ["y"]
    by_actor = {f.name: f for f in build_fields(c, "actor")}
    assert list(by_actor) == ["actors", "stance@p", "stance@q"]
    assert [dict(u.values) for u in by_actor["stance@p"].units] == [{"A": "support", "B": "oppose"}]


def test_default_fields() -> None:
    c = corpus_of(row("s1", "A", ["x"]), row("s1", "B", []))
    assert [f.name for f in build_fields(c)] == ["claims", "claim:x", "claim:y", "stance", "actors"]
    assert [f.level for f in build_fields(c)] == ["masi", "nominal", "nominal", "nominal", "masi"]


# --------------------------------------------------------------------------- clusters, actors


def test_propagated_labels_are_left_out() -> None:
    c = corpus_of(
        row("rep", "A", ["x"]),
        row("rep", "B", []),
        row("dup", "A", ["x"], prop="rep"),
        row("dup", "B", [], prop="rep"),
    )
    assert list(c.sentences) == ["rep"]
    assert measure(claim_presence_field(c, "x"), c.annotators, n_boot=10).units == 1


def test_actor_resolver_merges_aliases() -> None:
    names = {"vladimir-poutine": "Vladimir Poutine", "v-putin": "V. Putin", "kim": "Kim"}
    keys = {
        "vladimir poutine": "vladimir-poutine",
        "putin": "vladimir-poutine",
        "v putin": "vladimir-poutine",
        "kim": "kim",
    }
    r = ActorResolver(names, keys)
    assert r.canonical("v-putin") == "vladimir-poutine"
    assert r.canonical("kim") == "kim"
    assert r.canonical("unknown") == "unknown"
    assert r.resolve("PUTIN", None) == "vladimir-poutine"
    assert r.resolve("whatever", "v-putin") == "vladimir-poutine"
    assert r.resolve("Les Experts", None) == "les-experts"
    assert r.resolve("Les Experts", "experts-7") == "experts-7"
    # a cycle of aliases ends
    loop = ActorResolver({"a": "A", "b": "B"}, {"a": "b", "b": "a"})
    assert loop.canonical("a") in {"a", "b"}


def _db_with_labels(store: Store) -> list[str]:
    add_article(store, "a1", ["s one.", "s two.", "s three.", "s four.", "s five."])
    ids = [r[1] for r in store.corpus.iter_sentence_rows()]
    putin = store.actors.add("Vladimir Poutine", ["Putin"])
    other = store.actors.add("V. Putin")  # a separate actor, later merged by an alias
    kim = store.actors.add("Kim Jong Un")
    store.actors.add_alias(putin, "V. Putin")
    labels = [
        (0, "alice", "done", ("arms_deal",), (Stance("arms_deal", putin, "support"),)),
        (0, "bob", "done", ("arms_deal",), (Stance("arms_deal", other, "support"),)),
        (1, "alice", "done", ("denial",), (Stance("denial", kim, "oppose"),)),
        (1, "bob", "done", ("denial",), ()),
        (2, "alice", "done", (), ()),
        (2, "bob", "skipped", (), ()),
        (3, "alice", "done", ("arms_deal", "denial"), ()),
        (3, "bob", "done", ("arms_deal",), ()),
        (3, "carol", "flagged", ("denial",), ()),
        (4, "alice", "done", ("denial",), ()),
        (4, "bob", "draft", ("denial",), ()),
    ]
    for i, who, status, claims, stances in labels:
        store.labels.save(Annotation(ids[i], who, status, claims, stances))
    # a propagated copy (as dedup writes them) must not count
    with store.tx():
        store.labels.import_records(
            [
                Annotation(
                    ids[4],
                    "bob",
                    "done",
                    ("arms_deal",),
                    (),
                    propagated_from=ids[0],
                    created_at="2026-01-01T00:00:00Z",
                    updated_at="2026-01-01T00:00:00Z",
                )
            ]
        )
    return ids


def test_store_rows_merge_aliases_and_drop_propagated(store: Store, schema: Any) -> None:
    ids = _db_with_labels(store)
    c = collect(rows_from_store(store), schema.claim_ids, stances=schema.stances)
    assert c.annotators == ["alice", "bob"]
    assert list(c.sentences) == [ids[0], ids[1], ids[2], ids[3], ids[4]]
    assert set(c.sentences[ids[4]]) == {"alice"}  # bob's draft and propagated copy are out
    assert set(c.sentences[ids[2]]) == {"alice"}  # bob skipped
    actors = {f.name: f for f in build_fields(c)}["actors"]
    first = next(u for u in actors.units if u.sentence_id == ids[0])
    assert first.values == {
        "alice": frozenset({"vladimir-poutine"}),
        "bob": frozenset({"vladimir-poutine"}),
    }
    stances = {(u.sentence_id, u.actor): dict(u.values) for u in stance_field(c).units}
    assert stances == {
        (ids[0], "vladimir-poutine"): {"alice": "support", "bob": "support"},
        (ids[1], "kim-jong-un"): {"alice": "oppose", "bob": "none"},
    }
    assert c.texts[ids[0]] == "s one."
    no_text = collect(rows_from_store(store), schema.claim_ids, keep_text=False)
    assert no_text.texts == {} and no_text.sentences == c.sentences
    flagged_rows = rows_from_store(store, include_flagged=True)
    assert collect(flagged_rows, schema.claim_ids).annotators == ["alice", "bob"]
    flagged_rows = rows_from_store(store, include_flagged=True)
    flagged = collect(flagged_rows, schema.claim_ids, include_flagged=True)
    assert flagged.annotators == ["alice", "bob", "carol"]


def test_export_gives_the_same_corpus_as_the_db(store: Store, schema: Any, tmp_path: Any) -> None:
    _db_with_labels(store)
    out = tmp_path / "ann.jsonl"
    export(store, "annotations", out, Filters(statuses=("done", "skipped", "flagged", "draft")))
    resolver = ActorResolver.from_store(store)
    from_db = collect(rows_from_store(store), schema.claim_ids, stances=schema.stances)
    from_file = collect(
        rows_from_export(out, resolver, schema.claim_ids), schema.claim_ids, stances=schema.stances
    )
    assert from_file.sentences == from_db.sentences
    for a, b in zip(build_fields(from_db), build_fields(from_file), strict=True):
        ra = measure(a, from_db.annotators, n_boot=200, seed=3)
        rb = measure(b, from_file.annotators, n_boot=200, seed=3)
        assert ra.as_json() == rb.as_json()
    # without the DB, actors resolve by their exported ids (no alias merge is possible)
    bare = collect(rows_from_export(out, ActorResolver({}, {}), schema.claim_ids), schema.claim_ids)
    ids = {act for lab in bare.sentences.values() for lb in lab.values() for _, act in lb.stances}
    assert "v-putin" in ids


def test_export_errors_name_the_line(tmp_path: Any, schema: Any) -> None:
    good = {
        "schema_version": 1,
        "sentence_id": "s1",
        "article_id": "a",
        "text": "t",
        "annotator": "A",
        "status": "done",
        "claims": ["arms_deal"],
        "stances": [],
        "propagated_from": None,
        "note": None,
        "created_at": "x",
        "updated_at": "x",
    }
    resolver = ActorResolver({}, {})
    cases = [
        (b"{not json\n", "broken JSON"),
        (orjson.dumps({**good, "status": "maybe"}) + b"\n", "status"),
        (orjson.dumps({**good, "claims": ["nope"]}) + b"\n", "unknown claim 'nope'"),
        (orjson.dumps(good) + b"\n" + orjson.dumps(good) + b"\n", "duplicate record"),
    ]
    for content, needle in cases:
        p = tmp_path / "bad.jsonl"
        p.write_bytes(content)
        with pytest.raises(LabelsError) as exc:
            list(rows_from_export(p, resolver, schema.claim_ids))
        msg = str(exc.value)
        assert msg.startswith(f"{p}:") and needle in msg and "\n" not in msg
        line = 2 if needle == "duplicate record" else 1
        assert msg.startswith(f"{p}:{line}:")


# --------------------------------------------------------------------------- random vs references


def _random_corpus(seed: int, n_sent: int = 60, annotators: int = 4) -> Corpus:
    rng = random.Random(seed)
    rows = []
    for s in range(n_sent):
        for a in range(annotators):
            if rng.random() < 0.2:
                continue  # never saw it
            status = rng.choice(["done"] * 6 + ["skipped", "draft", "flagged"])
            claims = [c for c in CLAIMS if rng.random() < 0.4]
            stances = [
                (c, rng.choice(["p", "q", "r"]), rng.choice(["support", "oppose"]))
                for c in claims
                if rng.random() < 0.7
            ]
            rows.append(row(f"s{s}", f"a{a}", claims, stances, status))
    return corpus_of(*rows)


@pytest.mark.parametrize("seed", range(6))
def test_every_field_matches_krippendorff_package(seed: int) -> None:
    c = _random_corpus(seed)
    for by in (None, "claim", "actor"):
        for fld in build_fields(c, by):
            for k in (2, 3):
                f = fld.at_least(k)
                data = f.matrix(c.annotators)
                ours = measure(f, c.annotators, n_boot=20).value
                ref = reference_masi(data) if f.level == "masi" else reference_nominal(data)
                if math.isnan(ref):
                    assert math.isnan(ours), (f.name, k)
                else:
                    assert math.isclose(ours, ref, rel_tol=1e-9, abs_tol=1e-9), (f.name, k)


@pytest.mark.parametrize("seed", range(4))
def test_pairwise_kappa_matches_sklearn(seed: int) -> None:
    c = _random_corpus(seed, annotators=3)
    presence = [claim_presence_field(c, x) for x in CLAIMS]
    pairs = pairwise_kappa(presence, c.annotators)
    assert [(p.a, p.b) for p in pairs] == [("a0", "a1"), ("a0", "a2"), ("a1", "a2")]
    for p in pairs:
        xs, ys = [], []
        for f in presence:
            for u in f.units:
                if p.a in u.values and p.b in u.values:
                    xs.append(u.values[p.a])
                    ys.append(u.values[p.b])
        assert p.units == len(xs) > 0
        assert math.isclose(p.kappa, cohen_kappa_score(xs, ys), abs_tol=1e-12)
        assert math.isclose(p.percent_agreement, float(np.mean(np.array(xs) == np.array(ys))))


def test_min_annotators_keeps_units_with_k_values() -> None:
    c = corpus_of(
        row("s1", "A", ["x"]),
        row("s1", "B", ["x"]),
        row("s1", "C", []),
        row("s2", "A", ["x"]),
        row("s2", "B", []),
        row("s3", "A", []),
        row("s3", "B", []),
        row("s3", "C", []),
    )
    fld = claim_presence_field(c, "x")
    assert measure(fld, c.annotators, n_boot=10).units == 3
    three = fld.at_least(3)
    assert [u.sentence_id for u in three.units] == ["s1", "s3"]
    assert measure(three, c.annotators, n_boot=10).units == 2


def test_no_variation_is_nan_not_one() -> None:
    c = corpus_of(
        row("s1", "A", ["x"]), row("s1", "B", ["x"]), row("s2", "A", ["x"]), row("s2", "B", ["x"])
    )
    res = measure(claim_presence_field(c, "x"), c.annotators, n_boot=20)
    assert math.isnan(res.value) and math.isnan(res.ci_low)
    assert res.percent_agreement == 1.0
    assert res.as_json()["value"] is None and res.as_json()["ci_low"] is None
    empty = measure(stance_field(c), c.annotators, n_boot=20)
    assert empty.units == 0 and math.isnan(empty.value) and math.isnan(empty.percent_agreement)


# --------------------------------------------------------------------------- disagreements


def test_unit_disagreement() -> None:
    assert unit_disagreement(["a", "a", "a"], "nominal") == 0.0
    assert unit_disagreement(["a", "b"], "nominal") == 1.0
    assert math.isclose(unit_disagreement(["a", "a", "b"], "nominal"), 2 / 3)
    assert math.isnan(unit_disagreement(["a"], "nominal"))
    x, xy = frozenset("x"), frozenset("xy")
    assert math.isclose(unit_disagreement([x, xy], "masi"), 2 / 3)
    assert math.isclose(unit_disagreement([x, xy], "jaccard"), 1 / 2)


def test_disagreements_worst_first() -> None:
    c = corpus_of(
        row("s1", "A", ["x"]),
        row("s1", "B", ["x", "y"]),
        row("s1", "C", ["x"]),  # mild
        row("s2", "A", ["x"]),
        row("s2", "B", ["y"]),
        row("s2", "C", []),  # 3 distinct sets
        row("s3", "A", ["y"]),
        row("s3", "B", ["y"]),
        row("s3", "C", ["y"]),  # agreement
        row("s4", "A", []),
        row("s4", "B", ["x"]),  # two annotators, disjoint
    )
    found = disagreements([claim_set_field(c)], c)
    assert [d.sentence_id for d in found] == ["s2", "s4", "s1"]
    assert [d.distinct for d in found] == [3, 2, 2]
    assert found[0].disagreement == 1.0 and found[1].disagreement == 1.0
    assert math.isclose(found[2].disagreement, 2 * (2 / 3) / 3)
    rec = found[0].as_json()
    assert rec["sentence_id"] == "s2" and rec["text"] == "text of s2" and rec["field"] == "claims"
    assert rec["values"] == {"A": ["x"], "B": ["y"], "C": []}
    # across fields: a nominal unit with full disagreement outranks a partial set disagreement
    both = disagreements(build_fields(c), c)
    assert all(a.disagreement >= b.disagreement for a, b in itertools.pairwise(both))
    assert {d.field for d in both} == {"claims", "claim:x", "claim:y"}


# --------------------------------------------------------------------------- paper tables


def test_markdown_and_latex_tables() -> None:
    c = corpus_of(
        row("s1", "A", ["x"]),
        row("s1", "B", []),
        row("s2", "A", ["x"]),
        row("s2", "B", ["x"]),
        row("s3", "A", []),
        row("s3", "B", []),
    )
    results = [measure(f, c.annotators, n_boot=50) for f in build_fields(c)]
    md = format_markdown(results).splitlines()
    assert md[0].startswith("| field | metric | level | α | 95% CI |")
    assert md[2].startswith("| claims | alpha | masi | ")
    assert any(
        line.startswith("| stance | alpha | nominal | n/a | n/a | n/a | 0 | 0 |") for line in md
    )
    tex = format_latex(results, {"claim:x": "claim x_1 & 50%"})
    assert r"\begin{tabular}" in tex and r"\toprule" in tex
    assert r"claim x\_1 \& 50\% & alpha & nominal" in tex


def test_measure_on_a_subset_of_annotators_ignores_the_others() -> None:
    c = corpus_of(
        row("s1", "A", ["x"]),
        row("s1", "B", ["x"]),
        row("s1", "C", []),
        row("s2", "A", []),
        row("s2", "B", []),
        row("s2", "C", ["x"]),
    )
    fld = claim_presence_field(c, "x")
    sub = measure(fld, ["A", "B"], n_boot=10)
    assert sub.annotators == 2 and sub.units == 2
    assert math.isclose(sub.value, reference_nominal(fld.matrix(["A", "B"])), abs_tol=1e-12)
    assert math.isnan(sub.value) is False and sub.value == 1.0


def test_alias_merging_is_one_rule_for_review_and_agreement() -> None:
    """store.actors.canonical (review) and ActorResolver (agreement) follow the same links:
    chains to their end, cycles cut, unknown ids unchanged."""
    from stanceterm.actors import alias_key, follow_aliases

    names = {"a": "Alpha", "b": "Beta", "c": "Gamma", "d": "Delta"}
    keys = {alias_key("Alpha"): "b", alias_key("Beta"): "c", alias_key("Gamma"): "b"}
    assert follow_aliases("a", names, keys) == "c"  # a -> b -> c, then c -> b is a cycle
    assert follow_aliases("d", names, keys) == "d"
    assert follow_aliases("zz", names, keys) == "zz"
    resolver = ActorResolver(names, keys)
    assert [resolver.canonical(x) for x in "abcd"] == ["c", "c", "b", "d"]


# --------------------------------------------------------------------------- the report


def test_report_is_the_fields_measured_on_the_store(store: Store, schema: Any) -> None:
    """reliability.report() does what `agreement` used to do inline: the same figures as the
    fields measured one by one, kappa per pair with by="annotator", disagreements worst first."""
    add_article(store, "a", ["Un.", "Deux.", "Trois."])
    store.labels.save(Annotation("a:0", "alice", "done", ("arms_deal",)))
    store.labels.save(Annotation("a:0", "bob", "done", ("arms_deal",)))
    store.labels.save(Annotation("a:1", "alice", "done", ("denial",)))
    store.labels.save(Annotation("a:1", "bob", "done", ()))
    store.labels.save(Annotation("a:2", "alice", "done", ()))
    store.labels.save(Annotation("a:2", "bob", "flagged", ("denial",)))
    rep = report(store, schema, by="annotator", n_boot=50, with_disagreements=True)
    corpus = collect(rows_from_store(store), schema.claim_ids, stances=schema.stances)
    direct = [measure(f, corpus.annotators, n_boot=50) for f in build_fields(corpus)]
    assert [r.as_json() for r in rep.results] == [r.as_json() for r in direct]
    assert rep.annotators == ["alice", "bob"]
    assert rep.counted_statuses == ("done",) and not rep.include_flagged
    assert rep.kappa is not None and [(p.a, p.b, p.units) for p in rep.kappa] == [
        ("alice", "bob", 2 * len(schema.claim_ids))
    ]
    assert rep.disagreements is not None
    assert {(d.sentence_id, d.field) for d in rep.disagreements} >= {("a:1", "claims")}
    flagged = report(store, schema, n_boot=10, include_flagged=True)
    assert flagged.results[0].units == 3 and rep.results[0].units == 2
    with pytest.raises(AgreementError, match=r"at least 2 annotators; found 1 \(alice\)"):
        report(store, schema, annotators=["alice"], n_boot=10)


def _random_team_db(store: Store, seed: int) -> None:
    """Varied labels of 4 annotators on 80 sentences: claims, stances on many actors (one
    merged by an alias), skipped, flagged and draft labels, a propagated copy."""
    rng = random.Random(seed)
    add_article(store, "r", [f"Sentence {i}." for i in range(80)])
    ids = [r[1] for r in store.corpus.iter_sentence_rows()]
    actors = [store.actors.add(f"Actor {k}") for k in range(12)]
    store.actors.add_alias(actors[0], "Actor 11")  # actor 11 counts as actor 0
    claims = ["arms_deal", "denial", "sanctions_efficacy"]
    stances = ["support", "oppose", "neutral"]
    for sid in ids:
        truth = rng.sample(claims, rng.choice([0, 0, 1, 1, 2]))
        for who in ("alice", "bob", "carol", "dan"):
            if rng.random() < 0.15:
                continue  # never saw it
            status = rng.choices(["done", "skipped", "flagged", "draft"], [80, 8, 7, 5])[0]
            mine = [c for c in truth if rng.random() > 0.15]
            if rng.random() < 0.1:
                mine.append(rng.choice([c for c in claims if c not in mine] or claims[:1]))
            st = tuple(
                Stance(c, rng.choice(actors), rng.choice(stances))
                for c in mine
                for _ in range(rng.choice([0, 1, 1, 2]))
            )
            store.labels.save(Annotation(sid, who, status, tuple(dict.fromkeys(mine)), st))
    with store.tx():
        store.labels.import_records(
            [
                Annotation(
                    ids[5],
                    "erin",
                    "done",
                    ("denial",),
                    (),
                    propagated_from=ids[0],
                    created_at="2026-01-01T00:00:00Z",
                    updated_at="2026-01-01T00:00:00Z",
                )
            ]
        )


@pytest.mark.parametrize("seed", [1, 2])
def test_columnar_report_equals_the_object_path(
    store: Store, schema: Any, seed: int, tmp_path: Any
) -> None:
    """The columnar path of report() (labelcodes, shared resample weights) gives exactly the
    figures of the object path (collect, iter_fields, measure one field at a time), for every
    --by, --min-annotators and --include-flagged, from the DB and from an export."""
    _random_team_db(store, seed)
    out = tmp_path / "ann.jsonl"
    export(store, "annotations", str(out), Filters(statuses=("done", "flagged", "skipped")))

    def figures(rep: Any) -> list[Any]:
        rows = [r.as_json(rep.actor_names) for r in rep.results]
        kappa = [p.as_json() for p in rep.kappa] if rep.kappa is not None else None
        return [rows, kappa, rep.annotators, rep.suggestion_units]

    for by, k, flagged, source in itertools.product(
        [None, "annotator", "claim", "actor"], [2, 3], [False, True], [None, out]
    ):
        kw = dict(by=by, min_annotators=k, include_flagged=flagged, n_boot=80, seed=3)
        fast = report(store, schema, from_file=source, **kw)  # type: ignore[arg-type]
        slow = report(store, schema, from_file=source, with_disagreements=True, **kw)  # type: ignore[arg-type]
        a, b = figures(fast), figures(slow)
        assert a[1:] == b[1:], (by, k, flagged, source)
        assert len(a[0]) == len(b[0])
        for x, y in zip(a[0], b[0], strict=True):
            assert x.keys() == y.keys()
            for key in x:
                if isinstance(x[key], float):
                    assert x[key] == pytest.approx(y[key], abs=1e-12), (by, k, key, x["field"])
                else:
                    assert x[key] == y[key], (by, k, key, x["field"])


def test_a_suggestion_on_a_cluster_copy_marks_the_cluster_unit(store: Store, schema: Any) -> None:
    """A dedup cluster is one unit (its representative): a label made with suggestions shown on
    a copy makes that unit assisted, so --unassisted-only leaves it out and the count says so."""
    from dataclasses import replace

    from stanceterm.dedup import run_dedup

    sent = (
        "The State Department said more than 1,000 containers of munitions had been shipped to "
        "Russia, Matthew Miller said."
    )
    add_article(store, "afp", [sent, "Only the first outlet has this closing line today."])
    add_article(store, "ap", [sent.replace(", Matthew Miller said.", ", said Matthew Miller.")])
    add_article(store, "x", ["A sentence of its own.", "And another one here."])
    prov = '{"accepted":true,"applied":true,"claims":["arms_deal"],"model":"m"}'
    store.labels.save(replace(Annotation("ap:0", "alice", "done", ("arms_deal",)), suggested=prov))
    store.labels.save(Annotation("afp:0", "bob", "done", ("arms_deal",)))
    for sid in ("x:0", "x:1"):
        store.labels.save(Annotation(sid, "alice", "done", ("denial",)))
        store.labels.save(Annotation(sid, "bob", "done", ()))
    run_dedup(store)
    assert store.corpus.sentence("ap:0").cluster_id == "c:afp:0"  # type: ignore[union-attr]
    rep = report(store, schema, n_boot=10)
    assert (rep.suggestion_units, rep.units_with_suggestions) == (3, 1)
    only = report(store, schema, n_boot=10, unassisted_only=True)
    assert (only.suggestion_units, only.units_with_suggestions) == (2, 0)
    assert only.results[0].units == 2


def test_agreement_rows_without_a_sort_are_the_sorted_rows(store: Store) -> None:
    """The agreement read walks the sentences in seq order when no sentence is clustered (no
    sort of the labels): the rows and their order are those of the general query (units in
    seq order, annotators sorted), whatever order the sentences' ids or the labels' saving
    follow, with the annotator filter too; once dedup clusters sentences, the general query
    (a cluster is one unit) is used again."""
    from stanceterm.dedup import run_dedup

    sent = (
        "The State Department said more than 1,000 containers of munitions had been shipped to "
        "Russia, Matthew Miller said."
    )
    add_article(store, "zz", ["Zed first.", sent, "Zed third."])  # ids sort after "aa"
    add_article(store, "aa", ["Aa first.", "Aa second."])
    add_article(store, "mm", [sent.replace(", Matthew Miller said.", ", said Matthew Miller.")])
    saves = [
        ("aa:1", "carol", "done", ("denial",)),
        ("zz:2", "bob", "done", ()),
        ("zz:0", "carol", "skipped", ()),
        ("aa:0", "alice", "done", ("arms_deal",)),
        ("zz:1", "carol", "done", ("arms_deal",)),
        ("zz:0", "alice", "done", ("denial",)),
        ("mm:0", "bob", "done", ("arms_deal",)),
        ("zz:1", "alice", "done", ()),
        ("aa:1", "bob", "done", ("denial",)),
        ("zz:0", "bob", "done", ("denial",)),
        ("mm:0", "alice", "flagged", ()),
    ]
    for sid, who, status, claims in saves:
        store.labels.save(Annotation(sid, who, status, claims))

    def general(statuses: tuple[str, ...], annotators: tuple[str, ...] = ()) -> list[Any]:
        rows = store.labels.iter_reliability_rows(statuses=statuses, annotators=annotators)
        return [(r[0], r[2], r[4], r[5]) for r in rows]

    def batches(statuses: tuple[str, ...], annotators: tuple[str, ...] = ()) -> list[Any]:
        got = store.labels.reliability_batches(statuses=statuses, annotators=annotators, batch=3)
        return [tuple(r) for b in got for r in b]

    for statuses, who in [
        (("done",), ()),
        (("done", "flagged"), ()),
        (("done",), ("bob", "carol")),
    ]:
        want = general(statuses, who)
        assert batches(statuses, who) == want
    units = [r[0] for r in general(("done",))]
    assert units[:4] == ["zz:0", "zz:0", "zz:1", "zz:1"]  # seq order, not id order
    run_dedup(store)
    assert store.corpus.sentence("mm:0").cluster_id is not None  # type: ignore[union-attr]
    clustered = batches(("done",))
    assert clustered == general(("done",))
    assert "mm:0" not in {r[0] for r in clustered}  # the copy counts as its cluster's unit


def test_building_a_label_table_pauses_the_collector_and_restores_it() -> None:
    """build_table runs without cyclic GC (full collections over the growing heap cost 2 s of
    9 at 1M x 3) and leaves the collector as it found it, also when parsing fails."""
    import gc

    from stanceterm.labelcodes import build_table

    seen: list[bool] = []

    def claims(raw: Any) -> tuple[str, ...]:
        seen.append(gc.isenabled())
        if raw == "bad":
            raise ValueError("bad claims")
        return tuple(orjson.loads(raw))

    rows = [("s1", "alice", '["x"]', "[]"), ("s1", "bob", "[]", "[]")]
    assert gc.isenabled()
    table = build_table([rows], claims, lambda raw: ())
    assert table.unit_ids == ["s1"] and table.annotators == ["alice", "bob"]
    assert seen and not any(seen)
    assert gc.isenabled()
    with pytest.raises(ValueError, match="bad claims"):
        build_table([[("s1", "alice", "bad", "[]")]], claims, lambda raw: ())
    assert gc.isenabled()
    gc.disable()
    try:
        build_table([rows], claims, lambda raw: ())
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_report_with_bootstrap_threads_is_the_single_thread_report(
    store: Store, schema: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stanceterm agreement` on worker threads (what a 1M-sentence DB gets) reports exactly
    the figures of one thread (STANCETERM_JOBS=1): every alpha, interval and count, for each
    --by, the sparse actor sets included."""
    from stanceterm import agreement as agr

    rng = random.Random(4)
    add_article(store, "big", [f"Sentence number {i} here." for i in range(150)])
    ids = [r[1] for r in store.corpus.iter_sentence_rows()]
    actors = [store.actors.add(f"Actor {k}") for k in range(12)]
    claims = schema.claim_ids
    for sid in ids:
        base = rng.sample(claims, rng.randrange(0, 3))
        for who in ("alice", "bob", "carol"):
            if rng.random() < 0.15:
                continue
            mine = tuple(c for c in base if rng.random() < 0.85)
            stances = tuple(
                Stance(c, rng.choice(actors), rng.choice(["support", "oppose"])) for c in mine
            )
            store.labels.save(Annotation(sid, who, "done", mine, stances))
    monkeypatch.setattr(agr, "_THREADS_MIN_DRAWS", 0)
    monkeypatch.setattr(agr, "_SPARSE_SET_VALUES", 3)  # the actor sets take the sparse path
    monkeypatch.setattr(agr.os, "sched_getaffinity", lambda _: {0, 1})
    calls: list[int] = []
    real = agr._bootstrap_many

    def spy(boots: Any, n: int, seed: Any, threads: int = 1) -> Any:
        calls.append(threads)
        return real(boots, n, seed, threads)

    monkeypatch.setattr(agr, "_bootstrap_many", spy)
    for by in (None, "claim", "actor"):
        monkeypatch.delenv("STANCETERM_JOBS", raising=False)
        threaded = report(store, schema, by=by, n_boot=120, seed=5)
        monkeypatch.setenv("STANCETERM_JOBS", "1")
        single = report(store, schema, by=by, n_boot=120, seed=5)
        assert calls[-2:] == [2, 1]
        assert [r.as_json() for r in threaded.results] == [r.as_json() for r in single.results]
        assert any(r.field == "actors" for r in threaded.results) or by is not None
