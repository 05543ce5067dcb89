"""Fuzzy cross-article deduplication: normalise -> block -> propose -> explain -> cluster.

Wire copy repeats across outlets with small changes (« » vs " ", NBSP, dashes, a dropped word,
"said X" vs "X said", a « Selon l'AFP, » prefix, "1 000" vs "1,000"). Each repeated sentence should
be annotated once. The pipeline, for every sentence in import order (``seq``):

1. **Normalise** (:func:`normalize`, :func:`compare_key`): NFKC, quotes/apostrophes/dashes/spaces
   unified, accents folded, casefolded, thousands separators dropped and decimal commas made
   points, punctuation dropped. The *match key* also strips attribution that wire copies move
   around or add: an agency dateline (« MOSCOU (AFP) - »), an « Selon l'AFP, » / "According to
   Reuters," prefix and a neutral speech clause at either end ("X said", ", said X",
   « a déclaré X », « selon X »). The verdict (step 4) works on the full texts, never on the keys.
2. **Block** (:class:`MinHashBlocker`): MinHash over the match key's content words, cut into
   bands; two sentences are candidates when one band is equal. The keys of a sentence depend on
   that sentence alone (fixed seeds, a stable hash), so blocking does not change as the corpus
   grows: this is what makes incremental runs equal full runs.
3. **Propose** with rapidfuzz ``fuzz.ratio`` on the match keys, ``score >= threshold``
   (``process.cpdist`` with ``workers=-1`` for the candidates against earlier batches). The score
   only proposes: it never decides.
4. **Explained verdict** (:func:`explain`): the two sentences are aligned word by word
   (Levenshtein opcodes on word lists) and merge only when every difference is in the closed
   catalogue :data:`BENIGN` (typography, number formats, number words, attribution formula
   moved / added / dropped with nothing else, trusted aliases, a small abbreviation and
   transliteration table, typos between words that are not both known, a few function words).
   Anything else (a content word, name, number, negation or fact word substituted, inserted,
   deleted or moved; another speaker) keeps them apart, and :class:`Explanation` says why.
5. **Cluster greedily against representatives only** (no chaining): a sentence joins the
   best-scoring representative whose verdict is "merge" (ties: the earliest), else it becomes a
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

Size: one pipeline whose parts share private tables and types (the normaliser's tables feed the
match key, the alignment and the blocking's shingles; the verdict's closed catalogue is read by
the clustering and by ``--explain``). Split, each part would import the others' internals; the
sections below (normalisation, attribution, gazetteer, explained verdict, blocking, preparing
batches, clustering, against the store) keep it readable in one file.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import threading
import time
import unicodedata
import zlib
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Levenshtein

from stanceterm.actors import alias_key

if TYPE_CHECKING:
    from stanceterm.schema import LabelSchema
    from stanceterm.store import Store

#: Version of the algorithm: a stored run made by another version is redone in full.
ALGO_VERSION = "6"  # 2: explained verdict, affix shingles; 3: 3-letter affixes, 40 x 5 bands
#                       + 30 x 4 bands for short sentences; 4: typos inside contractions, end
#                       letters of words as shingles, short sentences up to 20 shingles; 5: a
#                       copy must also merge with the copies that added or dropped a speaker;
#                       6: "reported" / « a rapporté » are attribution verbs
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
    "reported",
    "a declare",
    "a dit",
    "a indique",
    "a affirme",
    "a ajoute",
    "a precise",
    "a souligne",
    "a assure",
    "a estime",
    "a rapporte",
    "ont declare",
    "ont indique",
    "ont affirme",
    "declare",
    "affirme",
    "indique",
)
_SPEECH_RE = "(?:" + "|".join(re.escape(s) for s in _SPEECH) + ")"
_WHO = r"(?:[\w'.-]+ ){0,4}[\w'.-]+"  # a speaker: one to five words
_QCOMMA = r'\s*(?:,\s*"|"\s*,|,)\s*'  # a comma, with a closing quote before or after it
_STRIP = [
    # « MOSCOU (AFP) - » dateline
    re.compile(r"^[^()\"]{0,40}\(\s*" + _AGENCY + r"\s*\)\s*[-:,]?\s*"),
    # « Selon l'AFP, », "According to Reuters, », « D'après Moscou, »
    re.compile(r"^(?:selon|d'apres|according to|citing)\s+" + _WHO + r"\s*,\s*"),
    # "Peskov said (that)", « M. Peskov a déclaré que »
    re.compile(r"^" + _WHO + r" " + _SPEECH_RE + r"(?:\s+that|\s+que|\s+qu'|\s*:|\s*,)?\s+"),
    # ", Peskov said." / ", said Peskov." / « , a déclaré M. Peskov. » / « , selon l'AFP. »,
    # also after a closing quote: '"...," the minister said.' / « ... », a déclaré le ministre.
    re.compile(_QCOMMA + _WHO + r" " + _SPEECH_RE + r"\s*[.!]?\s*$"),
    re.compile(
        _QCOMMA + r"(?:" + _SPEECH_RE + r"|selon|d'apres|according to)\s+" + _WHO + r"\s*[.!]?\s*$"
    ),
    # inside the quote: '"We will not sign," the minister said, "this text."' / « Nous ne
    # signerons pas, a déclaré le ministre, ce texte »
    re.compile(
        _QCOMMA + r"(?:" + _WHO + r" " + _SPEECH_RE + r"|" + _SPEECH_RE + r" " + _WHO + r")"
        r"\s*,\s*\"?\s*"
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
    for pattern in (*_STRIP[:2], _STRIP[1], *_STRIP[2:-1]):  # « Selon l'AFP, selon X, »: twice
        s = pattern.sub("", s, count=1)
    s = _STRIP[-1].sub(" ", s, count=1)
    toks = tokens(s)
    if len(toks) < _MIN_KEY_TOKENS:
        toks = full
    return " ".join(_canon_key_tokens(toks))


def _canon_key_tokens(toks: list[str]) -> list[str]:
    """The closed table and number words applied to a key (so "ten" / "10", "U.S." / "US" and
    "Zelenskyy" / "Zelensky" score as equal and are proposed)."""
    out: list[str] = []
    i, n = 0, len(toks)
    while i < n:
        for size in range(min(_TABLE_MAX, n - i) if toks[i] in _TABLE_FIRST else 0, 0, -1):
            got = _TABLE_PAIRS.get(tuple(toks[i : i + size]))
            if got is not None:
                out.extend(c.lstrip("#") for c in got[0])
                i += size
                break
        else:
            value = _NUMBER_WORDS.get(toks[i])
            out.append(toks[i] if value is None else str(value))
            i += 1
    return out


# --------------------------------------------------------------------------- gazetteer

_STOP_WORDS = """a an the and or but of to in on at for by with from as is are was were be been has have had
    that this these those it its he she they we you i his her their our after before over into about
    le la les l un une des du de d au aux et ou mais en dans sur par pour avec sans que qu qui se s
    ce cet cette ces son sa ses leur leurs il elle ils elles on nous vous je est sont a ete avait
    selon apres avant lors plus moins tres aussi deja encore m mr mrs ms mme dr president"""
_STOP = frozenset(_STOP_WORDS.split())


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


# --------------------------------------------------------------------------- explained verdict
#
# The score only proposes candidates. Two sentences merge only when their token alignment is
# fully explained by a closed catalogue of benign edits (:data:`BENIGN`); any other difference
# keeps them apart. See :func:`explain`.

#: the closed catalogue of benign difference classes
BENIGN = frozenset(
    {
        "quotes",
        "dashes",
        "spacing",
        "punctuation",
        "accents",
        "case",
        "number format",
        "number words",
        "abbreviation",
        "transliteration",
        "alias",
        "typo",
        "function word",
        "attribution moved",
        "attribution added",
        "attribution dropped",
    }
)

#: the verdict kinds after which a copy speaks otherwise than its representative
_ATTRIBUTION_SHIFTS = frozenset({"attribution added", "attribution dropped"})

_NUMBER_WORDS = {
    # English (not "one": also a pronoun)
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100, "zero": 0,
    # French (not « un » / « une »: also articles)
    "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8, "neuf": 9,
    "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16,
    "vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60, "cent": 100,
    "zero_": 0,
}  # fmt: skip
_NUMBER_WORDS.pop("zero_")
_TENS = {20, 30, 40, 50, 60, 70, 80, 90}

#: a small closed table: token sequence (casefolded, accents folded) -> (canonical tokens, class)
_TABLE_PAIRS: dict[tuple[str, ...], tuple[tuple[str, ...], str]] = {
    ("u", "s"): (("#us",), "abbreviation"),
    ("u", "s", "a"): (("#usa",), "abbreviation"),
    ("u", "k"): (("#uk",), "abbreviation"),
    ("u", "n"): (("#un",), "abbreviation"),
    ("e", "u"): (("#eu",), "abbreviation"),
    ("standard", "poor", "s"): (("s", "p"), "abbreviation"),
    ("standard", "and", "poor", "s"): (("s", "p"), "abbreviation"),
    ("s", "and", "p"): (("s", "p"), "abbreviation"),
    ("per", "cent"): (("%",), "abbreviation"),
    ("percent",): (("%",), "abbreviation"),
    ("pour", "cent"): (("%",), "abbreviation"),
    ("zelenskyy",): (("zelensky",), "transliteration"),
    ("zelenskiy",): (("zelensky",), "transliteration"),
    ("zelenskyi",): (("zelensky",), "transliteration"),
    ("zelensky",): (("zelensky",), "transliteration"),
    ("zelenski",): (("zelensky",), "transliteration"),
    ("kiev",): (("kyiv",), "transliteration"),
    ("kyiv",): (("kyiv",), "transliteration"),
    ("kadhafi",): (("gaddafi",), "transliteration"),
    ("qaddafi",): (("gaddafi",), "transliteration"),
    ("gadhafi",): (("gaddafi",), "transliteration"),
    ("navalnyy",): (("navalny",), "transliteration"),
    ("navalni",): (("navalny",), "transliteration"),
    ("tchaikovsky",): (("tchaikovsky",), "transliteration"),
    ("peskov",): (("peskov",), "transliteration"),
    ("peskow",): (("peskov",), "transliteration"),
    ("pyongyang",): (("pyongyang",), "transliteration"),
    ("mohammed",): (("muhammad",), "transliteration"),
    ("mohamed",): (("muhammad",), "transliteration"),
    ("muhammad",): (("muhammad",), "transliteration"),
}
_TABLE_MAX = max(len(k) for k in _TABLE_PAIRS)
_TABLE_FIRST = frozenset(k[0] for k in _TABLE_PAIRS)

_FUNCTION_WORDS = frozenset(
    # whose loss changes no fact: complementisers, definite articles, honorifics
    ["that", "que", "qu", "the", "le", "la", "les", "l", "m", "mr", "mrs", "ms", "mme", "dr"]
)
_NEGATION_WORDS = frozenset(
    [
        "ne",
        "n",
        "pas",
        "jamais",
        "aucun",
        "aucune",
        "rien",
        "ni",
        "nullement",
        "guere",
        "not",
        "never",
        "no",
        "none",
        "nobody",
        "nothing",
        "neither",
        "nor",
        "cannot",
        "t",
    ]
)
_MONTHS = (
    "january february march april may june july august september october november december "
    "janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre"
)
_WEEKDAYS = (
    "monday tuesday wednesday thursday friday saturday sunday "
    "lundi mardi mercredi jeudi vendredi samedi dimanche"
)
_NATIONALITIES = (
    "american british english french german italian spanish russian ukrainian chinese japanese "
    "korean iranian iraqi israeli palestinian syrian turkish polish dutch belgian swiss austrian "
    "australian canadian mexican indian pakistani afghan egyptian saudi european african asian "
    "irish scottish welsh greek swedish norwegian danish finnish portuguese brazilian "
    "americain americaine americains britannique britanniques anglais anglaise francais "
    "francaise francaises allemand allemande allemands allemandes italien italienne espagnol "
    "espagnole russe russes ukrainien ukrainienne chinois chinoise japonais japonaise coreen "
    "coreenne iranien iranienne irakien israelien israelienne palestinien syrien turc turque "
    "polonais belge suisse autrichien australien canadien mexicain indien europeen europeenne "
    "africain irlandais grec suedois portugais bresilien"
)
_FACT_WORDS_EXTRA = (
    "million millions billion billions trillion milliard milliards thousand thousands mille "
    "increased decreased increase decrease rose fell raised lowered up down higher lower "
    "confirmed denied confirm deny confirme dementi confirmer dementir "
    "more less most least fewer plus moins before after avant apres avec sans with without "
    "all some many few every each any both half tous toutes plusieurs quelques chaque "
    "can could may might must should would will shall peut pourrait doit devrait "
    "yesterday today tomorrow hier demain aujourd week month year semaine mois annee "
    "first second third last premier premiere dernier derniere"
)
#: lower-case words that carry a fact: never a typo, never dropped as a function word
FACT_WORDS = (
    frozenset((_MONTHS + " " + _WEEKDAYS + " " + _NATIONALITIES + " " + _FACT_WORDS_EXTRA).split())
    | frozenset(_NUMBER_WORDS)
    | _NEGATION_WORDS
)

_SPEECH_SEQS = frozenset(
    tuple(s.split())
    for s in (
        "said", "says", "added", "stated", "told reporters", "declared", "announced",
        "reported", "a declare", "a dit", "a indique", "a affirme", "a ajoute", "a precise",
        "a souligne", "a assure", "a estime", "a rapporte", "ont declare", "ont indique",
        "ont affirme", "ont dit",
        "declare", "affirme", "indique", "a t il declare", "a t elle declare",
    )
)  # fmt: skip
_SOURCE_SEQS = frozenset(
    tuple(s.split()) for s in ("selon", "according to", "d apres", "citing", "cite par")
)
_TITLE_WORDS = frozenset(
    [
        "the",
        "l",
        "le",
        "la",
        "les",
        "du",
        "de",
        "des",
        "d",
        "of",
        "spokesman",
        "spokeswoman",
        "spokesperson",
        "porte",
        "parole",
        "minister",
        "ministre",
        "officials",
        "official",
        "responsables",
        "responsable",
        "source",
        "sources",
        "president",
        "presidente",
        "chancellor",
        "chancelier",
        "he",
        "she",
        "they",
        "il",
        "elle",
        "ils",
        "elles",
        "agency",
        "agence",
        "diplomat",
        "diplomate",
        "secretary",
        "secretaire",
        "m",
        "mr",
        "mrs",
        "ms",
        "mme",
        "dr",
    ]
)
_AGENCY_TOKENS = frozenset(w for a in AGENCIES for w in a.replace("-", " ").split()) - {"press"}
_WORD_RE = re.compile(r"\d+(?:\.\d+)?|[^\W_]+|[%$€£]")
_DELIM = re.compile(r"[,;:()\"\-]")


@dataclass(frozen=True, slots=True)
class Tok:
    """One word of a sentence as the alignment sees it."""

    raw: str  # as written (folded: quotes, accents, number separators unified; case kept)
    canon: str  # what is compared: casefolded, number words as digits, table entries unified
    via: str  # "" or the class that made canon differ from raw (abbreviation, number words...)
    cap: bool  # written with a capital
    before: bool  # punctuation (or the sentence start) just before
    after: bool  # punctuation (or the sentence end) just after
    host: str = ""  # canon of the word this one is glued to by an apostrophe before ("we" 'll)
    clitic: str = ""  # canon of the word glued to this one by an apostrophe after (don 't)


@dataclass(frozen=True, slots=True)
class Analysed:
    """A sentence cut into :class:`Tok` for :func:`explain` (cheap to keep per representative)."""

    text: str
    toks: tuple[Tok, ...]

    @property
    def canon(self) -> list[str]:
        return [t.canon for t in self.toks]


def analyse(text: str) -> Analysed:
    """The alignment's view of a sentence."""
    return _analyse_folded(text, fold(text))


