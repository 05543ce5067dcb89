"""Text → sentences: NFC, space and quote normalisation, boilerplate filter, pysbd fr/en.

Segmentation gives exactly pysbd's sentences, faster:

* **Fast path.** A paragraph is cut at *safe boundaries*: ``word. Next`` where ``word`` is a plain
  word of two letters or more that no pysbd rule treats as an abbreviation, ``Next`` starts with a
  capital (not a lone "I") or a lower-case letter, and the cut lies outside every span that pysbd
  pairs up (quotes « » “ ” " ‘ ’, parentheses, brackets, ``--`` dashes). pysbd always splits there
  and its rules on one side never look at the other. Pieces that are plain words, commas,
  apostrophes and hyphens ending in one period are sentences as they are, and so are pieces with
  no sentence punctuation but their end (:func:`_plain_piece`); the other ("hard") pieces —
  abbreviations (M., Mr., Dr., St., U.S.), initials, numbers (3.5), ellipses, quotes... — go to
  pysbd.
* **Linear cost.** pysbd is quadratic in the length of what it is given, so consecutive hard
  pieces go to it in chunks of at most :data:`MAX_CHUNK` characters, cut at safe boundaries.
* **Fallback.** A paragraph with constructs whose pysbd handling is not local (numbered or lettered
  lists, numbered references, a quote opening after a space, parentheses between quotes,
  backslashes, pysbd's own placeholder characters) goes to pysbd whole.
* **pysbd, sped up.** What goes to pysbd runs pysbd's own ``Processor`` with three passes that
  cost much and rarely change anything skipped exactly when they cannot change the text
  (:class:`_FastAbbreviationReplacer`, :class:`_FastProcessor`, :func:`_apply`); pysbd itself is
  not patched, so :func:`split_sentences_pysbd` stays the pure reference.

tests/test_segment.py checks the fast path and the sped-up pysbd against pure pysbd
(:func:`split_sentences_pysbd`) on real, realistic and generated text;
``benchmarks/segment_equality.py`` on all the real text in the repository.

Size: over 650 lines because the fast path and the pysbd pre-checks must be read together: each
rule is justified by the pysbd rule it mirrors, next to it.

:func:`segment_many` segments many articles, in order, across a process pool in bounded batches
(small inputs stay in-process).
"""

from __future__ import annotations

import bisect
import multiprocessing
import os
import re
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, pairwise
from typing import Any, NamedTuple

import pysbd
from pysbd.abbreviation_replacer import AbbreviationReplacer
from pysbd.between_punctuation import BetweenPunctuation
from pysbd.exclamation_words import ExclamationWords
from pysbd.lang.common.common import Common
from pysbd.lang.common.standard import Standard
from pysbd.lang.english import English
from pysbd.lang.french import French
from pysbd.lists_item_replacer import ListItemReplacer
from pysbd.processor import Processor
from pysbd.punctuation_replacer import replace_punctuation

from stanceterm import textkey
from stanceterm.procs import exit_with_parent, jobs_env

# The normalised forms live in textkey (no pysbd); re-exported here, where they used to live.
normalize = textkey.normalize
hash_key = textkey.hash_key
match_key = textkey.match_key
_SPACES = textkey._SPACES
_SPACE_RUNS = textkey._SPACE_RUNS
_QUOTE_MAP = textkey._QUOTE_MAP
_unify_quotes = textkey._unify_quotes

DEFAULT_BOILERPLATE: tuple[str, ...] = (
    r"(we|nous) (use|utilisons) (des )?cookies\b.*",
    r"accept(er)? (all )?(les )?cookies.*",
    r"(subscribe|abonnez-vous|inscrivez-vous)( to| à)? (our|notre) (newsletter|lettre).*",
    r"(share this|partager)( article)?:?",
    r"(read more|lire aussi|à lire aussi)\b.{0,120}",
    r"(all rights reserved|tous droits réservés)\.?",
    r"(advertisement|publicité)",
)
CUT_MARKERS: tuple[str, ...] = (
    r"leave a (reply|comment)",
    r"laisser (un commentaire|une réponse)",
    r"your email address will not be published.*",
    r"votre adresse (e-?)?mail ne sera pas publiée.*",
)

#: pysbd never sees more than this many characters at once, unless a paragraph has no safe cut.
MAX_CHUNK = 2000
#: Worker processes for :func:`segment_many` (env ``STANCETERM_JOBS`` overrides).
DEFAULT_JOBS = 2
#: Inputs smaller than this (characters) are segmented in-process: no pool start-up.
SMALL_INPUT_CHARS = 200_000
#: One pool task holds about this many characters of text.
BATCH_CHARS = 64_000

_FR = frozenset(
    [
        "le",
        "la",
        "les",
        "des",
        "une",
        "est",
        "dans",
        "que",
        "qui",
        "pour",
        "pas",
        "sur",
        "avec",
        "selon",
        "mais",
        "été",
        "du",
        "au",
        "aux",
    ]
)
_EN = frozenset(
    [
        "the",
        "of",
        "and",
        "to",
        "is",
        "in",
        "that",
        "for",
        "was",
        "on",
        "with",
        "said",
        "by",
        "as",
        "are",
        "from",
        "not",
        "has",
    ]
)


def detect_lang(text: str) -> str:
    words = re.findall(r"[a-zà-ÿ]+", text[:2000].casefold())
    fr = sum(w in _FR for w in words)
    en = sum(w in _EN for w in words)
    return "fr" if fr > en else "en"


@lru_cache(maxsize=32)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def strip_boilerplate(
    paragraphs: list[str],
    patterns: Sequence[str] | None = None,
    cut_markers: Sequence[str] | None = None,
) -> list[str]:
    drop = _compiled(tuple(DEFAULT_BOILERPLATE) + tuple(patterns or ()))
    cut = _compiled(tuple(cut_markers) if cut_markers is not None else CUT_MARKERS)
    out: list[str] = []
    for para in paragraphs:
        if cut is not None and cut.fullmatch(para.strip()):
            break
        if drop is not None and drop.fullmatch(para.strip()):
            continue
        out.append(para)
    return out


# --------------------------------------------------------------------------- sentences


#: perf (issue 17): pysbd builds its abbreviation regexes per call, as strings (about 900
#: distinct patterns on real news text), and the ``re`` module caches 512 compiled patterns,
#: dropping the oldest first: every chunk recompiled most of them (a tenth of pysbd's time).
#: A cache of this size keeps them compiled; results are unchanged, memory grows by a few MB.
RE_CACHE = 4096
if getattr(re, "_MAXCACHE", RE_CACHE) < RE_CACHE:
    setattr(re, "_MAXCACHE", RE_CACHE)  # noqa: B010  (a private knob of the re module)


@lru_cache(maxsize=8)
def _segmenter(lang: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=lang if lang in ("fr", "en") else "en", clean=False)


def split_sentences_pysbd(paragraph: str, lang: str) -> list[str]:
    """Pure pysbd on the whole paragraph (the reference the fast path is tested against)."""
    try:
        parts = _segmenter(lang).segment(paragraph)
    except Exception:  # pysbd has known crashes on odd input: fall back to a plain split
        parts = re.split(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý«\"“])", paragraph)
    return [p.strip() for p in parts if p and p.strip()]


_TRAILING_WS = re.compile(r"\s*")


