"""Dedup on real sentences nobody here wrote: Universal Dependencies treebanks (English EWT and GUM,
French GSD and Sequoia; ``benchmarks/data/ud/*.txt.xz``, the ``# text =`` lines).

For every difference class, its own generator rule turns a source sentence into a pair (A, B):
near-misses state another fact and must stay apart; benign copies must merge. The engine itself
(:func:`stanceterm.dedup.cluster_texts`: blocking, score, explained verdict, clustering) runs on
all A then all B of one class and split; a pair merged when B ends in A's cluster.

Source sentences are split by a fixed hash rule (``sha1(sentence)`` even: tuning, odd:
HELD-OUT). Only the tuning part was looked at while the catalogue was written.

    python benchmarks/dedup_eval.py                 # per-class table, both parts
    python benchmarks/dedup_eval.py --blocking 20000  # blocking recall on typo copies, in full
    python benchmarks/dedup_eval.py --why typos --part tuning --limit 1000  # where copies are lost
    python benchmarks/dedup_eval.py --blocking-tuning  # the blocking choice, tuning half only
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from stanceterm.dedup import (
    DEFAULT_THRESHOLD,
    Deduper,
    MinHashBlocker,
    cluster_texts,
    compare_key,
    prepare,
)
from stanceterm.schema import load_schema

DATA = Path(__file__).resolve().parent / "data" / "ud"
SOURCES = {
    "en_ewt": "UD_English-EWT dev+test",
    "en_gum": "UD_English-GUM dev+test",
    "fr_gsd": "UD_French-GSD dev+test",
    "fr_sequoia": "UD_French-Sequoia train+dev+test",
}


def load() -> list[tuple[str, str]]:
    """(source, sentence), 6 to 60 words, each sentence once."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name in SOURCES:
        with lzma.open(DATA / f"{name}.txt.xz", "rt", encoding="utf-8") as fh:
            for line in fh:
                s = line.strip()
                if s and s not in seen and 6 <= len(s.split()) <= 60:
                    seen.add(s)
                    out.append((name, s))
    return out


def held_out(sentence: str) -> bool:
    return int(hashlib.sha1(sentence.encode()).hexdigest(), 16) % 2 == 1


def aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for actor in load_schema().actors:
        out[actor.name] = actor.name
        for a in actor.aliases:
            out[a] = actor.name
    return out


# --------------------------------------------------------------------------- generator rules
# Each rule: (source sentence, lang, rng) -> (A, B) or None when it does not apply.

Rule = Callable[[str, str, random.Random], "tuple[str, str] | None"]
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def _words(s: str) -> list[re.Match[str]]:
    return list(WORD.finditer(s))


def _replace_span(s: str, m: re.Match[str], new: str) -> str:
    return s[: m.start()] + new + s[m.end() :]


def _names(s: str) -> list[re.Match[str]]:
    """Capitalised words away from the sentence start."""
    ws = _words(s)
    return [
        m
        for m in ws[1:]
        if m.group(0)[0].isupper() and len(m.group(0)) > 2 and not m.group(0).isupper()
    ]