def _analyse_folded(text: str, folded: str) -> Analysed:
    spans = [(m.group(0), m.start(), m.end()) for m in _WORD_RE.finditer(folded)]
    n = len(spans)
    low = [w.casefold() for w, _, _ in spans]
    # punctuation between word i and word i + 1 (the ends count as punctuation)
    gap = [
        i + 1 >= n
        or (
            (spans[i + 1][1] > spans[i][2] + 1 or folded[spans[i][2]] != " ")
            and bool(_DELIM.search(folded[spans[i][2] : spans[i + 1][1]]))
        )
        for i in range(n)
    ]
    out: list[Tok] = []
    # the spans each token was made from (first, last): a table entry or "twenty five" joins
    # several, a table entry may also give several tokens of one span
    made: list[tuple[int, int]] = []
    i = i0 = 0
    while i < n:
        made.extend([(i0, i - 1)] * (len(out) - len(made)))
        i0 = i
        w, s, _e = spans[i]
        before = i == 0 or gap[i - 1]
        # the closed table, longest first
        hit = None
        if low[i] in _TABLE_FIRST:
            for size in range(min(_TABLE_MAX, n - i), 0, -1):
                got = _TABLE_PAIRS.get(tuple(low[i : i + size]))
                if got is not None:
                    hit = (size, got)
                    break
        if hit is not None:
            size, (canon, cls) = hit
            raw = folded[s : spans[i + size - 1][2]]
            after = gap[i + size - 1]
            via = cls if tuple(low[i : i + size]) != canon else ""
            for k, c in enumerate(canon):
                out.append(Tok(raw if k == 0 else "", c, via, w[:1].isupper(), before, after))
            i += size
            continue
        after = gap[i]
        lw = low[i]
        letters = w.replace(".", "")
        if 1 < len(letters) <= 5 and letters.isalpha() and letters.isupper() and len(w) > 1:
            out.append(Tok(w, "#" + lw, "", True, before, after))
            i += 1
            continue
        value = _NUMBER_WORDS.get(lw)
        if value is not None:
            # "twenty five" / "twenty-five" -> 25; « dix sept » -> 17
            nxt = _NUMBER_WORDS.get(low[i + 1]) if i + 1 < n else None
            if nxt is not None and (
                (value in _TENS and 0 < nxt < 10) or (value == 10 and 7 <= nxt <= 9)
            ):
                raw = folded[s : spans[i + 1][2]]
                after = gap[i + 1]
                out.append(
                    Tok(raw, str(value + nxt), "number words", w[:1].isupper(), before, after)
                )
                i += 2
                continue
            out.append(Tok(w, str(value), "number words", w[:1].isupper(), before, after))
            i += 1
            continue
        if lw.isdigit() and len(lw) > 1 and lw[0] == "0":  # "08" and "8": one value
            out.append(Tok(w, str(int(lw)), "number format", False, before, after))
        else:
            out.append(Tok(w, lw, "", w[:1].isupper(), before, after))
        i += 1
    made.extend([(i0, i - 1)] * (len(out) - len(made)))
    if "'" not in folded:
        return Analysed(text, tuple(out))
    return Analysed(text, _glue(out, made, spans, folded))


