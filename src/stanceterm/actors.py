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


#: Aliases this short (letters, spaces left out) are matched whole only: typing "russ" must not
#: find "US", nor "kimchi" find "Kim".
SHORT_ALIAS = 3
#: A fuzzy match (typos) is listed from this rapidfuzz ratio, and counts as "matches a known
#: actor well" from :data:`STRONG_FUZZY`.
FUZZY_MIN = 75.0
STRONG_FUZZY = 85.0

#: The rank of a typed text against one alias: ``(tier, extra_words, fuzz_penalty)``, lower is
#: better. Tiers: 0 the whole alias, 1 the start of the alias (or a short alias typed whole),
#: 2 the start of a later word of the alias ("poutine" in "Vladimir Poutine"), 3 fuzzy (typos).
#: ``extra_words``: alias words beyond the typed ones ("russ" fits "Russie" better than
#: "Russian President"); ``fuzz_penalty``: 0 for tiers 0-2, else (100 - ratio) // 5. Equal tuples
#: are equally good matches: a later reordering (a suggestion boost) may only reorder those.
Rank = tuple[int, int, int]


def match_rank(typed: str, alias: str) -> Rank | None:
    """How well ``typed`` matches the start of ``alias`` (see :data:`Rank`); None: no match."""
    q = alias_key(typed)
    a = alias_key(alias)
    if not q or not a:
        return None
    if len(a.replace(" ", "")) <= SHORT_ALIAS:
        return (1, 0, 0) if q.replace(" ", "") == a.replace(" ", "") else None
    if q == a:
        return (0, 0, 0)
    qw, aw = q.split(), a.split()
    extra = max(0, len(aw) - len(qw))
    if a.startswith(q):
        return (1, extra, 0)
    for i in range(1, len(aw) - len(qw) + 1):
        if all(aw[i + k].startswith(w) for k, w in enumerate(qw[:-1])) and aw[
            i + len(qw) - 1
        ].startswith(qw[-1]):
            return (2, extra, 0)
    score = fuzzy_score(q, a)
    if score < FUZZY_MIN:
        return None
    return (3, 0, int(100 - score) // 5)


def fuzzy_score(q: str, a: str) -> float:
    """Typo tolerance on alias keys: the typed key against the whole alias and against the
    same-length start of the alias and of each of its words. Keys shorter than 4 never match."""
    if len(q) < 4:
        return 0.0
    from rapidfuzz import fuzz  # lazy: not on the TUI's start-up path

    best = float(fuzz.ratio(q, a))
    starts = [0] + [m.start() + 1 for m in re.finditer(" ", a)]
    for j in starts:
        best = max(best, float(fuzz.ratio(q, a[j : j + len(q)])))
    return best


def is_strong(rank: Rank | None) -> bool:
    """A rank that counts as "the typed text names this actor"."""
    if rank is None:
        return False
    return rank[0] <= 2 or rank[2] <= int(100 - STRONG_FUZZY) // 5


def best_alias_rank(typed: str, aliases: Mapping[str, str]) -> dict[str, tuple[Rank, str]]:
    """actor id -> (best rank, the alias that got it) over ``aliases`` (alias text -> actor id).
    Ties prefer the shorter alias."""
    best: dict[str, tuple[Rank, str]] = {}
    for alias, actor_id in aliases.items():
        rank = match_rank(typed, alias)
        if rank is None:
            continue
        old = best.get(actor_id)
        if old is None or (rank, len(alias)) < (old[0], len(old[1])):
            best[actor_id] = (rank, alias)
    return best


def name_as_written(typed: str, sentence: str) -> str | None:
    """The sentence's own spelling of ``typed`` when it occurs there as whole words:
    ``"rorry daniels"`` -> ``"Rorry Daniels"``. None when it does not."""
    key = alias_key(typed)
    if not key:
        return None
    folded, where = _folded(sentence)
    pattern = r"(?<![\w'])" + r"\s+".join(map(re.escape, key.split())) + r"(?![\w])"
    m = re.search(pattern, folded)
    if m is None:
        return None
    return sentence[where[m.start()] : where[m.end() - 1] + 1]


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
    "a note",
    "a souligne",
    "a explique",
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
    "noted",
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
    "a note",
    "a souligne",
    "a explique",
    "according to",
    "said",
    "says",
    "added",
    "denied",
    "noted",
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
        "Hier",
        "Aujourd'hui",
        "Lundi",
        "Mardi",
        "Mercredi",
        "Jeudi",
        "Vendredi",
        "Samedi",
        "Dimanche",
        "Yesterday",
        "Today",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
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
    person_words = _person_words(aliases)
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
            pos = None
            guard = key in person_words.get(actor_id, ())
            for m in re.finditer(pattern, folded):
                # « Kim » of « Kim Dong-yup » is not Kim Jong Un: a word of a person's name
                # followed by another name word is someone else's name
                if guard and _name_follows(text, where[m.end() - 1] + 1):
                    continue
                pos = where[m.start()]
                break
        if pos is None:
            continue
        # earlier position first; a longer alias wins a tie ("les États-Unis" over "États-Unis")
        rank = (pos, -len(alias))
        if actor_id not in first or rank < first[actor_id]:
            first[actor_id] = rank
    # « M. Akimenko », "Dr Akimenko": a civility title and the surname of a known person
    surnames = _surnames(aliases)
    toks = _tokens(text)
    for i in range(len(toks) - 1):
        if alias_key(toks[i][0].rstrip(".")) not in _CIVILITY:
            continue
        titled = surnames.get(alias_key(toks[i + 1][0]))
        if titled is None:
            continue
        rank = (toks[i][1], 0)
        if titled not in first or rank < first[titled]:
            first[titled] = rank
    return sorted(first, key=lambda a: first[a])


#: Civility titles that link « M. Surname » to a known person's full name.
_CIVILITY = frozenset(["m", "mme", "mlle", "mr", "mrs", "ms", "dr"])
_NEXT_WORD = re.compile(r"\s+([^\W\d_][\w'’-]*)")


def _name_follows(text: str, end: int) -> bool:
    m = _NEXT_WORD.match(text, end)
    return m is not None and _is_name_word(m.group(1))


def _person_like(alias: str) -> bool:
    """A multi-word name whose words are all capitalised ("Kim Jong Un", "Matthew Miller")."""
    words = alias.split()
    return len(words) > 1 and all(w[:1].isupper() for w in words) and not _is_acronym(words[0])


def _person_words(aliases: Mapping[str, str]) -> dict[str, set[str]]:
    """actor id -> alias keys of single words that are part of the actor's person-like names."""
    out: dict[str, set[str]] = {}
    for alias, actor_id in aliases.items():
        if _person_like(alias):
            out.setdefault(actor_id, set()).update(alias_key(alias).split())
    return out


def _surnames(aliases: Mapping[str, str]) -> dict[str, str]:
    """Last-word key of person-like names -> actor id, for surnames that name one actor only."""
    seen: dict[str, set[str]] = {}
    for alias, actor_id in aliases.items():
        if _person_like(alias):
            seen.setdefault(alias_key(alias).split()[-1], set()).add(actor_id)
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}


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
        name = _name_before(words, start) or _apposition_before(words, start)
        if name:
            found.setdefault(name, toks[start][1])
    for start, n in _cue_hits(keys, _CUES_AFTER):
        name = _name_after(words, start + n)
        if name:
            found.setdefault(name, toks[start][1])
    known_keys = {alias_key(a) for a in (known or {})}
    surnames = _surnames(known or {})
    out = [name for name in sorted(found, key=lambda k: found[k])]
    return [
        name
        for name in out
        if alias_key(name) not in known_keys and not _titled_known(name, surnames)
    ]


