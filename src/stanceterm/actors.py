"""Actor names: alias keys, slugs, fuzzy lookup, and actors mentioned in a sentence.

Pure functions on plain data; the store keeps the gazetteer (actors and actor_aliases).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


def follow_aliases(actor_id: str, names: Mapping[str, str], keys: Mapping[str, str]) -> str:
    """The actor ``actor_id`` stands for once aliases are merged.

    ``names``: actor id -> display name; ``keys``: alias key -> actor id (the alias table). While
    the current actor's display name is an alias of another actor (e.g. a name an annotator
    created, later made an alias of a gazetteer actor), move to that actor; cycles are cut.
    Unknown ids are returned unchanged.
    """
    seen = {actor_id}
    current = actor_id
    while current in names:
        target = keys.get(alias_key(names[current]))
        if target is None or target in seen:
            break
        seen.add(target)
        current = target
    return current


def fuzzy_lookup(
    query: str, aliases: Mapping[str, str], limit: int = 20, cutoff: float = 50.0
) -> list[ActorMatch]:
    """Best actors for a typed query. ``aliases`` maps alias text -> actor id.

    Each actor appears once, with its best-scoring alias. Scores are rapidfuzz WRatio on alias keys.
    """
    from rapidfuzz import fuzz, process  # lazy: not on the TUI's start-up path

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
    from rapidfuzz import fuzz, utils  # lazy: not on the TUI's start-up path

    key = alias_key(name)
    out = []
    for other in names:
        if (
            alias_key(other) == key
            or fuzz.ratio(key, alias_key(other), processor=utils.default_process) >= cutoff
        ):
            out.append(other)
    return out


# --------------------------------------------------------------------------- actors in a sentence

#: Attribution cues, as alias keys (accents folded, casefolded). ``before``: the speaker precedes
#: the cue (« M. Kim a déclaré », "Moscow denied"); ``after``: the speaker follows it (« selon
#: Pyongyang », "according to Washington", « a déclaré M. Peskov » after a quote).
_CUES_BEFORE: tuple[str, ...] = (
    "a declare",
    "a nie",
    "a affirme",
    "a ajoute",
    "a indique",
    "a dit",
    "a assure",
    "a estime",
    "a repondu",
    "a annonce",
    "a demente",
    "a accuse",
    "a averti",
    "ont declare",
    "ont nie",
    "ont affirme",
    "nie",
    "nient",
    "affirme",
    "declare",
    "said",
    "says",
    "denied",
    "denies",
    "added",
    "told",
    "claimed",
    "stated",
    "warned",
    "insisted",
    "announced",
)
_CUES_AFTER: tuple[str, ...] = (
    "selon",
    "d'apres",
    "a declare",
    "a affirme",
    "a ajoute",
    "a indique",
    "a dit",
    "a nie",
    "a repondu",
    "according to",
    "said",
    "says",
    "added",
    "denied",
)
#: Titles that may open a name (« M. Kim », "Mr Kim").
_TITLES = frozenset(["m", "mme", "mlle", "mr", "mrs", "ms", "dr", "pr", "president", "président"])
#: Lowercase particles allowed inside a name (« Charles de Gaulle », "Ursula von der Leyen").
_PARTICLES = frozenset(["de", "du", "des", "von", "van", "der", "bin", "al", "el", "la", "le"])
#: Capitalised words that are not names (sentence openers, articles, pronouns).
_NOT_NAMES = frozenset(
    alias_key(w)
    for w in [
        "Le",
        "La",
        "Les",
        "L'",
        "Un",
        "Une",
        "Des",
        "Du",
        "De",
        "Ce",
        "Cette",
        "Ces",
        "Il",
        "Elle",
        "Ils",
        "Elles",
        "On",
        "Nous",
        "Vous",
        "Je",
        "Selon",
        "Mais",
        "Et",
        "Or",
        "Donc",
        "Puis",
        "Lorsqu",
        "Lors",
        "Après",
        "Avant",
        "Pendant",
        "Outre",
        "Plus",
        "Moins",
        "Dans",
        "En",
        "Au",
        "Aux",
        "The",
        "A",
        "An",
        "This",
        "That",
        "These",
        "Those",
        "He",
        "She",
        "They",
        "It",
        "We",
        "You",
        "I",
        "But",
        "And",
        "Or",
        "So",
        "Then",
        "When",
        "After",
        "Before",
        "During",
        "According",
        "Yet",
        "Also",
        "However",
        "Meanwhile",
        "Earlier",
        "Later",
    ]
)
_WORD = re.compile(r"[^\W\d_][\w'’.-]*|\d+|[^\w\s]", re.UNICODE)


def _fold_char(ch: str) -> str:
    decomposed = unicodedata.normalize("NFKD", ch.translate(_APOS))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _folded(text: str) -> tuple[str, list[int]]:
    """The text with accents and case folded and non-word chars as spaces, plus, for each folded
    char, the index of the original char it came from (for ordering matches by position)."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        f = _fold_char(ch)
        f = "".join(c if (c.isalnum() or c == "'" or c == "_") else " " for c in f) or " "
        out.append(f)
        where.extend([i] * len(f))
    return "".join(out), where


