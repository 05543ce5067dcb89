"""Inter-annotator agreement: Krippendorff's alpha, Cohen's and Fleiss' kappa, MASI, bootstrap CIs.

Pure functions on plain data. Nothing here touches the database, the UI or the CLI, so the module
works the same in tests, benchmarks and notebooks. numpy is the dependency; scipy's sparse
matrices are imported (lazily) only by the bootstrap of set-valued fields with many values.

Size: over 600 lines on purpose: one coefficient family (alpha at every level, the kappas, MASI
and the bootstrap) sharing the same reliability-data checks and coincidence matrices.

Layout of *reliability data* (the argument of :func:`alpha`, :func:`fleiss_kappa`,
:func:`percent_agreement`, :func:`bootstrap_ci`): a rectangular matrix whose **rows are annotators**
and whose **columns are units** (sentences, claims ...). Either a sequence of equally long
sequences, or a 2-D numpy array. A missing value is ``None`` or a float NaN.

Every bad input raises :class:`ValueError` with a one-line message (ragged rows, an unknown level,
non-numeric values at the interval/ratio level, negative values at the ratio level, values that are
not sets at the ``masi``/``jaccard`` levels, unhashable values ...).

Undefined statistics are ``float('nan')``, never an invented 1.0: for example alpha when the data
show no variation at all (expected disagreement ``De == 0``), or when no unit has two values.

Implementation sketch (shared by all levels of alpha and by the bootstrap): values are mapped to
integer category codes, a units x categories count matrix ``C`` (``C[u, c]`` = how many annotators
gave value ``c`` to unit ``u``) is built with one ``np.bincount``, and the coincidence matrix is a
matrix product of ``C`` with itself. A level only changes the category distance matrix ``d``.
Memory is ``O(units x categories + categories**2)``: meant for labels and rating scales, not for
near-continuous numbers with many thousands of distinct values. Rather than exhausting memory,
more than 5,000 distinct values, or more than 1e8 units x values cells, raise ValueError.

Bootstrap: a resample is a vector of unit weights (how often each unit was drawn), and every
term of alpha is a weighted sum over units. The draws come in blocks from
``numpy.random.default_rng(seed)``; fields with the same number of pairable units share each
block (:func:`alphas_with_ci`), and units alike in every such field are one *type* whose weight is
the number of draws of its units (``np.take`` of the draws' types, then ``np.bincount``), so the
work per resample follows the types, not the units. Large bootstraps (:func:`bootstrap_threads`)
count the draws and compute the fields on worker threads while the calling thread draws, with
the serial path's blocks and results, bit for bit (:class:`_Threaded`).
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from array import array
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from numbers import Real
from typing import Any, Final, Literal, TypeAlias, get_args

import numpy as np
import numpy.typing as npt

from stanceterm.procs import jobs_env

__all__ = [
    "LEVELS",
    "AgreementResult",
    "Coded",
    "Level",
    "ReliabilityData",
    "Statistic",
    "alpha",
    "alpha_with_ci",
    "alphas_with_ci",
    "bootstrap_ci",
    "bootstrap_samples",
    "bootstrap_threads",
    "cohen_kappa",
    "coincidence_matrix",
    "fleiss_kappa",
    "jaccard_distance",
    "masi_distance",
    "percent_agreement",
]

Level = Literal["nominal", "ordinal", "interval", "ratio", "masi", "jaccard"]
LEVELS: Final[tuple[Level, ...]] = get_args(Level)


@dataclass(frozen=True, slots=True)
class Coded:
    """Reliability data already coded: ``codes[annotator, unit]`` is an index into ``domain``
    (the distinct values), ``-1`` a missing value. Every function of this module takes it where
    it takes reliability data, and skips the encoding (the values are still checked against the
    level, and put in sorted order for the ordered levels)."""

    codes: npt.NDArray[np.int64]
    domain: list[Any]


ReliabilityData: TypeAlias = Sequence[Sequence[Hashable | None]] | npt.NDArray[Any] | Coded
"""Rows are annotators, columns are units; ``None`` / NaN is a missing value."""

Statistic: TypeAlias = Callable[[ReliabilityData], float]
"""Any agreement statistic computed from reliability data (for :func:`bootstrap_ci`)."""

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
Domain: TypeAlias = list[Any]

_SET_LEVELS: Final = ("masi", "jaccard")
_NUMERIC_LEVELS: Final = ("interval", "ratio")
# Above this many float64 elements the ordinal bootstrap stops materialising the per-unit
# coincidence matrices (units x categories**2) and builds each resample's matrix in a loop.
_QFLAT_MAX_ELEMENTS = 4_000_000
# Resamples are drawn in blocks of about this many unit indices (bounds bootstrap memory).
_BOOT_BLOCK_ELEMENTS: Final = 2_000_000
# The ordinal bootstrap handles at most about this many resamples x categories**2 at once.
_BOOT_ORDINAL_ELEMENTS = 8_000_000
# Memory guards (see the module docstring): the count matrix and the distance matrix.
_MAX_COUNT_CELLS = 100_000_000
_MAX_CATEGORIES = 5_000
# Set-valued data (masi/jaccard) with more distinct values than this use the sparse formulation
# (:class:`_SparseSets`): no units x values or values x values matrix is built.
_SPARSE_SET_VALUES = 2_000
# Memory ceiling of the sparse formulation: at most this many pairs of distinct values that share
# an element (about 24 bytes each, so ~500 MB at the ceiling); generated in blocks of at most
# _SPARSE_BLOCK (value, element, value) triples.
_SPARSE_MAX_PAIRS = 20_000_000
_SPARSE_BLOCK = 1_000_000
# Below this many unit draws in all, the bootstrap runs without worker threads: 30k units x 1000
# resamples take about a second on one core, and the threads' second blocks of weights and
# draws would cost more memory (~70 MB there) than the time they save.
_THREADS_MIN_DRAWS = 200_000_000
# Resample weights held at once: this many types x resamples (float64), or 32 resamples.
_BOOT_WEIGHT_ELEMENTS: Final = 2_000_000
# Integer-valued numeric data spanning fewer values than this is coded with a lookup table.
_LUT_MAX_SPAN: Final = 1 << 16


# --------------------------------------------------------------------------------------------
# set metrics
# --------------------------------------------------------------------------------------------


def jaccard_distance(a: AbstractSet[Hashable], b: AbstractSet[Hashable]) -> float:
    """Jaccard distance ``1 - |a ∩ b| / |a ∪ b|``; two empty sets are identical (distance 0)."""
    union = len(a | b)
    if union == 0:
        return 0.0
    return 1.0 - len(a & b) / union


def _monotonicity(inter: int, size_a: int, size_b: int) -> float:
    if inter == size_a == size_b:
        return 1.0
    if inter == min(size_a, size_b):
        return 2.0 / 3.0
    if inter > 0:
        return 1.0 / 3.0
    return 0.0


def masi_distance(a: AbstractSet[Hashable], b: AbstractSet[Hashable]) -> float:
    """MASI distance ``1 - J(a, b) * M(a, b)`` (Passonneau 2006).

    ``J`` is the Jaccard similarity ``|a ∩ b| / |a ∪ b|`` and ``M`` the monotonicity weight:
    1 if ``a == b``, 2/3 if one set is a proper subset of the other, 1/3 if they overlap without
    either containing the other, 0 if they are disjoint. Two empty sets are identical
    (similarity 1, distance 0). NLTK rounds the weights to 0.67/0.33; we use the exact fractions.
    """
    inter = len(a & b)
    union = len(a | b)
    if union == 0:
        return 0.0
    return 1.0 - (inter / union) * _monotonicity(inter, len(a), len(b))


# --------------------------------------------------------------------------------------------
# encoding: values -> integer codes
# --------------------------------------------------------------------------------------------


def _is_missing(v: object) -> bool:
    return v is None or (isinstance(v, float | np.floating) and math.isnan(v))


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")


def _rows(data: ReliabilityData) -> tuple[list[Any], int, int]:
    """Flatten a sequence of rows (row-major) and check that it is rectangular."""
    assert not isinstance(data, Coded)
    if isinstance(data, str | bytes):
        raise ValueError("reliability data must be a sequence of rows, not a string")
    flat: list[Any] = []
    width: int | None = None
    n_rows = 0
    for i, row in enumerate(data):
        if isinstance(row, str | bytes) or not isinstance(row, Sequence | np.ndarray):
            raise ValueError(f"row {i} of the reliability data is not a sequence of values")
        values = list(row)
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise ValueError(
                f"reliability data is ragged: row {i} has {len(values)} values, row 0 has {width}"
            )
        flat.extend(values)
        n_rows += 1
    return flat, n_rows, width or 0


def _encode_numeric(arr: FloatArray, level: str) -> tuple[IntArray, Domain]:
    if level in _SET_LEVELS:
        raise ValueError(f"level {level!r} needs set-valued data (frozensets), got numbers")
    if np.isinf(arr).any():
        raise ValueError("reliability data contains an infinite value")
    missing = np.isnan(arr)
    lo = float(np.fmin.reduce(arr.ravel(), initial=np.inf))  # NaN (missing) ignored
    hi = float(np.fmax.reduce(arr.ravel(), initial=-np.inf))
    if lo == np.inf:  # no value at all
        return np.full(arr.shape, -1, dtype=np.int64), []
    if level == "ratio" and lo < 0:
        raise ValueError("ratio level needs non-negative values")
    if hi - lo < _LUT_MAX_SPAN:
        # Integer-valued data (the usual label codes or rating scales): a lookup table indexed
        # by ``value - lo`` is much cheaper than sorting (``np.unique``). NaN goes to slot
        # ``span``; a non-integer value shows as a fractional part and takes the general path.
        filled = np.where(missing, hi + 1.0, arr) - lo
        index = filled.astype(np.intp)
        if bool((index == filled).all()):
            span = int(hi - lo) + 1
            seen = np.bincount(index.ravel(), minlength=span + 1)[:span] > 0
            values = np.flatnonzero(seen)
            lut = np.full(span + 1, -1, dtype=np.int64)  # slot ``span`` is for missing values
            lut[values] = np.arange(values.size)
            codes: IntArray = lut[index]
            return codes, list((values + lo).astype(np.float64).tolist())
    domain = np.unique(arr)  # sorted; NaNs (missing) collapse into one trailing entry
    domain = domain[~np.isnan(domain)]
    present = ~missing
    _, inverse = np.unique(arr[present], return_inverse=True)
    codes = np.full(arr.shape, -1, dtype=np.int64)
    codes[present] = inverse.ravel()
    return codes, list(domain.tolist())


def _encode_objects(flat: list[Any], shape: tuple[int, int], level: str) -> tuple[IntArray, Domain]:
    sets = level in _SET_LEVELS
    mapping: dict[Hashable, int] = {}
    codes_list: list[int] = []
    append = codes_list.append
    for v in flat:
        if _is_missing(v):
            append(-1)
            continue
        if sets:
            if not isinstance(v, AbstractSet):
                raise ValueError(f"level {level!r} needs set-valued data, got {v!r}")
            v = frozenset(v)
        try:
            code = mapping.get(v)
            if code is None:
                code = mapping[v] = len(mapping)
        except TypeError:
            raise ValueError(f"unhashable value in reliability data: {v!r}") from None
        append(code)
    codes = np.asarray(codes_list, dtype=np.int64).reshape(shape)
    return _order_domain(codes, list(mapping), level)


def _order_domain(codes: IntArray, domain: Domain, level: str) -> tuple[IntArray, Domain]:
    """Check the values against the level; recode in sorted order for ordered levels."""
    if level in _NUMERIC_LEVELS:
        for v in domain:
            if not isinstance(v, Real) or not math.isfinite(float(v)):
                raise ValueError(f"level {level!r} needs finite numbers, got {v!r}")
            if level == "ratio" and float(v) < 0:
                raise ValueError("ratio level needs non-negative values")
        order = sorted(range(len(domain)), key=lambda i: float(domain[i]))
    elif level == "ordinal":
        if any(isinstance(v, AbstractSet) for v in domain):
            raise ValueError("ordinal level needs totally ordered values, got sets")
        try:
            order = sorted(range(len(domain)), key=lambda i: domain[i])
            ok = all(domain[i] < domain[j] for i, j in itertools.pairwise(order))
        except TypeError:
            ok = False
        if not ok:
            raise ValueError("ordinal level needs values that sort (e.g. all numbers or all str)")
    else:
        return codes, domain
    rank = np.empty(len(order) + 1, dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
    rank[-1] = -1  # code -1 (missing) indexes the last slot and stays -1
    sorted_domain = [domain[i] for i in order]
    if level in _NUMERIC_LEVELS:
        sorted_domain = [float(v) for v in sorted_domain]
    return rank[codes], sorted_domain


def _encode(data: ReliabilityData, level: str) -> tuple[IntArray, Domain]:
    """Map reliability data to integer codes (``-1`` = missing) and the list of distinct values.

    For the ordinal, interval and ratio levels the codes follow the sorted order of the values.
    """
    _check_level(level)
    if isinstance(data, Coded):
        codes = np.asarray(data.codes, dtype=np.int64)
        if codes.ndim != 2 or (codes.size and int(codes.max()) >= len(data.domain)):
            raise ValueError("coded reliability data needs a 2-D code array indexing its domain")
        return _order_domain(codes, list(data.domain), level)
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise ValueError(
                f"reliability data must be 2-D (annotators x units), got {data.ndim}-D"
            )
        kind = data.dtype.kind
        if kind in "biuf":
            return _encode_numeric(data.astype(np.float64, copy=False), level)
        if kind in "US" and level not in _NUMERIC_LEVELS and level not in _SET_LEVELS:
            domain, inverse = np.unique(data, return_inverse=True)
            return inverse.reshape(data.shape).astype(np.int64), list(domain.tolist())
        return _encode_objects(data.ravel().tolist(), (data.shape[0], data.shape[1]), level)
    if level in _SET_LEVELS:
        flat, n_rows, n_cols = _rows(data)
        return _encode_objects(flat, (n_rows, n_cols), level)
    numbers = _plain_numbers(data)
    if numbers is not None:
        return _encode_numeric(numbers, level)
    return _encode_lists(data, level)


def _plain_numbers(data: ReliabilityData) -> FloatArray | None:
    """Lists of plain numbers (ints, floats, bools, numpy scalars; NaN missing) as a float
    array, one C-level ``array('d')`` conversion per row; None when anything else is there
    (None, strings, bytes, sets, ragged rows, infinities, integers too large for a float to keep
    apart). ``array('d')`` refuses strings, so ``"1"`` never becomes ``1.0``. Numbers are then
    compared by their float value, as in an array: for these types that is Python equality
    (a ``Decimal`` or ``Fraction`` is also taken by its float value)."""
    if not isinstance(data, list | tuple) or not data:
        return None
    first = data[0]
    if not isinstance(first, list | tuple):
        return None
    width = len(first)
    out = np.empty((len(data), width), dtype=np.float64)
    try:
        for i, row in enumerate(data):
            if not isinstance(row, list | tuple) or len(row) != width:
                return None
            out[i] = np.frombuffer(array("d", row), dtype=np.float64)
    except (TypeError, OverflowError, ValueError):
        return None
    if out.size:
        lo = float(np.fmin.reduce(out.ravel()))  # NaN (missing) ignored
        hi = float(np.fmax.reduce(out.ravel()))
        if not (max(-lo, hi) < 2.0**53 or math.isnan(hi)):  # inf, or ints beyond exact floats
            return None  # (NaN: every value is missing)
    return out


def _nominal_alpha_small_ints(arr: FloatArray) -> float | None:
    """Nominal alpha straight from a float array of small integer codes (the usual label
    codes; NaN missing): unit counts by one ``bincount`` over ``value - lo`` shifted by the unit,
    with no code table, no sort and no copy of the values kept. None for anything else
    (fractions, a span over 64 values, infinities), which takes the general path."""
    if arr.ndim != 2 or arr.size == 0:
        return None
    flat = arr.ravel()
    lo = float(np.fmin.reduce(flat))  # NaN (missing) ignored
    hi = float(np.fmax.reduce(flat))
    if math.isnan(lo) or not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo >= 64:
        return None
    span = int(hi - lo) + 1
    width = span + 1  # the last column collects the missing values
    shifted = arr - lo
    np.fmin(shifted, float(span), out=shifted)  # NaN (missing) -> span; values stay < span
    index = shifted.astype(np.intp)
    if not bool((index == shifted).all()):
        return None
    n_units = arr.shape[1]
    index += np.arange(n_units, dtype=np.intp) * width
    counts = np.bincount(index.ravel(), minlength=n_units * width).reshape(n_units, width)
    return _nominal_from_counts(counts[:, :span], arr.shape[0] - counts[:, span])


def _numbers_array(data: ReliabilityData) -> FloatArray | None:
    """A 2-D float view of numeric data (a numeric array, or lists of plain numbers), else None."""
    if isinstance(data, np.ndarray):
        if data.ndim == 2 and data.dtype.kind in "biuf":
            return data.astype(np.float64, copy=False)
        return None
    if isinstance(data, Coded):
        return None
    return _plain_numbers(data)


def _check_rows(data: ReliabilityData) -> tuple[list[Any], int]:
    """The rows of list-like reliability data (checked rectangular) and their width."""
    assert not isinstance(data, Coded)
    if isinstance(data, str | bytes):
        raise ValueError("reliability data must be a sequence of rows, not a string")
    rows: list[Any] = []
    width: int | None = None
    for i, row in enumerate(data):
        if isinstance(row, str | bytes) or not isinstance(row, Sequence | np.ndarray):
            raise ValueError(f"row {i} of the reliability data is not a sequence of values")
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise ValueError(
                f"reliability data is ragged: row {i} has {len(row)} values, row 0 has {width}"
            )
        rows.append(row)
    return rows, width or 0


def _encode_lists(data: ReliabilityData, level: str) -> tuple[IntArray, Domain]:
    """Codes for list-like data in one C-level pass, without a Python loop per value.

    A ``defaultdict`` numbers each distinct value at its first occurrence (the order that
    :func:`_encode_objects` gives, with the same Python equality) and ``np.fromiter`` collects
    the numbers; missing values (``None``, NaN) are then mapped to -1 through the small domain.
    """
    rows, width = _check_rows(data)
    shape = (len(rows), width)
    numbering: defaultdict[Hashable, int] = defaultdict(itertools.count().__next__)
    try:
        raw = np.fromiter(
            map(numbering.__getitem__, itertools.chain.from_iterable(rows)),
            dtype=np.int64,
            count=shape[0] * shape[1],
        )
    except TypeError:
        bad = next(v for r in rows for v in r if not isinstance(v, Hashable))
        raise ValueError(f"unhashable value in reliability data: {bad!r}") from None
    seen = list(numbering)
    lut = np.empty(len(seen) + 1, dtype=np.int64)
    domain: Domain = []
    for i, v in enumerate(seen):
        if _is_missing(v):
            lut[i] = -1
        else:
            lut[i] = len(domain)
            domain.append(v)
    codes: IntArray = lut[raw].reshape(shape) if len(domain) != len(seen) else raw.reshape(shape)
    return _order_domain(codes, domain, level)


def _unit_counts(codes: IntArray, n_categories: int) -> IntArray:
    """Units x categories matrix: ``C[u, c]`` annotators gave value ``c`` to unit ``u``."""
    n_units = codes.shape[1]
    width = n_categories + 1  # one extra column collects the missing values
    if n_categories > _MAX_CATEGORIES or n_units * width > _MAX_COUNT_CELLS:
        raise ValueError(
            f"{n_categories} distinct values over {n_units} units is too many for the "
            f"count-matrix method (at most {_MAX_CATEGORIES} values and "
            f"{_MAX_COUNT_CELLS} units x values); bin or round near-continuous data"
        )
    # code + 1 puts the missing values (-1) in column 0: one pass, no np.where
    shifted = codes + (np.arange(n_units, dtype=np.int64) * width + 1)
    counts = np.bincount(shifted.ravel(), minlength=n_units * width)
    out: IntArray = counts.reshape(n_units, width)[:, 1:]
    return out


def _pairable(codes: IntArray, n_categories: int) -> tuple[FloatArray, IntArray]:
    """Count matrix restricted to pairable units (two values or more), and their column ids."""
    counts = _unit_counts(codes, n_categories)
    pairable = counts.sum(axis=1) >= 2
    if pairable.all():
        return counts.astype(np.float64), np.arange(counts.shape[0])
    return counts[pairable].astype(np.float64), np.flatnonzero(pairable)


# --------------------------------------------------------------------------------------------
# Krippendorff's alpha
# --------------------------------------------------------------------------------------------


def _set_distances(level: str, domain: Domain) -> FloatArray:
    """Category distance matrix for set values, vectorised over a membership matrix."""
    elements: dict[Hashable, int] = {}
    for s in domain:
        for e in s:
            elements.setdefault(e, len(elements))
    member = np.zeros((len(domain), len(elements)), dtype=np.float64)
    for i, s in enumerate(domain):
        member[i, [elements[e] for e in s]] = 1.0
    inter = member @ member.T  # small integers, exact in float64
    size = member.sum(axis=1)
    union = size[:, None] + size[None, :] - inter
    sim = np.divide(inter, union, out=np.ones_like(inter), where=union > 0)
    if level == "masi":
        equal = (inter == size[:, None]) & (inter == size[None, :])
        subset = inter == np.minimum(size[:, None], size[None, :])
        weight = np.select([equal, subset, inter > 0], [1.0, 2.0 / 3.0, 1.0 / 3.0], 0.0)
        sim = sim * weight
    d: FloatArray = 1.0 - sim
    np.fill_diagonal(d, 0.0)
    return d


def _ordinal_distances(n_c: FloatArray) -> FloatArray:
    """Ordinal metric for one or many marginal vectors (last axis = sorted categories)."""
    mid = np.cumsum(n_c, axis=-1) - n_c / 2.0
    diff = mid[..., :, None] - mid[..., None, :]
    out: FloatArray = diff * diff
    return out


def _distances(level: str, domain: Domain, n_c: FloatArray) -> FloatArray:
    """Category distance matrix ``d[c, k]`` for a level (``d[c, c] == 0`` always).

    ``n_c`` are the pairable-value marginals, used by the ordinal metric only.
    """
    n_cat = len(domain)
    if level == "nominal":
        return 1.0 - np.eye(n_cat)
    if level == "ordinal":
        return _ordinal_distances(n_c)
    if level in _SET_LEVELS:
        return _set_distances(level, domain)
    v = np.asarray(domain, dtype=np.float64)
    diff = v[:, None] - v[None, :]
    if level == "interval":
        out: FloatArray = diff * diff
        return out
    total = v[:, None] + v[None, :]
    ratio = np.divide(diff, total, out=np.zeros_like(diff), where=total != 0)
    out = ratio * ratio
    return out


def _coincidences(counts: FloatArray) -> FloatArray:
    """``o[c, k] = sum_u (C[u, c] * C[u, k] - [c == k] * C[u, c]) / (m_u - 1)``."""
    m = counts.sum(axis=1)
    scaled = counts / (m - 1.0)[:, None]
    o: FloatArray = scaled.T @ counts
    o[np.diag_indices_from(o)] -= scaled.sum(axis=0)
    return o


def _alpha_from(observed: FloatArray, expected: FloatArray, n: FloatArray) -> FloatArray:
    """``alpha = 1 - (n - 1) * observed / expected``, NaN where ``expected == 0``."""
    out = np.full(np.shape(expected), np.nan, dtype=np.float64)
    ok = expected > 0
    np.subtract(1.0, (n - 1.0) * observed / np.where(ok, expected, 1.0), out=out, where=ok)
    return out


def _alpha_counts(counts: FloatArray, level: str, domain: Domain) -> float:
    if counts.shape[0] == 0:
        return math.nan
    n_c = counts.sum(axis=0)
    d = _distances(level, domain, n_c)
    observed = float((_coincidences(counts) * d).sum())
    expected = float(n_c @ d @ n_c)
    return float(_alpha_from(np.asarray(observed), np.asarray(expected), n_c.sum()))


def alpha(reliability_data: ReliabilityData, level: Level = "nominal") -> float:
    """Krippendorff's alpha. Rows are annotators, columns units; ``None``/NaN is missing.

    Following Krippendorff (2011, "Computing Krippendorff's Alpha-Reliability"):

    * Only *pairable* values count: a unit with ``m_u < 2`` values is ignored.
    * Coincidence matrix, with ``n_uc`` the number of annotators giving value ``c`` to unit ``u``::

          o_ck = sum_u  sum_{i != j} [x_ui = c][x_uj = k] / (m_u - 1)
               = sum_u (n_uc * n_uk - [c = k] * n_uc) / (m_u - 1)

      Marginals ``n_c = sum_k o_ck`` (the number of pairable values ``c``), ``n = sum_c n_c``.
    * Observed and expected disagreement, with a category distance ``d_ck`` (``d_cc = 0``)::

          Do = (1 / n) * sum_{c,k} o_ck d_ck
          De = 1 / (n (n - 1)) * sum_{c,k} n_c n_k d_ck
          alpha = 1 - Do / De  =  1 - (n - 1) * sum o_ck d_ck / sum n_c n_k d_ck

    * Distances (``level``):

      - ``nominal``: ``d_ck = 0 if c == k else 1``;
      - ``ordinal``: ``d_ck = (sum_{g=c..k} n_g - (n_c + n_k) / 2) ** 2`` over the *sorted*
        values, with ``n_g`` the pairable-value marginals (values must sort);
      - ``interval``: ``d_ck = (c - k) ** 2``;
      - ``ratio``: ``d_ck = ((c - k) / (c + k)) ** 2`` (0 when ``c = k = 0``; values >= 0);
      - ``jaccard``: ``d_ck = 1 - |c ∩ k| / |c ∪ k|`` on set values (see :func:`jaccard_distance`);
      - ``masi``: ``d_ck = 1 - Jaccard(c, k) * M(c, k)`` (see :func:`masi_distance`).

    Values are compared with Python equality (``1``, ``1.0`` and ``True`` are one value);
    numbers are compared by their float value, as in an array (a ``Decimal`` or ``Fraction`` that
    no float tells apart from another number counts as that number). The
    ordinal order is Python's sort order of the values, so strings sort alphabetically: map
    ordered labels (``"low" < "mid" < "high"``) to numbers first.

    Returns NaN when alpha is undefined: no pairable unit, or no variation at all among the
    pairable values (``De == 0``). Perfect agreement on varied data gives exactly 1.0.
    """
    if level == "nominal":
        numbers = _numbers_array(reliability_data)
        if numbers is not None:
            fast = _nominal_alpha_small_ints(numbers)
            if fast is not None:
                return fast
            reliability_data = numbers  # converted once; the general numeric path below
    codes, domain = _encode(reliability_data, level)
    if _use_sparse(level, domain):
        return _sparse_sets(codes, domain, level)[0].alpha()
    if level == "nominal":
        return _nominal_alpha(codes, len(domain))
    counts, _ = _pairable(codes, len(domain))
    return _alpha_counts(counts, level, domain)


def _nominal_alpha(codes: IntArray, n_categories: int) -> float:
    return _nominal_from_counts(_unit_counts(codes, n_categories))


def _nominal_from_counts(counts: IntArray, m: IntArray | None = None) -> float:
    """Nominal alpha in integers until the last step: with ``d = 1 - I`` the observed term is
    ``sum_u (m_u**2 - sum_c n_uc**2) / (m_u - 1)`` and the expected ``n**2 - sum_c n_c**2``
    (the formulas of :func:`alpha`, without the float count and coincidence matrices).
    ``counts`` is units x categories (a category column with no value changes nothing), ``m``
    the values per unit when the caller knows them. Per-unit sums go through ``einsum`` and the
    observed term is grouped by ``m_u`` (``bincount``), so no masked copy of the counts is made.
    """
    if m is None:
        m = np.einsum("ij->i", counts)
    squares = np.einsum("ij,ij->i", counts, counts)
    keep = m >= 2
    if not keep.any():
        return math.nan
    by_m = np.bincount(m, weights=(m * m - squares).astype(np.float64))
    observed = float((by_m[2:] / np.arange(1, by_m.size - 1, dtype=np.float64)).sum())
    n_c = np.einsum("i,ij->j", keep.astype(counts.dtype), counts)
    n = int(n_c.sum())
    expected = float(n * n - int((n_c * n_c).sum()))
    return float(_alpha_from(np.asarray(observed), np.asarray(expected), np.asarray(float(n))))


def coincidence_matrix(
    reliability_data: ReliabilityData, level: Level = "nominal"
) -> tuple[list[Any], FloatArray]:
    """The values (sorted for ordered levels) and Krippendorff's coincidence matrix ``o``.

    ``o[c, k]`` is defined in :func:`alpha`; ``o`` is symmetric and ``o.sum()`` is the number of
    pairable values. Numbers come back as floats when the input was numeric.
    """
    codes, domain = _encode(reliability_data, level)
    counts, _ = _pairable(codes, len(domain))
    return domain, _coincidences(counts)


# --------------------------------------------------------------------------------------------
# set-valued data with many distinct values: a sparse formulation
# --------------------------------------------------------------------------------------------


def _set_pair_distance(
    level: str,
) -> Callable[[AbstractSet[Hashable], AbstractSet[Hashable]], float]:
    return masi_distance if level == "masi" else jaccard_distance


@dataclass(frozen=True)
class _SparseSets:
    """Alpha for set values (masi/jaccard) without any units x values or values x values matrix.

    * Observed: per unit, ``D_u = 2 * sum_{i<j} d(x_iu, x_ju) / (m_u - 1)`` over the pairs of
      annotators with values on the unit (equal to the dense ``sum_ck n_uc n_uk d_ck / (m_u-1)``),
      with the distance computed once per distinct pair of values.
    * Expected: ``sum_ck n_c n_k d_ck = N**2 - sum_c n_c**2 - 2 sum_{a<b} n_a n_b sim(a, b)``.
      ``sim`` (``1 - d``) is 0 for disjoint sets, so only pairs of values sharing an element
      count; they are found through an element -> values index, in blocks of bounded size. More
      than ``_SPARSE_MAX_PAIRS`` such pairs (a value shared by very many distinct sets) raise
      ValueError rather than exhaust memory.
    """

    value_codes: IntArray  # one entry per pairable value: its code
    value_units: IntArray  # ... and its unit (0..units-1)
    per_unit: FloatArray
    pair_a: IntArray
    pair_b: IntArray
    pair_sim: FloatArray
    n_values: int
    #: each unit's values in sorted order, -1 (missing) first: annotators x units (not kept by
    #: :meth:`_SparseBoot.restrict`, which needs no signature)
    sorted_values: IntArray | None = None

    @property
    def n_units(self) -> int:
        return int(self.per_unit.shape[0])

    def alpha(self, w: FloatArray | None = None) -> float:
        weights = None if w is None else w[self.value_units]
        n_c = np.bincount(self.value_codes, weights=weights, minlength=self.n_values)
        total = float(n_c.sum())
        close = float((n_c[self.pair_a] * n_c[self.pair_b] * self.pair_sim).sum())
        expected = total * total - float(n_c @ n_c) - 2.0 * close
        observed = float(self.per_unit.sum() if w is None else w @ self.per_unit)
        return float(_alpha_from(np.asarray(observed), np.asarray(expected), np.asarray(total)))


def _sparse_sets(codes: IntArray, domain: Domain, level: str) -> tuple[_SparseSets, IntArray]:
    present = codes >= 0
    m = present.sum(axis=0)
    keep = np.flatnonzero(m >= 2)
    sub = codes[:, keep]
    inv = 1.0 / np.maximum(m[keep] - 1.0, 1.0)
    n_values = len(domain)
    # observed: distances of the distinct within-unit pairs of values
    firsts, seconds, units = [], [], []
    for i, j in itertools.combinations(range(sub.shape[0]), 2):
        a, b = sub[i], sub[j]
        both = np.flatnonzero((a >= 0) & (b >= 0) & (a != b))
        firsts.append(np.minimum(a[both], b[both]))
        seconds.append(np.maximum(a[both], b[both]))
        units.append(both)
    per_unit = np.zeros(keep.size, dtype=np.float64)
    if firsts:
        lo, hi, where = np.concatenate(firsts), np.concatenate(seconds), np.concatenate(units)
        keys, back = np.unique(lo * n_values + hi, return_inverse=True)
        dist_fn = _set_pair_distance(level)
        dist = np.fromiter(
            (dist_fn(domain[k // n_values], domain[k % n_values]) for k in keys.tolist()),
            dtype=np.float64,
            count=keys.size,
        )
        per_unit = 2.0 * np.bincount(where, weights=dist[back.ravel()], minlength=keep.size) * inv
    # expected: pairs of distinct values that share an element
    element_ids: dict[Hashable, int] = {}
    mem_values: list[int] = []
    mem_elements: list[int] = []
    for v, value in enumerate(domain):
        for e in value:
            mem_values.append(v)
            mem_elements.append(element_ids.setdefault(e, len(element_ids)))
    sizes = np.fromiter((len(v) for v in domain), dtype=np.float64, count=n_values)
    pa, pb, ps = _shared_element_pairs(
        np.asarray(mem_values, dtype=np.int64),
        np.asarray(mem_elements, dtype=np.int64),
        sizes,
        level,
    )
    present_sub = sub >= 0
    value_units = np.broadcast_to(np.arange(keep.size), sub.shape)[present_sub]
    sparse = _SparseSets(
        sub[present_sub], value_units, per_unit, pa, pb, ps, n_values, np.sort(sub, axis=0)
    )
    return sparse, keep


def _shared_element_pairs(
    values: IntArray, elements: IntArray, sizes: FloatArray, level: str
) -> tuple[IntArray, IntArray, FloatArray]:
    """Pairs ``a < b`` of set values with a common element, and their similarity ``1 - d``."""
    empty_i, empty_f = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    if values.size == 0:
        return empty_i, empty_i, empty_f
    n_values = int(sizes.shape[0])
    by_element = np.argsort(elements, kind="stable")
    elem_sorted_vals = values[by_element]
    n_elements = int(elements.max()) + 1
    deg = np.bincount(elements, minlength=n_elements)
    starts = np.concatenate(([0], np.cumsum(deg)[:-1]))
    # memberships in value order; cost of a membership = degree of its element
    order = np.lexsort((elements, values))
    mv, me = values[order], elements[order]
    cost = deg[me]
    cum = np.cumsum(cost)
    out_a, out_b, out_s = [], [], []
    kept = 0
    lo = 0
    while lo < mv.size:
        # a block ends on a value boundary, with about _SPARSE_BLOCK triples at most
        limit = (cum[lo - 1] if lo else 0) + _SPARSE_BLOCK
        hi = int(np.searchsorted(cum, limit, side="right"))
        hi = max(hi, lo + 1)
        while hi < mv.size and mv[hi] == mv[hi - 1]:
            hi += 1
        a_rep = np.repeat(mv[lo:hi], cost[lo:hi])
        offs = np.repeat(starts[me[lo:hi]] - (np.cumsum(cost[lo:hi]) - cost[lo:hi]), cost[lo:hi])
        b = elem_sorted_vals[offs + np.arange(a_rep.size)]
        mask = b > a_rep
        keys, inter = np.unique(a_rep[mask] * n_values + b[mask], return_counts=True)
        kept += keys.size
        if kept > _SPARSE_MAX_PAIRS:
            raise ValueError(
                f"more than {_SPARSE_MAX_PAIRS} pairs of distinct set values share an element "
                "(the memory ceiling of the sparse set formulation); split the field"
            )
        a, bb = keys // n_values, keys % n_values
        sa, sb, it = sizes[a], sizes[bb], inter.astype(np.float64)
        sim = it / (sa + sb - it)
        if level == "masi":
            sim = sim * np.where(it == np.minimum(sa, sb), 2.0 / 3.0, 1.0 / 3.0)
        out_a.append(a)
        out_b.append(bb)
        out_s.append(sim)
        lo = hi
    return np.concatenate(out_a), np.concatenate(out_b), np.concatenate(out_s)


def _use_sparse(level: str, domain: Domain) -> bool:
    return level in _SET_LEVELS and len(domain) > _SPARSE_SET_VALUES


class _SparseBoot:
    """:meth:`_SparseSets.alpha` of blocks of unit resamples, given the weights unit-major
    (``wt``: units x resamples).

    Two sparse products (scipy's CSR times a dense block, one pass over the nonzeros, no
    temporaries): the marginals ``n_c(w) = M^T w`` (``M``: units x values, one entry per
    pairable value), and the close-pairs term ``sum_{a<b} sim_ab n_a n_b = n . (S n)`` with
    ``S`` the upper triangle of the similarities of the values that share an element. Only the
    values x resamples marginals are held, never a units x values or values x values dense
    matrix."""

    def __init__(self, sp: _SparseSets) -> None:
        self.sp = sp
        self.n_units = sp.n_units
        self._ready = False

    def prepare(self) -> None:
        """The sparse matrices (after :meth:`restrict`: per type). Called once, before any
        :meth:`block` (the threaded bootstrap calls it before it starts its workers)."""
        if self._ready:
            return
        from scipy.sparse import csr_matrix  # only the sparse set bootstrap needs scipy

        sp = self.sp
        ones = np.ones(sp.value_codes.size, dtype=np.float64)
        self.members = csr_matrix(  # values x units; duplicate entries are summed
            (ones, (sp.value_codes, sp.value_units)), shape=(sp.n_values, self.n_units)
        )
        self.close = csr_matrix(
            (sp.pair_sim, (sp.pair_a, sp.pair_b)), shape=(sp.n_values, sp.n_values)
        )
        self._ready = True

    def signature(self) -> tuple[IntArray, int]:
        """Units with the same multiset of values (hence the same per-unit term) share a key
        (``0 <= key < bound``)."""
        sp = self.sp
        rows = sp.sorted_values
        if rows is None:  # only a restricted field lacks them
            order = np.lexsort((sp.value_codes, sp.value_units))
            units, codes = sp.value_units[order], sp.value_codes[order]
            per = np.bincount(units, minlength=self.n_units)
            width = max(int(per.max()) if per.size else 0, 1)
            rows = np.full((width, self.n_units), -1, dtype=np.int64)
            starts = np.concatenate(([0], np.cumsum(per)[:-1]))
            rows[np.arange(units.size) - starts[units], units] = codes
        base = sp.n_values + 1
        if rows.shape[0] * math.log2(base) < 62:  # one exact integer key per row
            key = np.zeros(self.n_units, dtype=np.int64)
            for row in rows:
                key *= base
                key += row + 1
            return key, base ** rows.shape[0]
        inverse = np.unique(rows, axis=1, return_inverse=True)[1].ravel()
        return inverse, int(inverse.max()) + 1 if inverse.size else 1

    def restrict(self, reps: IntArray) -> _SparseBoot:
        """The same field on the units ``reps`` only (one unit per type)."""
        sp = self.sp
        new_id = np.full(self.n_units, -1, dtype=np.int64)
        new_id[reps] = np.arange(reps.size)
        mapped = new_id[sp.value_units]
        keep = mapped >= 0
        return _SparseBoot(
            _SparseSets(
                sp.value_codes[keep],
                mapped[keep],
                sp.per_unit[reps],
                sp.pair_a,
                sp.pair_b,
                sp.pair_sim,
                sp.n_values,
            )
        )

    def block(self, wt: FloatArray) -> FloatArray:
        """Alphas of the resamples whose weights are ``wt`` (units x resamples), a few columns
        at a time (the values x resamples marginals stay within 4 x ``_BOOT_BLOCK_ELEMENTS``)."""
        self.prepare()
        cols = max(1, 4 * _BOOT_BLOCK_ELEMENTS // max(self.sp.n_values, 1))
        out = np.empty(wt.shape[1], dtype=np.float64)
        for c in range(0, wt.shape[1], cols):
            out[c : c + cols] = self._block(wt[:, c : c + cols])
        return out

    def _block(self, wt: FloatArray) -> FloatArray:
        n_c = np.asarray(self.members @ wt)  # (values, b)
        total = n_c.sum(axis=0)
        close = np.einsum("vb,vb->b", n_c, np.asarray(self.close @ n_c))
        expected = total * total - np.einsum("vb,vb->b", n_c, n_c) - 2.0 * close
        return _alpha_from(self.sp.per_unit @ wt, expected, total)


# --------------------------------------------------------------------------------------------
# kappas and raw agreement
# --------------------------------------------------------------------------------------------


def cohen_kappa(a: Sequence[Hashable | None], b: Sequence[Hashable | None]) -> float:
    """Cohen's kappa of two annotators over the same units (unweighted).

    Pairs where either value is missing (``None``/NaN) are dropped. With ``n`` kept pairs,
    ``p_o`` the proportion of agreeing pairs and ``p_e = sum_k (a_k / n) * (b_k / n)``
    (``a_k``, ``b_k`` the label counts of each annotator)::

        kappa = (p_o - p_e) / (1 - p_e)

    evaluated exactly in integers as ``(n * agree - sum a_k b_k) / (n**2 - sum a_k b_k)``.
    NaN when undefined: no pair left, or ``p_e == 1`` (both annotators used one same label).
    """
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa needs two sequences of equal length ({len(a)} != {len(b)})")
    codes, domain = _encode([list(a), list(b)], "nominal")
    keep = (codes >= 0).all(axis=0)
    x, y = codes[0, keep], codes[1, keep]
    n = int(x.size)
    if n == 0:
        return math.nan
    agree = int((x == y).sum())
    n_cat = len(domain)
    chance = int(np.bincount(x, minlength=n_cat) @ np.bincount(y, minlength=n_cat))
    denominator = n * n - chance
    if denominator == 0:
        return math.nan
    return (n * agree - chance) / denominator


def fleiss_kappa(reliability_data: ReliabilityData) -> float:
    """Fleiss' kappa (Fleiss 1971). Rows are annotators, columns units.

    Units with any missing value are dropped, so every remaining unit has the same number of
    ratings ``r`` (= number of rows), as Fleiss' kappa requires. With ``N`` units, ``n_ij`` the
    number of ratings of unit ``i`` in category ``j``::

        P_i  = (sum_j n_ij**2 - r) / (r (r - 1))        P_bar = mean_i P_i
        p_j  = sum_i n_ij / (N r)                       P_e   = sum_j p_j**2
        kappa = (P_bar - P_e) / (1 - P_e)

    evaluated exactly in integers. NaN when undefined: fewer than two annotators, no complete
    unit, or ``P_e == 1`` (every rating in one category).
    """
    codes, domain = _encode(reliability_data, "nominal")
    r = codes.shape[0]
    complete = codes[:, (codes >= 0).all(axis=0)]
    n_units = complete.shape[1]
    if r < 2 or n_units == 0:
        return math.nan
    counts = _unit_counts(complete, len(domain))
    total = n_units * r
    a = int((counts * counts).sum()) - total
    s = int((counts.sum(axis=0) ** 2).sum())
    denominator = (r - 1) * (total * total - s)
    if denominator == 0:
        return math.nan
    kappa: float = (a * total - s * (r - 1)) / denominator
    return kappa


def percent_agreement(reliability_data: ReliabilityData) -> float:
    """Observed pairwise agreement, averaged over pairable units.

    For each unit with ``m_u >= 2`` values, the share of agreeing ordered pairs of its values,
    ``sum_c n_uc (n_uc - 1) / (m_u (m_u - 1))``; the result is the plain mean over those units
    (units with fewer than two values are ignored). With two annotators this is the familiar
    share of doubly-annotated units on which they agree; with complete data it equals Fleiss'
    ``P_bar``. Values are compared for equality (nominal). NaN when no unit is pairable.
    """
    codes, domain = _encode(reliability_data, "nominal")
    if len(domain) > _SPARSE_SET_VALUES:
        # many distinct values (actor sets): count agreeing annotator pairs, no count matrix
        present = codes >= 0
        m = present.sum(axis=0).astype(np.float64)
        keep = m >= 2
        if not keep.any():
            return math.nan
        same = np.zeros(codes.shape[1], dtype=np.float64)
        for i, j in itertools.combinations(range(codes.shape[0]), 2):
            same += (codes[i] == codes[j]) & present[i]
        return float((2.0 * same[keep] / (m[keep] * (m[keep] - 1.0))).mean())
    counts, _ = _pairable(codes, len(domain))
    if counts.shape[0] == 0:
        return math.nan
    m = counts.sum(axis=1)
    per_unit = (counts * (counts - 1.0)).sum(axis=1) / (m * (m - 1.0))
    return float(per_unit.mean())


# --------------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------------


def _index_blocks(n_units: int, n: int, seed: int | None) -> Iterator[npt.NDArray[np.int64]]:
    """Blocks of bootstrap resamples: each row draws ``n_units`` unit indices with replacement."""
    rng = np.random.default_rng(seed)
    block = max(1, min(n, _BOOT_BLOCK_ELEMENTS // max(n_units, 1)))
    done = 0
    while done < n:
        b = min(block, n - done)
        yield rng.integers(0, n_units, size=(b, n_units), dtype=np.int64)
        done += b


class _DenseBoot:
    """Alpha of blocks of unit resamples, from per-unit quantities computed once.

    A resample is a weight vector ``w`` (how often each unit is drawn). Coincidences and marginals
    are then weighted sums over units: ``o(w) = sum_u w_u o_u`` and ``n_c(w) = sum_u w_u n_uc``.
    For a fixed distance matrix the observed term collapses to ``w @ D`` with the per-unit scalar
    ``D_u = sum_{c,k} o_u[c, k] d_ck``. The ordinal metric depends on ``n_c(w)``, so there the
    per-unit matrices ``C_u C_u^T / (m_u - 1)`` are summed instead (the ``[c = k]`` correction
    of ``o_u`` is irrelevant because ``d_cc = 0``).
    """

    def __init__(self, counts: FloatArray, level: str, domain: Domain) -> None:
        self.counts = counts
        self.level = level
        self.domain = domain
        self.n_units = counts.shape[0]
        self._ready = False

    def prepare(self) -> None:
        """The per-unit terms (after :meth:`restrict`: per type). Called once, before any
        :meth:`block` (the threaded bootstrap calls it before it starts its workers)."""
        if self._ready:
            return
        counts, level = self.counts, self.level
        n_cat = counts.shape[1]
        inv = 1.0 / (counts.sum(axis=1) - 1.0)
        self.inv = inv
        self.d: FloatArray | None = None
        self.q_flat: FloatArray | None = None
        self.both_t: FloatArray | None = None  # (categories + 1, units): counts, per-unit D_u
        if level == "nominal":
            # d = 1 - I: sum_ck n_uc n_uk d_ck = m_u**2 - sum_c n_uc**2 (no V x V matrix)
            m = counts.sum(axis=1)
            per_unit = (m * m - (counts * counts).sum(axis=1)) * inv
            self.both_t = np.ascontiguousarray(np.column_stack([counts, per_unit]).T)
        elif level != "ordinal":
            d = _distances(level, self.domain, counts.sum(axis=0))
            self.d = d
            per_unit = ((counts @ d) * counts).sum(axis=1) * inv
            self.both_t = np.ascontiguousarray(np.column_stack([counts, per_unit]).T)
        elif self.n_units * n_cat * n_cat <= _QFLAT_MAX_ELEMENTS:
            self.q_flat = ((counts[:, :, None] * counts[:, None, :]) * inv[:, None, None]).reshape(
                self.n_units, n_cat * n_cat
            )
        self._ready = True

    def signature(self) -> tuple[IntArray, int]:
        """Units with the same count row (hence the same per-unit terms) share a key
        (``0 <= key < bound``)."""
        counts = self.counts
        base = int(counts.sum(axis=1).max()) + 1 if counts.size else 1
        if counts.shape[1] * math.log2(base) >= 52:  # the row key would not be exact
            return np.arange(self.n_units, dtype=np.int64), max(self.n_units, 1)
        key = counts @ (float(base) ** np.arange(counts.shape[1], dtype=np.float64))
        return key.astype(np.int64), base ** counts.shape[1]

    def restrict(self, reps: IntArray) -> _DenseBoot:
        """The same field on the units ``reps`` only (one unit per type)."""
        return _DenseBoot(self.counts[reps], self.level, self.domain)

    def block(self, wt: FloatArray) -> FloatArray:
        """Alphas of the resamples whose unit-major weights are ``wt`` (units x resamples)."""
        self.prepare()
        counts = self.counts
        if self.both_t is not None:
            sums = self.both_t @ wt  # one pass over the weights: marginals and observed term
            n_c, observed = sums[:-1].T, sums[-1]
            if self.level == "nominal":
                total = n_c.sum(axis=1)
                expected = total * total - (n_c * n_c).sum(axis=1)
                return _alpha_from(observed, expected, total)
            assert self.d is not None
            expected = ((n_c @ self.d) * n_c).sum(axis=1)
            return _alpha_from(observed, expected, n_c.sum(axis=1))
        w = wt.T
        n_cat = counts.shape[1]
        out = np.empty(w.shape[0], dtype=np.float64)
        rows = max(1, _BOOT_ORDINAL_ELEMENTS // (n_cat * n_cat))  # bounds the (rows, V, V) arrays
        for start in range(0, w.shape[0], rows):
            ws = w[start : start + rows]
            n_c = ws @ counts
            d = _ordinal_distances(n_c)  # (rows, V, V): each resample has its own marginals
            if self.q_flat is not None:
                q = (ws @ self.q_flat).reshape(len(ws), n_cat, n_cat)
            else:
                q = np.stack([(counts * (wi * self.inv)[:, None]).T @ counts for wi in ws])
            observed = (q * d).sum(axis=(1, 2))
            expected = np.einsum("bc,bck,bk->b", n_c, d, n_c)
            out[start : start + len(ws)] = _alpha_from(observed, expected, n_c.sum(axis=1))
        return out


_Boot: TypeAlias = _DenseBoot | _SparseBoot


def _prepare(codes: IntArray, domain: Domain, level: str) -> tuple[float, _Boot | None, IntArray]:
    """Alpha, the bootstrapper of its pairable units (None if there is none), their column ids."""
    if _use_sparse(level, domain):
        sp, keep = _sparse_sets(codes, domain, level)
        if keep.size == 0:
            return math.nan, None, keep
        return sp.alpha(), _SparseBoot(sp), keep
    counts, keep = _pairable(codes, len(domain))
    value = _alpha_counts(counts, level, domain)
    return value, (_DenseBoot(counts, level, domain) if counts.shape[0] else None), keep


@dataclass
class _Group:
    """Fields with the same number of pairable units, resampled together (the same draws).

    Units that are alike in every field of the group (same count rows, same value sets: most
    sentences have no claim) are one *type*: every sum over units is a sum over types weighted
    by how often a type's units were drawn, so the work per resample is per type (the draws
    themselves are unchanged). ``joint`` is the type of each unit; ``boots`` the fields
    restricted to one unit per type; resamples are handled ``width`` at a time."""

    members: list[int]
    boots: list[_Boot]
    joint: npt.NDArray[np.int32]
    n_types: int
    n_units: int
    width: int


def _groups(boots: Sequence[_Boot | None], n: int) -> list[_Group]:
    """The fields grouped by their number of pairable units, each group typed (:class:`_Group`)."""
    by_units: dict[int, list[int]] = {}
    for i, boot in enumerate(boots):
        if boot is not None:
            by_units.setdefault(boot.n_units, []).append(i)
    out = []
    for n_units, members in by_units.items():
        group = [boots[i] for i in members]
        joint = np.zeros(n_units, dtype=np.int64)
        bound = 1  # 0 <= joint < bound: one key per combination of the fields' keys
        for boot in group:
            assert boot is not None
            key, size = boot.signature()
            if bound * size >= 1 << 62:  # renumber the keys densely before they overflow
                joint, bound = _dense_ids(joint)
                if bound * size >= 1 << 62:
                    key, size = _dense_ids(key)
            joint = joint * size + key
            bound *= size
        joint = _dense_ids(joint)[0]
        n_types = int(joint.max()) + 1 if joint.size else 0
        reps = np.full(n_types, -1, dtype=np.int64)
        reps[joint[::-1]] = np.arange(n_units - 1, -1, -1)  # the first unit of each type
        typed = [b.restrict(reps) for b in group if b is not None]
        for b in typed:
            b.prepare()
        width = min(n, max(32, _BOOT_WEIGHT_ELEMENTS // max(n_types, 1)))
        out.append(_Group(members, typed, joint.astype(np.int32), n_types, n_units, width))
    return out


def _dense_ids(key: IntArray) -> tuple[IntArray, int]:
    """``key`` renumbered 0, 1, ... in sorted order, and how many distinct keys there are."""
    distinct, inverse = np.unique(key, return_inverse=True)
    return inverse.ravel().astype(np.int64, copy=False), int(distinct.size)


_scratch = threading.local()


def _fill(
    group: _Group,
    weights: FloatArray,
    row: int,
    drawn: npt.NDArray[np.int64],
    buf: npt.NDArray[np.int32] | None = None,
) -> None:
    """One resample's weights: how many of its draws fell on each type. The types of the draws
    go to ``buf``, or to a buffer kept by the worker thread: no fresh pages to fault in for
    every resample."""
    if buf is None:
        buf = getattr(_scratch, "types", None)
        if buf is None or buf.shape != drawn.shape:
            buf = _scratch.types = np.empty(drawn.shape, dtype=np.int32)
    np.take(group.joint, drawn, out=buf)
    weights[row] = np.bincount(buf, minlength=group.n_types)


def _field_block(group: _Group, k: int, weights: FloatArray, out: FloatArray, start: int) -> None:
    """Alpha of field ``k`` of the group on a block of resamples (``weights``: resamples x types)."""
    out[start : start + weights.shape[0]] = group.boots[k].block(weights.T)


def _bootstrap_serial(group: _Group, n: int, seed: int | None, out: list[FloatArray]) -> None:
    width = group.width
    weights = np.empty((width, group.n_types), dtype=np.float64)
    buf = np.empty(group.n_units, dtype=np.int32)
    row = 0
    for idx in _index_blocks(group.n_units, n, seed):
        for drawn in idx:
            _fill(group, weights, row % width, drawn, buf)
            row += 1
            if row % width == 0 or row == n:
                start = (row - 1) // width * width
                for k, i in enumerate(group.members):
                    _field_block(group, k, weights[: row - start], out[i], start)


class _Threaded:
    """The bootstrap of the groups on worker threads; the calling thread draws.

    The draws stay in one sequence (one ``default_rng(seed)`` per group, block after block, as
    :func:`_index_blocks` gives them), so the resamples are those of the serial path. The workers
    count the draws of each resample (``np.take`` + ``np.bincount``) into its block of weights,
    and when a block is complete compute each field's alphas on it, exactly as the serial path
    does on the same block: the results are bit for bit the serial ones. numpy's RNG,
    ``take``, ``bincount``, BLAS and scipy's sparse products release the GIL, so the threads
    use several cores. Memory stays bounded: at most ``draw_slots`` blocks of drawn indices and
    ``block_slots`` blocks of weights are alive at once."""

    def __init__(self, threads: int, draw_slots: int = 2, block_slots: int = 2) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bootstrap")
        self.draws = threading.Semaphore(draw_slots)
        self.blocks = threading.Semaphore(block_slots)
        self.block_slots = block_slots
        self.lock = threading.Lock()
        self.errors: list[BaseException] = []

    def _acquire(self, sem: threading.Semaphore) -> None:
        while not sem.acquire(timeout=0.05):
            if self.errors:
                raise self.errors[0]

    def _task(self, fn: Callable[[], None], done: Callable[[], None]) -> None:
        try:
            fn()
        except BaseException as exc:  # reported by the drawing thread
            with self.lock:
                self.errors.append(exc)
        finally:
            done()

    def _countdown(self, count: int, then: Callable[[], None]) -> Callable[[], None]:
        left = [count]

        def done() -> None:
            with self.lock:
                left[0] -= 1
                last = left[0] == 0
            if last:
                then()

        return done

    def run(
        self, groups: Sequence[_Group], n: int, seed: int | None, out: list[FloatArray]
    ) -> None:
        try:
            for group in groups:
                self._group(group, n, seed, out)
            for _ in range(self.block_slots):  # every block's fields are done
                self._acquire(self.blocks)
        finally:
            self.pool.shutdown(wait=True)
        if self.errors:
            raise self.errors[0]

    def _fields(
        self, group: _Group, weights: FloatArray, start: int, out: list[FloatArray]
    ) -> None:
        release = self._countdown(len(group.members), self.blocks.release)
        for k, i in enumerate(group.members):
            self.pool.submit(
                self._task, partial(_field_block, group, k, weights, out[i], start), release
            )

    def _group(self, group: _Group, n: int, seed: int | None, out: list[FloatArray]) -> None:
        width = group.width
        row = 0
        weights = np.empty((0, group.n_types))
        block_done = _noop
        for idx in _index_blocks(group.n_units, n, seed):
            self._acquire(self.draws)
            drawn_done = self._countdown(idx.shape[0], self.draws.release)
            for drawn in idx:
                if row % width == 0:
                    self._acquire(self.blocks)
                    size = min(width, n - row)
                    weights = np.empty((size, group.n_types), dtype=np.float64)
                    block_done = self._countdown(
                        size, partial(self._fields, group, weights, row, out)
                    )
                self.pool.submit(
                    self._task,
                    partial(_fill, group, weights, row % width, drawn),
                    partial(_both, block_done, drawn_done),
                )
                row += 1


def _noop() -> None:
    pass


def _both(first: Callable[[], None], then: Callable[[], None]) -> None:
    first()
    then()


def bootstrap_threads(draws: int) -> int:
    """Worker threads that pay for a bootstrap of ``draws`` unit draws in all: up to 2 (the
    drawing thread stays busy too) when the machine has 2 cores or more, 1 (no thread at all)
    below ``_THREADS_MIN_DRAWS``, where starting the threads costs more than it saves. The
    environment variable ``STANCETERM_JOBS`` (the import's worker count) caps it:
    ``STANCETERM_JOBS=1`` runs every bootstrap on the calling thread."""
    if draws < _THREADS_MIN_DRAWS:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(2, cores, jobs_env() or 2))


def _threads(threads: int | None, boots: Sequence[_Boot | None], n: int) -> int:
    if threads is not None:
        return max(1, threads)
    return bootstrap_threads(n * sum({b.n_units for b in boots if b is not None}))


def _bootstrap_many(
    boots: Sequence[_Boot | None], n: int, seed: int | None, threads: int = 1
) -> list[FloatArray]:
    """The resampled alphas of several fields, drawing each block of resamples once.

    Fields with the same number of pairable units share the weight blocks: the draws depend only
    on ``(units, n, seed)`` (:func:`_index_blocks`), so each field gets exactly the resamples a
    call of its own would draw, and the weights are built once instead of once per field.
    ``threads > 1`` runs the counting and the fields on worker threads (:class:`_Threaded`),
    with the same results bit for bit. A list ``boots`` is emptied once the fields are grouped
    (the per-unit data is no longer needed, and the caller keeps no other reference).
    """
    out = [np.full(n, np.nan) for _ in boots]
    groups = _groups(boots, n)
    if isinstance(boots, list):
        boots.clear()  # the groups hold the fields per type: free the per-unit terms
    if threads > 1 and groups:
        _Threaded(threads).run(groups, n, seed, out)
    else:
        for group in groups:
            _bootstrap_serial(group, n, seed, out)
    return out


def _object_matrix(data: ReliabilityData) -> npt.NDArray[Any]:
    """Reliability data as a 2-D array whose columns can be fancy-indexed (values untouched)."""
    if isinstance(data, Coded):
        values = np.empty(len(data.domain) + 1, dtype=object)
        for i, v in enumerate(data.domain):
            values[i] = v
        values[-1] = None  # code -1 (missing) indexes the last slot
        return values[np.asarray(data.codes, dtype=np.int64)]
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise ValueError(
                f"reliability data must be 2-D (annotators x units), got {data.ndim}-D"
            )
        return data
    flat, n_rows, n_cols = _rows(data)
    arr = np.empty(n_rows * n_cols, dtype=object)
    for i, v in enumerate(flat):
        arr[i] = v
    return arr.reshape(n_rows, n_cols)


def _check_boot_args(n: int, ci: float) -> None:
    if n < 1:
        raise ValueError(f"the number of bootstrap resamples must be >= 1, got {n}")
    if not 0.0 < ci < 1.0:
        raise ValueError(f"the confidence level must be strictly between 0 and 1, got {ci}")


def bootstrap_samples(
    reliability_data: ReliabilityData,
    statistic: Level | Statistic = "nominal",
    n: int = 1000,
    seed: int | None = 0,
    threads: int | None = 1,
) -> FloatArray:
    """The statistic on ``n`` bootstrap resamples of the pairable units (NaNs included).

    Units (columns) with fewer than two values carry no pairing information and are dropped
    first; the remaining ``U`` units are resampled ``U`` at a time with replacement, from
    ``numpy.random.default_rng(seed)``, so a given seed gives the same resamples whatever the
    statistic. ``statistic`` is an alpha level (fast path, see below) or any callable on
    reliability data (it is called once per resample with a sub-matrix of the input).
    The fast path never rebuilds a resample: per-unit coincidences are computed once and each
    resample is a weighted sum of them (weights = ``np.bincount`` of the drawn indices).

    ``threads`` (fast path only): worker threads for the resamples, ``None`` for as many as
    pay (:func:`bootstrap_threads`); the results are the same bit for bit whatever the number.

    This is the plain unit (cluster) bootstrap. It is not the procedure of Krippendorff's and
    Hayes' SPSS/SAS macro, which resamples pairs of values; intervals can differ slightly.
    """
    _check_boot_args(n, 0.5)
    if isinstance(statistic, str):
        codes, domain = _encode(reliability_data, statistic)
        _, boot, _ = _prepare(codes, domain, statistic)
        return _bootstrap_many([boot], n, seed, _threads(threads, [boot], n))[0]
    data = _object_matrix(reliability_data)
    if data.dtype.kind in "fc":
        present = ~np.isnan(data)
    elif data.dtype.kind == "O":
        present = ~np.frompyfunc(_is_missing, 1, 1)(data).astype(bool)
    else:
        present = np.ones(data.shape, dtype=bool)
    keep = np.flatnonzero(present.sum(axis=0) >= 2)
    if keep.size == 0:
        return np.full(n, np.nan)
    data = data[:, keep]
    values = [statistic(data[:, row]) for idx in _index_blocks(keep.size, n, seed) for row in idx]
    return np.asarray(values, dtype=np.float64)


def _percentile_ci(samples: FloatArray, ci: float) -> tuple[float, float]:
    valid = samples[~np.isnan(samples)]
    if valid.size == 0:
        return math.nan, math.nan
    low, high = np.quantile(valid, [(1.0 - ci) / 2.0, (1.0 + ci) / 2.0])
    return float(low), float(high)


def bootstrap_ci(
    reliability_data: ReliabilityData,
    statistic: Level | Statistic = "nominal",
    n: int = 1000,
    ci: float = 0.95,
    seed: int | None = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of an agreement statistic, resampling units.

    ``statistic`` is an alpha level (``"nominal"`` ... ``"masi"``: fast vectorised path) or any
    callable on reliability data (e.g. ``fleiss_kappa``). The resamples are those of
    :func:`bootstrap_samples` (pairable units drawn with replacement, seeded, reproducible).
    Resamples on which the statistic is NaN (e.g. a resample with no variation) are excluded;
    the bounds are the ``(1 - ci) / 2`` and ``(1 + ci) / 2`` quantiles (``np.quantile``, linear
    interpolation) of the rest. Returns ``(nan, nan)`` when no resample is defined.
    """
    _check_boot_args(n, ci)
    return _percentile_ci(bootstrap_samples(reliability_data, statistic, n, seed), ci)


@dataclass(frozen=True, slots=True)
class AgreementResult:
    """Krippendorff's alpha with its bootstrap confidence interval.

    ``units`` counts the pairable units (two values or more), ``annotators`` the rows that gave
    at least one value to a pairable unit, ``n_valid`` the resamples that were defined (the CI is
    computed over those).
    """

    value: float
    ci_low: float
    ci_high: float
    units: int
    annotators: int
    level: Level = "nominal"
    ci: float = 0.95
    n_boot: int = 0
    n_valid: int = 0


def alpha_with_ci(
    reliability_data: ReliabilityData,
    level: Level = "nominal",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int | None = 0,
) -> AgreementResult:
    """:func:`alpha` plus the :func:`bootstrap_ci` interval, sharing one encoding of the data."""
    return alphas_with_ci([(reliability_data, level)], n_boot=n_boot, ci=ci, seed=seed)[0]


def alphas_with_ci(
    items: Sequence[tuple[ReliabilityData, Level]],
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int | None = 0,
    threads: int | None = None,
) -> list[AgreementResult]:
    """:func:`alpha_with_ci` of several fields at once: each result is exactly what
    :func:`alpha_with_ci` gives for that field alone (same seed, same resamples), but fields
    with the same number of pairable units (for example the claim fields of one set of
    sentences) share each block of drawn resample weights instead of drawing it again.

    ``threads``: worker threads for the bootstrap (``None``: :func:`bootstrap_threads`); the
    results do not depend on it, bit for bit."""
    _check_boot_args(n_boot, ci)
    prepared = []
    boots: list[_Boot | None] = []
    for data, level in items:
        codes, domain = _encode(data, level)
        value, boot, keep = _prepare(codes, domain, level)
        annotators = int((codes[:, keep] >= 0).any(axis=1).sum())
        prepared.append((value, keep.size, annotators, level))
        boots.append(boot)
        del codes, boot, keep
    samples = _bootstrap_many(boots, n_boot, seed, _threads(threads, boots, n_boot))
    out = []
    for (value, units, annotators, level), drawn in zip(prepared, samples, strict=True):
        low, high = _percentile_ci(drawn, ci)
        out.append(
            AgreementResult(
                value=value,
                ci_low=low,
                ci_high=high,
                units=int(units),
                annotators=annotators,
                level=level,
                ci=ci,
                n_boot=n_boot,
                n_valid=int((~np.isnan(drawn)).sum()),
            )
        )
    return out
