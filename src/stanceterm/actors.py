"""Actor names: alias keys, slugs, fuzzy lookup, and actors mentioned in a sentence.

Pure functions on plain data; the store keeps the gazetteer (actors and actor_aliases).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

_APOS = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
_NON_WORD = re.compile(r"[^\w']+")


def alias_key(name: str) -> str:
    """Key under which an alias is looked up: accents folded, casefolded, spacing and apostrophes unified.

    ``"les États-Unis"`` and ``"les etats unis"`` share a key.
    """
    decomposed = unicodedata.normalize("NFKD", name.translate(_APOS))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NON_WORD.sub(" ", stripped.casefold()).split())


def slugify(name: str) -> str:
    """Stable actor id from a display name: ``"Vladimir Poutine"`` -> ``"vladimir-poutine"``."""
    key = alias_key(name).replace("'", " ")
    slug = "-".join(key.split())
    return slug or "actor"


@dataclass(frozen=True, slots=True)
class ActorMatch:
    actor_id: str
    alias: str
    score: float


def fuzzy_lookup(
    query: str, aliases: Mapping[str, str], limit: int = 20, cutoff: float = 50.0
) -> list[ActorMatch]:
    """Best actors for a typed query. ``aliases`` maps alias text -> actor id.

    Each actor appears once, with its best-scoring alias. Scores are rapidfuzz WRatio on alias keys.
    """
    key = alias_key(query)
    if not key:
        return []
    choices = {alias: alias_key(alias) for alias in aliases}
    found = process.extract(
        key, choices, scorer=fuzz.WRatio, processor=None, limit=None, score_cutoff=cutoff
    )
    best: dict[str, ActorMatch] = {}
    for _choice, score, alias in found:
        actor_id = aliases[alias]
        # prefix matches rank first: typing "pou" should put Poutine on top
        bonus = 10.0 if choices[alias].startswith(key) else 0.0
        total = float(score) + bonus
        if actor_id not in best or best[actor_id].score < total:
            best[actor_id] = ActorMatch(actor_id, alias, total)
    ranked = sorted(best.values(), key=lambda m: (-m.score, m.actor_id))
    return ranked[:limit]


def near_duplicates(name: str, names: Iterable[str], cutoff: float = 88.0) -> list[str]:
    """Known names so close to ``name`` that creating it is probably a typo or a variant."""
    key = alias_key(name)
    out = []
    for other in names:
        if (
            alias_key(other) == key
            or fuzz.ratio(key, alias_key(other), processor=utils.default_process) >= cutoff
        ):
            out.append(other)
    return out