def _pysbd_spans(sents: list[str], text: str) -> list[str]:
    """``pysbd.Segmenter.sentences_with_char_spans`` without its cost: it compiles one regex per
    sentence and rescans the text from the start for each (quadratic). Same result: for each
    sentence, the first of its non-overlapping occurrences (scanning from 0) that ends after the
    previous one, with its trailing whitespace; sentences not found are dropped."""
    out: list[str] = []
    prior_end = 0
    for sent in sents:
        pos = 0
        while True:
            i = text.find(sent, pos)
            if i < 0:
                break
            end = _TRAILING_WS.match(text, i + len(sent)).end()  # type: ignore[union-attr]
            if end > prior_end:
                out.append(text[i:end])
                prior_end = end
                break
            pos = end if end > i else i + 1
    return out


# perf (issue 17): pysbd's abbreviation pass (``AbbreviationReplacer.
# search_for_abbreviations_in_string``) was about 45% of its time on real news text. For each of
# the language's ~100-190 abbreviations found as a substring of the lower-cased line (``al`` is in
# "also", ``co`` in "could"...), it runs ``re.findall(r"(?:^|\s|\r|\n)" + abbr, line, re.I)``
# over the whole line, then for each match one ``re.sub`` over the whole line that turns the
# period in ``<space><the matched text>.`` into "∯". Nothing changes unless such a period
# exists. :class:`_FastAbbreviationReplacer` first asks that of a folded copy of the line:
# every character that matches one of the abbreviations' letters under ``re.IGNORECASE`` becomes
# that letter, every ``\s`` character a space. If the text holds ``<\s><letters matching
# abbr>.``, the folded copy holds ``" " + abbr + "."`` at the same place, that is, ``abbr`` is
# one of the tokens between a space and a period that one regex pass collects. The abbreviations
# not among them are skipped (their findall and subs would change nothing); the others run
# pysbd's own code, in pysbd's order. (The pass only turns "." into "∯", which changes no letter
# or space and only removes periods, so the folded copy of the line as it came in stays a valid
# filter for the whole pass.) Abbreviations holding a "." (a regex wildcard there) always take
# pysbd's path. tests/test_segment.py checks :data:`_ABBR_FOLD` against every code point, and
# the results against pure pysbd.
_ABBR_FOLD = str.maketrans(
    {
        **{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)},
        "\u0130": "i",  # İ
        "\u0131": "i",  # ı
        "\u017f": "s",  # ſ
        "\u212a": "k",  # Kelvin sign
        "É": "é",
        "À": "à",
        **dict.fromkeys(
            "\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
            + "".join(map(chr, range(0x2000, 0x200B))),
            " ",
        ),
    }
)


class _FastAbbreviationReplacer(AbbreviationReplacer):  # type: ignore[misc]  # pysbd is untyped
    """pysbd's ``AbbreviationReplacer`` with findalls that cannot match skipped (same result)."""

    text: str
    lang: Any
    STARTER_REGEX: str

    def search_for_abbreviations_in_string(self, text: str) -> str:
        if "{" in text:  # pysbd's next-word regex reads a literal "{abbr} ": keep its own path
            return str(super().search_for_abbreviations_in_string(text))
        lowered = text.lower()
        index = _abbreviation_index(self.lang)
        # the folded line holds " abbr." exactly when abbr is one of these tokens
        found = _FOLDED_TOKEN.findall(" " + text.translate(_ABBR_FOLD))
        todo = [i for tok in found for i in index.by_token.get(tok, ())]
        todo += index.dotted
        for i in sorted(set(todo)):  # pysbd's order
            stripped = index.stripped[i]
            if stripped not in lowered:
                continue
            abbrev_match = re.findall(rf"(?:^|\s|\r|\n){stripped}", text, flags=re.I)
            for ind, match in enumerate(abbrev_match):
                # pysbd's char_array is empty here (no "{" in the text)
                text = self.scan_for_replacements(text, match, ind, [])
        return text

    # perf (issue 17, session 4): pysbd's ``replace`` and two of its passes, through :func:`_sub`

    def replace(self) -> str:
        lang = self.lang
        self.text = _apply(
            self.text,
            (
                lang.PossessiveAbbreviationRule,
                lang.KommanditgesellschaftRule,
                *lang.SingleLetterAbbreviationRules.All,
            ),
        )
        abbr_handled_text = ""
        for line in self.text.splitlines(True):
            abbr_handled_text += self.search_for_abbreviations_in_string(line)
        self.text = abbr_handled_text
        self.replace_multi_period_abbreviations()
        self.text = _apply(self.text, lang.AmPmRules.All)
        self.text = self.replace_abbreviation_as_sentence_boundary()
        return self.text

    def replace_multi_period_abbreviations(self) -> None:
        self.text = _sub(
            self.lang.MULTI_PERIOD_ABBREVIATION_REGEX, _dots_to_placeholder, self.text, re.I
        )

    def replace_abbreviation_as_sentence_boundary(self) -> str:
        self.text = _sub(self.STARTER_REGEX, "\\1.", self.text)
        return self.text


def _dots_to_placeholder(match: re.Match[str]) -> str:
    return match.group().replace(".", "∯")


def _starter_regex(replacer: Any) -> str:
    """The pattern of pysbd's ``replace_abbreviation_as_sentence_boundary`` for ``replacer``."""
    starters = "|".join(rf"(?=\s{word}\s)" for word in replacer.SENTENCE_STARTERS)
    return rf"(U∯S|U\.S|U∯K|E∯U|E\.U|U∯S∯A|U\.S\.A|I|i.v|I.V)∯({starters})"


#: a run of characters other than space and period, after a space and before a period
_FOLDED_TOKEN = re.compile(r"(?<= )[^ .]+(?=\.)")


@dataclass(frozen=True)
class _AbbreviationIndex:
    #: pysbd's abbreviation list, stripped, in its order (entries may repeat)
    stripped: tuple[str, ...]
    #: folded abbreviation -> its positions in the list (abbreviations without a ".")
    by_token: dict[str, tuple[int, ...]]
    #: positions of abbreviations holding a "." (a regex wildcard there): always looked at
    dotted: tuple[int, ...]


@lru_cache(maxsize=8)
def _abbreviation_index(rules: Any) -> _AbbreviationIndex:
    stripped = tuple(abbr.strip() for abbr in rules.Abbreviation.ABBREVIATIONS)
    by_token: dict[str, list[int]] = {}
    dotted = []
    for i, abbr in enumerate(stripped):
        if "." in abbr:
            dotted.append(i)
        else:
            by_token.setdefault(abbr.translate(_ABBR_FOLD), []).append(i)
    return _AbbreviationIndex(stripped, {k: tuple(v) for k, v in by_token.items()}, tuple(dotted))


def _fast_rules(rules: Any) -> type:
    replacer = type(
        "AbbreviationReplacer",
        (_FastAbbreviationReplacer, rules.AbbreviationReplacer),
        {
            "SENTENCE_STARTERS": rules.AbbreviationReplacer.SENTENCE_STARTERS,
            "STARTER_REGEX": _starter_regex(rules.AbbreviationReplacer),
        },
    )
    return type(rules.__name__, (rules,), {"AbbreviationReplacer": replacer})


_FAST_RULES = {"en": _fast_rules(English), "fr": _fast_rules(French)}


