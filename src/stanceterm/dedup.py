"""Fuzzy cross-article deduplication: normalise -> block -> verify -> guard -> cluster.

Wire copy repeats across outlets with small changes (« » vs " ", NBSP, dashes, a dropped word,
"said X" vs "X said", a « Selon l'AFP, » prefix, "1 000" vs "1,000"). Each repeated sentence should
be annotated once. The pipeline, for every sentence in import order (``seq``):

1. **Normalise** (:func:`normalize`, :func:`compare_key`): NFKC, quotes/apostrophes/dashes/spaces
   unified, accents folded, casefolded, thousands separators dropped and decimal commas made
   points, punctuation dropped. The *match key* also strips attribution that wire copies move
   around or add: an agency dateline (« MOSCOU (AFP) - »), an « Selon l'AFP, » / "According to
   Reuters," prefix and a neutral speech clause at either end ("X said", ", said X",
   « a déclaré X », « selon X »). What was stripped is still checked by the fact guard (step 4).
2. **Block** (:class:`MinHashBlocker`): MinHash over the match key's content words, cut into
   bands; two sentences are candidates when one band is equal. The keys of a sentence depend on
   that sentence alone (fixed seeds, a stable hash), so blocking does not change as the corpus
   grows: this is what makes incremental runs equal full runs.
3. **Verify** with rapidfuzz ``fuzz.ratio`` on the match keys, ``score >= threshold``
   (``process.cpdist`` with ``workers=-1`` for the candidates against earlier batches).
4. **Fact guard** (:func:`fact_guard`): a near-miss that states a different fact never merges:
   added or removed negation, a different number, a different set of gazetteer actors, or a
   capitalised entity replaced by another (France -> Germany). A tested rule, not luck.
5. **Cluster greedily against representatives only** (no chaining): a sentence joins the
   best-scoring representative that passes the guard (ties: the earliest), else it becomes a
   representative itself. Every member therefore matches its own representative.

**The rule (what a run's result is a function of).** Sentences are processed in ``seq`` order
(import order); the representative of a cluster is its earliest sentence, and the cluster id is
derived from it (:func:`cluster_id_for`). Incremental runs compare only the sentences imported
since the last run against the representatives (and singletons) already known, which equals a
full re-run because new sentences always come after the old ones in ``seq`` order and a
sentence's blocking keys do not depend on the rest of the corpus. Importing the same articles in
a different order can pick different representatives (the earliest differs); the partition is the
same whenever each group's copies all match each other (the usual wire-copy case), and it can
differ only for loose groups where A~B and B~C but not A~C. Sentences split out of a cluster
(``cluster_splits``) are never clustered again.

This module never imports Textual and holds no SQL (see :mod:`stanceterm.store`).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
import time
import unicodedata
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from stanceterm.actors import alias_key

if TYPE_CHECKING:
    from stanceterm.store import Store

#: Version of the algorithm: a stored run made by another version is redone in full.
ALGO_VERSION = "1"
DEFAULT_THRESHOLD = 90.0

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

# --------------------------------------------------------------------------- normalisation

_QUOTES = "«»“”„‟″〝〞＂‹›"
_APOSTROPHES = "’‘‚‛`´ʼ′"
_DASHES = "‐‑‒–—―−﹘﹣－"
_SPACES = "\u00a0\u2007\u202f\u2009\u200a\u2002\u2003\u2004\u2005\u2006\u2008\u205f\u3000\t\r\n"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for ch in _QUOTES:
        table[ord(ch)] = '"'
    for ch in _APOSTROPHES:
        table[ord(ch)] = "'"
    for ch in _DASHES:
        table[ord(ch)] = "-"
    for ch in _SPACES:
        table[ord(ch)] = " "
    for ch in _ZERO_WIDTH:
        table[ord(ch)] = ""
    # accents folded for Latin letters (é -> e, ç -> c, œ stays œ): a fast str.translate
    for cp in range(0xC0, 0x250):
        ch = chr(cp)
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if base and base != ch and base.isascii():
            table[cp] = base
    return table


_TABLE = _build_table()
#: thousands separators: "1 000", "1,000", "1.000", "1'000" -> "1000" (a group of exactly 3 digits)
_THOUSANDS = re.compile(r"(?<=\d)[ ,.'](?=\d{3}(?!\d))")
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W_]+")
_DIGIT = re.compile(r"\d")
#: words that may start with a capital (not with a digit or an ASCII lowercase letter)
_MAYBE_CAPITAL = re.compile(r"(?<![^\W_])[^\W\da-z_][^\W_]*")


def fold(text: str) -> str:
    """NFKC; quotes, apostrophes, dashes and spaces unified; Latin accents folded; numbers
    unified ("1 000" / "1,000" / "1000"; "2,5" -> "2.5"). Case is kept."""
    s = text if text.isascii() else unicodedata.normalize("NFKC", text).translate(_TABLE)
    if _DIGIT.search(s):
        prev = None
        while prev != s:  # "1 000 000" needs two passes
            prev = s
            s = _THOUSANDS.sub("", s)
        s = _DECIMAL_COMMA.sub(".", s)
    return s


def tokens(folded_lower: str) -> list[str]:
    return _TOKEN.findall(folded_lower)


def normalize(text: str) -> str:
    """The full matching form of a sentence: folded, casefolded, punctuation dropped."""
    return " ".join(tokens(fold(text).casefold()))


# --------------------------------------------------------------------------- attribution

AGENCIES = (
    "afp",
    "reuters",
    "ap",
    "associated press",
    "agence france-presse",
    "agence france presse",
    "ats",
    "belga",
    "dpa",
    "ansa",
    "efe",
    "xinhua",
    "tass",
    "ria novosti",
    "interfax",
    "yonhap",
    "kcna",
    "bloomberg",
)
_AGENCY = "(?:" + "|".join(re.escape(a) for a in sorted(AGENCIES, key=len, reverse=True)) + ")"
_SPEECH = (
    "said",
    "says",
    "added",
    "told reporters",
    "stated",
    "a declare",
    "a dit",
    "a indique",
    "a affirme",
    "a ajoute",
    "a precise",
    "a souligne",
    "a assure",
    "a estime",
    "ont declare",
    "ont indique",
    "ont affirme",
    "declare",
    "affirme",
    "indique",
)
_SPEECH_RE = "(?:" + "|".join(re.escape(s) for s in _SPEECH) + ")"
_WHO = r"(?:[\w'.-]+ ){0,4}[\w'.-]+"  # a speaker: one to five words
_STRIP = [
    # « MOSCOU (AFP) - » dateline
    re.compile(r"^[^()\"]{0,40}\(\s*" + _AGENCY + r"\s*\)\s*[-:,]?\s*"),
    # « Selon l'AFP, », "According to Reuters, », « D'après Moscou, »
    re.compile(r"^(?:selon|d'apres|according to|citing)\s+" + _WHO + r"\s*,\s*"),
    # "Peskov said (that)", « M. Peskov a déclaré que »
    re.compile(r"^" + _WHO + r" " + _SPEECH_RE + r"(?:\s+that|\s+que|\s+qu'|\s*:|\s*,)?\s+"),
    # ", Peskov said." / ", said Peskov." / « , a déclaré M. Peskov. » / « , selon l'AFP. »
    re.compile(r"\s*,\s*" + _WHO + r" " + _SPEECH_RE + r"\s*[.!]?\s*$"),
    re.compile(
        r"\s*,\s*(?:" + _SPEECH_RE + r"|selon|d'apres|according to)\s+" + _WHO + r"\s*[.!]?\s*$"
    ),
]
_MIN_KEY_TOKENS = 3


def compare_key(text: str) -> str:
    """What the fuzzy score compares: :func:`normalize` with attribution stripped.

    Stripping never leaves fewer than three words (then the full form is used).
    """
    return _key_of(fold(text))


def _key_of(folded: str) -> str:
    low = folded.casefold().strip()
    full = tokens(low)
    s = low
    for pattern in (*_STRIP[:2], _STRIP[1], *_STRIP[2:]):  # « Selon l'AFP, selon X, »: twice
        s = pattern.sub("", s, count=1)
    toks = tokens(s)
    if len(toks) < _MIN_KEY_TOKENS:
        toks = full
    return " ".join(toks)


# --------------------------------------------------------------------------- fact guard

_NEGATION = re.compile(
    r"\b(?:ne|n'|pas|jamais|aucun|aucune|rien|ni|nullement|guere|not|never|no|none|nobody|"
    r"nothing|neither|nor|cannot)(?![\w'])|n't\b|\bn'",
)
_NEG_CANON = {"n'": "ne", "n't": "not", "cannot": "not"}
_STOP_WORDS = """a an the and or but of to in on at for by with from as is are was were be been has have had
    that this these those it its he she they we you i his her their our after before over into about
    le la les l un une des du de d au aux et ou mais en dans sur par pour avec sans que qu qui se s
    ce cet cette ces son sa ses leur leurs il elle ils elles on nous vous je est sont a ete avait
    selon apres avant lors plus moins tres aussi deja encore m mr mrs ms mme dr president"""
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True, slots=True)
class Features:
    """What the fact guard compares, computed from a sentence's full text."""

    words: frozenset[str]  # casefolded tokens
    negations: tuple[str, ...]  # sorted negation markers (n'a pas -> ne, pas)
    numbers: tuple[str, ...]  # sorted numbers, unified
    entities: frozenset[str]  # casefolded capitalised words (names, places), agencies left out
    text: str  # the original text, for the gazetteer lookup