def swap_names(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    names = _names(s)
    distinct = {}
    for m in names:
        distinct.setdefault(m.group(0), m)
    if len(distinct) < 2:
        return None
    a, b = rng.sample(sorted(distinct.values(), key=lambda m: m.start()), 2)
    a, b = sorted((a, b), key=lambda m: m.start())
    t = s[: a.start()] + b.group(0) + s[a.end() : b.start()] + a.group(0) + s[b.end() :]
    return (s, t) if t != s else None


PLACE_PREP = {"en": {"in", "from", "to", "at", "near"}, "fr": {"à", "de", "en", "dans", "vers"}}


def swap_places(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    ws = _words(s)
    cands = []
    for i in range(1, len(ws)):
        w = ws[i].group(0)
        if w[0].isupper() and not w.isupper() and ws[i - 1].group(0).lower() in PLACE_PREP[lang]:
            cands.append(ws[i])
    uniq = {m.group(0): m for m in cands}
    if len(uniq) < 2:
        return None
    a, b = sorted(
        rng.sample(sorted(uniq.values(), key=lambda m: m.start()), 2), key=lambda m: m.start()
    )
    return s, s[: a.start()] + b.group(0) + s[a.end() : b.start()] + a.group(0) + s[b.end() :]


def _substitute(s: str, table: dict[str, list[str]], rng: random.Random) -> tuple[str, str] | None:
    ws = [m for m in _words(s) if m.group(0).lower() in table]
    if not ws:
        return None
    m = rng.choice(ws)
    new = rng.choice(table[m.group(0).lower()])
    if m.group(0)[0].isupper():
        new = new[0].upper() + new[1:]
    return s, _replace_span(s, m, new)


def _ring(words: str) -> dict[str, list[str]]:
    ws = words.split()
    return {w: [x for x in ws if x != w] for w in ws}


NUM_EN = _ring(
    "two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred"
)
NUM_FR = _ring(
    "deux trois quatre cinq six sept huit neuf dix onze douze vingt trente quarante cent"
)
MONTHS_EN = _ring(
    "january february march april may june july august september october november december"
)
MONTHS_FR = _ring(
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
)
DAYS_EN = _ring("monday tuesday wednesday thursday friday saturday sunday")
DAYS_FR = _ring("lundi mardi mercredi jeudi vendredi samedi dimanche")
NAT_EN = _ring(
    "american british french german italian spanish russian chinese japanese canadian irish indian"
)
NAT_FR = _ring(
    "français française allemand allemande italien italienne espagnol russe chinois anglais américain américaine"
)
ANT_EN = {"increased": ["decreased"], "decreased": ["increased"], "more": ["less"], "less": ["more"],
          "before": ["after"], "after": ["before"], "confirmed": ["denied"], "denied": ["confirmed"],
          "always": ["never"], "higher": ["lower"], "lower": ["higher"], "first": ["last"], "last": ["first"],
          "with": ["without"], "without": ["with"], "best": ["worst"], "worst": ["best"], "good": ["bad"],
          "bad": ["good"], "early": ["late"], "late": ["early"], "open": ["closed"], "won": ["lost"], "lost": ["won"]}  # fmt: skip
ANT_FR = {"avec": ["sans"], "sans": ["avec"], "plus": ["moins"], "moins": ["plus"], "avant": ["après"],
          "après": ["avant"], "confirmé": ["démenti"], "démenti": ["confirmé"], "premier": ["dernier"],
          "dernier": ["premier"], "première": ["dernière"], "dernière": ["première"], "bon": ["mauvais"],
          "grand": ["petit"], "petit": ["grand"], "grande": ["petite"], "petite": ["grande"],
          "hausse": ["baisse"], "baisse": ["hausse"], "toujours": ["jamais"]}  # fmt: skip


def numbers_in_words(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    got = _substitute(s, NUM_EN if lang == "en" else NUM_FR, rng)
    if got:
        return got
    ds = list(re.finditer(r"(?<![\d.,])\d{1,3}(?![\d.,])", s))
    if not ds:
        return None
    m = rng.choice(ds)
    return s, _replace_span(s, m, str(int(m.group(0)) + rng.randint(1, 9)))


def million_billion(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    table = {"million": ["billion"], "billion": ["million"], "millions": ["billions"], "billions": ["millions"],
             "thousand": ["million"], "milliards": ["millions"], "milliard": ["million"], "mille": ["million"]}  # fmt: skip
    got = _substitute(s, table, rng)
    if got:
        return got
    # an amount appended to a sentence, once in millions, once in billions
    base = s.rstrip(".!? ")
    if lang == "en":
        return (
            base + ", at a cost of 3 million dollars.",
            base + ", at a cost of 3 billion dollars.",
        )
    return (
        base + ", pour un coût de 3 millions d'euros.",
        base + ", pour un coût de 3 milliards d'euros.",
    )


def months_weekdays(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    t = {**(MONTHS_EN if lang == "en" else MONTHS_FR), **(DAYS_EN if lang == "en" else DAYS_FR)}
    return _substitute(s, t, rng)


def nationality(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    return _substitute(s, NAT_EN if lang == "en" else NAT_FR, rng)


def antonym(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    return _substitute(s, ANT_EN if lang == "en" else ANT_FR, rng)


def lowercase_place(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    ws = _words(s)
    cands = [ws[i] for i in range(1, len(ws)) if ws[i].group(0)[0].isupper() and not ws[i].group(0).isupper()
             and ws[i - 1].group(0).lower() in PLACE_PREP[lang]]  # fmt: skip
    if not cands:
        return None
    m = rng.choice(cands)
    places = [
        p
        for p in ("malaysia", "portugal", "kenya", "peru", "norway", "vietnam")
        if p != m.group(0).lower()
    ]
    return s, _replace_span(s, m, rng.choice(places))


def content_word(s: str, lang: str, rng: random.Random, vocab: list[str]) -> tuple[str, str] | None:
    ws = [m for m in _words(s)[1:] if m.group(0).islower() and len(m.group(0)) >= 5]
    if not ws:
        return None
    m = rng.choice(ws)
    for _ in range(20):
        new = rng.choice(vocab)
        if new != m.group(0) and abs(len(new) - len(m.group(0))) <= 2:
            return s, _replace_span(s, m, new)
    return None


def word_to_name(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    ws = [m for m in _words(s)[1:] if m.group(0).islower() and len(m.group(0)) >= 4]
    if not ws:
        return None
    m = rng.choice(ws)
    return s, _replace_span(s, m, rng.choice(["Kowalski", "Dubois", "Okafor", "Lindqvist"]))


def name_to_word(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    names = _names(s)
    if not names:
        return None
    m = rng.choice(names)
    return s, _replace_span(
        s, m, rng.choice(["main", "local", "other"] if lang == "en" else ["principal", "autre"])
    )


MODIFIERS = {
    "en": ["military", "former", "senior", "local", "foreign"],
    "fr": ["militaire", "ancien", "local", "étranger"],
}
DETS = {"en": {"the", "a", "an"}, "fr": {"le", "la", "les", "un", "une", "des"}}


def inserted_modifier(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    ws = _words(s)
    slots = [
        ws[i + 1]
        for i in range(len(ws) - 1)
        if ws[i].group(0).lower() in DETS[lang] and ws[i + 1].group(0).islower()
    ]
    if not slots:
        return None
    m = rng.choice(slots)
    mod = rng.choice(MODIFIERS[lang])
    if lang == "en":
        return s, s[: m.start()] + mod + " " + s[m.start() :]
    return s, s[: m.end()] + " " + mod + s[m.end() :]


def removed_clause(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    i = s.rfind(", ")
    if i < 0 or len(s[i + 2 :].split()) < 3 or len(s[:i].split()) < 5:
        return None
    return s, s[:i] + "."


def attribution_tail(s: str, lang: str, rng: random.Random, other: str) -> tuple[str, str] | None:
    base = s.rstrip(".!? ")
    tail_words = other.rstrip(".!? ").split()
    if len(tail_words) < 4:
        return None
    tail = " ".join(tail_words[: min(8, len(tail_words))])
    tail = tail[0].lower() + tail[1:]
    if lang == "en":
        return (
            base + ", said Maria Lopez.",
            base + ", said Maria Lopez, who also said " + tail + ".",
        )
    return (
        base + ", a déclaré Marie Dupont.",
        base + ", a déclaré Marie Dupont, qui a aussi dit que " + tail + ".",
    )


NEG_EN = re.compile(r"\b(is|was|are|were|has|have|had|will|can|would|could|should|does|did|do)\b")
NEG_FR = re.compile(r"\b(est|a|sont|était|ont|peut|doit|sera)\b")


def negation(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    if lang == "en":
        m = NEG_EN.search(s)
        return None if m is None else (s, s[: m.end()] + " not" + s[m.end() :])
    m = NEG_FR.search(s)
    if m is None:
        return None
    pre = "n'" if m.group(0)[0] in "aeéiou" else "ne "
    return s, s[: m.start()] + pre + m.group(0) + " pas" + s[m.end() :]


# ---- benign


def typography(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    t = s.replace("'", "’").replace(" - ", " — ")
    t = re.sub(r'"([^"]*)"', "« \\1 »" if lang == "fr" else "“\\1”", t)
    if t == s:
        ws = s.split()
        if len(ws) < 6:
            return None
        k = rng.randrange(1, len(ws) - 3)
        ws[k] = ("« " if lang == "fr" else "“") + ws[k]
        ws[k + 2] = ws[k + 2] + (" »" if lang == "fr" else "”")
        t = " ".join(ws)
    return s, t


def number_format(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    ms = list(re.finditer(r"(?<![\d.,])\d{4,7}(?![\d.,])", s))
    big = list(re.finditer(r"\d{1,3}(?:[,\u00a0 ]\d{3})+", s))
    if big:
        m = rng.choice(big)
        return s, _replace_span(
            s, m, re.sub(r"[,\u00a0 ]", rng.choice(["", "\u202f", " "]), m.group(0))
        )
    ms = [m for m in ms if not 1800 <= int(m.group(0)) <= 2100]  # years are not written 2,014
    if not ms:
        base = s.rstrip(".!? ")
        n = rng.randint(1, 99)
        a = (
            f"{base}, for {n},{rng.randint(0, 999):03d} people."
            if lang == "en"
            else f"{base}, pour {n} {rng.randint(0, 999):03d} personnes."
        )
        b = (
            a.replace(",", "\u00a0", 2).replace("\u00a0", ",", 1)
            if lang == "en"
            else a.replace(f"{n} ", f"{n}\u202f", 1)
        )
        return a, b
    m = rng.choice(ms)
    v = m.group(0)
    sep = "," if lang == "en" else "\u00a0"
    return s, _replace_span(s, m, f"{int(v):,}".replace(",", sep))


WORDS_OF = {"en": {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten", 12: "twelve", 20: "twenty"},
            "fr": {2: "deux", 3: "trois", 4: "quatre", 5: "cinq", 6: "six", 7: "sept", 8: "huit", 9: "neuf", 10: "dix", 12: "douze", 20: "vingt"}}  # fmt: skip


def digits_words(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    table = WORDS_OF[lang]
    back = {w: d for d, w in table.items()}
    ws = [
        m
        for m in _words(s)
        if m.group(0).lower() in back
        and s[m.end() : m.end() + 1] != "-"
        and s[max(0, m.start() - 1) : m.start()] != "-"
    ]
    if ws:
        m = rng.choice(ws)
        return s, _replace_span(s, m, str(back[m.group(0).lower()]))
    ds = [
        m
        for m in re.finditer(r"(?<![\w.,:/-])\d{1,2}(?![\w.,:/-])", s)
        if int(m.group(0)) in table and m.group(0)[0] != "0"
    ]
    if not ds:
        return None
    m = rng.choice(ds)
    return s, _replace_span(s, m, table[int(m.group(0))])


def attribution_moved(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    base = s.rstrip(".!? ")
    first = base[0].lower() + base[1:] if base[:2].istitle() and not _names(base[:30]) else base
    if lang == "en":
        who = rng.choice(["Maria Lopez", "the spokesman", "Peter Schmidt"])
        return base + f", {who} said.", (who[0].upper() + who[1:]) + " said " + first + "."
    who = rng.choice(["Marie Dupont", "le porte-parole", "Jean Martin"])
    return base + f", a déclaré {who}.", (
        who[0].upper() + who[1:]
    ) + " a déclaré que " + first + "."


SPEAKERS = {
    "en": ["Maria Lopez", "the minister", "Peter Schmidt", "the spokesman"],
    "fr": ["Marie Dupont", "le ministre", "Jean Martin", "la porte-parole"],
}


def _quoted(s: str, lang: str, rng: random.Random, who_b: str | None) -> tuple[str, str] | None:
    """A = the sentence quoted with its attribution after it; B = the attribution moved (before
    the quote, after it in the other order, or inside the quote between two parts), by
    ``who_b`` (the same speaker when None)."""
    base = s.strip('"“”«» ').rstrip(".!?…:;, ")
    words = base.split()
    if len(words) < 6:
        return None
    who = rng.choice(SPEAKERS[lang])
    other = who if who_b is None else who_b
    up = other[0].upper() + other[1:]
    k = rng.randrange(2, len(words) - 2)
    first, rest = " ".join(words[:k]).rstrip(",;:"), " ".join(words[k:])
    form = rng.choice(["after", "before", "inside"])
    if lang == "en":
        a = f'"{base}," said {who}.'
        b = {
            "after": f'"{base}," {other} said.',
            "before": f'{up} said: "{base}."',
            "inside": f'"{first}," {other} said, "{rest}."',
        }[form]
    else:
        a = f"« {base} », a déclaré {who}."
        b = {
            "after": f"« {base} », a affirmé {other}.",
            "before": f"{up} a déclaré : « {base} »",
            "inside": f"« {first}, a déclaré {other}, {rest} »",
        }[form]
    return a, b


def quoted_attribution(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    return _quoted(s, lang, rng, None)


def quoted_other_speaker(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    """The twin near-miss: the same move of the attribution, by another speaker."""
    state = rng.getstate()
    who = rng.choice(SPEAKERS[lang])
    rng.setstate(state)
    others = [w for w in SPEAKERS[lang] if w != who]
    return _quoted(s, lang, rng, others[len(s) % len(others)])


def two_speakers(s: str, lang: str, rng: random.Random) -> tuple[str, str, str] | None:
    """A and B each add another speaker to the same bare sentence, which comes first (the
    cluster's representative): each is an "attribution added" copy of it, never of each other."""
    base = s.strip('"“”«» ').rstrip(".!?…:;, ")
    if len(base.split()) < 6:
        return None
    who = rng.choice(SPEAKERS[lang])
    other = [w for w in SPEAKERS[lang] if w != who][len(s) % (len(SPEAKERS[lang]) - 1)]
    if lang == "en":
        return f"{base}, {who} said.", f"{base}, {other} said.", f"{base}."
    return f"{base}, a déclaré {who}.", f"{base}, a affirmé {other}.", f"{base}."


def attribution_added(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    pre = rng.choice(
        ["According to Reuters, ", "WASHINGTON (AP) - "]
        if lang == "en"
        else ["Selon l'AFP, ", "PARIS (AFP) - "]
    )
    return s, pre + s


LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typos(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    ws = [m for m in _words(s) if m.group(0).islower() and len(m.group(0)) >= 5]
    if not ws:
        return None
    k = min(len(ws), rng.randint(1, 4))
    t = s
    for m in sorted(rng.sample(ws, k), key=lambda m: -m.start()):
        w = m.group(0)
        i = rng.randrange(1, len(w) - 1)
        op = rng.choice(["sub", "del", "ins", "swap"])
        if op == "sub":
            nw = w[:i] + rng.choice(LETTERS.replace(w[i], "")) + w[i + 1 :]
        elif op == "del":
            nw = w[:i] + w[i + 1 :]
        elif op == "ins":
            nw = w[:i] + rng.choice(LETTERS) + w[i:]
        else:
            nw = (
                w[: i - 1] + w[i] + w[i - 1] + w[i + 1 :]
                if w[i] != w[i - 1]
                else w[:i] + "x" + w[i + 1 :]
            )
        t = t[: m.start()] + nw + t[m.end() :]
    return s, t


def transliteration(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    names = _names(s)
    if not names:
        return None
    m = rng.choice(names)
    a, b = rng.choice(
        [
            ("Zelensky", "Zelenskyy"),
            ("Kyiv", "Kiev"),
            ("Gaddafi", "Kadhafi"),
            ("Navalny", "Navalnyy"),
        ]
    )
    return _replace_span(s, m, a), _replace_span(s, m, b)


def abbreviation(s: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    for x, y in (("U.S.", "US"), ("US", "U.S."), ("U.K.", "UK"), ("S&P", "Standard & Poor's")):
        if re.search(r"(?<!\w)" + re.escape(x) + r"(?!\w)", s):
            return s, re.sub(r"(?<!\w)" + re.escape(x) + r"(?!\w)", y, s, count=1)
    names = _names(s)
    if not names:
        return None
    m = rng.choice(names)
    return _replace_span(s, m, "U.S."), _replace_span(s, m, "US")


NEAR_MISS: dict[str, Rule] = {
    "role reversal (two names swapped)": swap_names,
    "place swap": swap_places,
    "number changed (words or digits)": numbers_in_words,
    "million / billion": million_billion,
    "month / weekday": months_weekdays,
    "nationality adjective": nationality,
    "antonym": antonym,
    "lower-case place": lowercase_place,
    "word -> name": word_to_name,
    "name -> word": name_to_word,
    "inserted modifier": inserted_modifier,
    "removed clause": removed_clause,
    "negation": negation,
    "quoted attribution, another speaker": quoted_other_speaker,
}
#: near-misses measured with a third sentence placed first (the bare sentence both add to)
BRIDGED: dict[str, Callable[[str, str, random.Random], tuple[str, str, str] | None]] = {
    "two speakers added to a bare sentence": two_speakers,
}
BENIGN: dict[str, Rule] = {
    "quotes / typography": typography,
    "number format": number_format,
    "digits <-> words": digits_words,
    "attribution moved": attribution_moved,
    "quoted attribution moved (after, before, inside the quote)": quoted_attribution,
    "agency prefix / dateline added": attribution_added,
    "typos (1-4 letters)": typos,
    "transliteration": transliteration,
    "abbreviation": abbreviation,
}


def make_pairs(sents: list[tuple[str, str]], rule_name: str, seed: int) -> list[tuple[str, ...]]:
    rng = random.Random(f"{seed}:{rule_name}")
    vocab = sorted(
        {w for _, s in sents for w in s.split() if w.isalpha() and w.islower() and len(w) >= 5}
    )
    out = []
    for i, (src, s) in enumerate(sents):
        lang = src[:2]
        if rule_name == "content word substituted":
            got = content_word(s, lang, rng, vocab)
        elif rule_name == "attribution tail (clause after the speaker)":
            got = attribution_tail(s, lang, rng, sents[(i + 7) % len(sents)][1])
        elif rule_name in BRIDGED:
            three = BRIDGED[rule_name](s, lang, rng)
            if three:
                out.append(three)
            continue
        else:
            rule = NEAR_MISS.get(rule_name) or BENIGN[rule_name]
            got = rule(s, lang, rng)
        if got and got[0] != got[1]:
            out.append(got)
    return out


ALL_NEAR = [
    *NEAR_MISS,
    "content word substituted",
    "attribution tail (clause after the speaker)",
    *BRIDGED,
]


def evaluate(
    pairs: list[tuple[str, str]], al: dict[str, str], threshold: float
) -> tuple[int, int, int]:
    """(pairs, merged with their own A, merged with another sentence). A bridged pair (a third
    text: :data:`BRIDGED`) has its third text clustered before every A."""
    n = len(pairs)
    bridges = [p[2] for p in pairs if len(p) > 2]
    k = len(bridges)
    texts = bridges + [p[0] for p in pairs] + [p[1] for p in pairs]
    reps = cluster_texts(texts, threshold=threshold, aliases=al)
    own = sum(1 for i in range(n) if reps[k + n + i] == reps[k + i])
    other = sum(
        1 for i in range(n) if reps[k + n + i] != reps[k + i] and reps[k + n + i] != k + n + i
    )
    return n, own, other


def accuracy(args: argparse.Namespace) -> None:
    sents = load()
    al = aliases()
    parts = {
        "tuning": [x for x in sents if not held_out(x[1])],
        "held-out": [x for x in sents if held_out(x[1])],
    }
    print(f"sources: {', '.join(SOURCES.values())}; {len(sents)} sentences "
          f"(tuning {len(parts['tuning'])}, held-out {len(parts['held-out'])}); threshold {args.threshold:g}")  # fmt: skip
    print(
        "| class | kind | tuning: pairs, merged (rate) | held-out: pairs, merged (rate) | held-out proposed by score |"
    )
    print("|---|---|---|---|---|")
    wanted = [c.strip() for c in args.classes.split(",")] if args.classes else None
    for kind, names in (("near-miss", ALL_NEAR), ("benign", list(BENIGN))):
        for name in names:
            if wanted and not any(w in name for w in wanted):
                continue
            cells = []
            proposed = ""
            for part in ("tuning", "held-out"):
                if args.part not in ("both", part):
                    cells.append("(not run)")
                    continue
                pairs = make_pairs(parts[part], name, args.seed)
                if args.limit:
                    pairs = pairs[: args.limit]
                n, own, other = evaluate(pairs, al, args.threshold)
                rate = own / n if n else float("nan")
                extra = f", {other} into another" if other else ""
                cells.append(f"{n}, {own} ({rate:.1%}){extra}")
                if part == "held-out" and pairs:
                    ka = [compare_key(p[0]) for p in pairs]
                    kb = [compare_key(p[1]) for p in pairs]
                    sc = process.cpdist(ka, kb, scorer=fuzz.ratio, workers=-1)
                    proposed = f"{int((sc >= args.threshold).sum())} of {n}"
            print(f"| {name} | {kind} | {cells[0]} | {cells[1]} | {proposed} |", flush=True)


def why_missed(args: argparse.Namespace) -> None:
    """Where the benign copies of one class are lost, on one part: never proposed by blocking,
    scored below the threshold, or refused by the verdict (by its reason). Read the tuning part
    only while tuning."""
    from collections import Counter

    from stanceterm.dedup import explain

    part = [x for x in load() if held_out(x[1]) == (args.part == "held-out")]
    name = next(c for c in BENIGN if args.why in c)
    pairs = make_pairs(part, name, args.seed)[: args.limit or None]
    n = len(pairs)
    texts = [a for a, _ in pairs] + [b for _, b in pairs]
    al = aliases()
    d = Deduper(args.threshold, al)
    d.record_candidates = set()
    reps = list(range(len(texts)))
    for start in range(0, len(texts), 5000):
        rows = [(str(i), texts[i]) for i in range(start, min(start + 5000, len(texts)))]
        for j in d.process(rows):
            reps[int(j.member)] = int(j.representative)
    rep_pos = {int(sid): r for r, sid in enumerate(d.rep_ids)}
    causes: Counter[str] = Counter()
    for i, (a, b) in enumerate(pairs):
        if reps[n + i] == reps[i]:
            continue
        if fuzz.ratio(compare_key(a), compare_key(b)) < args.threshold:
            cause = "score below threshold"
        elif i not in rep_pos:
            cause = "A joined another cluster"
        elif (n + i, rep_pos[i]) not in d.record_candidates:
            cause = "never proposed (blocking)"
        else:
            v = explain(a, b, al, dict(d.names))
            cause = "verdict: " + str(v.reason)
        causes[cause] += 1
        if args.show:
            print(f"[{cause}]\n  A: {a}\n  B: {b}")
    print(f"{name}, {args.part} part: {n} pairs, {n - sum(causes.values())} merged; missed:")
    for cause, k in causes.most_common():
        print(f"  {k:5}  {cause}")


class PreviousBlocker(MinHashBlocker):
    """The blocking before this round, for a same-run baseline: 4-letter heads and tails of
    words longer than 5 letters (shorter words whole), 40 bands of 4 rows, no short bands."""

    def __init__(self) -> None:
        super().__init__(40, 4, short_bands=0)

    @staticmethod
    def shingles(key: str) -> list[str]:
        return _affix_shingles(key, affix=4, whole_upto=5)


class AffixBlocker(MinHashBlocker):
    """The blocking of the previous round, for a same-run baseline: 3-letter heads and tails of
    words longer than 3 letters (shorter words whole), 40 x 5 bands, 30 x 4 short bands for at
    most 16 shingles; no end-letter shingles."""

    def __init__(self) -> None:
        super().__init__(short=16)

    @staticmethod
    def shingles(key: str) -> list[str]:
        return _affix_shingles(key, affix=3, whole_upto=3)


def _affix_shingles(key: str, affix: int, whole_upto: int) -> list[str]:
    """An earlier round's shingles: each content word up to ``whole_upto`` letters whole, a
    longer one as its first and last ``affix`` letters."""
    from stanceterm.dedup import _STOP

    content: set[str] = set()
    for w in key.split():
        if w in _STOP or len(w) <= 1:
            continue
        if len(w) <= whole_upto:
            content.add(w)
        else:
            content.update((w[:affix] + "<", ">" + w[-affix:]))
    return sorted(content) or sorted(set(key.split())) or [key]


def blocking_tuning(args: argparse.Namespace) -> None:
    """How this round chose its blocking, on the TUNING half only: of the typo copies (three
    draws of the typo rule per tuning sentence) that score >= threshold against their original,
    the share the engine's blocking proposes; and what it costs: candidates and main-process CPU
    on the first 50,000 sentences of ``dedup_speed.py``'s corpus (real news and UD sentences,
    not the eval pairs)."""
    import dedup_speed

    part = [x for x in load() if not held_out(x[1])]
    pairs = []
    for seed in (101, 102, 103):
        rng = random.Random(seed)
        for src, s in part:
            got = typos(s, src[:2], rng)
            if got and fuzz.ratio(compare_key(got[0]), compare_key(got[1])) >= args.threshold:
                pairs.append(got)
    big, n_real, n_copies = dedup_speed.corpus(50_000)
    print(f"tuning half of {', '.join(SOURCES.values())}: {len(pairs)} typo pairs scoring >= "
          f"{args.threshold:g}; cost on 50,000 sentences of dedup_speed.py's corpus ({n_real} real, {n_copies} copies)")  # fmt: skip
    for label, make in (
        ("3-letter affixes, short <= 16 shingles (previous round)", AffixBlocker),
        ("3-letter affixes and end letters, short <= 20 shingles (now)", MinHashBlocker),
    ):
        proposed = total = 0
        for c0 in range(0, len(pairs), 2000):
            chunk = pairs[c0 : c0 + 2000]
            texts = [a for a, _ in chunk] + [b for _, b in chunk]
            d = Deduper(args.threshold, {}, make())
            d.record_candidates = set()
            for start in range(0, len(texts), 5000):
                d.process([(str(i), texts[i]) for i in range(start, min(start + 5000, len(texts)))])
            rep_pos = {int(sid): r for r, sid in enumerate(d.rep_ids)}
            for i in range(len(chunk)):
                if i in rep_pos:
                    total += 1
                    proposed += (len(chunk) + i, rep_pos[i]) in d.record_candidates
        d = Deduper(args.threshold, {}, make())
        t0 = time.process_time()
        for start in range(0, len(big), 5000):
            d.process([(str(i), big[i]) for i in range(start, min(start + 5000, len(big)))])
        cpu = time.process_time() - t0
        print(f"{label}: typo pairs proposed {proposed}/{total} = {proposed / max(1, total):.4f}; "
              f"50k: {d.stats.candidates} candidates, {cpu:.1f}s CPU (this process)", flush=True)  # fmt: skip


def blocking(args: argparse.Namespace) -> None:
    """Blocking recall on the engine itself, in full: originals then typo copies, ``n`` in all;
    every pair (representative, later sentence) that exhaustive cdist scores >= threshold on the
    match keys, against the candidates the engine's blocking proposed."""
    sents = load()
    rng = random.Random(args.seed)
    n_orig = min(len(sents), args.blocking // 2 + args.blocking % 2)
    orig = [s for _, s in sents[:n_orig]]
    copies = []
    for src, s in sents[: args.blocking - n_orig]:
        got = typos(s, src[:2], rng)
        copies.append(got[1] if got else s)
    texts = orig + copies
    keys = [p[0] for p in prepare(texts)]
    t0 = time.perf_counter()
    exh = process.cdist(
        keys, keys, scorer=fuzz.ratio, score_cutoff=args.threshold, workers=-1, dtype=np.uint8
    )
    t_exh = time.perf_counter() - t0
    ii, jj = np.nonzero(np.triu(exh, 1))
    del exh
    print(f"sources: {', '.join(SOURCES.values())}; {len(texts)} sentences ({len(orig)} originals, "
          f"{len(copies)} copies with 1-4 one-letter typos); exhaustive cdist {t_exh:.1f}s: {len(ii)} pairs >= {args.threshold:g}")  # fmt: skip
    for label, blocker in (
        ("4-letter affixes, 40 x 4 (before)", PreviousBlocker()),
        ("3-letter affixes and end letters, 40 x 5 + 30 x 4 short (now)", MinHashBlocker()),
    ):
        d = Deduper(args.threshold, aliases(), blocker)
        d.record_candidates = set()
        t0 = time.perf_counter()
        for start in range(0, len(texts), 5000):
            rows = [(str(i), texts[i]) for i in range(start, min(start + 5000, len(texts)))]
            d.process(rows)
        t = time.perf_counter() - t0
        rep_pos = {int(sid): r for r, sid in enumerate(d.rep_ids)}
        want = [(i, j) for i, j in zip(ii.tolist(), jj.tolist(), strict=True) if i in rep_pos]
        got = sum(1 for i, j in want if (j, rep_pos[i]) in d.record_candidates)
        typo_pairs = [(i, j) for i, j in want if j == i + n_orig]
        got_typo = sum(1 for i, j in typo_pairs if (j, rep_pos[i]) in d.record_candidates)
        print(f"{label}: engine {t:.1f}s, {d.stats.candidates} candidates; recall {got}/{len(want)} = "
              f"{got / max(1, len(want)):.4f} over pairs with a representative; original/typo-copy pairs "
              f"{got_typo}/{len(typo_pairs)} = {got_typo / max(1, len(typo_pairs)):.4f}", flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument(
        "--limit", type=int, default=0, help="at most this many pairs per class and part"
    )
    ap.add_argument(
        "--part",
        choices=["both", "tuning", "held-out"],
        default="both",
        help="which part to run (tune on 'tuning' only)",
    )
    ap.add_argument("--classes", default="", help="comma-separated parts of class names to run")
    ap.add_argument(
        "--blocking",
        type=int,
        default=0,
        metavar="N",
        help="measure blocking recall at N sentences",
    )
    ap.add_argument(
        "--why",
        metavar="CLASS",
        help="where the copies of a benign class are lost (with --part tuning|held-out)",
    )
    ap.add_argument("--show", action="store_true", help="with --why: print each lost pair")
    ap.add_argument(
        "--blocking-tuning",
        action="store_true",
        help="the blocking choice on the tuning half: typo-pair recall and 50k cost",
    )
    args = ap.parse_args()
    if args.why:
        why_missed(args)
    elif args.blocking_tuning:
        blocking_tuning(args)
    elif args.blocking:
        blocking(args)
    else:
        accuracy(args)


if __name__ == "__main__":
    sys.exit(main())
