"""Tests for stanceterm.agreement: reference packages, published examples, edge cases."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from itertools import permutations
from typing import Any

import krippendorff
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from stanceterm import agreement
from stanceterm.agreement import (
    AgreementResult,
    Coded,
    Level,
    alpha,
    alpha_with_ci,
    alphas_with_ci,
    bootstrap_ci,
    bootstrap_samples,
    cohen_kappa,
    coincidence_matrix,
    fleiss_kappa,
    jaccard_distance,
    masi_distance,
    percent_agreement,
)

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same(ours: float, theirs: float, tol: float = 1e-9) -> bool:
    """Equal within tolerance, or both NaN (a degenerate case both sides agree is undefined)."""
    if math.isnan(theirs) or math.isnan(ours):
        return math.isnan(theirs) and math.isnan(ours)
    return math.isclose(ours, theirs, rel_tol=tol, abs_tol=tol)


def to_float(data: Sequence[Sequence[Any]]) -> np.ndarray:
    return np.array([[np.nan if v is None else float(v) for v in row] for row in data])


def reference_alpha(data: Sequence[Sequence[Any]], level: Any, **kw: Any) -> float:
    """krippendorff.alpha, with its errors on degenerate data mapped to NaN."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return float(krippendorff.alpha(to_float(data), level_of_measurement=level, **kw))
        except ValueError:  # "one value in the domain" / "no unit with two coders"
            return math.nan


def reliability(values: st.SearchStrategy[Any], max_coders: int = 5, max_units: int = 25) -> Any:
    """Rectangular annotators x units matrices with None as missing."""
    cell = st.one_of(st.none(), values)
    return st.integers(1, max_coders).flatmap(
        lambda m: st.integers(1, max_units).flatmap(
            lambda n: st.lists(st.lists(cell, min_size=n, max_size=n), min_size=m, max_size=m)
        )
    )


LABELS = st.integers(0, 4)
REALS = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.25, 7.0, 10.0, 12.5])


# --------------------------------------------------------------------------------------------
# alpha vs the krippendorff package
# --------------------------------------------------------------------------------------------


@PROPERTY
@given(data=reliability(LABELS), level=st.sampled_from(["nominal", "ordinal", "interval"]))
def test_alpha_matches_krippendorff_on_labels(data: list[list[Any]], level: Level) -> None:
    expected = reference_alpha(data, level)
    assert same(alpha(data, level), expected)  # lists with None
    assert same(alpha(to_float(data), level), expected)  # numpy with NaN


@PROPERTY
@given(data=reliability(REALS), level=st.sampled_from(["ordinal", "interval", "ratio"]))
def test_alpha_matches_krippendorff_on_reals(data: list[list[Any]], level: Level) -> None:
    expected = reference_alpha(data, level)
    assert same(alpha(data, level), expected)
    assert same(alpha(to_float(data), level), expected)


@PROPERTY
@given(data=reliability(st.integers(0, 1000), max_coders=4, max_units=15))
def test_alpha_matches_krippendorff_on_wide_ratio_scales(data: list[list[Any]]) -> None:
    # Many distinct integers; exercises both the lookup-table and the np.unique coding paths.
    for level in ("ordinal", "interval", "ratio"):
        assert same(alpha(to_float(data), level), reference_alpha(data, level))


def test_alpha_non_integer_numbers_use_the_unique_path() -> None:
    rng = np.random.default_rng(3)
    data = rng.normal(size=(4, 60)).round(1) + 5.0
    data[rng.random(data.shape) < 0.2] = np.nan
    for level in ("nominal", "ordinal", "interval", "ratio"):
        expected = float(krippendorff.alpha(data, level_of_measurement=level))
        assert same(alpha(data, level), expected)


@PROPERTY
@given(data=reliability(st.sampled_from(["neg", "neu", "pos", "unk"])))
def test_alpha_on_strings_equals_alpha_on_their_codes(data: list[list[Any]]) -> None:
    order = {"neg": 0, "neu": 1, "pos": 2, "unk": 3}  # alphabetical order == code order
    coded = [[None if v is None else order[v] for v in row] for row in data]
    for level in ("nominal", "ordinal"):
        assert same(alpha(data, level), alpha(coded, level))
        assert same(alpha(coded, level), reference_alpha(coded, level))
    if data and all(v is not None for row in data for v in row):
        assert same(alpha(np.array(data), "ordinal"), alpha(coded, "ordinal"))


@PROPERTY
@given(data=reliability(LABELS, max_coders=4, max_units=12), perm=st.randoms())
def test_alpha_ignores_unit_and_annotator_order(data: list[list[Any]], perm: Any) -> None:
    cols = list(range(len(data[0])))
    perm.shuffle(cols)
    shuffled = [[row[c] for c in cols] for row in data]
    perm.shuffle(shuffled)
    assert same(alpha(shuffled), alpha(data))