#: one-word agency names (not "france" from « Agence France-Presse »): not entities of a fact
_AGENCY_WORDS = frozenset(a for a in AGENCIES if " " not in a) | {"novosti"}


_DATELINE = re.compile(_STRIP[0].pattern, re.IGNORECASE)


def features(text: str) -> Features:
    """The guard's view of a sentence (a wire dateline such as « MOSCOU (AFP) - » left out: it
    names where the copy was filed, not who did what)."""
    return _features_of(fold(text))


def _features_of(folded: str) -> Features:
    f = _DATELINE.sub("", folded.strip(), count=1)
    low = f.casefold()
    words = tokens(low)
    negs = sorted(_NEG_CANON.get(m, m) for m in _NEGATION.findall(low))
    numbers = sorted(w for w in words if w[0].isdigit())  # a token starting with one is a number
    entities: set[str] = set()
    for m in _MAYBE_CAPITAL.finditer(f):
        w = m.group(0)
        if not w[0].isupper():
            continue
        key = w.casefold()
        if key in _AGENCY_WORDS:
            continue
        i = m.start() - 1
        while i >= 0 and f[i] in " \"'(-":
            i -= 1
        initial = i < 0 or f[i] in ".!?:;"
        if initial and key in _STOP:
            continue
        entities.add(key)
    return Features(frozenset(words), tuple(negs), tuple(numbers), frozenset(entities), f)