class _FastProcessor(Processor):  # type: ignore[misc]  # pysbd is untyped
    """pysbd's ``Processor``, with the passes that cannot change the text skipped.

    perf (issue 17): ``ListItemReplacer.add_line_break`` runs seven ``findall`` over the chunk
    (lettered, roman and numbered lists), about 15% of pysbd's time on real text. Each of them
    finds nothing unless the text holds a lone letter or a number of the shapes in
    :data:`_MAY_LETTER_LIST` and :data:`_MAY_NUMBER_LIST`; with no match there, and neither of
    the list markers "♨" and "☝" (which the pass replaces), the pass returns the text unchanged.

    perf (issue 17, session 4): every other ``re.sub`` of pysbd goes through :func:`_sub`, which
    skips it when a necessary condition of a match fails (:data:`_GUARDS`: a "(" for the
    parenthesis rules, "!!" for the continuous-punctuation rule...) and runs a compiled pattern
    otherwise; five rules run as an equivalent pattern that the regex engine scans faster
    (:data:`_EQUIVALENT`), and pysbd's ``replace_punctuation`` (17 ``re.sub`` per quoted span) is
    :func:`_replace_punctuation` (str.replace, same result). About 57 ``re.sub`` calls per chunk
    found nothing on real text, and were most of pysbd's time. The rest is pysbd's own code, in
    its order; tests/test_segment.py checks each guard and equivalent pattern on generated text."""

    text: str

    def process(self) -> Any:
        text: str = self.text
        if not text:
            return text
        self.text = text = text.replace("\n", "\r")
        if "♨" in text or "☝" in text or _may_letter_list(text) or _MAY_NUMBER_LIST.search(text):
            self.text = ListItemReplacer(text).add_line_break()
        self.replace_abbreviations()
        self.replace_numbers()
        self.replace_continuous_punctuation()
        self.replace_periods_before_numeric_references()
        self.text = _apply(
            self.text,
            (
                self.lang.Abbreviation.WithMultiplePeriodsAndEmailRule,
                self.lang.GeoLocationRule,
                self.lang.FileFormatRule,
            ),
        )
        return self.split_into_segments()

    # perf (issue 17): pysbd's own code below, with ``Text(x).apply(*rules)`` replaced by
    # :func:`_apply` and ``re.sub`` by :func:`_sub`

    def replace_numbers(self) -> None:
        self.text = _apply(self.text, self.lang.Numbers.All)

    def replace_continuous_punctuation(self) -> None:
        def continuous_puncs_replace(match: re.Match[str]) -> str:
            return match.group().replace("!", "&ᓴ&").replace("?", "&ᓷ&")

        self.text = _sub(
            self.lang.CONTINUOUS_PUNCTUATION_REGEX, continuous_puncs_replace, self.text
        )

    def replace_periods_before_numeric_references(self) -> None:
        self.text = _sub(self.lang.NUMBERED_REFERENCE_REGEX, r"∯\2\r\7", self.text)

    def check_for_parens_between_quotes(self) -> None:
        if "(" in self.text:  # in every match of the pattern
            super().check_for_parens_between_quotes()

    def split_into_segments(self) -> Any:
        self.check_for_parens_between_quotes()
        sents = self.text.split("\r")
        sents = self.rm_none_flatten(sents)
        lang = self.lang
        sents = [_apply(s, (lang.SingleNewLineRule, *lang.EllipsisRules.All)) for s in sents]
        sents = [self.check_for_punctuation(s) for s in sents]
        sents = self.rm_none_flatten(sents)
        postprocessed_sents = []
        for sent in sents:
            sent = _apply(sent, lang.SubSymbolsRules.All)
            post_process_sent = self.post_process_segments(sent)
            if post_process_sent and isinstance(post_process_sent, str):
                postprocessed_sents.append(post_process_sent)
            elif isinstance(post_process_sent, list):
                for pps in post_process_sent:
                    postprocessed_sents.append(pps)
        return [_apply(ns, (lang.SubSingleQuoteRule,)) for ns in postprocessed_sents]

    def post_process_segments(self, txt: str) -> Any:
        if len(txt) > 2 and _ALL_ASCII_LETTERS.search(txt):
            return txt
        txt = _apply(txt, self.lang.ReinsertEllipsisRules.All)
        if _compiled_rule(self.lang.QUOTATION_AT_END_OF_SENTENCE_REGEX, 0)[0].search(txt):
            return re.split(self.lang.SPLIT_SPACE_QUOTATION_AT_END_OF_SENTENCE_REGEX, txt)
        return txt.replace("\n", "").strip()

    def process_text(self, txt: str) -> Any:
        lang = self.lang
        if txt[-1] not in lang.Punctuations:
            txt += "ȸ"
        if "!" in txt or "ǃ" in txt:  # in every one of pysbd's exclamation words
            txt = re.sub(ExclamationWords.EXCLAMATION_REGEX, _replace_punctuation, txt)
        txt = _between_punctuation(txt)
        if not re.match(lang.DoublePunctuationRules.DoublePunctuation, txt):
            txt = _apply(txt, lang.DoublePunctuationRules.All)
        txt = _apply(txt, (lang.QuestionMarkInQuotationRule, *lang.ExclamationPointRules.All))
        txt = _sub(ListItemReplacer.ROMAN_NUMERALS_IN_PARENTHESES, r"&✂&\1&⌬&", txt)
        return self.sentence_boundary_punctuation(txt)

    def sentence_boundary_punctuation(self, txt: str) -> Any:
        if hasattr(self.lang, "ReplaceColonBetweenNumbersRule"):
            txt = _apply(txt, (self.lang.ReplaceColonBetweenNumbersRule,))
        if hasattr(self.lang, "ReplaceNonSentenceBoundaryCommaRule"):
            txt = _apply(txt, (self.lang.ReplaceNonSentenceBoundaryCommaRule,))
        if "&ᓴ&" in txt:
            txt = re.sub(r"&ᓴ&$", "!", txt)
        rx = _compiled_rule(self.lang.SENTENCE_BOUNDARY_REGEX, 0)[0]
        return [m.group() for m in rx.finditer(txt)]


_ALL_ASCII_LETTERS = re.compile(r"\A[a-zA-Z]*\Z")


def _between_punctuation(txt: str) -> str:
    """pysbd's ``BetweenPunctuation(txt).replace()``: the same substitutions in the same order,
    each skipped when its opening mark is absent (every match holds it)."""
    bp = BetweenPunctuation
    if "'" in txt and not (
        re.search(bp.WORD_WITH_LEADING_APOSTROPHE, txt) and not re.search(r"'\s", txt)
    ):
        txt = re.sub(bp.BETWEEN_SINGLE_QUOTES_REGEX, _replace_single_quoted, txt)
    if "‘" in txt:
        txt = re.sub(bp.BETWEEN_SINGLE_QUOTE_SLANTED_REGEX, _replace_punctuation, txt)
    for mark, pattern in _BETWEEN:
        if mark in txt:
            txt = _sub(pattern, _replace_punctuation, txt)
    return txt


_BETWEEN = [
    ('"', BetweenPunctuation.BETWEEN_DOUBLE_QUOTES_REGEX_2),
    ("[", BetweenPunctuation.BETWEEN_SQUARE_BRACKETS_REGEX_2),
    ("(", BetweenPunctuation.BETWEEN_PARENS_REGEX_2),
    ("«", BetweenPunctuation.BETWEEN_QUOTE_ARROW_REGEX_2),
    ("--", BetweenPunctuation.BETWEEN_EM_DASHES_REGEX_2),
    ("“", BetweenPunctuation.BETWEEN_QUOTE_SLANTED_REGEX_2),
]


def _replace_punctuation(match: re.Match[str], match_type: str | None = None) -> str:
    """pysbd's ``replace_punctuation``: it escapes ( ) [ ] -, turns . 。 ． ！ ! ? ？ (and ' unless
    ``match_type`` is "single") into placeholders, one ``re.sub`` each, then unescapes. Without a
    backslash in the match the escaping and unescaping cancel out and each substitution replaces
    one literal character: the same str.replace calls, in the same order."""
    text = match.group()
    if "\\" in text:
        return str(replace_punctuation(match, match_type))
    text = text.replace(".", "∯").replace("。", "&ᓰ&").replace("．", "&ᓱ&").replace("！", "&ᓳ&")
    text = text.replace("!", "&ᓴ&").replace("?", "&ᓷ&").replace("？", "&ᓸ&")
    return text if match_type == "single" else text.replace("'", "&⎋&")