@PROPERTY
@given(data=reliability(LABELS, max_coders=4, max_units=12))
def test_units_with_fewer_than_two_values_are_ignored(data: list[list[Any]]) -> None:
    lonely: list[list[int | None]] = [[None] * len(data) for _ in range(3)]  # three extra units
    for j, unit in enumerate(lonely):
        unit[j % len(data)] = 4 - j  # one value each (or none)
    extended = [row + [unit[i] for unit in lonely] for i, row in enumerate(data)]
    for level in ("nominal", "ordinal", "interval"):
        assert same(alpha(extended, level), alpha(data, level))


# --------------------------------------------------------------------------------------------
# published worked examples
# --------------------------------------------------------------------------------------------

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers x 12 units, values 1..5, with missing data.
K2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_2011_multiple_observers_missing_data(level: Level, published: float) -> None:
    value = alpha(K2011, level)
    assert round(value, 3) == published
    assert same(value, reference_alpha(K2011, level))


def test_krippendorff_2011_unit_with_one_value_is_not_pairable() -> None:
    # Unit 12 of the example has a single value: it adds no pairable value.
    _, o = coincidence_matrix(K2011)
    assert o.sum() == 40  # 11 pairable units: 3+4+4+4+4+4+4+4+4+3+2 values
    assert same(alpha([row[:11] for row in K2011]), alpha(K2011))


def test_krippendorff_2011_binary_two_observers() -> None:
    # Section A (binary data, two observers, no missing data). The paper prints the
    # coincidences o00=10, o01=o10=4, o11=2, n0=14, n1=6, n=20 and alpha = 1 - 19*4/(14*6).
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    values, o = coincidence_matrix([a, b])
    assert values == [0, 1]
    np.testing.assert_array_equal(o, [[10, 4], [4, 2]])
    assert round(alpha([a, b]), 3) == 0.095
    assert same(alpha([a, b]), 1 - 19 * 4 / (14 * 6))
    assert same(alpha([a, b]), reference_alpha([a, b], "nominal"))


# Fleiss (1971) as worked on Wikipedia "Fleiss' kappa": 10 subjects, 14 raters, 5 categories.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def table_to_reliability(table: list[list[int]]) -> list[list[int]]:
    """Category counts per subject -> raters x subjects (rater identity is irrelevant to Fleiss)."""
    columns = [[cat for cat, k in enumerate(row) for _ in range(k)] for row in table]
    return [list(r) for r in zip(*columns, strict=True)]


def test_fleiss_worked_example() -> None:
    data = table_to_reliability(FLEISS_TABLE)
    assert len(data) == 14 and len(data[0]) == 10
    value = fleiss_kappa(data)
    assert round(value, 3) == 0.210
    assert same(value, float(sm_fleiss_kappa(np.array(FLEISS_TABLE), method="fleiss")))
    # P_bar = 0.378 in the worked example; percent_agreement is that mean on complete data.
    assert round(percent_agreement(data), 3) == 0.378


def test_cohen_textbook_example() -> None:
    # 50 proposals: both yes 20, A yes / B no 5, A no / B yes 10, both no 15.
    # p_o = 0.70, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.50, kappa = 0.40 (Wikipedia, "Cohen's kappa").
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert same(cohen_kappa(a, b), 0.4, tol=1e-12)
    assert same(cohen_kappa(a, b), float(cohen_kappa_score(a, b)))
    assert same(percent_agreement([a, b]), 0.7, tol=1e-12)


# --------------------------------------------------------------------------------------------
# kappas vs sklearn / statsmodels
# --------------------------------------------------------------------------------------------


@PROPERTY
@given(
    pairs=st.lists(
        st.tuples(st.one_of(st.none(), st.integers(0, 3)), st.one_of(st.none(), st.integers(0, 3))),
        max_size=40,
    )
)
def test_cohen_kappa_matches_sklearn(pairs: list[tuple[int | None, int | None]]) -> None:
    a = [x for x, _ in pairs]
    b = [y for _, y in pairs]
    kept = [(x, y) for x, y in pairs if x is not None and y is not None]
    ours = cohen_kappa(a, b)
    labels = {v for pair in kept for v in pair}
    if len(labels) < 2:  # no pair, or both used one same label: p_e == 1, undefined
        assert math.isnan(ours)
        return
    xs, ys = zip(*kept, strict=True)
    assert same(ours, float(cohen_kappa_score(list(xs), list(ys))))


def test_cohen_kappa_edge_cases() -> None:
    assert math.isnan(cohen_kappa([], []))
    assert math.isnan(cohen_kappa([1, None], [None, 1]))
    assert math.isnan(cohen_kappa(["a", "a"], ["a", "a"]))
    assert cohen_kappa(["a", "b"], ["a", "b"]) == 1.0
    assert cohen_kappa(["a", "a"], ["b", "b"]) == 0.0  # p_o = p_e = 0
    assert cohen_kappa(["x", float("nan"), "y"], ["x", "y", "y"]) == 1.0
    with pytest.raises(ValueError, match="equal length"):
        cohen_kappa([1, 2], [1])