class Gazetteer:
    """The label schema's actor aliases (alias -> actor id), matched as whole word sequences.

    The same matching as :func:`stanceterm.actors.actors_in_sentence` (accents and case folded;
    acronym aliases such as "US" or "UN" only in capitals, so « un » and "us" do not count), on
    tokens, so the guard stays cheap on millions of sentences.
    """

    def __init__(self, aliases: Mapping[str, str]) -> None:
        self.aliases = dict(aliases)
        self._by_first: dict[str, list[tuple[tuple[str, ...], str, bool]]] = {}
        words: set[str] = set()
        for alias, actor in aliases.items():
            raw = alias.strip()
            letters = raw.replace(".", "")
            acronym = 1 < len(letters) <= 5 and letters.isalpha() and letters.isupper()
            seq = tuple(tokens(fold(letters if acronym else alias_key(raw)).casefold()))
            if not seq:
                continue
            self._by_first.setdefault(seq[0], []).append((seq, actor, acronym))
            words.update(w for w in seq if w not in _STOP)
        self.words = frozenset(words)

    def actors(self, folded: str) -> frozenset[str]:
        """Actor ids named in a :func:`fold`-ed text."""
        return self.match(folded)[0]

    def match(self, folded: str) -> tuple[frozenset[str], frozenset[str]]:
        """(actor ids, casefolded words of the aliases found) in a :func:`fold`-ed text."""
        cased = _TOKEN.findall(folded.replace(".", ""))
        low = [w.casefold() for w in cased]
        found: set[str] = set()
        words: set[str] = set()
        for i, w in enumerate(low):
            for seq, actor, acronym in self._by_first.get(w, ()):
                if tuple(low[i : i + len(seq)]) != seq:
                    continue
                if acronym and not cased[i].isupper():
                    continue
                found.add(actor)
                words.update(seq)
        return frozenset(found), frozenset(words)