def _replace_single_quoted(match: re.Match[str]) -> str:
    return _replace_punctuation(match, "single")


_LITERAL = re.compile(r"(?:[^.^$*+?{}\[\]\\|()]|\\[^\w\s])*")


def _literal(pattern: str) -> str | None:
    """The one string ``pattern`` matches when it is a literal (plain characters and escaped
    punctuation, such as ``\\?!``), else None."""
    if not _LITERAL.fullmatch(pattern):
        return None
    return re.sub(r"\\(.)", r"\1", pattern)


class _Guard(NamedTuple):
    """A necessary condition of a match of one pattern: the text holds one of ``needles`` (when
    there are any) and passes ``check`` (when there is one). Every match holds one of ``chars``."""

    needles: tuple[str, ...]
    check: Any
    chars: str


def _has(*needles: str) -> _Guard:
    """A guard: the text holds one of ``needles``."""
    return _Guard(needles, None, "".join(n[0] for n in needles))


def _hint(pattern: str, chars: str, flags: int = 0) -> _Guard:
    """A guard: the text holds a match of ``pattern``, found in every match of the guarded rule (a
    pattern that starts with one of ``chars``, which the regex engine scans fast)."""
    return _Guard((), re.compile(pattern, flags).search, chars)


def _char_at(i: int, ch: str) -> _Guard:
    """A guard: ``ch`` at index ``i`` of the text."""
    return _Guard((), lambda t: t[i : i + 1] == ch, ch)


_DOTS = r"\.\s\."  # in every match of the two spaced-ellipsis rules
# perf (issue 17, session 4): for each pysbd pattern (and flags), a necessary condition of a
# match: when it fails, ``re.sub`` would return the text unchanged. Patterns that are literals
# need none here (:func:`_literal`). Each entry names what every match holds.
_GUARDS: dict[tuple[str, int], _Guard] = {
    # \.(?=\d), (?<=\d)\.(?=\S): a "."
    (Common.Numbers.PeriodBeforeNumberRule.pattern, 0): _has("."),
    (Common.Numbers.NumberAfterPeriodBeforeLetterRule.pattern, 0): _has("."),
    # (?<=\r\d)\.: a "\r"
    (Common.Numbers.NewLineNumberPeriodSpaceLetterRule.pattern, 0): _has("\r"),
    # (?<=^\d)\. and (?<=^\d\d)\.: the "." at index 1, or 2 (^ is the start: no MULTILINE)
    (Common.Numbers.StartLineNumberPeriodRule.pattern, 0): _char_at(1, "."),
    (Common.Numbers.StartLineTwoDigitNumberPeriodRule.pattern, 0): _char_at(2, "."),
    # \.(?='s\s)|\.(?='s$)|\.(?='s\Z): ".'s"; (?<=Co)\.(?=\sKG): "Co."
    (Common.PossessiveAbbreviationRule.pattern, 0): _has(".'s"),
    (Common.KommanditgesellschaftRule.pattern, 0): _has("Co."),
    # (?<=^[A-Z])\.(?=\s): the "." at index 1; (?<=\s[A-Z])\.(?=,?\s): a "."
    (Common.SingleLetterAbbreviationRules.SingleUpperCaseLetterAtStartOfLineRule.pattern, 0): (
        _char_at(1, ".")
    ),
    (Common.SingleLetterAbbreviationRules.SingleUpperCaseLetterRule.pattern, 0): _has("."),
    # (?<= P∯M)∯, (?<=A∯M)∯, (?<=p∯m)∯, (?<=a∯m)∯: the lookbehind and the ∯
    **{
        (rule.pattern, 0): _has(rule.pattern[4 : rule.pattern.index(")")] + "∯")
        for rule in Common.AmPmRules.All
    },
    # \b[a-z](?:\.[a-z])+[.] under IGNORECASE: a "." then a letter, under the same flag
    (Common.MULTI_PERIOD_ABBREVIATION_REGEX, re.IGNORECASE): _hint(r"\.[a-z]", ".", re.IGNORECASE),
    # (?<=\S)(!|\?){3,}(?=...): three of ! and ? in a row hold two
    (Common.CONTINUOUS_PUNCTUATION_REGEX, 0): _has("!!", "??", "!?", "?!"),
    # (?<=[^\d\s])(\.|∯)((\[...\])+|((\d{1,3}\s?)?\d{1,3}))(\s)(?=[A-Z]): a "." or "∯", then
    # a "[" or a digit
    (Common.NUMBERED_REFERENCE_REGEX, 0): _hint(r"[.∯][\[\d]", ".∯"),
    # ([a-zA-Z0-9_])(\.)([a-zA-Z0-9_]): a "." then one of those
    (Standard.Abbreviation.WithMultiplePeriodsAndEmailRule.pattern, 0): _hint(
        r"\.[a-zA-Z0-9_]", "."
    ),
    # (?<=[a-zA-z]°)\.(?=\s*\d+): "°."; (?<=\s)\.(?=(jpe?g|...)\s): a "."
    (Standard.GeoLocationRule.pattern, 0): _has("°."),
    (Standard.FileFormatRule.pattern, 0): _has("."),
    # the spaced ellipses (\s\.){3}\s and (?<=[a-z])(\.\s){3}\.($|\\n): ".<space>."
    (Standard.EllipsisRules.ThreeSpaceRule.pattern, 0): _hint(_DOTS, "."),
    (Standard.EllipsisRules.FourSpaceRule.pattern, 0): _hint(_DOTS, "."),
    # (?<=\S)\.{3}(?=\.\s[A-Z]): "...."; \.\.\.(?=\s+[A-Z]): "..."
    (Standard.EllipsisRules.FourConsecutiveRule.pattern, 0): _has("...."),
    (Standard.EllipsisRules.ThreeConsecutiveRule.pattern, 0): _has("..."),
    # \?(?=('|")): a "?"; the exclamation rules \!(?=...): a "!"
    (Standard.QuestionMarkInQuotationRule.pattern, 0): _has("?"),
    **{(rule.pattern, 0): _has("!") for rule in Standard.ExclamationPointRules.All},
    # \(((?=[mdclxvi])...)\)(?=\s[A-Z]): a "("
    (ListItemReplacer.ROMAN_NUMERALS_IN_PARENTHESES, 0): _has("("),
    # the pairing rules of BetweenPunctuation: their opening mark (and "--")
    (BetweenPunctuation.BETWEEN_DOUBLE_QUOTES_REGEX_2, 0): _has('"'),
    (BetweenPunctuation.BETWEEN_SQUARE_BRACKETS_REGEX_2, 0): _has("["),
    (BetweenPunctuation.BETWEEN_PARENS_REGEX_2, 0): _has("("),
    (BetweenPunctuation.BETWEEN_QUOTE_ARROW_REGEX_2, 0): _has("«"),
    (BetweenPunctuation.BETWEEN_EM_DASHES_REGEX_2, 0): _has("--"),
    (BetweenPunctuation.BETWEEN_QUOTE_SLANTED_REGEX_2, 0): _has("“"),
    # r"(U∯S|...|I|i.v|I.V)∯(starters)" (abbreviations as a sentence boundary): a "∯"
    **{
        (_starter_regex(rules), 0): _has("∯")
        for rules in (English.AbbreviationReplacer, French.AbbreviationReplacer)
    },
}
# perf (issue 17, session 4): patterns the engine scans slowly (a lookbehind first: tried at
# every position) and an equivalent that it scans fast:
# * ``(?<=X)\.`` matches the same "." as ``\.(?<=X\.)`` (the lookbehind reads the same
#   characters, the match is the "." alone), and a pattern starting with a literal is scanned by
#   a fast search for that literal;
# * pysbd's pairing rules imitate an atomic group, ``O(?=(?P<tmp>[^CO\\]+|\\{2}|\\.)*)(?P=tmp)C``.
#   Without a backslash in the text (:func:`_sub` checks) the group's first pass takes the whole
#   run up to the next mark, and that is the only candidate: a shorter run is followed by a
#   character that is not C. So it matches what ``O[^C]+C`` matches (``O[^CO]+C`` for the
#   parentheses, whose run also stops at a "("). The em-dash rule ``--(?=(?P<tmp>[^--]*))
#   (?P=tmp)--`` has no backslash branch: it is ``--[^-]*--`` on any text.
_EQUIVALENT: dict[str, str] = {
    Common.SingleLetterAbbreviationRules.SingleUpperCaseLetterRule.pattern: (
        r"\.(?<=\s[A-Z]\.)(?=,?\s)"
    ),
    Common.Numbers.NumberAfterPeriodBeforeLetterRule.pattern: r"\.(?<=\d\.)(?=\S)",
    Standard.FileFormatRule.pattern: "\\." + "(?<=\\s\\.)" + Standard.FileFormatRule.pattern[9:],
    BetweenPunctuation.BETWEEN_EM_DASHES_REGEX_2: r"--[^-]*--",
}
_EQUIVALENT_NO_BACKSLASH: dict[str, str] = {
    BetweenPunctuation.BETWEEN_DOUBLE_QUOTES_REGEX_2: r'"[^"]+"',
    BetweenPunctuation.BETWEEN_SQUARE_BRACKETS_REGEX_2: r"\[[^\]]+\]",
    BetweenPunctuation.BETWEEN_PARENS_REGEX_2: r"\([^()]+\)",
    BetweenPunctuation.BETWEEN_QUOTE_ARROW_REGEX_2: r"«[^»]+»",
    BetweenPunctuation.BETWEEN_QUOTE_SLANTED_REGEX_2: r"“[^”]+”",
}