def _glue(
    out: list[Tok], made: list[tuple[int, int]], spans: list[tuple[str, int, int]], folded: str
) -> tuple[Tok, ...]:
    """Mark the words written as one with an apostrophe ("don't", "we'll", "that's"): each
    side knows the other (:attr:`Tok.host`, :attr:`Tok.clitic`), for typos inside contractions.
    ``made``: the spans each token was made from."""
    res = list(out)
    for t in range(len(out) - 1):
        last, first = made[t][1], made[t + 1][0]
        if first != last + 1:
            continue  # two tokens of one table entry
        e, s2 = spans[last][2], spans[first][1]
        if s2 == e + 1 and folded[e] == "'":
            res[t] = replace(res[t], clitic=out[t + 1].canon)
            res[t + 1] = replace(res[t + 1], host=out[t].canon)
    return tuple(res)


_LEXICON: frozenset[str] | None = None
_FREQ: dict[str, dict[str, int]] = {}
_LEXICON_FLOOR = 50
_LEXICON_LOCK = threading.Lock()


def lexicon() -> frozenset[str]:
    """Known English and French words (pyspellchecker's frequency lists, accents folded): two
    known words are never typos of each other (« form » / "from", "million" / "billion"), unless
    one is common and the other rare in the sentence's language (:func:`_rare_twin`)."""
    global _LEXICON
    with _LEXICON_LOCK:
        if _LEXICON is None:
            import gzip
            import json
            from importlib.resources import files

            words: set[str] = set()
            base = files("spellchecker") / "resources"
            for lang in ("en", "fr"):
                with gzip.open(str(base / f"{lang}.json.gz"), "rt", encoding="utf-8") as fh:
                    data = json.load(fh)
                freq: dict[str, int] = {}
                for w, n in data.items():
                    if n > _LEXICON_FLOOR:  # the floor holds misspellings ("stroy")
                        f = fold(w).casefold()
                        words.add(f)
                        freq[f] = max(freq.get(f, 0), int(n))
                _FREQ[lang] = freq
            _LEXICON = frozenset(words)
        return _LEXICON


def word_frequency(word: str, lang: str | None) -> int:
    """How often pyspellchecker's list for ``lang`` ("en", "fr"; None: the larger of the two)
    has ``word`` (0 below the floor)."""
    lexicon()
    if lang is None:
        return max(_FREQ["en"].get(word, 0), _FREQ["fr"].get(word, 0))
    return _FREQ[lang].get(word, 0)


def guess_lang(canon: Iterable[str]) -> str | None:
    """ "en" or "fr": the language whose word list has more of the sentence's words as its more
    frequent language; None when neither wins clearly (then both lists count)."""
    lexicon()
    en_freq, fr_freq = _FREQ["en"], _FREQ["fr"]
    en = fr = 0
    for w in canon:
        fe, ff = en_freq.get(w, 0), fr_freq.get(w, 0)
        if fe > 2 * ff:
            en += 1
        elif ff > 2 * fe:
            fr += 1
    if en >= 2 and en >= 2 * fr:
        return "en"
    if fr >= 2 and fr >= 2 * en:
        return "fr"
    return None


#: a known word may be a typo of another known word when, in the sentence's language, it is rare
#: (at most this often in the list) and the other is at least ``_RARE_RATIO`` times as frequent:
#: "bard" / "board", "yeas" / "years", « livres » / "lives" in English; never "scare" / "scarce"
_RARE_MAX = 2000
_RARE_RATIO = 100


def _rare_twin(a: str, b: str, lang: str | None) -> str | None:
    """The rare one of two known words when the other is common (see :data:`_RARE_MAX`)."""
    fa, fb = word_frequency(a, lang), word_frequency(b, lang)
    lo, hi = min(fa, fb), max(fa, fb)
    if lo <= _RARE_MAX and hi >= _RARE_RATIO * max(lo, _LEXICON_FLOOR):
        return a if fa < fb else b
    return None


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference of an alignment: what A has, what B has, its class, benign or not."""

    kind: str
    a: str
    b: str

    @property
    def benign(self) -> bool:
        return self.kind in BENIGN


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why two sentences merge or stay apart."""

    alignment: tuple[tuple[str, str, str], ...]  # (op, A words, B words); op: = ~ - +
    differences: tuple[Difference, ...]
    merge: bool

    @property
    def reason(self) -> str | None:
        """The first difference that keeps the two apart (None when they merge)."""
        for d in self.differences:
            if not d.benign:
                return d.kind
        return None

    def summary(self) -> str:
        """The difference classes, in order, once each ("quotes, attribution moved")."""
        seen: list[str] = []
        for d in self.differences:
            if d.kind not in seen:
                seen.append(d.kind)
        return ", ".join(seen) if seen else "identical"


_SURFACE = (
    ("quotes", re.compile("[\"'" + re.escape(_QUOTES + _APOSTROPHES) + "]")),
    ("dashes", re.compile("[-" + re.escape(_DASHES) + "]")),
    ("spacing", re.compile("[ " + re.escape(_SPACES + _ZERO_WIDTH) + "]+")),
)
_NUMBER_SPAN = re.compile(r"\d[\d \u00a0\u202f,.']*\d|\d")


def _surface(a: str, b: str) -> list[Difference]:
    out: list[Difference] = []
    for kind, rx in _SURFACE:
        if kind == "spacing":
            if set("".join(rx.findall(a))) != set("".join(rx.findall(b))):
                out.append(Difference(kind, "", ""))
        elif rx.findall(a) != rx.findall(b):
            out.append(Difference(kind, "", ""))
    na_, nb_ = _NUMBER_SPAN.findall(a), _NUMBER_SPAN.findall(b)
    if na_ != nb_ and [fold(x) for x in na_] == [fold(x) for x in nb_]:
        out.append(Difference("number format", "", ""))
    na = unicodedata.normalize("NFKC", a)
    nb = unicodedata.normalize("NFKC", b)
    if na != nb and fold(na) == fold(nb) and not out:
        out.append(Difference("accents", "", ""))
    if (
        not out
        and a != b
        and [m.group(0) for m in _WORD_RE.finditer(fold(a))]
        == [m.group(0) for m in _WORD_RE.finditer(fold(b))]
    ):
        out.append(Difference("punctuation", "", ""))
    return out


class Knowledge:
    """What the verdict knows beyond the two sentences: the trusted gazetteer (schema and lead
    aliases) and the names seen capitalised in the corpus (a casefolded word -> sentences)."""

    def __init__(
        self, gazetteer: Gazetteer | None = None, names: Mapping[str, int] | None = None
    ) -> None:
        self.gazetteer = gazetteer
        self.names = names if names is not None else {}
        self._exact: dict[tuple[str, ...], str] = {}
        if gazetteer is not None:
            for first, entries in gazetteer._by_first.items():
                del first
                for seq, actor, _acronym in entries:
                    self._exact[seq] = actor

    def actor(self, canon: Sequence[str]) -> str | None:
        """The actor whose alias is exactly these words, if any."""
        if not canon:
            return None
        return self._exact.get(tuple(c.lstrip("#") for c in canon))

    def known(self, word: str) -> bool:
        w = word.lstrip("#")
        if w in FACT_WORDS or w in lexicon() or self.names.get(w, 0) >= 2:
            return True
        return self.gazetteer is not None and w in self.gazetteer.words