def fact_guard(a: Features, b: Features, gazetteer: Gazetteer | None = None) -> str | None:
    """Why two fuzzy-similar sentences state different facts, or None if they may merge.

    * ``negation``: the negation markers differ (« a » vs « n'a pas », "did" vs "did not",
      "not" vs "never");
    * ``number``: the numbers differ (after "1 000" / "1,000" / "1000" are unified);
    * ``actor``: a gazetteer word differs and the actors found differ (Putin vs Kim; « Poutine »
      vs "Putin" is the same actor);
    * ``entity``: each side has a capitalised name the other lacks (France vs Germany, Peskov vs
      Zakharova). A name present on one side only is a dropped word and may merge.
    """
    if a.negations != b.negations:
        return "negation"
    if a.numbers != b.numbers:
        return "number"
    diff = a.words ^ b.words
    if not diff:
        return None
    only_a = a.entities - b.words
    only_b = b.entities - a.words
    if gazetteer is not None and (diff & gazetteer.words or (only_a and only_b)):
        actors_a, words_a = gazetteer.match(a.text)
        actors_b, words_b = gazetteer.match(b.text)
        if actors_a != actors_b:
            return "actor"
        # names on both sides that differ are fine only as aliases of the same actors
        # (« Poutine » / "Putin"); "Peskov" -> "Miller" (no alias on its own) is not
        if only_a and only_b and (only_a - words_a or only_b - words_b):
            return "entity"
        return None
    if only_a and only_b:
        return "entity"
    return None


# --------------------------------------------------------------------------- blocking

_P = np.uint64((1 << 31) - 1)
_MIX = np.uint64(0x9E3779B97F4A7C15)