class _Rule(NamedTuple):
    rx: re.Pattern[str]  # the pattern, or its equivalent
    no_backslash: re.Pattern[str]  # the same, or its equivalent on text without a backslash
    guard: _Guard | None


_RULES: dict[tuple[str, int], _Rule] = {}


def _compiled_rule(pattern: str, flags: int) -> _Rule:
    rule = _RULES.get((pattern, flags))
    if rule is None:
        rx = re.compile(_EQUIVALENT.get(pattern, pattern), flags)
        guard = _GUARDS.get((pattern, flags))
        literal = _literal(pattern) if guard is None and not flags else None
        if literal:
            guard = _has(literal)
        no_backslash = _EQUIVALENT_NO_BACKSLASH.get(pattern)
        nb = re.compile(no_backslash, flags) if no_backslash else rx
        rule = _RULES[(pattern, flags)] = _Rule(rx, nb, guard)
    return rule


def _sub(pattern: str, repl: Any, text: str, flags: int = 0) -> str:
    """``re.sub(pattern, repl, text, flags=flags)``, skipped when its guard says no match."""
    rx, no_backslash, guard = _RULES.get((pattern, flags)) or _compiled_rule(pattern, flags)
    if guard is not None:
        if guard.needles:
            for needle in guard.needles:
                if needle in text:
                    break
            else:
                return text
        if guard.check is not None and not guard.check(text):
            return text
    return (rx if "\\" in text else no_backslash).sub(repl, text)


@lru_cache(maxsize=64)
def _trigger(rules: tuple[Any, ...]) -> re.Pattern[str] | None:
    """One character class holding, for each rule, characters one of which every match holds:
    text without any of them is left unchanged by every rule (each leaves it as it was, so the
    next sees it as it was), and one search skips them all. None when a rule has no guard."""
    chars = []
    for rule in rules:
        guard = _compiled_rule(rule.pattern, 0).guard
        if guard is None:
            return None
        chars.append(guard.chars)
    return re.compile("[" + re.escape("".join(sorted(set("".join(chars))))) + "]")


def _apply(text: str, rules: Sequence[Any]) -> str:
    """``pysbd.utils.Text(text).apply(*rules)``: the same ``re.sub`` calls in the same order,
    through :func:`_sub` (skipped where they cannot match)."""
    trigger = _trigger(rules if type(rules) is tuple else tuple(rules))
    if trigger is not None and trigger.search(text) is None:
        return text
    for rule in rules:
        text = _sub(rule.pattern, rule.replacement, text)
    return text


def _split_pysbd_chunk(chunk: str, lang: str) -> list[str]:
    """pysbd's sentences of ``chunk`` (same as :func:`split_sentences_pysbd`, faster)."""
    try:
        rules = _FAST_RULES["fr" if lang == "fr" else "en"]
        parts = _pysbd_spans(_FastProcessor(chunk, rules).process(), chunk) if chunk else []
    except Exception:  # pysbd has known crashes on odd input: fall back to a plain split
        parts = re.split(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý«\"“])", chunk)
    return [p.strip() for p in parts if p and p.strip()]


_L = r"[^\W\d_]"  # a letter
_UPPER = "A-ZÀ-ÖØ-ÞŒ"
_LOWER = "a-zà-öø-ÿœ"
# perf (issue 17, session 4): a number with a decimal or grouping separator, then an optional unit
# or a percent sign (10.9bn, 1.2%, 8.5, 1,000), or a number and a percent sign (4%). pysbd's
# number rules only replace a period followed by a digit or a non-space, or after a lone
# number at the start of a line; its list and reference rules need a lone number of one or two
# digits after a space or a period before digits; its abbreviations start after a space: none
# reads a period after such a token and before a space.
_OTHER_TOKEN = r"\d+(?:[.,]\d+)+(?:[a-zA-Z]+|%)?|\d+%"
# perf (issue 17, session 4): or a word or number closing parentheses or brackets ((2001). On,
# Avignon). Il, [7]. We). The period follows the closing mark, which no abbreviation, number,
# list or reference rule of pysbd reads before a period; the pair itself is a span (no cut inside)
_OTHER_TOKEN += r"|\(?[\w'’-]+\)|\[?[\w'’-]+\]"
# a plain token (letters, inner apostrophes or hyphens; or a number of 3+ digits) after a space or
# at the start, a period or a question mark, one space, then a capital (not a lone "I") or a
# lower-case letter (session 4: pysbd reads ". x" as no boundary only after an abbreviation, whose
# token _cuts drops, and after a lone capital or a dotted "U.S", which are no tokens here)
_CUT = re.compile(
    rf"(?<!\S)({_L}{{2,}}(?:['’-]{_L}+)*|{_L}(?:['’-]{_L}+)+|\d{{3,}}|{_OTHER_TOKEN})(?:\.| ?\?) "
    # perf (issue 17): or a straight quote opening the next sentence (said. "We...)
    rf"(?=\"?[{_UPPER}]|[{_LOWER}])(?!\"?I(?:[\s'’]|$))"  # pysbd keeps "abbr. I'm" together
)
# perf (issue 17): the same cuts, found from the punctuation: _CUT starts with a lookbehind, so
# the regex engine tries it at every position. A match of _CUT is a token (no whitespace inside)
# after a whitespace or the start, then "." or "?" (or " ?"), a space and the lookaheads; so
# each "." or "?" that the lookaheads accept is checked by reading back to the whitespace.
_CUT_END = re.compile(rf"[.?] (?=\"?[{_UPPER}]|[{_LOWER}])(?!\"?I(?:[\s'’]|$))")
_CUT_TOKEN = re.compile(rf"{_L}{{2,}}(?:['’-]{_L}+)*|{_L}(?:['’-]{_L}+)+|\d{{3,}}|{_OTHER_TOKEN}")


