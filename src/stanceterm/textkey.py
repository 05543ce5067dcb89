"""Normalised forms of text, without pysbd: what search, matching and content hashes compare.

:func:`normalize` (NFC, spaces), :func:`hash_key` (article content hashes, frozen) and
:func:`match_key` (accents and case folded: ``sentences.norm`` and the `/` search). They lived in
:mod:`stanceterm.segment`, which re-exports them; they are here so that the annotation screen's
search and the CLI can use them without loading pysbd (startup, issue 17).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPACES = re.compile(r"[\s\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
# the same runs, minus lone plain spaces (nothing to replace there): much faster on real text
_SPACE_RUNS = re.compile(
    r" [\s\u00a0\u2000-\u200a\u202f\u205f\u3000]+|[^\S ][\s\u00a0\u2000-\u200a\u202f\u205f\u3000]*"
)
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")
_QUOTE_MAP = str.maketrans(
    {
        "«": '"',
        "»": '"',
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "‹": "'",
        "›": "'",
        "‘": "'",
        "’": "'",
        "‚": "'",
        "`": "'",
        "–": "-",
        "—": "-",
        "‒": "-",
        "―": "-",
        "−": "-",
        "…": "...",
    }
)
_AROUND_QUOTES = re.compile(r'"\s+|\s+"')  # frozen with hash_key: article ids depend on it
_QUOTE_SPACES = re.compile(r'\s*"\s*')  # match_key: idempotent ('a " b' and 'a "b' agree)
_QUOTE_CHARS = re.compile("[" + re.escape("".join(chr(c) for c in _QUOTE_MAP)) + "]")
_QUOTE_SUBS = {chr(c): str(v) for c, v in _QUOTE_MAP.items()}


def _unify_quotes(text: str) -> str:
    """``text.translate(_QUOTE_MAP)``, several times faster on long text."""
    return _QUOTE_CHARS.sub(lambda m: _QUOTE_SUBS[m.group()], text)


def normalize(text: str) -> str:
    """NFC; every Unicode space (NBSP, thin, narrow NBSP...) becomes ' '; zero-width chars go."""
    text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFC", text))
    return _SPACE_RUNS.sub(" ", text).strip()


def hash_key(text: str) -> str:
    """The normalised form behind article content hashes: NFKC, casefold, unified quotes, dashes
    and spaces. Frozen: changing it would change the ids of articles imported without an id, so a
    re-import would add them again. Accents are kept (``match_key`` folds them)."""
    text = _unify_quotes(unicodedata.normalize("NFKC", _ZERO_WIDTH.sub("", text)).casefold())
    text = _SPACE_RUNS.sub(" ", text).strip()
    return _AROUND_QUOTES.sub('"', text)


@lru_cache(maxsize=1)
def _bmp_marks() -> dict[int, None]:
    """Translation table deleting every combining mark of the Basic Multilingual Plane."""
    return {c: None for c in range(0x10000) if unicodedata.combining(chr(c))}


def match_key(text: str) -> str:
    """Normalised form for matching and search: accents folded (NFKD, combining marks dropped),
    casefold, unified quotes, dashes and spaces. ``match_key("États")`` is ``"etats"``.

    perf (issue 17, session 4): each step is skipped where it cannot change the text. The
    zero-width characters, and every quote and dash that ``_unify_quotes`` maps except "`", are
    outside ASCII; a run that ``_SPACE_RUNS`` replaces holds two spaces or a whitespace other
    than " ", and every such character is unprintable (``str.isprintable``); ``_QUOTE_SPACES``
    needs a '"'. tests/test_segment.py checks the result against the plain steps."""
    if text.isascii():
        text = text.casefold()
        if "`" in text:
            text = text.replace("`", "'")
    else:
        text = _ZERO_WIDTH.sub("", text)
        text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
        text = text.translate(_bmp_marks())
        if max(text, default=" ") > "\uffff":
            text = "".join(ch for ch in text if not unicodedata.combining(ch))
        text = _unify_quotes(text)
    if "  " in text or not text.isprintable():
        text = _SPACE_RUNS.sub(" ", text)
    text = text.strip()
    return _QUOTE_SPACES.sub('"', text) if '"' in text else text