class MinHashBlocker:
    """Band keys of a MinHash over the match key's content words.

    ``bands`` keys per sentence, each from ``rows`` MinHash values. Seeds are fixed and words are
    hashed with CRC-32, so a sentence's keys are the same in every run and every process.
    """

    def __init__(self, bands: int = 24, rows: int = 5, seed: int = 20261201) -> None:
        self.bands = bands
        self.rows = rows
        rng = np.random.default_rng(seed)
        n = bands * rows
        self._a = rng.integers(1, int(_P), size=n, dtype=np.uint64)
        self._b = rng.integers(0, int(_P), size=n, dtype=np.uint64)
        self._band_salt = rng.integers(1, 1 << 62, size=bands, dtype=np.uint64)
        self._hash: dict[str, int] = {}

    def _word_hash(self, word: str) -> int:
        h = self._hash.get(word)
        if h is None:
            if len(self._hash) > 2_000_000:
                self._hash.clear()
            h = zlib.crc32(word.encode())
            self._hash[word] = h
        return h

    @staticmethod
    def shingles(key: str) -> list[str]:
        """The words a sentence is sketched by: its content words (all words if none, the whole
        key if it has no words)."""
        words = key.split()
        content = sorted({w for w in words if w not in _STOP and len(w) > 1})
        if content:
            return content
        return sorted(set(words)) or [key]

    def keys(self, keys: Sequence[str]) -> U64:
        """``(len(keys), bands)`` band keys."""
        n = len(keys)
        out = np.zeros((n, self.bands), dtype=np.uint64)
        if n == 0:
            return out
        flat: list[int] = []
        starts = np.zeros(n, dtype=np.int64)
        for i, key in enumerate(keys):
            starts[i] = len(flat)
            flat.extend(self._word_hash(w) for w in self.shingles(key))
        x = np.asarray(flat, dtype=np.uint64)
        mins = np.empty((self.bands * self.rows, n), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for i in range(self.bands * self.rows):
                vals = (self._a[i] * x + self._b[i]) % _P
                mins[i] = np.minimum.reduceat(vals, starts)
            for band in range(self.bands):
                k = self._band_salt[band] * np.ones(n, dtype=np.uint64)
                for r in range(self.rows):
                    k = (k ^ mins[band * self.rows + r]) * _MIX
                    k ^= k >> np.uint64(29)
                out[:, band] = k
        return out


class KeyIndex:
    """Band key -> representative number, in sorted numpy runs merged as they grow (bounded
    memory: 12 bytes per key)."""

    def __init__(self) -> None:
        self._runs: list[tuple[U64, I64]] = []

    def __len__(self) -> int:
        return sum(len(k) for k, _ in self._runs)

    def add(self, keys: U64, ids: Sequence[int]) -> None:
        if len(ids) == 0:
            return
        flat = keys.reshape(-1)
        owners = np.repeat(np.asarray(ids, dtype=np.int64), keys.shape[1])
        order = np.argsort(flat, kind="stable")
        self._runs.append((flat[order], owners[order]))
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= 2 * len(self._runs[-1][0]):
            k2, o2 = self._runs.pop()
            k1, o1 = self._runs.pop()
            k = np.concatenate([k1, k2])
            o = np.concatenate([o1, o2])
            order = np.argsort(k, kind="stable")
            self._runs.append((k[order], o[order]))

    def query(self, keys: U64) -> tuple[I64, I64]:
        """(query row, representative) pairs sharing at least one key, without repeats."""
        n, bands = keys.shape
        flat = keys.reshape(-1)
        rows = np.repeat(np.arange(n, dtype=np.int64), bands)
        qs: list[I64] = []
        rs: list[I64] = []
        for run_keys, run_owners in self._runs:
            lo = np.searchsorted(run_keys, flat, side="left")
            hi = np.searchsorted(run_keys, flat, side="right")
            counts = hi - lo
            hit = counts > 0
            if not hit.any():
                continue
            c = counts[hit]
            q = np.repeat(rows[hit], c)
            starts = np.repeat(lo[hit], c)
            offsets = np.arange(int(c.sum()), dtype=np.int64) - np.repeat(np.cumsum(c) - c, c)
            qs.append(q)
            rs.append(run_owners[starts + offsets])
        if not qs:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        q_all = np.concatenate(qs)
        r_all = np.concatenate(rs)
        width = int(r_all.max()) + 1
        both = np.unique(q_all * width + r_all)
        return both // width, both % width


# --------------------------------------------------------------------------- preparing batches


Prepared = list[tuple[str, Features | None]]


def prepare(texts: Sequence[str], with_features: bool = False) -> Prepared:
    """Match keys (and guard features) of a batch: the per-sentence work a helper process does
    while the main process clusters the previous batch."""
    out: Prepared = []
    for text in texts:
        f = fold(text)
        out.append((_key_of(f), _features_of(f) if with_features else None))
    return out


B = TypeVar("B")


def _exit_with_parent(parent: int) -> None:
    """In the helper process: exit as soon as the parent is gone (killed with -9, say), instead
    of lingering as an orphan."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


#: below this many sentences, starting a helper process costs more than it saves
PARALLEL_MIN = 20_000


def prepared_batches(
    batches: Iterable[B],
    texts: Callable[[B], Sequence[str]],
    *,
    parallel: bool,
    with_features: bool = False,
) -> Iterator[tuple[B, Prepared]]:
    """Each batch with its :func:`prepare` result; with ``parallel``, prepared one batch ahead in
    a helper process (the second core), in order."""
    if not parallel:
        for b in batches:
            yield b, prepare(texts(b), with_features)
        return
    # fork: the helper needs nothing but this module (spawn would re-run the caller's __main__)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")

    def result(b: B, fut: Future[Prepared]) -> Prepared:
        try:
            return fut.result()
        except BrokenProcessPool:  # the helper died: do the work here
            return prepare(texts(b), with_features)

    with ProcessPoolExecutor(
        max_workers=1, mp_context=ctx, initializer=_exit_with_parent, initargs=(os.getpid(),)
    ) as pool:
        pending: deque[tuple[B, Future[Prepared]]] = deque()
        for b in batches:
            pending.append((b, pool.submit(prepare, list(texts(b)), with_features)))
            if len(pending) > 2:
                first, fut = pending.popleft()
                yield first, result(first, fut)
        while pending:
            first, fut = pending.popleft()
            yield first, result(first, fut)


# --------------------------------------------------------------------------- clustering


@dataclass(frozen=True, slots=True)
class Join:
    """A member joining the cluster of a representative."""

    member: str
    representative: str
    score: float


@dataclass
class DedupStats:
    sentences: int = 0
    candidates: int = 0
    verified: int = 0
    guarded: Counter[str] = field(default_factory=Counter)
    joins: int = 0
    representatives: int = 0


def cluster_id_for(representative_id: str) -> str:
    """A cluster's id, derived from its representative's sentence id (stable across runs)."""
    return f"c:{representative_id}"


class Deduper:
    """Greedy clustering against representatives, batch by batch, in ``seq`` order.

    :meth:`add_representatives` loads the representatives (and singletons) of earlier runs;
    :meth:`process` clusters new sentences and returns who joins whom.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        aliases: Mapping[str, str] | None = None,
        blocker: MinHashBlocker | None = None,
        workers: int = -1,
    ) -> None:
        if not 0 < threshold <= 100:
            raise ValueError("threshold must be in (0, 100]")
        self.threshold = float(threshold)
        self.gazetteer = Gazetteer(aliases) if aliases else None
        self.blocker = blocker or MinHashBlocker()
        self.workers = workers
        self.index = KeyIndex()
        self.rep_ids: list[str] = []
        self.rep_keys: list[str] = []
        self.rep_texts: list[str] = []
        self._rep_features: dict[int, Features] = {}
        self.stats = DedupStats()

    def _cache_features(self, rep: int, got: Features) -> None:
        if len(self._rep_features) >= 200_000:  # bounded memory: recomputed when needed
            self._rep_features.clear()
        self._rep_features[rep] = got

    def _features(self, rep: int) -> Features:
        got = self._rep_features.get(rep)
        if got is None:
            got = features(self.rep_texts[rep])
            self._cache_features(rep, got)
        return got

    def add_representatives(
        self, rows: Sequence[tuple[str, str]], prepared: Prepared | None = None
    ) -> None:
        """(sentence id, text) of known representatives and singletons, in ``seq`` order."""
        prepared = prepared or prepare([t for _, t in rows])
        keys = [k for k, _ in prepared]
        start = len(self.rep_ids)
        for (sid, text), key in zip(rows, keys, strict=True):
            self.rep_ids.append(sid)
            self.rep_keys.append(key)
            self.rep_texts.append(text)
        self.index.add(self.blocker.keys(keys), range(start, start + len(rows)))

    def process(
        self, rows: Sequence[tuple[str, str]], prepared: Prepared | None = None
    ) -> list[Join]:
        """Cluster a batch of new (sentence id, text), in ``seq`` order, after all earlier ones
        (``prepared``: their :func:`prepare` result, if already computed)."""
        n = len(rows)
        self.stats.sentences += n
        prepared = prepared or prepare([t for _, t in rows])
        keys = [k for k, _ in prepared]
        bands = self.blocker.keys(keys)
        # candidates among the representatives of earlier batches, verified on all cores
        verified: list[list[tuple[float, int]]] = [[] for _ in range(n)]
        qi, ri = self.index.query(bands)
        self.stats.candidates += len(qi)
        if len(qi):
            scores = process.cpdist(
                [keys[int(q)] for q in qi],
                [self.rep_keys[int(r)] for r in ri],
                scorer=fuzz.ratio,
                score_cutoff=self.threshold,
                workers=self.workers,
            )
            for q, r, s in zip(qi.tolist(), ri.tolist(), scores.tolist(), strict=True):
                if s >= self.threshold:
                    verified[q].append((float(s), r))
        # then one by one, against the representatives made in this batch
        local: dict[int, list[int]] = {}
        new_reps: list[int] = []
        joins: list[Join] = []
        band_rows = bands.tolist()
        for j, (sid, text) in enumerate(rows):
            cands = verified[j]
            seen: set[int] = set()
            for k in band_rows[j]:
                for r in local.get(k, ()):
                    if r in seen:
                        continue
                    seen.add(r)
                    self.stats.candidates += 1
                    s = fuzz.ratio(keys[j], self.rep_keys[r], score_cutoff=self.threshold)
                    if s >= self.threshold:
                        cands.append((float(s), r))
            chosen = None
            if cands:
                self.stats.verified += len(cands)
                mine = prepared[j][1] or features(text)
                for s, r in sorted(cands, key=lambda c: (-c[0], c[1])):
                    why = fact_guard(mine, self._features(r), self.gazetteer)
                    if why is None:
                        chosen = (s, r)
                        break
                    self.stats.guarded[why] += 1
            if chosen is not None:
                joins.append(Join(sid, self.rep_ids[chosen[1]], chosen[0]))
                continue
            r = len(self.rep_ids)
            self.rep_ids.append(sid)
            self.rep_keys.append(keys[j])
            self.rep_texts.append(text)
            got = prepared[j][1]
            if got is not None:
                self._cache_features(r, got)
            new_reps.append(j)
            for k in band_rows[j]:
                local.setdefault(k, []).append(r)
        if new_reps:
            first = len(self.rep_ids) - len(new_reps)
            self.index.add(bands[new_reps], range(first, len(self.rep_ids)))
        self.stats.joins += len(joins)
        self.stats.representatives = len(self.rep_ids)
        return joins