@PROPERTY
@given(data=reliability(LABELS, max_coders=6, max_units=20).filter(lambda d: len(d) >= 2))
def test_fleiss_kappa_matches_statsmodels(data: list[list[Any]]) -> None:
    complete = [unit for unit in zip(*data, strict=True) if None not in unit]
    ours = fleiss_kappa(data)
    if len({v for unit in complete for v in unit}) < 2:  # no complete unit / one category
        assert math.isnan(ours)
        return
    table, _ = aggregate_raters(np.array(complete))
    assert same(ours, float(sm_fleiss_kappa(table, method="fleiss")))


def test_fleiss_kappa_edge_cases() -> None:
    assert math.isnan(fleiss_kappa([[1, 2, 3]]))  # one annotator
    assert math.isnan(fleiss_kappa([[1, None], [None, 2]]))  # no complete unit
    assert math.isnan(fleiss_kappa([[1, 1], [1, 1]]))  # one category
    # The incomplete unit is dropped, not counted as disagreement.
    assert fleiss_kappa([[1, 2, 1], [1, 2, None]]) == fleiss_kappa([[1, 2], [1, 2]]) == 1.0


def brute_percent_agreement(data: list[list[Any]]) -> float:
    shares = []
    for unit in zip(*data, strict=True):
        values = [v for v in unit if v is not None]
        if len(values) >= 2:
            pairs = list(permutations(values, 2))
            shares.append(sum(x == y for x, y in pairs) / len(pairs))
    return sum(shares) / len(shares) if shares else math.nan


@PROPERTY
@given(data=reliability(LABELS))
def test_percent_agreement_is_mean_pairwise_agreement(data: list[list[Any]]) -> None:
    assert same(percent_agreement(data), brute_percent_agreement(data), tol=1e-12)


# --------------------------------------------------------------------------------------------
# degenerate data, input validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_no_variation_is_nan_not_one(level: Level) -> None:
    assert math.isnan(alpha([[3, 3, 3], [3, 3, 3]], level))
    # A different value in a unit with a single value does not create variation.
    assert math.isnan(alpha([[3, 3, 7], [3, 3, None]], level))


def test_no_pairable_unit_is_nan() -> None:
    assert math.isnan(alpha([[1, None], [None, 2]]))
    assert math.isnan(alpha([[1, 2, 3]]))
    assert math.isnan(alpha([[], []]))
    assert math.isnan(alpha([]))
    assert math.isnan(alpha(np.full((3, 4), np.nan)))
    assert math.isnan(percent_agreement([[1, None], [None, 2]]))


def test_perfect_agreement_on_varied_data_is_one() -> None:
    assert alpha([[1, 2, 3], [1, 2, 3]]) == 1.0
    assert alpha([[1, 2, 3], [1, 2, 3]], "interval") == 1.0


def test_systematic_disagreement_is_negative() -> None:
    assert alpha([[0, 1, 0, 1], [1, 0, 1, 0]]) < 0


def test_nan_and_none_are_both_missing() -> None:
    with_none = [[1, 2, None, 3], [1, 3, 2, None]]
    with_nan = [[1, 2, float("nan"), 3], [1, 3, 2, np.nan]]
    assert same(alpha(with_nan, "interval"), alpha(with_none, "interval"))
    assert same(alpha(with_nan), alpha(with_none))


@pytest.mark.parametrize(
    ("data", "level", "message"),
    [
        ([[1, 2], [1]], "nominal", "ragged"),
        ([[1, 2], [1, 2]], "cardinal", "unknown level"),
        ([["a", "b"], ["a", "b"]], "interval", "finite numbers"),
        ([[1, -2], [1, 2]], "ratio", "non-negative"),
        (np.array([[1.0, -2.0], [1.0, 2.0]]), "ratio", "non-negative"),
        ([[1, float("inf")], [1, 2]], "interval", "finite numbers"),
        (np.array([[1.0, np.inf], [1.0, 2.0]]), "interval", "infinite"),
        ([[1, "a"], [1, 2]], "ordinal", "sort"),
        ([[frozenset("a"), frozenset("b")]] * 2, "ordinal", "sets"),
        ([[1, 2], [1, 2]], "masi", "set-valued"),
        (np.array([[1, 2], [1, 2]]), "jaccard", "set-valued"),
        ([[[1], [2]], [[1], [2]]], "nominal", "unhashable"),
        (["ab", "ab"], "nominal", "not a sequence"),
        (np.zeros(3), "nominal", "2-D"),
    ],
)
def test_bad_input_raises_value_error(data: Any, level: Level, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        alpha(data, level)


def test_too_many_distinct_values_is_a_clean_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agreement, "_MAX_CATEGORIES", 3)
    with pytest.raises(ValueError, match="4 distinct values over 2 units"):
        alpha([[0.1, 0.2], [0.3, 0.4]], "interval")
    monkeypatch.setattr(agreement, "_MAX_CATEGORIES", 10)
    monkeypatch.setattr(agreement, "_MAX_COUNT_CELLS", 5)
    with pytest.raises(ValueError, match="too many"):
        percent_agreement([[1, 2, 3], [1, 2, 3]])