def _is_acronym(alias: str) -> bool:
    letters = alias.replace(".", "")
    return 1 < len(letters) <= 5 and letters.isalpha() and letters.isupper()


def actors_in_sentence(text: str, aliases: Mapping[str, str]) -> list[str]:
    """Actor ids whose alias occurs in ``text`` as whole words, in order of first occurrence.

    Matching folds case and accents (« Etats-Unis » finds « les États-Unis »), except for acronym
    aliases ("US", "UN", "U.S."), which must match case-sensitively so that the French article
    « un » or the English pronoun "us" do not count. ``aliases`` maps alias text -> actor id.
    """
    folded, where = _folded(text)
    first: dict[str, tuple[int, int]] = {}
    for alias, actor_id in aliases.items():
        if _is_acronym(alias.strip()):
            pattern = r"(?<!\w)" + re.escape(alias.strip()) + r"(?![\w])"
            m = re.search(pattern, text)
            pos = None if m is None else m.start()
        else:
            key = alias_key(alias)
            if not key:
                continue
            pattern = r"(?<![\w'])" + r"\s+".join(map(re.escape, key.split())) + r"(?![\w])"
            m = re.search(pattern, folded)
            pos = None if m is None else where[m.start()]
        if pos is None:
            continue
        # earlier position first; a longer alias wins a tie ("les États-Unis" over "États-Unis")
        rank = (pos, -len(alias))
        if actor_id not in first or rank < first[actor_id]:
            first[actor_id] = rank
    return sorted(first, key=lambda a: first[a])


def _tokens(text: str) -> list[tuple[str, int]]:
    return [(m.group(0), m.start()) for m in _WORD.finditer(text)]


def _is_name_word(word: str) -> bool:
    return word[:1].isupper() and alias_key(word) not in _NOT_NAMES


def _name_before(words: list[str], end: int) -> str | None:
    """The capitalised run that ends just before words[end]."""
    i = end - 1
    parts: list[str] = []
    while i >= 0:
        w = words[i]
        if _is_name_word(w) or (parts and alias_key(w) in _PARTICLES and i > 0):
            parts.insert(0, w)
            i -= 1
            continue
        break
    while parts and alias_key(parts[0]) in _PARTICLES:
        parts.pop(0)
    if i >= 0 and parts and alias_key(words[i].rstrip(".")) in _TITLES:
        parts.insert(0, words[i])
    return _join_name(parts)


def _name_after(words: list[str], start: int) -> str | None:
    """The capitalised run (optionally after a title such as « M. ») starting at words[start]."""
    i = start
    parts: list[str] = []
    if i + 1 < len(words) and alias_key(words[i]) in ("the", "l'") and _is_name_word(words[i + 1]):
        i += 1  # "according to the Pentagon"
    if i < len(words) and alias_key(words[i].rstrip(".")) in _TITLES:
        parts.append(words[i])
        i += 1
    while i < len(words):
        w = words[i]
        if _is_name_word(w) or (
            alias_key(w) in _PARTICLES
            and len(parts) > 0
            and i + 1 < len(words)
            and _is_name_word(words[i + 1])
        ):
            parts.append(w)
        else:
            break
        i += 1
    return _join_name(parts)


def _join_name(parts: list[str]) -> str | None:
    if not any(_is_name_word(p) and alias_key(p.rstrip(".")) not in _TITLES for p in parts):
        return None
    name = " ".join(parts)
    return re.sub(r"\s+([.'’-])", r"\1", name).strip(" .,;:") or None


def _cue_hits(keys: list[str], cues: tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, length) in token positions of each cue occurrence."""
    hits: list[tuple[int, int]] = []
    for cue in cues:
        parts = cue.split()
        n = len(parts)
        for i in range(len(keys) - n + 1):
            if keys[i : i + n] == parts:
                hits.append((i, n))
    return hits


def cue_names(text: str, known: Mapping[str, str] | None = None) -> list[str]:
    """Capitalised names standing next to an attribution cue, in order of appearance.

    « selon Matthew Miller », "according to John Kirby", « M. Peskov a nié », "Kirby said",
    « …, a déclaré Dmitri Peskov ». Names that are known aliases (``known`` maps alias -> actor
    id) are left out: :func:`actors_in_sentence` already finds those.
    """
    toks = _tokens(text)
    words = [w for w, _ in toks]
    keys = [alias_key(w) for w in words]
    found: dict[str, int] = {}
    for start, _n in _cue_hits(keys, _CUES_BEFORE):
        name = _name_before(words, start)
        if name:
            found.setdefault(name, toks[start][1])
    for start, n in _cue_hits(keys, _CUES_AFTER):
        name = _name_after(words, start + n)
        if name:
            found.setdefault(name, toks[start][1])
    known_keys = {alias_key(a) for a in (known or {})}
    out = [name for name in sorted(found, key=lambda k: found[k])]
    return [name for name in out if alias_key(name) not in known_keys]