def cluster_texts(
    texts: Sequence[str],
    threshold: float = DEFAULT_THRESHOLD,
    aliases: Mapping[str, str] | None = None,
    batch: int = 5000,
    blocker: MinHashBlocker | None = None,
    parallel: bool = True,
) -> list[int]:
    """In memory: the representative's position for every text (its own position if it is a
    representative). The same algorithm as :func:`run_dedup`, for tests and benchmarks."""
    d = Deduper(threshold, aliases, blocker)
    out = list(range(len(texts)))
    starts = range(0, len(texts), batch)

    def rows_of(start: int) -> list[tuple[str, str]]:
        return [(str(i), texts[i]) for i in range(start, min(start + batch, len(texts)))]

    parallel = parallel and len(texts) >= PARALLEL_MIN and (os.cpu_count() or 1) > 1
    for start, prepared in prepared_batches(
        starts, lambda s: texts[s : s + batch], parallel=parallel
    ):
        for j in d.process(rows_of(start), prepared):
            out[int(j.member)] = int(j.representative)
    return out


def similar_pairs(
    keys: Sequence[str],
    threshold: float = DEFAULT_THRESHOLD,
    blocker: MinHashBlocker | None = None,
    workers: int = -1,
) -> set[tuple[int, int]]:
    """Every pair (i < j) of match keys that shares a band and scores ``>= threshold``: what
    blocking plus verification find, before the guard and clustering (benchmarks compare it with
    an exhaustive ``cdist``)."""
    b = blocker or MinHashBlocker()
    bands = b.keys(keys)
    n = len(keys)
    flat = bands.reshape(-1)
    owners = np.repeat(np.arange(n, dtype=np.int64), b.bands)
    order = np.argsort(flat, kind="stable")
    flat, owners = flat[order], owners[order]
    bounds = np.flatnonzero(np.diff(flat)) + 1
    cand: set[tuple[int, int]] = set()
    for group in np.split(owners, bounds):
        if len(group) < 2:
            continue
        members = sorted(set(group.tolist()))
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                cand.add((members[x], members[y]))
    if not cand:
        return set()
    pairs = sorted(cand)
    scores = process.cpdist(
        [keys[i] for i, _ in pairs],
        [keys[j] for _, j in pairs],
        scorer=fuzz.ratio,
        score_cutoff=threshold,
        workers=workers,
    )
    return {p for p, s in zip(pairs, scores.tolist(), strict=True) if s >= threshold}