def _typo_limit(x: str, y: str) -> int:
    return 1 if max(len(x), len(y)) <= 7 else 2


def _is_typo(x: Tok, y: Tok, k: Knowledge, lang: Callable[[], str | None]) -> bool:
    """One word misspelt: OSA distance 1 (2 from 8 letters; names: 1, from 5 letters).

    Two known names are never typos of each other (Iran / Irak), nor two fact words. Two other
    known lower-case words are typos only when one is rare and the other common in the
    sentence's language (:func:`_rare_twin`: "board" / "bard", "would" / "wold"), the rare one
    carries no fact and is no name of the corpus, and neither is a word of the gazetteer.
    """
    # a misspelt number word ("elevn") is compared as written, not as its value
    a = x.raw.casefold() if x.via == "number words" else x.canon
    b = y.raw.casefold() if y.via == "number words" else y.canon
    if a[:1] == "#" or b[:1] == "#" or _DIGIT.search(a) or _DIGIT.search(b):
        return False
    if a in _FUNCTION_WORDS or b in _FUNCTION_WORDS:
        return False
    names = x.cap and y.cap
    if min(len(a), len(b)) < (5 if names else 3):
        return False
    if OSA.distance(a, b) > (1 if names else _typo_limit(a, b)):
        return False
    known_a, known_b = k.known(a), k.known(b)
    if not (known_a and known_b):
        return True
    if names or x.cap or y.cap:
        return False
    if a in FACT_WORDS and b in FACT_WORDS:
        return False
    if k.gazetteer is not None and (a in k.gazetteer.words or b in k.gazetteer.words):
        return False
    rare = _rare_twin(a, b, lang())
    # the rare one must carry no fact and be no name of the corpus ("Bard" elsewhere)
    return rare is not None and rare not in FACT_WORDS and k.names.get(rare, 0) < 2


#: English enclitics written after an apostrophe: "n't", "'s", "'re", "'ve", "'ll", "'d", "'m"
_ENCLITICS = frozenset(["t", "s", "re", "ve", "ll", "d", "m"])


def _written(t: Tok) -> str:
    return (t.host + "'" if t.host else "") + t.canon + ("'" + t.clitic if t.clitic else "")


def _shown(t: Tok) -> str:
    """A word with the contraction it is part of, as written ("do't")."""
    return (t.host + "'" if t.host else "") + t.raw + ("'" + t.clitic if t.clitic else "")


def _contraction_typo(x: Tok, y: Tok, k: Knowledge) -> bool:
    """A typo inside an English contraction, compared as the written word: "don't" / "do't",
    "isn't" / "in't", "we'll" / "we'l", "that's" / "tjhat's" (the parts alone are too short, or
    known words: "do", "in").

    The rest of the contraction is equal on both sides; the written words are one edit apart
    (OSA), at least 4 characters, and not both known ("don't" / "won't" are two words); the
    enclitic is English ("t", "s", "re", "ve", "ll", "d", "m"), never swapped for another
    ("he'll" / "he'd"), and the "t" of "n't" stays. A capitalised word never takes an "'s"
    here (a name's possessive: "Iran's" / "Irak's" follow the name rule), the two misspelt
    parts are not two known names of the corpus, and no part is a word of the gazetteer.
    """
    if x.host != y.host or x.clitic != y.clitic or not (x.host or x.clitic):
        return False
    a, b = x.canon, y.canon
    if a[:1] == "#" or b[:1] == "#" or _DIGIT.search(a) or _DIGIT.search(b):
        return False
    if x.via or y.via:
        return False
    if x.clitic:  # the host is misspelt: the enclitic is shared
        last_a = last_b = x.clitic
    else:  # the enclitic itself is misspelt ("we'll" / "we'l")
        last_a, last_b = a, b
        if a in _ENCLITICS and b in _ENCLITICS:
            return False
    if last_a not in _ENCLITICS and last_b not in _ENCLITICS:
        return False
    if (last_a == "t") != (last_b == "t"):
        return False
    if (x.cap or y.cap) and "s" in (last_a, last_b):
        return False
    if k.names.get(a, 0) >= 2 and k.names.get(b, 0) >= 2:
        return False  # two known names
    if k.gazetteer is not None and any(w in k.gazetteer.words for w in (a, b, x.host, x.clitic)):
        return False
    wa, wb = _written(x), _written(y)
    if min(len(wa), len(wb)) < 4 or OSA.distance(wa, wb) > 1:
        return False
    return not (k.known(wa) and k.known(wb))


def _token_kind(t: Tok, k: Knowledge, initial: bool) -> str:
    if t.canon in _NEGATION_WORDS:
        return "negation"
    if _DIGIT.search(t.canon) or t.via == "number words":
        return "number"
    if t.canon in FACT_WORDS:
        return "fact word"
    if (
        (t.cap and not initial)
        or t.canon[:1] == "#"
        or (k.gazetteer is not None and t.canon in k.gazetteer.words)
    ):
        return "name"
    return "content word"


def _speaker_ok(toks: Sequence[Tok]) -> bool:
    if not toks or len(toks) > 6:
        return False
    has_head = False
    for t in toks:
        c = t.canon.lstrip("#")
        if c in _TITLE_WORDS or c in _AGENCY_TOKENS:
            has_head = has_head or (
                c not in _FUNCTION_WORDS and c not in {"du", "de", "des", "d", "of"}
            )
            continue
        if t.cap and c not in FACT_WORDS and not _DIGIT.search(c):
            has_head = True
            continue
        return False
    return has_head


def _speaker_key(toks: Sequence[Tok], k: Knowledge) -> frozenset[str]:
    words = [t.canon.lstrip("#") for t in toks]
    names = [w for w in words if w not in _TITLE_WORDS]
    actor = k.actor(names) if names else None
    out = frozenset(names or words)
    return out | {"@" + actor} if actor is not None else out


def _same_speaker(x: frozenset[str], y: frozenset[str]) -> bool:
    """One speaker named twice: the same trusted actor, or one name within the other ("Peskov"
    / "Dmitri Peskov")."""
    if any(w.startswith("@") for w in x & y):
        return True
    nx = {w for w in x if not w.startswith("@")}
    ny = {w for w in y if not w.startswith("@")}
    return nx <= ny or ny <= nx


_SORTED_HEADS: dict[int, list[tuple[str, ...]]] = {}


def _longest_first(heads: frozenset[tuple[str, ...]]) -> list[tuple[str, ...]]:
    got = _SORTED_HEADS.get(id(heads))
    if got is None:
        got = _SORTED_HEADS[id(heads)] = sorted(heads, key=len, reverse=True)
    return got


def _starts_with(seq: Sequence[str], heads: frozenset[tuple[str, ...]]) -> int:
    for h in _longest_first(heads):
        if tuple(seq[: len(h)]) == h:
            return len(h)
    return 0


def _ends_with(seq: Sequence[str], heads: frozenset[tuple[str, ...]]) -> int:
    for h in _longest_first(heads):
        if len(seq) >= len(h) and tuple(seq[len(seq) - len(h) :]) == h:
            return len(h)
    return 0


def _formula(toks: Sequence[Tok], i1: int, i2: int, k: Knowledge) -> frozenset[str] | None:
    """The speaker of an attribution formula that fills ``toks[i1:i2]`` in its position, else
    None. Forms: "X said (that)" / « X a déclaré (que) », ", said X" / « , a déclaré X »,
    « Selon X, » / ", according to X", and an agency dateline « MOSCOU (AFP) - »."""
    run = list(toks[i1:i2])
    while run and run[-1].canon in _FUNCTION_WORDS:
        run.pop()
    if not run:
        return None
    canon = [t.canon for t in run]
    n_all = len(toks)
    at_start = i1 == 0
    at_end = i2 == n_all
    open_before = at_start or run[0].before
    closed_after = at_end or toks[i2 - 1].after
    # agency alone, or a dateline: capitalised place words then the agency
    if at_start and canon[-1].lstrip("#") in _AGENCY_TOKENS and all(t.cap for t in run):
        return frozenset(c.lstrip("#") for c in canon if c.lstrip("#") in _AGENCY_TOKENS)
    # verb or source first: ", said X" / « , a déclaré X » / « Selon X, »
    for heads in (_SPEECH_SEQS, _SOURCE_SEQS):
        h = _starts_with(canon, heads)
        if h and open_before and _speaker_ok(run[h:]):
            if heads is _SOURCE_SEQS and not (closed_after or at_end):
                continue
            return _speaker_key(run[h:], k)
    # speaker first: "X said" at the start (a clause may follow), or ", X said" closed after
    h = _ends_with(canon, _SPEECH_SEQS)
    if h and _speaker_ok(run[: len(run) - h]) and (at_start or (open_before and closed_after)):
        return _speaker_key(run[: len(run) - h], k)
    return None