# --------------------------------------------------------------------------------------------
# set-valued levels: MASI and Jaccard
# --------------------------------------------------------------------------------------------

F = frozenset


def test_masi_standard_cases() -> None:
    assert masi_distance(F("ab"), F("ab")) == 0.0  # identical: similarity 1
    assert masi_distance(F(), F()) == 0.0  # two empty sets are identical
    # subset: J = 1/2, M = 2/3
    assert math.isclose(1 - masi_distance(F("a"), F("ab")), (1 / 2) * (2 / 3))
    assert math.isclose(1 - masi_distance(F("ab"), F("a")), (1 / 2) * (2 / 3))
    # overlap without containment: J = 1/3, M = 1/3
    assert math.isclose(1 - masi_distance(F("ab"), F("bc")), (1 / 3) * (1 / 3))
    assert masi_distance(F("a"), F("b")) == 1.0  # disjoint: M = 0
    assert masi_distance(F(), F("a")) == 1.0  # J = 0
    assert math.isclose(1 - masi_distance(F("abc"), F("abcd")), (3 / 4) * (2 / 3))


def test_jaccard_standard_cases() -> None:
    assert jaccard_distance(F("ab"), F("ab")) == 0.0
    assert jaccard_distance(F(), F()) == 0.0
    assert jaccard_distance(F("a"), F("ab")) == 0.5
    assert math.isclose(jaccard_distance(F("ab"), F("bc")), 2 / 3)
    assert jaccard_distance(F("a"), F("b")) == 1.0


SETS = st.frozensets(st.sampled_from("abcd"), max_size=4)


@PROPERTY
@given(
    data=reliability(SETS, max_coders=4, max_units=12), level=st.sampled_from(["masi", "jaccard"])
)
def test_set_alpha_matches_krippendorff_with_the_scalar_metric(
    data: list[list[Any]], level: Level
) -> None:
    # Same data through the package: code each distinct set as an integer, and give the package
    # a distance built from the scalar masi/jaccard functions (independent of our matrix code).
    scalar = masi_distance if level == "masi" else jaccard_distance
    distinct = sorted({v for row in data for v in row if v is not None}, key=sorted)
    code = {s: i for i, s in enumerate(distinct)}
    table = np.array([[scalar(x, y) for y in distinct] for x in distinct]).reshape(
        len(distinct), len(distinct)
    )

    def metric(v1: Any, v2: Any, i1: Any, i2: Any, n_v: Any, dtype: Any = np.float64) -> Any:
        return table[v1.astype(int), v2.astype(int)].astype(dtype)

    coded = [[None if v is None else code[v] for v in row] for row in data]
    assert same(alpha(data, level), reference_alpha(coded, metric))


def test_set_levels_accept_plain_sets_and_differ_from_nominal() -> None:
    data = [[{"a"}, {"a", "b"}, {"c"}, set()], [{"a"}, {"a"}, {"c", "d"}, set()]]
    frozen = [[F(v) for v in row] for row in data]
    assert same(alpha(data, "masi"), alpha(frozen, "masi"))
    assert alpha(frozen, "masi") > alpha(frozen, "nominal")  # partial credit for overlaps
    assert alpha(frozen, "jaccard") > alpha(frozen, "masi")  # MASI penalises partial overlap more


# --------------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------------


def simulated(n_units: int, n_coders: int = 4, noise: float = 0.3, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, size=n_units)
    data = np.tile(truth, (n_coders, 1)).astype(float)
    flip = rng.random(data.shape) < noise
    data[flip] = rng.integers(0, 4, size=int(flip.sum()))
    data[rng.random(data.shape) < 0.15] = np.nan
    return data


def test_bootstrap_is_seeded_and_reproducible() -> None:
    data = simulated(200)
    assert bootstrap_ci(data, "nominal", n=300, seed=7) == bootstrap_ci(
        data, "nominal", n=300, seed=7
    )
    assert bootstrap_ci(data, "nominal", n=300, seed=7) != bootstrap_ci(
        data, "nominal", n=300, seed=8
    )


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_fast_bootstrap_equals_recomputing_alpha_on_each_resample(level: Level) -> None:
    data = simulated(40)
    fast = bootstrap_samples(data, level, n=60, seed=3)
    slow = bootstrap_samples(data, lambda d: alpha(d, level), n=60, seed=3)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)


def test_fast_bootstrap_on_sets_equals_recomputing() -> None:
    rng = np.random.default_rng(5)
    pool = [F(), F("a"), F("ab"), F("b"), F("bc"), F("abc")]
    data = [
        [pool[i] if rng.random() > 0.1 else None for i in rng.integers(0, 6, 30)] for _ in range(3)
    ]
    for level in ("masi", "jaccard"):
        fast = bootstrap_samples(data, level, n=40, seed=2)
        slow = bootstrap_samples(data, lambda d, lv=level: alpha(d, lv), n=40, seed=2)
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)