# --------------------------------------------------------------------------- against the store


@dataclass
class DedupResult:
    mode: str  # "incremental", "full" or "up to date"
    reason: str
    threshold: float
    checked: int = 0  # new sentences clustered in this run
    known: int = 0  # representatives and singletons loaded from earlier runs
    joined: int = 0  # sentences that joined a cluster in this run
    new_clusters: int = 0
    propagated: int = 0
    clusters: int = 0
    hidden: int = 0
    seconds: float = 0.0
    guarded: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "reason": self.reason,
            "threshold": self.threshold,
            "checked": self.checked,
            "known": self.known,
            "joined": self.joined,
            "new_clusters": self.new_clusters,
            "propagated": self.propagated,
            "clusters": self.clusters,
            "hidden": self.hidden,
            "seconds": round(self.seconds, 3),
            "guarded": dict(self.guarded),
        }


ProgressFn = Callable[[str, int, int], None]


def run_dedup(
    store: Store,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    full: bool = False,
    batch: int = 5000,
    progress: ProgressFn | None = None,
    blocker: MinHashBlocker | None = None,
) -> DedupResult:
    """Cluster the store's sentences (incrementally when possible) and write the clusters.

    A run is incremental when the previous one used the same threshold and algorithm and no
    sentence was split since; otherwise (or with ``full``) the clusters are rebuilt from scratch.
    Writes go in short transactions, one per batch; the run's mark is recorded last, so an
    interrupted run is simply redone by the next one and ends in the same clusters.
    """
    t0 = time.perf_counter()
    state = store.clusters.state()
    splits = store.clusters.split_count()
    reason = ""
    if full:
        reason = "--full"
    elif state.last_seq < 0:
        reason = "first run"
    elif state.version != ALGO_VERSION:
        reason = "new dedup version"
    elif state.threshold != float(threshold):
        reason = f"threshold changed ({state.threshold:g} -> {float(threshold):g})"
    elif state.splits != splits:
        reason = "sentences were split since the last run"
    mode = "full" if reason else "incremental"
    after = -1
    if mode == "full":
        store.clusters.reset()
    else:
        after = state.last_seq
    result = DedupResult(mode, reason or "new sentences only", float(threshold))
    d = Deduper(threshold, store.actors.alias_map(), blocker)
    total_known = store.clusters.count_known(after) if after >= 0 else 0
    cores = (os.cpu_count() or 1) > 1
    if after >= 0:
        for rows, prepared in prepared_batches(
            store.clusters.iter_known(after, batch),
            lambda rows: [t for _, t in rows],
            parallel=cores and total_known >= PARALLEL_MIN,
        ):
            d.add_representatives(rows, prepared)
            result.known += len(rows)
            if progress:
                progress("loading", result.known, total_known)
    total_new = store.clusters.count_new(after)
    last = max(after, store.clusters.max_seq())
    if total_new == 0 and mode == "incremental":
        result.mode = "up to date"
    done = 0
    for (seqs, rows), prepared in prepared_batches(
        store.clusters.iter_new(after, batch),
        lambda b: [t for _, t in b[1]],
        parallel=cores and total_new >= PARALLEL_MIN,
    ):
        joins = d.process(rows, prepared)
        pairs = [(j.member, j.representative, cluster_id_for(j.representative)) for j in joins]
        new_c, propagated = store.clusters.write_joins(pairs, float(threshold))
        result.new_clusters += new_c
        result.propagated += propagated
        result.joined += len(joins)
        done += len(rows)
        result.checked = done
        last = max(last, seqs[-1])
        if progress:
            progress("clustering", done, total_new)
    store.clusters.finish(last, float(threshold), ALGO_VERSION, splits)
    counts = store.clusters.counts()
    result.clusters, result.hidden = counts
    result.guarded = dict(d.stats.guarded)
    result.seconds = time.perf_counter() - t0
    return result


def overlap_rows(
    store: Store, min_overlap: float = 0.5, min_shared: int = 2
) -> list[dict[str, object]]:
    """Article pairs sharing many clustered sentences (the same story from two outlets):
    ``overlap`` = shared clusters / sentences of the shorter article. Reported, never merged."""
    out: list[dict[str, object]] = []
    for a, b, shared, n_a, n_b, title_a, title_b in store.clusters.article_overlaps(min_shared):
        overlap = shared / max(1, min(n_a, n_b))
        if overlap >= min_overlap:
            out.append(
                {
                    "article_a": a,
                    "article_b": b,
                    "shared": shared,
                    "sentences_a": n_a,
                    "sentences_b": n_b,
                    "overlap": round(overlap, 3),
                    "title_a": title_a,
                    "title_b": title_b,
                }
            )
    out.sort(key=lambda r: (-float(str(r["overlap"])), str(r["article_a"]), str(r["article_b"])))
    return out
