"""Text → sentences: NFC, space and quote normalisation, boilerplate filter, pysbd fr/en.

(Interim version by the lead: plain pysbd, no fast path yet.)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import pysbd

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

_SPACES = re.compile(r"[\s\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
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
_AROUND_QUOTES = re.compile(r'"\s+|\s+"')
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


def normalize(text: str) -> str:
    """NFC; every Unicode space (NBSP, thin, narrow NBSP...) becomes ' '; zero-width chars go."""
    text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFC", text))
    return _SPACES.sub(" ", text).strip()


def match_key(text: str) -> str:
    """Normalised form for matching and search: NFKC, casefold, unified quotes, dashes, spaces."""
    text = unicodedata.normalize("NFKC", _ZERO_WIDTH.sub("", text)).casefold().translate(_QUOTE_MAP)
    text = _SPACES.sub(" ", text).strip()
    return _AROUND_QUOTES.sub('"', text)


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


@lru_cache(maxsize=8)
def _segmenter(lang: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=lang if lang in ("fr", "en") else "en", clean=False)


def split_sentences(paragraph: str, lang: str) -> list[str]:
    try:
        parts = _segmenter(lang).segment(paragraph)
    except Exception:  # pysbd has known crashes on odd input: fall back to a plain split
        parts = re.split(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý«\"“])", paragraph)
    return [p.strip() for p in parts if p and p.strip()]


@dataclass(frozen=True, slots=True)
class Segmented:
    lang: str
    sentences: list[str]


def segment_body(
    body: str, lang: str | None = None, boilerplate: Sequence[str] | None = None
) -> Segmented:
    paragraphs = [p for p in (normalize(line) for line in body.splitlines()) if p]
    paragraphs = strip_boilerplate(paragraphs, boilerplate)
    lang = lang or detect_lang(" ".join(paragraphs))
    sentences = [s for p in paragraphs for s in split_sentences(p, lang)]
    return Segmented(lang, sentences)


def segment_many(
    items: Iterable[tuple[str, str | None]],
    workers: int | None = None,
    boilerplate: Sequence[str] | None = None,
) -> Iterator[Segmented]:
    for body, lang in items:
        yield segment_body(body, lang, boilerplate)