def _is_speech_run(toks: Sequence[Tok]) -> bool:
    canon = [t.canon for t in toks if t.canon not in {"that", "que", "qu"}]
    return bool(canon) and tuple(canon) in _SPEECH_SEQS


def _is_speaker_or_speech_run(toks: Sequence[Tok]) -> bool:
    """A run that can only be part of an attribution formula whose rest is equal on both sides
    ("the spokesman said" where only "spokesman said" moved)."""
    if _is_speech_run(toks):
        return True
    return all(
        t.canon in {"that", "que", "qu"}
        or (t.canon,) in _SPEECH_SEQS
        or t.canon in {"a", "ont"}
        or t.canon in _TITLE_WORDS
        for t in toks
    ) and any((t.canon,) in _SPEECH_SEQS or t.canon in {"a", "ont"} for t in toks)


def _block_alias(a: Analysed, b: Analysed, op: tuple[int, int, int, int], k: Knowledge) -> bool:
    """Whether the differing spans (grown by up to two equal words each side) are two aliases of
    one trusted actor (« Poutine » / "Vladimir Putin")."""
    if k.gazetteer is None:
        return False
    i1, i2, j1, j2 = op
    ca, cb = a.canon, b.canon
    for left in range(3):
        for right in range(3):
            if i1 - left < 0 or j1 - left < 0 or i2 + right > len(ca) or j2 + right > len(cb):
                continue
            if (
                ca[i1 - left : i1] != cb[j1 - left : j1]
                or ca[i2 : i2 + right] != cb[j2 : j2 + right]
            ):
                continue
            xa = k.actor(ca[i1 - left : i2 + right])
            if xa is not None and xa == k.actor(cb[j1 - left : j2 + right]):
                return True
    return False


def _words(toks: Sequence[Tok]) -> str:
    return " ".join(t.raw for t in toks if t.raw)


def _letters(toks: Sequence[Tok]) -> str:
    """The words as written, joined without separators ("e-mail" / "email")."""
    return "".join(ch for t in toks for ch in t.raw.casefold() if ch.isalnum())