def test_ordinal_bootstrap_loop_path_equals_matrix_path(monkeypatch: pytest.MonkeyPatch) -> None:
    data = simulated(50)
    matrix = bootstrap_samples(data, "ordinal", n=30, seed=4)
    monkeypatch.setattr(agreement, "_QFLAT_MAX_ELEMENTS", 0)
    looped = bootstrap_samples(data, "ordinal", n=30, seed=4)
    np.testing.assert_allclose(matrix, looped, rtol=1e-12)
    monkeypatch.setattr(agreement, "_BOOT_ORDINAL_ELEMENTS", 40)  # 2 resamples at a time
    np.testing.assert_allclose(bootstrap_samples(data, "ordinal", n=30, seed=4), matrix, rtol=1e-12)


def test_interval_contains_estimate_and_narrows_with_more_units() -> None:
    small, large = simulated(60, seed=2), simulated(2000, seed=2)
    for data in (small, large):
        low, high = bootstrap_ci(data, "nominal", n=400)
        assert low < alpha(data) < high
    width_small = np.subtract(*bootstrap_ci(small, "nominal", n=400)[::-1])
    width_large = np.subtract(*bootstrap_ci(large, "nominal", n=400)[::-1])
    assert width_large < width_small / 2  # ~ 1/sqrt(units): sqrt(2000/60) ~ 5.8


def test_bootstrap_with_a_callable_statistic() -> None:
    data = simulated(80, n_coders=3)
    low, high = bootstrap_ci(data, fleiss_kappa, n=200)
    assert low < fleiss_kappa(data) < high
    rows = [[None if np.isnan(v) else int(v) for v in row] for row in data]
    assert bootstrap_ci(rows, percent_agreement, n=50) == bootstrap_ci(
        data, percent_agreement, n=50
    )


def test_bootstrap_excludes_undefined_resamples() -> None:
    # Unit 1 varies, the other 4 units agree on 0: resamples without unit 1 have no variation.
    data = [[1, 0, 0, 0, 0], [2, 0, 0, 0, 0]]
    samples = bootstrap_samples(data, "nominal", n=200, seed=0)
    undefined = np.isnan(samples)
    assert 0 < undefined.sum() < 200  # (4/5)**5 ~ 33% of resamples miss unit 1
    low, high = bootstrap_ci(data, "nominal", n=200, seed=0)
    assert not math.isnan(low) and not math.isnan(high)
    assert bootstrap_ci([[1, 1], [1, 1]], "nominal", n=10) == pytest.approx(
        (math.nan,) * 2, nan_ok=True
    )


def test_ci_is_the_percentile_interval_of_the_defined_resamples() -> None:
    data = simulated(30)
    data[:, :6] = 0.0  # a few all-agreeing units make some resamples more extreme
    samples = bootstrap_samples(data, "nominal", n=300, seed=1)
    valid = samples[~np.isnan(samples)]
    assert np.ptp(valid) > 0
    low, high = bootstrap_ci(data, "nominal", n=300, ci=0.8, seed=1)
    assert (low, high) == tuple(float(q) for q in np.quantile(valid, [0.1, 0.9]))


