"""Counts in messages: « 1 article », « 2 articles », « 0 copies », never « article(s) ».

:func:`count` writes a number with its noun in the right form; :func:`noun` gives the noun
alone (for « 3 sentences have … » around words in between), and :func:`verb` the verb that
agrees with the number. Regular English plurals add « s »; an irregular one is passed in.
"""

from __future__ import annotations

__all__ = ["count", "noun", "verb"]


def noun(n: int, singular: str, plural: str | None = None) -> str:
    """``singular`` for exactly one, else ``plural`` (default: ``singular`` + « s »)."""
    if n == 1:
        return singular
    return plural if plural is not None else singular + "s"


def count(n: int, singular: str, plural: str | None = None) -> str:
    """« 1 article », « 2 articles », « 0 articles » (``plural`` for an irregular noun)."""
    return f"{n} {noun(n, singular, plural)}"


def verb(n: int, singular: str, plural: str) -> str:
    """The verb form that agrees with ``n`` things: ``verb(1, "has", "have")``."""
    return singular if n == 1 else plural