def _coalesced(ca: list[str], cb: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Levenshtein opcodes with neighbouring differences joined into one block ("Vladimir Putin"
    -> "Poutine" is one replacement, not a replacement and a deletion)."""
    out: list[tuple[str, int, int, int, int]] = []
    for op in Levenshtein.opcodes(ca, cb):
        tag, i1, i2, j1, j2 = op.tag, op.src_start, op.src_end, op.dest_start, op.dest_end
        if tag != "equal" and out and out[-1][0] != "equal":
            _, p1, _, q1, _ = out.pop()
            i1, j1 = p1, q1
            tag = "replace" if i2 > i1 and j2 > j1 else ("delete" if i2 > i1 else "insert")
        out.append((tag, i1, i2, j1, j2))
    return out


def _pair_kind(
    x: Tok, y: Tok, in_a: set[str], in_b: set[str], k: Knowledge, lang: Callable[[], str | None]
) -> str | None:
    if x.canon in in_b and y.canon in in_a:
        return None  # a word that is also on the other side moved: no typo
    if _is_typo(x, y, k, lang) or _contraction_typo(x, y, k):
        return "typo"
    ax = k.actor([x.canon])
    if ax is not None and ax == k.actor([y.canon]):
        return "alias"
    return None


def _joined_kind(xs: Sequence[Tok], ys: Sequence[Tok], k: Knowledge) -> str | None:
    """Two words against one (or two against two cut elsewhere): "spacing" when the letters are
    the same ("e-mail" / "email", "haven't" / "havent"), "typo" when they differ by one letter and
    the single word has no meaning of its own ("didn't" / "didnzt"; never "can't" / "cat")."""
    lx, ly = _letters(xs), _letters(ys)
    if lx == ly:
        return "spacing"
    if min(len(lx), len(ly)) < 4 or OSA.distance(lx, ly) > 1:
        return None
    for side, other in ((xs, ys), (ys, xs)):
        for t in side:
            c = t.canon.lstrip("#")
            if _DIGIT.search(c) or (c in FACT_WORDS and c != "t"):
                return None
        if len(side) == 1 and k.known(side[0].canon):
            return None
        if side[-1].canon == "t" and not _letters(other).endswith("t"):
            return None  # the negation of "n't" must stay
    return "typo"


def _explain_block(
    ta: Sequence[Tok],
    tb: Sequence[Tok],
    in_a: set[str],
    in_b: set[str],
    k: Knowledge,
    lang: Callable[[], str | None],
) -> list[Difference] | None:
    """A replaced block explained word by word (typos, aliases) or two words against one
    (:func:`_joined_kind`), else None."""
    if len(ta) > 8 or len(tb) > 8:
        return None
    memo: dict[tuple[int, int], list[Difference] | None] = {}

    def walk(i: int, j: int) -> list[Difference] | None:
        if i == len(ta) and j == len(tb):
            return []
        if (i, j) in memo:
            return memo[(i, j)]
        got: list[Difference] | None = None
        if i < len(ta) and j < len(tb):
            kind = _pair_kind(ta[i], tb[j], in_a, in_b, k, lang)
            if kind is not None:
                rest = walk(i + 1, j + 1)
                if rest is not None:
                    x, y = ta[i], tb[j]
                    if kind == "typo" and (x.host or x.clitic) and x.canon != y.canon:
                        # shown as the written words ("don't" / "do't")
                        got = [Difference(kind, _shown(x), _shown(y)), *rest]
                    else:
                        got = [Difference(kind, x.raw, y.raw), *rest]
        for p, q in ((2, 1), (1, 2), (2, 2)):
            if got is not None:
                break
            if i + p > len(ta) or j + q > len(tb):
                continue
            xs, ys = ta[i : i + p], tb[j : j + q]
            kind = _joined_kind(xs, ys, k)
            if kind is not None:
                rest = walk(i + p, j + q)
                if rest is not None:
                    got = [Difference(kind, _words(xs), _words(ys)), *rest]
        memo[(i, j)] = got
        return got

    return walk(0, 0)


def explain_analysed(a: Analysed, b: Analysed, knowledge: Knowledge | None = None) -> Explanation:
    """:func:`explain` on sentences already cut by :func:`analyse`."""
    k = knowledge or Knowledge()
    diffs: list[Difference] = _surface(a.text, b.text)
    ca, cb = a.canon, b.canon
    lang_memo: list[str | None] = []

    def lang() -> str | None:
        if not lang_memo:
            lang_memo.append(guess_lang(ca))
        return lang_memo[0]

    alignment: list[tuple[str, str, str]] = []
    deleted: list[tuple[int, int]] = []
    inserted: list[tuple[int, int]] = []
    for tag, i1, i2, j1, j2 in _coalesced(ca, cb):
        ta, tb = a.toks[i1:i2], b.toks[j1:j2]
        if tag == "equal":
            alignment.append(("=", _words(ta), _words(tb)))
            for x, y in zip(ta, tb, strict=True):
                if x.raw == y.raw:
                    continue
                via = x.via or y.via
                if via:
                    diffs.append(Difference(via, x.raw, y.raw))
                elif x.raw.casefold() == y.raw.casefold():
                    diffs.append(Difference("case", x.raw, y.raw))
            continue
        alignment.append(
            ({"replace": "~", "delete": "-", "insert": "+"}[tag], _words(ta), _words(tb))
        )
        if _block_alias(a, b, (i1, i2, j1, j2), k):
            diffs.append(Difference("alias", _words(ta), _words(tb)))
            continue
        if tag == "replace":
            block = _explain_block(ta, tb, set(ca), set(cb), k, lang)
            if block is not None:
                diffs.extend(block)
                continue
        if i2 > i1:
            deleted.append((i1, i2))
        if j2 > j1:
            inserted.append((j1, j2))
    speakers: dict[str, set[frozenset[str]]] = {"a": set(), "b": set()}
    formulas: list[tuple[str, str]] = []  # (side, words)
    moved_names = {ca[i] for i1, i2 in deleted for i in range(i1, i2)} & {
        cb[j] for j1, j2 in inserted for j in range(j1, j2)
    }
    for side, runs, an in (("a", deleted, a), ("b", inserted, b)):
        for r1, r2 in runs:
            run = an.toks[r1:r2]
            words = _words(run)
            if all(t.canon in _FUNCTION_WORDS for t in run) and not any(
                t.canon in moved_names for t in run
            ):
                diffs.append(
                    Difference(
                        "function word", words if side == "a" else "", words if side == "b" else ""
                    )
                )
                continue
            spk = _formula(an.toks, r1, r2, k)
            if spk is None and _is_speaker_or_speech_run(an.toks[r1:r2]):
                # only the verb moved ("X said" -> "said X"): the formula spans the speaker too
                spk = next(
                    (
                        got
                        for left in range(6, -1, -1)
                        for right in range(6, -1, -1)
                        if (left == 0) != (right == 0)
                        and r1 - left >= 0
                        and r2 + right <= len(an.toks)
                        and (got := _formula(an.toks, r1 - left, r2 + right, k)) is not None
                    ),
                    None,
                )
            if spk is not None and {w for w in spk if not w.startswith("@")} <= _AGENCY_TOKENS:
                # an agency credit (« Selon l'AFP, », « MOSCOU (AFP) - »): added or dropped freely
                kind = "attribution dropped" if side == "a" else "attribution added"
                diffs.append(
                    Difference(kind, words if side == "a" else "", words if side == "b" else "")
                )
                continue
            if spk is not None:
                speakers[side].add(spk)
                formulas.append((side, words))
                continue
            for pos in range(r1, r2):
                t = an.toks[pos]
                if t.canon in _FUNCTION_WORDS and t.canon not in moved_names:
                    continue
                kind = _token_kind(t, k, initial=pos == 0)
                if t.canon in moved_names and kind in {
                    "name",
                    "number",
                    "content word",
                    "fact word",
                }:
                    kind = "reordered"
                diffs.append(
                    Difference(kind, t.raw if side == "a" else "", t.raw if side == "b" else "")
                )
                break
    if formulas:
        sa, sb = speakers["a"], speakers["b"]
        if sa and sb:
            same = all(any(_same_speaker(x, y) for y in sb) for x in sa) and all(
                any(_same_speaker(x, y) for x in sa) for y in sb
            )
            kind = "attribution moved" if same else "speaker changed"
            wa = " / ".join(w for s, w in formulas if s == "a")
            wb = " / ".join(w for s, w in formulas if s == "b")
            diffs.append(Difference(kind, wa, wb))
        else:
            for side, words in formulas:
                if side == "a":
                    diffs.append(Difference("attribution dropped", words, ""))
                else:
                    diffs.append(Difference("attribution added", "", words))
    merge = all(d.benign for d in diffs)
    return Explanation(tuple(alignment), tuple(diffs), merge)


def explain(
    text_a: str,
    text_b: str,
    aliases: Mapping[str, str] | None = None,
    names: Mapping[str, int] | None = None,
) -> Explanation:
    """Align two sentences word by word and classify every difference.

    They merge only when every difference is in the closed catalogue :data:`BENIGN`: typography
    (quotes, dashes, spacing, case, accents), number formats, digits / number words, a known
    abbreviation or transliteration, an alias of one actor of the trusted gazetteer
    (``aliases``: alias -> actor id), a typo inside one word (two known words or two known names
    are never typos of each other; ``names``: casefolded capitalised word -> sentences that have
    it), a dropped complementiser / article / honorific, and an attribution formula moved, added
    or dropped with nothing else. Anything else (a content word, name, number or fact word
    substituted, inserted, deleted or moved) keeps them apart.
    """
    k = Knowledge(Gazetteer(aliases) if aliases else None, names)
    return explain_analysed(analyse(text_a), analyse(text_b), k)


def describe_difference(
    rep_text: str, copy_text: str, aliases: Mapping[str, str] | None = None
) -> str:
    """How a copy differs from its representative, in a few words ("quotes, attribution
    moved"), for the copies list; "(not benign)" is added when the two would not merge today
    (``dedup --explain`` says why)."""
    e = explain(rep_text, copy_text, aliases)
    return e.summary() if e.merge else f"{e.summary()} (not benign)"


def trusted_aliases(store: Store, schema: LabelSchema | None = None) -> dict[str, str]:
    """Alias -> actor id of the trusted gazetteer: the store's (schema actors and aliases a lead
    added), plus the actors of ``schema`` if it is not recorded yet (a read-only caller)."""
    out = store.actors.trusted_alias_map()
    if schema is not None:
        for entry in schema.actors:
            actor = next(
                (out[n] for n in (entry.name, *entry.aliases) if n in out), "schema:" + entry.name
            )
            for name in (entry.name, *entry.aliases):
                out.setdefault(name, actor)
    return out


def last_threshold(store: Store) -> float:
    """The threshold of the DB's last dedup run, or :data:`DEFAULT_THRESHOLD` if none ran."""
    last = store.clusters.state().threshold
    return last if last == last else DEFAULT_THRESHOLD  # NaN: dedup never ran


def format_explanation(e: Explanation) -> str:
    """Plain text for the terminal (callers escape it: sentence text is data)."""
    lines = ["alignment:"]
    for op, wa, wb in e.alignment:
        if op == "=":
            lines.append(f"  = {wa}")
        elif op == "~":
            lines.append(f"  ~ {wa}  ->  {wb}")
        elif op == "-":
            lines.append(f"  - {wa}")
        else:
            lines.append(f"  + {wb}")
    lines.append("differences:")
    if not e.differences:
        lines.append("  (none: identical)")
    for d in e.differences:
        mark = "benign" if d.benign else "NOT benign"
        what = f"{d.a!r} -> {d.b!r}" if (d.a or d.b) else ""
        lines.append(f"  {d.kind:<20} {mark:<11} {what}".rstrip())
    lines.append(
        f"verdict: {'merge' if e.merge else 'keep apart'}" + (f" ({e.reason})" if e.reason else "")
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- blocking

_MIX = np.uint64(0x9E3779B97F4A7C15)


class MinHashBlocker:
    """Band keys of a MinHash over the match key's content words.

    ``bands`` keys per sentence, each from ``rows`` MinHash values, then ``short_bands`` keys of
    ``short_rows`` values for short sentences (at most ``short`` shingles, about seven content
    words; 0 for longer ones, a
    key that never matches): a one-letter typo changes a larger share of a short sentence's
    words, so it needs looser bands, while long sentences keep the tight ones (few random
    candidates). Seeds are fixed and words are hashed with CRC-32, so a sentence's keys are the
    same in every run and every process.
    """

    def __init__(
        self,
        bands: int = 40,
        rows: int = 5,
        seed: int = 20261201,
        short_bands: int = 30,
        short_rows: int = 4,
        short: int = 20,
    ) -> None:
        self.bands = bands
        self.rows = rows
        self.short_bands = short_bands
        self.short_rows = short_rows
        self.short = short
        self.width = bands + short_bands
        rng = np.random.default_rng(seed)
        n = bands * rows
        self._a = rng.integers(1, 1 << 63, size=n, dtype=np.uint64) | np.uint64(1)  # odd
        self._b = rng.integers(0, 1 << 63, size=n, dtype=np.uint64)
        self._band_salt = rng.integers(1, 1 << 62, size=bands, dtype=np.uint64)
        rng2 = np.random.default_rng(seed + 1)
        m = short_bands * short_rows
        self._sa = rng2.integers(1, 1 << 63, size=m, dtype=np.uint64) | np.uint64(1)
        self._sb = rng2.integers(0, 1 << 63, size=m, dtype=np.uint64)
        self._short_salt = rng2.integers(1, 1 << 62, size=short_bands, dtype=np.uint64)
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
        """What a sentence is sketched by: the first and last three letters of its content words
        (whole when shorter; all words if none, the whole key if it has no words), and each
        longer word's first and last letter. A one-letter typo inside a word leaves its head or
        its tail intact, and a typo inside a word (not at its ends) leaves its two end letters:
        a five-letter word with a typo in its middle letter ("stroy", "cmes") keeps only those."""
        words = key.split()
        content: set[str] = set()
        for w in words:
            if w in _STOP or len(w) <= 1:
                continue
            if len(w) <= 3:
                content.add(w)
            else:
                content.add(w[:3] + "<")
                content.add(">" + w[-3:])
                content.add(w[0] + "~" + w[-1])
        if content:
            return sorted(content)
        return sorted(set(words)) or [key]

    @staticmethod
    def _bands(mins: U64, salts: U64, rows: int) -> U64:
        n = mins.shape[1]
        out = np.empty((n, len(salts)), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for band in range(len(salts)):
                k = np.full(n, salts[band], dtype=np.uint64)
                for r in range(rows):
                    k = (k ^ mins[band * rows + r]) * _MIX
                    k ^= k >> np.uint64(29)
                out[:, band] = k | np.uint64(1)  # never 0: 0 is "no key"
        return out

    @staticmethod
    def _mins(x: U64, starts: I64, a: U64, b: U64) -> U64:
        """Per hash function (multiply-shift: the high 32 bits of ``a * x + b`` mod 2**64) and
        per sentence, the smallest hash of its shingles; hash functions in chunks, at once."""
        mins = np.empty((len(a), len(starts)), dtype=np.uint64)
        step = max(1, min(len(a), 4_000_000 // max(1, len(x))))
        shift = np.uint64(32)
        with np.errstate(over="ignore"):
            for i in range(0, len(a), step):
                h = a[i : i + step, None] * x[None, :]
                h += b[i : i + step, None]
                h >>= shift
                mins[i : i + step] = np.minimum.reduceat(h, starts, axis=1)
        return mins

    def keys(self, keys: Sequence[str]) -> U64:
        """``(len(keys), width)`` band keys (0: none)."""
        return self.keys_of_hashes([[self._word_hash(w) for w in self.shingles(k)] for k in keys])

    def keys_for(self, prepared: Prepared) -> U64:
        """:meth:`keys` of prepared sentences (their shingles' hashes were made by
        :func:`prepare`, in the helper process, when this blocker uses the default shingles)."""
        if type(self).shingles is MinHashBlocker.shingles:
            return self.keys_of_hashes([p[3] for p in prepared])
        return self.keys([p[0] for p in prepared])

    def keys_of_hashes(self, hashes: Sequence[Sequence[int]]) -> U64:
        n = len(hashes)
        out = np.zeros((n, self.width), dtype=np.uint64)
        if n == 0:
            return out
        sizes = np.fromiter((len(h) for h in hashes), dtype=np.int64, count=n)
        starts = np.zeros(n, dtype=np.int64)
        np.cumsum(sizes[:-1], out=starts[1:])
        x = np.fromiter((v for h in hashes for v in h), dtype=np.uint64, count=int(sizes.sum()))
        out[:, : self.bands] = self._bands(
            self._mins(x, starts, self._a, self._b), self._band_salt, self.rows
        )
        if self.short_bands:
            short = np.flatnonzero(sizes <= self.short)
            if len(short):
                idx = np.concatenate([np.arange(starts[i], starts[i] + sizes[i]) for i in short])
                sub_starts = np.concatenate([[0], np.cumsum(sizes[short])[:-1]]).astype(np.int64)
                mins = self._mins(x[idx], sub_starts, self._sa, self._sb)
                out[short, self.bands :] = self._bands(mins, self._short_salt, self.short_rows)
        return out


def shingle_hashes(key: str) -> tuple[int, ...]:
    """CRC-32 of :meth:`MinHashBlocker.shingles` (the same in every process)."""
    return tuple(zlib.crc32(w.encode()) for w in MinHashBlocker.shingles(key))


class KeyIndex:
    """Band key -> representative number, in sorted numpy runs merged as they grow (bounded
    memory: 12 bytes per key)."""

    def __init__(self) -> None:
        self._runs: list[tuple[U64, npt.NDArray[np.int32]]] = []

    def __len__(self) -> int:
        return sum(len(k) for k, _ in self._runs)

    def add(self, keys: U64, ids: Sequence[int]) -> None:
        if len(ids) == 0:
            return
        flat = keys.reshape(-1)
        owners = np.repeat(np.asarray(ids, dtype=np.int32), keys.shape[1])
        some = flat != 0  # 0: no key (a long sentence's short bands)
        flat, owners = flat[some], owners[some]
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
        some = flat != 0
        flat, rows = flat[some], rows[some]
        qs: list[I64] = []
        rs: list[npt.NDArray[np.int32]] = []
        order = np.argsort(flat)  # sorted needles: a cache-friendly binary search
        flat, rows = flat[order], rows[order]
        for run_keys, run_owners in self._runs:
            if not len(run_keys):
                continue
            lo = np.searchsorted(run_keys, flat, side="left")
            hit = np.flatnonzero(run_keys[np.minimum(lo, len(run_keys) - 1)] == flat)
            if not len(hit):
                continue
            lo = lo[hit]
            hi = np.searchsorted(run_keys, flat[hit], side="right")
            c = hi - lo
            q = np.repeat(rows[hit], c)
            starts = np.repeat(lo, c)
            offsets = np.arange(int(c.sum()), dtype=np.int64) - np.repeat(np.cumsum(c) - c, c)
            qs.append(q)
            rs.append(run_owners[starts + offsets])
        if not qs:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        q_all = np.concatenate(qs)
        r_all = np.concatenate(rs).astype(np.int64)
        width = int(r_all.max()) + 1
        both = np.unique(q_all * width + r_all)
        return both // width, both % width


# --------------------------------------------------------------------------- preparing batches


#: per sentence: match key, the alignment's tokens (or None), capitalised names, and the CRC-32
#: of the default blocking shingles (:func:`shingle_hashes`)
Prepared = list[tuple[str, Analysed | None, tuple[str, ...], tuple[int, ...]]]


def capitalised_names(folded: str) -> tuple[str, ...]:
    """Casefolded words written with a capital away from a sentence start (names, places): the
    corpus's "known names" (two known names are never typos of each other)."""
    out: set[str] = set()
    for m in _MAYBE_CAPITAL.finditer(folded):
        w = m.group(0)
        if not w[0].isupper():
            continue
        i = m.start() - 1
        while i >= 0 and folded[i] in " \"'(-":
            i -= 1
        if i < 0 or folded[i] in ".!?:;":
            continue
        out.add(w.casefold())
    return tuple(sorted(out))


def prepare(texts: Sequence[str], with_features: bool = False) -> Prepared:
    """Match keys, the capitalised names (and the alignment's tokens, with ``with_features``) of
    a batch: the per-sentence work a helper process does while the main process clusters the
    previous batch."""
    out: Prepared = []
    for text in texts:
        f = fold(text)
        key = _key_of(f)
        out.append(
            (
                key,
                _analyse_folded(text, f) if with_features else None,
                capitalised_names(f),
                shingle_hashes(key),
            )
        )
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
    #: how the member differs from its representative ("quotes, attribution moved"): what the
    #: copies list shows; a store with room can keep it per clustered copy
    difference: str = ""


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


def _shared_band_pairs(bands: U64) -> dict[int, list[int]]:
    """For each row, the earlier rows that share one of its (non-zero) band keys."""
    n, width = bands.shape
    flat = bands.reshape(-1)
    rows = np.repeat(np.arange(n, dtype=np.int64), width)
    some = flat != 0
    flat, rows = flat[some], rows[some]
    order = np.argsort(flat, kind="stable")
    flat, rows = flat[order], rows[order]
    same = np.flatnonzero(flat[1:] == flat[:-1])  # position p: flat[p] == flat[p + 1]
    out: dict[int, set[int]] = {}
    if len(same):
        # runs of equal keys: start where the previous position is not in `same`
        starts = same[np.r_[True, same[1:] != same[:-1] + 1]]
        ends = np.r_[same[np.r_[same[1:] != same[:-1] + 1, True]] + 2]
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            members = sorted(set(rows[a:b].tolist()))
            for x in range(1, len(members)):
                out.setdefault(members[x], set()).update(members[:x])
    return {j: sorted(v) for j, v in out.items()}


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
        self._rep_features: dict[int, Analysed] = {}
        self.names: Counter[str] = Counter()
        self.knowledge = Knowledge(self.gazetteer, self.names)
        self.stats = DedupStats()
        #: when a set, every (new sentence number, representative number) the blocking proposed
        #: is added to it (benchmarks measure blocking recall on the engine itself)
        self.record_candidates: set[tuple[int, int]] | None = None
        #: representative number -> the copies that joined it with an attribution added or
        #: dropped (:meth:`_speaker_clash`); representative id -> number, for loading them
        self._attributed: dict[int, list[Analysed]] = {}
        self._rep_number: dict[str, int] = {}

    def _cache_features(self, rep: int, got: Analysed) -> None:
        if len(self._rep_features) >= 200_000:  # bounded memory: recomputed when needed
            self._rep_features.clear()
        self._rep_features[rep] = got

    def _features(self, rep: int) -> Analysed:
        got = self._rep_features.get(rep)
        if got is None:
            got = analyse(self.rep_texts[rep])
            self._cache_features(rep, got)
        return got

    def add_representatives(
        self,
        rows: Sequence[tuple[str, str]],
        prepared: Prepared | None = None,
        indexed: Sequence[bool] | None = None,
        representatives: Sequence[str | None] | None = None,
    ) -> None:
        """(sentence id, text) of the sentences of earlier runs, in ``seq`` order: every one
        counts for the corpus's known names; those ``indexed`` (default: all), the
        representatives and singletons, are what new sentences are compared against.
        ``representatives``: for each sentence in a cluster, its representative's id (its own
        for the representative); the copies that carry another attribution than their
        representative are kept (:meth:`_speaker_clash`), as a run over all would."""
        prepared = prepared or prepare([t for _, t in rows])
        for p in prepared:
            self.names.update(p[2])
        keep = range(len(rows)) if indexed is None else [i for i, x in enumerate(indexed) if x]
        start = len(self.rep_ids)
        for i in keep:
            if representatives is not None and representatives[i] == rows[i][0]:
                self._rep_number[rows[i][0]] = len(self.rep_ids)  # a cluster's representative
            self.rep_ids.append(rows[i][0])
            self.rep_keys.append(prepared[i][0])
            self.rep_texts.append(rows[i][1])
        if len(keep):
            bands = self.blocker.keys_for([prepared[i] for i in keep])
            self.index.add(bands, range(start, start + len(keep)))
        if representatives is None:
            return
        for i, rep_id in enumerate(representatives):
            # a representative comes before its copies (it is the earliest copy)
            r = None if rep_id is None or rep_id == rows[i][0] else self._rep_number.get(rep_id)
            if r is None:
                continue
            mine = prepared[i][1] or analyse(rows[i][1])
            verdict = explain_analysed(self._features(r), mine, self.knowledge)
            self._note_member(r, verdict, mine)

    def _note_member(self, rep: int, verdict: Explanation, member: Analysed) -> None:
        """Keep a copy that joined with an attribution added or dropped (it says who speaks
        where its representative does not, or the reverse): a later copy must merge with it too."""
        if any(d.kind in _ATTRIBUTION_SHIFTS for d in verdict.differences):
            self._attributed.setdefault(rep, []).append(member)

    def _speaker_clash(self, rep: int, mine: Analysed) -> str | None:
        """Why ``mine`` may not join ``rep``'s cluster although it merges with the representative:
        a copy already there with an attribution (added or dropped against the representative)
        that ``mine`` does not merge with ("Ukraine said" / "Lavrov said" both add a speaker to
        a bare representative). None when it merges with every such copy."""
        for other in self._attributed.get(rep, ()):
            verdict = explain_analysed(other, mine, self.knowledge)
            if not verdict.merge:
                return f"{verdict.reason or 'speaker'} (against a copy in the cluster)"
        return None

    def process(
        self,
        rows: Sequence[tuple[str, str]],
        prepared: Prepared | None = None,
        skip: Collection[str] = (),
    ) -> list[Join]:
        """Cluster a batch of new (sentence id, text), in ``seq`` order, after all earlier ones
        (``prepared``: their :func:`prepare` result, if already computed; ``skip``: ids split out
        for good, which only count for the known names).

        The verdict on each sentence knows the names of the sentences up to it and no further
        (:class:`Knowledge`): a name that arrives later changes no earlier verdict, so a run
        over the sentences in several parts (incremental) decides as one run over all (full)."""
        n = len(rows)
        self.stats.sentences += n
        prepared = prepared or prepare([t for _, t in rows])
        keys = [p[0] for p in prepared]
        bands = self.blocker.keys_for(prepared)
        base = self.stats.sentences - n
        # candidates among the representatives of earlier batches, verified on all cores
        verified: list[list[tuple[float, int]]] = [[] for _ in range(n)]
        qi, ri = self.index.query(bands)
        self.stats.candidates += len(qi)
        if self.record_candidates is not None:
            self.record_candidates.update(
                (base + q, r) for q, r in zip(qi.tolist(), ri.tolist(), strict=True)
            )
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
        # then one by one, against the representatives made in this batch: the earlier
        # sentences of the batch that share a band (found at once), if they became one
        earlier = _shared_band_pairs(bands)
        local_rep: dict[int, int] = {}  # batch position -> representative number
        new_reps: list[int] = []
        joins: list[Join] = []
        for j, (sid, text) in enumerate(rows):
            self.names.update(prepared[j][2])
            if sid in skip:
                continue
            cands = verified[j]
            for i in earlier.get(j, ()):
                r = local_rep.get(i)
                if r is None:
                    continue
                self.stats.candidates += 1
                if self.record_candidates is not None:
                    self.record_candidates.add((base + j, r))
                s = fuzz.ratio(keys[j], self.rep_keys[r], score_cutoff=self.threshold)
                if s >= self.threshold:
                    cands.append((float(s), r))
            chosen = None
            summary = ""
            if cands:
                self.stats.verified += len(cands)
                mine = prepared[j][1] or analyse(text)
                for s, r in sorted(cands, key=lambda c: (-c[0], c[1])):
                    verdict = explain_analysed(self._features(r), mine, self.knowledge)
                    if verdict.merge:
                        clash = self._speaker_clash(r, mine)
                        if clash is None:
                            chosen = (s, r)
                            summary = verdict.summary()
                            self._note_member(r, verdict, mine)
                            break
                        self.stats.guarded[clash] += 1
                        continue
                    self.stats.guarded[verdict.reason or "?"] += 1
            if chosen is not None:
                joins.append(Join(sid, self.rep_ids[chosen[1]], chosen[0], summary))
                continue
            r = len(self.rep_ids)
            self.rep_ids.append(sid)
            self.rep_keys.append(keys[j])
            self.rep_texts.append(text)
            got = prepared[j][1]
            if got is not None:
                self._cache_features(r, got)
            new_reps.append(j)
            local_rep[j] = r
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
    owners = np.repeat(np.arange(n, dtype=np.int64), bands.shape[1])
    some = flat != 0
    flat, owners = flat[some], owners[some]
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


def gazetteer_fingerprint(aliases: Mapping[str, str]) -> str:
    """A fingerprint of the trusted aliases: which names are one actor (a change rebuilds)."""
    groups: dict[str, list[str]] = {}
    for alias, actor in aliases.items():
        groups.setdefault(actor, []).append(alias_key(alias))
    canon = sorted(tuple(sorted(set(g))) for g in groups.values())
    return hashlib.sha256(repr(canon).encode()).hexdigest()[:16]


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

    A run is incremental when the previous one used the same threshold, algorithm and trusted
    aliases (:func:`gazetteer_fingerprint`) and no sentence was split since; otherwise (or with
    ``full``) the clusters are rebuilt from scratch.
    Writes go in short transactions, one per batch; the run's mark is recorded last, so an
    interrupted run is simply redone by the next one and ends in the same clusters.
    """
    t0 = time.perf_counter()
    state = store.clusters.state()
    splits = store.clusters.split_count()
    aliases = store.actors.trusted_alias_map()
    gazetteer = gazetteer_fingerprint(aliases)
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
    elif state.gazetteer != gazetteer:
        reason = "the trusted aliases changed"
    mode = "full" if reason else "incremental"
    after = -1
    if mode == "full":
        store.clusters.reset()
    else:
        after = state.last_seq
    result = DedupResult(mode, reason or "new sentences only", float(threshold))
    d = Deduper(threshold, aliases, blocker)
    total_known = store.clusters.count_known(after) if after >= 0 else 0
    cores = (os.cpu_count() or 1) > 1
    if after >= 0:
        loaded = 0
        for known, prepared in prepared_batches(
            store.clusters.iter_known(after, batch),
            lambda rows: [t for _, t, _, _ in rows],
            parallel=cores and total_known >= PARALLEL_MIN,
        ):
            indexed = [x for _, _, x, _ in known]
            d.add_representatives(
                [(i, t) for i, t, _, _ in known], prepared, indexed, [r for *_, r in known]
            )
            result.known += sum(indexed)
            loaded += len(known)
            if progress:
                progress("loading", loaded, total_known)
    total_new = store.clusters.count_new(after)
    last = max(after, store.clusters.max_seq())
    if total_new == 0 and mode == "incremental":
        result.mode = "up to date"
    done = 0
    for (seqs, rows3), prepared in prepared_batches(
        store.clusters.iter_new(after, batch),
        lambda b: [t for _, t, _ in b[1]],
        parallel=cores and total_new >= PARALLEL_MIN,
    ):
        rows = [(i, t) for i, t, _ in rows3]
        split_out = {i for i, _, split in rows3 if split}
        joins = d.process(rows, prepared, split_out)
        pairs = [(j.member, j.representative, cluster_id_for(j.representative)) for j in joins]
        new_c, propagated = store.clusters.write_joins(pairs, float(threshold))
        result.new_clusters += new_c
        result.propagated += propagated
        result.joined += len(joins)
        done += len(rows)
        result.checked += len(rows) - len(split_out)
        last = max(last, seqs[-1])
        if progress:
            progress("clustering", done, total_new)
    store.clusters.finish(last, float(threshold), ALGO_VERSION, splits, gazetteer)
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