def _cut_matches(p: str) -> Iterator[tuple[int, str]]:
    """``(m.end() - 1, m.group(1))`` for each match ``m`` of :data:`_CUT` in ``p``, faster."""
    for m in _CUT_END.finditer(p):
        i = m.start()
        end = i - 1 if p[i] == "?" and i > 0 and p[i - 1] == " " else i
        start = end
        while start > 0 and not p[start - 1].isspace():
            start -= 1
        if start < end and _CUT_TOKEN.fullmatch(p, start, end):
            yield m.end() - 1, p[start:end]


# A piece the fast path keeps as one sentence (each allowance is a pysbd rule that never splits):
# words and numbers joined by single spaces, commas, colons, semicolons, inner apostrophes and
# hyphens, percent signs, decimal points and times (3.5, 5:38), ellipses (… anywhere, ... before a lower-case
# word), parentheses without punctuation inside, « » quotes (pysbd masks the punctuation inside
# them and never splits after »), titles before a name — a single capital other than I and V
# (M. Kim, John F. Kirby) or one of the language's prepositive abbreviations (Mr., Dr., St.) —
# and, in English, dotted abbreviations before a lower-case word (U.S. officials); then a final
# period or question mark after a word, a number of 3+ digits, a decimal (8.5) or a number and a
# percent sign (1.2%) (optional for the paragraph's last piece). pysbd's number rules turn the
# inner period of 8.5 into a placeholder and never read a period that ends the piece.
def _easy_patterns(lang: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    rules = French if lang == "fr" else English
    titles = ["[A-HJ-UW-Z]"] + [
        # ASCII case-insensitive (session 4): pysbd's abbreviation check is a substring test on
        # str.lower(), which keeps ſ, İ, ı and the Kelvin sign apart from s, i and k
        f"(?ai:{re.escape(a)})"
        for a in sorted(rules.Abbreviation.PREPOSITIVE_ABBREVIATIONS)
        if len(a) > 1  # "v" could meet pysbd's "I.V" rule
    ]
    if lang == "en":  # French restores "U.S." as a boundary (its SENTENCE_STARTERS is empty)
        titles.append(r"(?:[A-Za-z]\.)+[A-Za-z](?=\. [a-z])")
    title = f"(?:{'|'.join(titles)})\\."
    quote = r"«(?:(?![!?.\-]'|--)[^«»\"“”‘\\()\[\]])+»"
    # perf (issue 17): a "straight-quoted" span with no sentence punctuation inside and not
    # ending in a dash or space. pysbd's quote rules never apply to it: punctuation then a quote
    # then a capital needs [!?.-] before the quote, and a quote ending in [^,] before a capital
    # is a sentence of its own only where a segment starts, so the first word of a piece may be
    # such a quote only when it ends in a comma ("We won," he said.); later ones may end in
    # anything else (she was "ecstatic" about it, a "hard right agenda".)
    inner = r'"(?=\S)(?:(?!--)[^«»"“”‘\\()\[\]!?.])+'
    # perf (issue 17, session 3): a word may open with AG News' "#39;" entity (it #39;s), which no
    # pysbd rule reads ("#" and ";" are nobody's punctuation there)
    first = rf"(?:(?:\$|#39;)?[^\W_]+|{quote}|{inner}(?<=,)\")"
    word = rf"(?:(?:\$|#39;)?[^\W_]+|{quote}|{inner}(?<![\s-])\")"
    sep = (
        rf"(?:, |: |; | |['’-]| ?% ?|(?<=\d)[.:](?=\d)| {title} | \(|\)(?:, | |: |; )"
        rf"| ?… ?|\.\.\. (?=[a-z])"
        # perf (issue 17): digit grouping (50,000), spaced dashes, word/word and & (pysbd
        # never splits at a comma, a dash between spaces, a slash or an ampersand); and " -- "
        # (session 3): pysbd only masks the punctuation between two of them, and a piece holds
        # none that it would split at, while _spans keeps cuts out of such pairs
        rf"|(?<=\d),(?=\d\d\d)| [-–—] | -- |(?<=[^\W_])[/&](?=[^\W_])| & )"
    )
    # the end of a piece may follow a decimal (8.5, 12.75) or a percent sign after a digit (1.2%)
    body = (
        rf"(?:{title} )?{first}(?:{sep}{word})*%?"
        rf"(?:(?<={_L})|(?<=\d\d\d)|(?<=[»\"])|(?<=\d[.,]\d)|(?<=\d[.,]\d\d)|(?<=\d%))"
    )
    end = r"(?:\.| ?\?)"
    return re.compile(rf"{body}{end}"), re.compile(rf"{body}{end}?")


_EASY = {lang: _easy_patterns(lang) for lang in ("fr", "en")}
# paragraph-level constructs whose pysbd handling is not local: the whole paragraph goes to pysbd
_PLACEHOLDERS = "∯∮ȸȹ☉☈☇☄♨☝✂⌬ᓴᓷᓰᓱᓳᓸ⎋ƪ☏♟♝♬♭「（\\\r\n"
# session 4: and the characters that re.IGNORECASE matches with an ASCII letter while str.lower()
# keeps them apart (İ ı ſ and the Kelvin sign). pysbd looks for each abbreviation as a substring
# of the whole lower-cased line before its case-insensitive search, so "st" in "first" lets it
# take "ſt." for an abbreviation anywhere in the line, and a chunk without "first" would not
_PLACEHOLDERS += "\u0130\u0131\u017f\u212a"
_BLOCKERS = re.compile(
    "|".join(
        [
            f"[{re.escape(_PLACEHOLDERS)}]",
            r"(?<![^\W_])'",  # ' not after a letter or digit: pysbd's single-quote rules kick in
            r"\A(?:\?!|!\?|\?\?|!!)",  # pysbd then skips its double-punctuation rules everywhere
            Common.PARENS_BETWEEN_DOUBLE_QUOTES_REGEX,
            Common.NUMBERED_REFERENCE_REGEX.replace(r"(\.|∯)", r"\."),
        ]
    )
)
# perf (issue 17): the same question, faster. Alternation made _BLOCKERS try five patterns at
# every position (a quarter of the fast path's own time on real text); each part alone is a fast
# scan, and the slow ones run only when a character that each of their matches holds is there.
_PLACEHOLDER_CHARS = re.compile(f"[{re.escape(_PLACEHOLDERS)}]")
_QUOTE_NOT_AFTER_WORD = re.compile(r"(?<![^\W_])'")
_DOUBLE_PUNCT_START = re.compile(r"\A(?:\?!|!\?|\?\?|!!)")
_PARENS_BETWEEN_QUOTES = re.compile(Common.PARENS_BETWEEN_DOUBLE_QUOTES_REGEX)  # holds a "("
_NUMBERED_REFERENCE = re.compile(Common.NUMBERED_REFERENCE_REGEX.replace(r"(\.|∯)", r"\."))
_MAY_NUMBERED_REFERENCE = re.compile(r"\.[\[\d]")  # in every match of the one above


def _has_blocker(p: str) -> bool:
    """``_BLOCKERS.search(p) is not None``, faster."""
    return bool(
        _PLACEHOLDER_CHARS.search(p)
        or ("'" in p and _QUOTE_NOT_AFTER_WORD.search(p))
        or (p[:1] in ("?", "!") and _DOUBLE_PUNCT_START.match(p))
        or ("(" in p and _PARENS_BETWEEN_QUOTES.search(p))
        or (_MAY_NUMBERED_REFERENCE.search(p) and _NUMBERED_REFERENCE.search(p))
    )


_ALPHA_LISTS = [
    re.compile(ListItemReplacer.ALPHABETICAL_LIST_WITH_PERIODS),
    re.compile(ListItemReplacer.ALPHABETICAL_LIST_WITH_PARENS),
]
_ALPHABETS = [ListItemReplacer.LATIN_NUMERALS, ListItemReplacer.ROMAN_NUMERALS]
_NUMBERED = [re.compile(ListItemReplacer.NUMBERED_LIST_REGEX_1), re.compile(r"\d{1,2}(?=\)\s)")]
# perf (issue 17): what every match of the list patterns above contains (a lone letter or a
# number before "." or ")"); when a paragraph has none, the patterns' findall is skipped
_MAY_LETTER_LIST = re.compile(r"(?<![^\s(])[a-z](?:\.|[a-z]*\))")


def _may_letter_list(p: str) -> bool:
    """``_MAY_LETTER_LIST.search(p) is not None``, faster: the regex starts with a lookbehind,
    tried at every position; this reads back from each "." and ")" instead."""
    for mark in ".)":
        i = p.find(mark)
        while i >= 0:
            j = i - 1
            if mark == ")":
                while j >= 0 and "a" <= p[j] <= "z":
                    j -= 1
            elif j >= 0 and "a" <= p[j] <= "z":
                j -= 1
            # at least one letter, then the start, a whitespace or "(" before it
            if j < i - 1 and (j < 0 or p[j].isspace() or p[j] == "("):
                return True
            i = p.find(mark, i + 1)
    return False


_MAY_NUMBER_LIST = re.compile(r"\d(?:\.[\s)]|\)\s)")
# spans pysbd pairs up (no cut inside): from each opener to the next closer, plus pysbd's own
# pairing regexes for the symmetric or apostrophe-like marks
_SPANS: list[tuple[str, re.Pattern[str]]] = [
    ("(", re.compile(r"\((?=[^)]*\))")),
    ("[", re.compile(r"\[(?=[^\]]*\])")),
    ("«", re.compile(r"«(?=[^»]*»)")),
    ("“", re.compile(r"“(?=[^”]*”)")),
    ('"', re.compile(BetweenPunctuation.BETWEEN_DOUBLE_QUOTES_REGEX_2)),
    ('"', re.compile(r"\"(?=[^\"]*[^,]\"\s[A-Z])")),
    ("'", re.compile(r"'(?=[^']*[^,]'\s[A-Z])")),
    ("‘", re.compile(BetweenPunctuation.BETWEEN_SINGLE_QUOTE_SLANTED_REGEX)),
    ("--", re.compile(BetweenPunctuation.BETWEEN_EM_DASHES_REGEX_2)),
]
_CLOSERS = {"(": ")", "[": "]", "«": "»", "“": "”"}


@lru_cache(maxsize=8)
def _abbreviations(lang: str) -> frozenset[str]:
    rules = French if lang == "fr" else English
    abbr = rules.Abbreviation
    words = [*abbr.ABBREVIATIONS, *abbr.PREPOSITIVE_ABBREVIATIONS, *abbr.NUMBER_ABBREVIATIONS]
    return frozenset(w.strip().lower() for w in words)


_PAIRS = {"(": ")", "[": "]", "«": "»", "“": "”"}
_MARKS = re.compile(r"[()\[\]«»“”]")


def _unbalanced(p: str) -> bool:
    """Brackets or quotes nested, unclosed or closing nothing (pysbd pairs them in ways that
    reach across sentences), or a ‘. (An odd number of " is not blocked: a quote that runs on
    into the next paragraph, as news text writes it, pairs the same way in a chunk as in the
    paragraph, and :func:`_spans` keeps every cut out of pysbd's pairings; identical to pysbd on
    all the real text, issue 17.)"""
    if "‘" in p:
        return True
    open_: str | None = None
    for m in _MARKS.finditer(p):
        ch = m.group()
        if ch in _PAIRS:
            if open_ is not None:
                return True
            open_ = ch
        elif open_ is None or _PAIRS[open_] != ch:
            return True
        else:
            open_ = None
    return open_ is not None


def _blocked(p: str) -> bool:
    """True when pysbd's handling of ``p`` is not local (lists, references, odd quotes...)."""
    if _has_blocker(p) or _unbalanced(p):
        return True
    for rx in _ALPHA_LISTS if _may_letter_list(p) else ():
        # pysbd's lettered lists: an item one letter from its neighbour, where the first item's
        # neighbour is the last one. A chunk's first and last items can be any two items of the
        # paragraph, so any two items one letter apart make chunking unsafe.
        found = rx.findall(p)
        for alphabet in _ALPHABETS if found else ():
            letters = {alphabet.index(x) for x in found if x in alphabet}
            if any(x + 1 in letters for x in letters):
                return True
    # pysbd formats a list once two consecutive numbers show up
    for rx in _NUMBERED if _MAY_NUMBER_LIST.search(p) else ():
        numbers = [int(x) for x in rx.findall(p)]
        for a, b in pairwise(numbers):
            if b == a + 1 or (a, b) in ((9, 0), (0, 9)):
                return True
    return False


def _spans(p: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for mark, rx in _SPANS:
        if mark not in p:
            continue
        closer = _CLOSERS.get(mark)
        for m in rx.finditer(p):
            if closer is not None:
                out.append((m.start(), p.index(closer, m.end())))
            elif m.end() - m.start() > 1:
                out.append((m.start(), m.end()))
            else:  # lookahead-only match: the span runs to the next mark
                out.append((m.start(), p.index(mark, m.end())))
    return out


#: characters that re.IGNORECASE matches with an ASCII letter of an abbreviation but that
#: str.lower() keeps apart (İ, ı, ſ, Kelvin sign): pysbd's abbreviation pass may still take a
#: token holding one for an abbreviation, so it is never cut after (session 4)
_ODD_FOLD = re.compile("[\u0130\u0131\u017f\u212a]")


def _cuts(p: str, lang: str) -> list[int]:
    """Safe boundaries of ``p``: offsets of the space after a sentence-final period."""
    abbr = _abbreviations(lang)
    cuts = [
        c for c, word in _cut_matches(p) if word.lower() not in abbr and not _ODD_FOLD.search(word)
    ]
    if not cuts:
        return cuts
    spans = _spans(p)
    if not spans:
        return cuts
    spans.sort()
    starts: list[int] = []
    ends: list[int] = []
    for s, e in spans:  # merge overlapping spans
        if starts and s <= ends[-1]:
            ends[-1] = max(ends[-1], e)
        else:
            starts.append(s)
            ends.append(e)
    kept = []
    for c in cuts:
        i = bisect.bisect_right(starts, c) - 1
        if i < 0 or c > ends[i]:
            kept.append(c)
    return kept


#: pysbd's sentence punctuation (``Standard.Punctuations``)
_SENTENCE_PUNCT = re.compile(r"[。．.！!?？]")
#: what pysbd's ``QUOTATION_AT_END_OF_SENTENCE_REGEX`` can still find in such a piece
_DASH_QUOTE = re.compile(r"-[\"'“”]\s[A-Z]")


def _plain_piece(p: str, start: int, end: int) -> bool:
    """True when pysbd keeps ``p[start:end]``, a piece between safe cuts of a paragraph that is not
    :func:`_blocked`, as one sentence because of what it lacks (perf, issue 17, session 4).

    The piece holds no sentence punctuation (. ! ? and their full-width forms) except one final
    "." or "?", does not open with ( ' " or “, and holds no dash, quote, space and capital.
    Then, in pysbd (0.3.4): without punctuation, ``check_for_punctuation`` keeps the text whole.
    Every abbreviation, number, ellipsis, list-period and numbered-reference rule replaces a
    period followed by something, and the only period ends the text. The pairing rules only mask
    punctuation inside a pair, and no pair can hold the last character; the quote they mask
    ("'" as "&⎋&") comes back at the end. ``SENTENCE_BOUNDARY_REGEX`` then matches the whole text
    from its first character (``\\S.*?`` up to the one mark), since no pair alternative (a
    parenthesis, quote or bracket first) can start there; the lists and the parentheses between
    quotes are ruled out by :func:`_blocked`, placeholders and backslashes too. Post-processing
    splits only at punctuation, then a quote, a space and a capital: a "-" is the only such
    punctuation left, and :data:`_DASH_QUOTE` rules it out."""
    if p[start] in "('\"“":
        return False
    if _SENTENCE_PUNCT.search(p, start, end - 1) is not None or p[end - 1] in "!。．！？":
        return False
    return _DASH_QUOTE.search(p, start, end) is None


def split_sentences(paragraph: str, lang: str) -> list[str]:
    """pysbd's sentences of one paragraph (normalised, one line), through the fast path."""
    p = paragraph.strip()
    if not p:
        return []
    easy, easy_last = _EASY["fr" if lang == "fr" else "en"]
    cuts = _cuts(p, lang)
    # perf (issue 17, session 4): a paragraph with a safe cut is never one easy piece, so the
    # match (a third of the fast path's time, when it failed) is skipped. At a cut, ``token.``
    # or ``token?`` then a space sits outside every span pysbd pairs. An easy piece holds a "."
    # or "?" before a space only at its end, in « » quotes (a span: no cut there), or as a
    # title's period: a single capital (a token has two letters or more), a prepositive
    # abbreviation (matched ASCII case-insensitively, so its ``str.lower()`` is in
    # :func:`_abbreviations`: no cut) or a dotted one (a token holds no "."); "..." comes before
    # a lower-case word, a cut before a capital. tests/test_segment.py checks it on generated text.
    one = not cuts and easy_last.fullmatch(p) is not None
    # pysbd cuts a list even inside one line ("M. Kim (a) b) etc."): a one-sentence paragraph
    # that may hold one takes the check below (once)
    if one and not (_may_letter_list(p) or _MAY_NUMBER_LIST.search(p)):
        return [p]
    if _blocked(p):
        return _split_pysbd_chunk(p, lang)
    if one:
        return [p]
    if not cuts:
        return [p] if _plain_piece(p, 0, len(p)) else _split_pysbd_chunk(p, lang)
    starts = [0, *(c + 1 for c in cuts)]
    ends = [*cuts, len(p)]
    out: list[str] = []
    hard_from = -1  # start of the pending run of hard pieces
    last = len(starts) - 1
    for i in range(last + 1):
        start, end = starts[i], ends[i]  # a piece is p[start:end]
        if hard_from >= 0 and end - hard_from > MAX_CHUNK:
            out += _split_pysbd_chunk(p[hard_from : start - 1], lang)
            hard_from = -1
        if (easy_last if i == last else easy).fullmatch(p, start, end) or _plain_piece(
            p, start, end
        ):
            if hard_from >= 0:
                out += _split_pysbd_chunk(p[hard_from : start - 1], lang)
                hard_from = -1
            out.append(p[start:end])
        elif hard_from < 0:
            hard_from = start
    if hard_from >= 0:
        out += _split_pysbd_chunk(p[hard_from:], lang)
    return out


# --------------------------------------------------------------------------- articles


@dataclass(frozen=True, slots=True)
class Segmented:
    lang: str
    sentences: list[str]
    #: ``match_key`` of each sentence when asked for (``segment_many(..., norms=True)``), else empty
    norms: tuple[str, ...] = ()


def segment_body(
    body: str, lang: str | None = None, boilerplate: Sequence[str] | None = None
) -> Segmented:
    paragraphs = [p for p in (normalize(line) for line in body.splitlines()) if p]
    paragraphs = strip_boilerplate(paragraphs, boilerplate)
    lang = lang or detect_lang(" ".join(paragraphs))
    sentences = [s for p in paragraphs for s in split_sentences(p, lang)]
    return Segmented(lang, sentences)


def _segment_batch(
    batch: list[tuple[str, str | None]], boilerplate: tuple[str, ...] | None, norms: bool
) -> list[Segmented]:
    out = []
    for body, lang in batch:
        seg = segment_body(body, lang, boilerplate)
        if norms:
            seg = Segmented(seg.lang, seg.sentences, tuple(match_key(s) for s in seg.sentences))
        out.append(seg)
    return out


def default_jobs() -> int:
    """Worker processes: env ``STANCETERM_JOBS``, else 2 (at most the CPU count)."""
    env = jobs_env()
    return env if env is not None else max(1, min(DEFAULT_JOBS, os.cpu_count() or 1))


def _batches(
    items: Iterator[tuple[str, str | None]], max_chars: int
) -> Iterator[list[tuple[str, str | None]]]:
    batch: list[tuple[str, str | None]] = []
    size = 0
    for item in items:
        batch.append(item)
        size += len(item[0])
        if size >= max_chars or len(batch) >= 1000:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def segment_many(
    items: Iterable[tuple[str, str | None]],
    workers: int | None = None,
    boilerplate: Sequence[str] | None = None,
    *,
    norms: bool = False,
) -> Iterator[Segmented]:
    """Segment ``(body, lang)`` items, yielding results in input order.

    With ``workers`` > 1 (default :func:`default_jobs`) and an input of more than
    :data:`SMALL_INPUT_CHARS` characters, batches of about :data:`BATCH_CHARS` go to a pool of
    worker processes, at most two per worker in flight, so memory stays flat however long the
    input. Smaller inputs, and ``workers=1``, run in this process (no pool start-up). ``items`` is
    consumed lazily, in this process; an exception it raises stops the pool and propagates.
    ``norms=True`` also fills :attr:`Segmented.norms` (in the workers).
    """
    jobs = default_jobs() if workers is None else max(1, workers)
    bp = tuple(boilerplate) if boilerplate else None
    it = iter(items)
    head: list[tuple[str, str | None]] = []
    size = 0
    if jobs > 1:
        for item in it:
            head.append(item)
            size += len(item[0])
            if size > SMALL_INPUT_CHARS:
                break
    source = _batches(chain(head, it), BATCH_CHARS)
    del head
    if jobs == 1 or size <= SMALL_INPUT_CHARS:
        for batch in source:
            yield from _segment_batch(batch, bp, norms)
        return
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    pending: deque[Future[list[Segmented]]] = deque()
    # workers exit with this process, even after a kill -9 (issue 12 §8)
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=exit_with_parent, initargs=(os.getpid(),)
    ) as pool:
        try:
            for batch in source:
                pending.append(pool.submit(_segment_batch, batch, bp, norms))
                if len(pending) >= 2 * jobs:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()