def _titled_known(name: str, surnames: Mapping[str, str]) -> bool:
    """« M. Akimenko » when "Valeriy Akimenko" is known."""
    words = name.split()
    return (
        len(words) == 2
        and alias_key(words[0].rstrip(".")) in _CIVILITY
        and alias_key(words[1]) in surnames
    )


#: Tokens after which a name may open a sentence-like span (an apposition's subject).
_OPENERS = frozenset(["«", "“", '"', "—", "–", ":", "(", "."])


def _apposition_before(words: list[str], cue: int) -> str | None:
    """ "NAME, title …, a déclaré" / "NAME, a professor at …, said": the name that opens the
    sentence (or a quote) before the apposition that ends just before the cue."""
    if cue < 2 or words[cue - 1] != ",":
        return None
    c0 = next((i for i in range(cue - 2, max(-1, cue - 40), -1) if words[i] == ","), None)
    if c0 is None or c0 < 1 or not words[c0 + 1][:1].islower():
        return None
    name = _name_before(words, c0)
    if name is None:
        return None
    i = c0 - 1
    while i >= 0 and (
        _is_name_word(words[i])
        or alias_key(words[i]) in _PARTICLES
        or alias_key(words[i].rstrip(".")) in _TITLES
    ):
        i -= 1
    if i >= 0 and words[i] not in _OPENERS:
        return None
    return name