def test_bootstrap_argument_checks() -> None:
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_ci(simulated(10), "nominal", n=0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(simulated(10), "nominal", ci=1.0)


def test_alpha_with_ci_result() -> None:
    result = alpha_with_ci(K2011, "ordinal", n_boot=500, ci=0.9, seed=11)
    assert isinstance(result, AgreementResult)
    assert result.value == alpha(K2011, "ordinal")
    assert (result.ci_low, result.ci_high) == bootstrap_ci(K2011, "ordinal", n=500, ci=0.9, seed=11)
    assert result.ci_low <= result.value <= result.ci_high
    assert result.units == 11  # unit 12 has a single value
    assert result.annotators == 4
    assert (result.level, result.ci, result.n_boot, result.n_valid) == ("ordinal", 0.9, 500, 500)
    empty = alpha_with_ci([[1, None], [None, 2]], n_boot=20)
    assert math.isnan(empty.value) and math.isnan(empty.ci_low) and empty.units == 0
    assert empty.annotators == 0 and empty.n_valid == 0


def test_bootstrap_is_fast_on_ten_thousand_units() -> None:
    import time

    data = simulated(10_000)
    start = time.perf_counter()
    bootstrap_ci(data, "nominal", n=1000)
    bootstrap_ci(data, "ordinal", n=1000)
    assert time.perf_counter() - start < 10.0  # ~0.2 s on one core; generous for shared CI


# --------------------------------------------------------------------------------------------
# module hygiene
# --------------------------------------------------------------------------------------------


def test_public_names_exist() -> None:
    for name in agreement.__all__:
        assert hasattr(agreement, name), name
    assert agreement.LEVELS == ("nominal", "ordinal", "interval", "ratio", "masi", "jaccard")


def test_alpha_from_lists_equals_array_and_krippendorff_on_random_data() -> None:
    """The list fast path (np.fromiter factorisation, issue 17) gives the same value as the
    float-array path and the krippendorff package, with None and distinct NaN objects missing."""
    import krippendorff

    rng = np.random.default_rng(7)
    data = rng.integers(0, 6, size=(5, 3000)).astype(np.float64)
    data[rng.random(data.shape) < 0.25] = np.nan
    rows: list[list[Any]] = [[None if np.isnan(v) else int(v) for v in row] for row in data]
    rows[0] = [float("nan") if v is None else v for v in rows[0]]  # fresh NaN objects
    as_str = [[None if v is None or v != v else f"c{v}" for v in row] for row in rows]
    want = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    for level in ("nominal", "ordinal", "interval"):
        assert alpha(rows, level) == pytest.approx(alpha(data, level), abs=1e-12)
    assert alpha(rows) == pytest.approx(want, abs=1e-12)
    assert alpha(as_str) == pytest.approx(want, abs=1e-12)
    with pytest.raises(ValueError, match="unhashable"):
        alpha([[1, [2]], [1, 2]])


@pytest.mark.parametrize("level", ["masi", "jaccard"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sparse_set_formulation_equals_dense(
    level: Level, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sparse formulation for set values (issue 17: many distinct actors) gives the dense
    count-matrix results: alpha, bootstrap samples and alpha_with_ci."""
    import random

    from stanceterm import agreement as agr

    rng = random.Random(seed)
    data: list[list[Any]] = [
        [
            None if rng.random() < 0.2 else frozenset(rng.sample(range(12), rng.randint(0, 3)))
            for _ in range(400)
        ]
        for _ in range(rng.choice([2, 3, 4]))
    ]
    dense = (alpha(data, level), bootstrap_samples(data, level, n=60, seed=5))
    monkeypatch.setattr(agr, "_SPARSE_SET_VALUES", 0)
    assert alpha(data, level) == pytest.approx(dense[0], abs=1e-12)
    np.testing.assert_allclose(bootstrap_samples(data, level, n=60, seed=5), dense[1], atol=1e-12)
    assert alpha_with_ci(data, level, n_boot=60, seed=5).value == pytest.approx(dense[0], abs=1e-12)
    dense_pa = percent_agreement(data)
    monkeypatch.setattr(agr, "_SPARSE_SET_VALUES", -1)
    assert percent_agreement(data) == pytest.approx(dense_pa, abs=1e-12)


def test_set_alpha_with_thousands_of_distinct_actor_sets() -> None:
    """Real labels name thousands of distinct actors: 8,000 distinct sets no longer raise
    (the dense method stopped at 5,000 values), and two identical annotators give 1.0."""
    import random

    rng = random.Random(0)
    truth = [
        frozenset({f"actor{rng.randrange(20000)}", f"actor{rng.randrange(300)}"})
        for _ in range(8000)
    ]
    other = [
        v if rng.random() < 0.8 else frozenset({f"actor{rng.randrange(20000)}"}) for v in truth
    ]
    a = alpha([truth, other, truth], "masi")
    assert 0.5 < a < 1.0
    assert alpha([truth, truth], "masi") == 1.0
    res = alpha_with_ci([truth, other, truth], "masi", n_boot=50)
    assert res.ci_low <= a <= res.ci_high
    assert 0.8 < percent_agreement([truth, other, truth]) < 1.0


def test_fields_sharing_resample_weights_get_their_own_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """alphas_with_ci draws each block of resample weights once for the fields with the same
    number of pairable units; each result is exactly alpha_with_ci of that field alone (same
    seed, same resamples), the sparse set path included, and it is reproducible."""
    from stanceterm import agreement as agr

    rng = np.random.default_rng(9)
    nominal = simulated(300, seed=4)
    nominal[:, :] = np.where(np.isnan(nominal).any(axis=0), 1.0, nominal)  # all 300 pairable
    pool = [F(), F("a"), F("ab"), F("b"), F("bc"), F("abc"), F("c")]
    sets = [[pool[i] for i in rng.integers(0, len(pool), 300)] for _ in range(4)]
    other = simulated(120, seed=5)  # another number of units: its own draws
    items: list[tuple[Any, Level]] = [
        (nominal, "nominal"),
        (sets, "masi"),
        (other, "ordinal"),
        (nominal, "interval"),
    ]
    together = alphas_with_ci(items, n_boot=150, seed=11)
    alone = [alpha_with_ci(d, lv, n_boot=150, seed=11) for d, lv in items]
    for a, b in zip(together, alone, strict=True):
        assert a.value == pytest.approx(b.value, abs=1e-12)
        assert (a.ci_low, a.ci_high) == pytest.approx((b.ci_low, b.ci_high), abs=1e-12)
        assert (a.units, a.annotators, a.n_valid) == (b.units, b.annotators, b.n_valid)
    assert alphas_with_ci(items, n_boot=150, seed=11) == together
    assert alphas_with_ci(items, n_boot=150, seed=12) != together
    monkeypatch.setattr(agr, "_SPARSE_SET_VALUES", 0)  # the masi field through the sparse path
    sparse = alphas_with_ci(items, n_boot=150, seed=11)
    assert sparse[1].value == pytest.approx(together[1].value, abs=1e-12)
    assert (sparse[1].ci_low, sparse[1].ci_high) == pytest.approx(
        (together[1].ci_low, together[1].ci_high), abs=1e-12
    )


def test_coded_data_gives_the_figures_of_the_values() -> None:
    """Coded (codes + domain) is reliability data: alpha, percent agreement and the CI are those
    of the values it stands for; a code outside the domain is refused in one line."""
    data = [[1, 2, 3, 3, None], [1, 2, 3, 1, 2], [None, 2, 3, 3, 2]]
    domain = [1, 2, 3]
    codes = np.array([[-1 if v is None else domain.index(v) for v in r] for r in data])
    coded = Coded(codes, domain)
    for level in ("nominal", "ordinal", "interval"):
        assert alpha(coded, level) == pytest.approx(alpha(data, level), abs=1e-12)  # type: ignore[arg-type]
    assert percent_agreement(coded) == pytest.approx(percent_agreement(data), abs=1e-12)
    assert bootstrap_ci(coded, "nominal", n=50) == bootstrap_ci(data, "nominal", n=50)
    assert bootstrap_ci(coded, fleiss_kappa, n=20) == bootstrap_ci(data, fleiss_kappa, n=20)
    with pytest.raises(ValueError, match="indexing its domain"):
        alpha(Coded(codes, [1, 2]))


def test_lists_of_plain_numbers_keep_python_equality() -> None:
    """The one-pass path for lists of plain numbers changes no value's meaning: what is not a
    plain number (None, strings, huge ints, infinity) takes the exact path, and the result is
    the same as on the float array or the object path."""
    data = simulated(300, seed=3)
    rows = [[math.nan if np.isnan(v) else int(v) for v in row] for row in data]
    assert alpha(rows) == pytest.approx(alpha(data), abs=1e-12)
    with_none = [[None if np.isnan(v) else int(v) for v in row] for row in data]
    assert alpha(with_none) == pytest.approx(alpha(data), abs=1e-12)
    for level in ("ordinal", "interval", "ratio"):
        assert alpha(rows, level) == pytest.approx(alpha(data, level), abs=1e-12)  # type: ignore[arg-type]
    big = 2**60
    assert alpha([[big, big + 1, 1], [big, big + 1, 1]]) == 1.0  # not merged by float rounding
    assert alpha([["1", 1, 2], ["1", 1.0, 2]]) == 1.0  # "1" and 1 stay two values
    assert alpha([["1", 2, 2], [1, 2, 2]]) < 1.0
    assert alpha([[math.inf, 1, 2], [math.inf, 1, 2]]) == 1.0
    assert alpha([[True, 0, 2], [1, False, 2.0]]) == 1.0  # 1 == True == 1.0 in Python


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(-70, 70),
    st.integers(1, 80),
    st.integers(1, 5),
    st.integers(1, 40),
    st.floats(0.0, 0.9),
    st.integers(0, 2**31),
)
def test_nominal_count_path_equals_the_object_path(
    low: int, span: int, annotators: int, units: int, missing: float, seed: int
) -> None:
    """The one-bincount nominal path (small integer codes, issue 17) gives the value of the exact
    object path on any shift, span (over 64 values it is not taken), missing share and shape;
    fractions, infinities and all-missing data take the general path with the same results."""
    rng = np.random.default_rng(seed)
    data = rng.integers(low, low + span, size=(annotators, units)).astype(np.float64)
    data[rng.random(data.shape) < missing] = np.nan
    as_str = [[None if np.isnan(v) else f"c{int(v)}" for v in row] for row in data]
    rows = [[math.nan if np.isnan(v) else int(v) for v in row] for row in data]
    want = alpha(as_str)
    assert same(alpha(data), want) or alpha(data) == pytest.approx(want, abs=1e-12)
    assert same(alpha(rows), want) or alpha(rows) == pytest.approx(want, abs=1e-12)
    halves = data / 2.0  # fractional values: the general numeric path, same partition
    assert same(alpha(halves), want) or alpha(halves) == pytest.approx(want, abs=1e-12)


def test_lists_of_numbers_compare_by_float_value() -> None:
    """Lists convert one row at a time through array('d'): strings and bytes never become
    numbers, numpy scalars and Decimals that equal a float are that float."""
    from decimal import Decimal

    assert alpha([[Decimal("0.5"), 1, 2], [0.5, 1.0, np.int64(2)]]) == 1.0
    assert alpha([[b"1", 1, 2], [1, b"1", 2]]) < 1.0
    assert alpha([[np.float32(0.25), 3, 2], [0.25, np.int8(3), 2]]) == 1.0
    assert math.isnan(alpha([[math.nan, math.nan], [math.nan, math.nan]]))
    assert math.isnan(alpha([[1.0, math.nan], [math.nan, 2.0]]))


def _threaded_fixture(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Level]]:
    """Fields of two unit counts (two groups), dense and sparse, with blocks small enough that
    resamples span several weight blocks and draw blocks straddle them."""
    from stanceterm import agreement as agr

    monkeypatch.setattr(agr, "_BOOT_BLOCK_ELEMENTS", 3 * 400)  # draws: 3 resamples at a time
    monkeypatch.setattr(agr, "_BOOT_WEIGHT_ELEMENTS", 1)  # weights: 32 resamples at a time
    monkeypatch.setattr(agr, "_SPARSE_SET_VALUES", 4)  # the actor-like sets: sparse path
    rng = np.random.default_rng(21)
    nominal = simulated(400, seed=8)
    nominal[:, :] = np.where(np.isnan(nominal).any(axis=0), 2.0, nominal)
    names = [f"a{i}" for i in range(40)]
    sets = [
        [
            frozenset(rng.choice(names, size=int(rng.integers(0, 3)), replace=False))
            for _ in range(400)
        ]
        for _ in range(3)
    ]
    sets[1] = [v if rng.random() < 0.7 else sets[0][u] for u, v in enumerate(sets[1])]
    return [
        (nominal, "nominal"),
        (sets, "masi"),
        (sets, "jaccard"),
        (simulated(150, seed=9), "ordinal"),
        (nominal, "interval"),
    ]


def test_threaded_bootstrap_is_the_serial_one_bit_for_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker threads count the draws and compute the fields on the same blocks as the serial
    path: every resampled alpha is the serial one exactly (not to a tolerance), for any number
    of threads, and the same seed gives the same samples again."""
    items = _threaded_fixture(monkeypatch)
    prepared = [agreement._prepare(*agreement._encode(d, lv), lv)[1] for d, lv in items]
    n = 101  # not a multiple of the 32-resample blocks nor of the 3-resample draw blocks
    serial = agreement._bootstrap_many(prepared, n, 7, threads=1)
    for threads in (2, 3):
        again = [agreement._prepare(*agreement._encode(d, lv), lv)[1] for d, lv in items]
        threaded = agreement._bootstrap_many(again, n, 7, threads=threads)
        for a, b in zip(serial, threaded, strict=True):
            assert np.array_equal(a, b, equal_nan=True)
    assert all(np.isfinite(s).all() for s in serial)
    assert alphas_with_ci(items, n_boot=n, seed=7, threads=2) == alphas_with_ci(
        items, n_boot=n, seed=7, threads=1
    )


def test_threaded_bootstrap_equals_recomputing_each_resample(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The threaded fast path (per-type weights, sparse set products) gives, resample by
    resample, alpha recomputed from scratch on the resampled units (same seed, same draws)."""
    items = _threaded_fixture(monkeypatch)
    for data, level in items:
        fast = bootstrap_samples(data, level, n=70, seed=3, threads=2)
        slow = bootstrap_samples(data, lambda d, lv=level: alpha(d, lv), n=70, seed=3)
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)


def test_threaded_bootstrap_reports_a_worker_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error on a worker thread stops the bootstrap and is raised in the caller (no hang,
    no silently missing resamples)."""
    items = _threaded_fixture(monkeypatch)

    def broken(*args: Any) -> None:
        raise ValueError("broken field block")

    monkeypatch.setattr(agreement, "_field_block", broken)
    with pytest.raises(ValueError, match="broken field block"):
        alphas_with_ci(items, n_boot=200, seed=1, threads=2)


def test_bootstrap_threads_only_when_it_pays(monkeypatch: pytest.MonkeyPatch) -> None:
    assert agreement.bootstrap_threads(1000 * 30_000) == 1  # 30k sentences: one thread
    assert agreement.bootstrap_threads(1000) == 1
    monkeypatch.setattr(agreement.os, "sched_getaffinity", lambda _: {0, 1, 2, 3})
    monkeypatch.delenv("STANCETERM_JOBS", raising=False)
    assert agreement.bootstrap_threads(1000 * 1_000_000) == 2
    monkeypatch.setenv("STANCETERM_JOBS", "1")
    assert agreement.bootstrap_threads(1000 * 1_000_000) == 1
    monkeypatch.setenv("STANCETERM_JOBS", "junk")
    assert agreement.bootstrap_threads(1000 * 1_000_000) == 2
    monkeypatch.setattr(agreement.os, "sched_getaffinity", lambda _: {0})
    assert agreement.bootstrap_threads(1000 * 1_000_000) == 1
