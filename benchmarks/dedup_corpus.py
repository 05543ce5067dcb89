"""A synthetic dedup corpus for SPEED and regression only, NOT an accuracy evaluation.

Demoted (issue 14): its variants are exactly what the normaliser removes and its negatives are
exactly the kinds the old guard was written against, so precision / recall measured on it are
in-sample. Accuracy figures come from ``dedup_eval.py`` on Universal Dependencies sentences, with
a held-out part.

Deterministic for a given (size, seed). Every *story* sentence (French or English, about arms
deliveries, with actors from the label schema's gazetteer) gets:

* wire-copy variants, the same group (must merge): quotes « » / “ ” / " ", NBSP, dashes, a dropped
  word, the attribution moved ("X said" / ", X said." / ", said X." / « selon X, »), an agency
  prefix (« Selon l'AFP, », "According to Reuters,", « MOSCOU (AFP) - »), number formats
  ("1,000" / "1 000" / "1000" / "1.000");
* sometimes hard negatives, each its own group (must not merge): a negation added, the actor
  swapped, the country changed, the number changed, the speaker swapped;
* and unrelated singleton sentences fill the rest.

    python benchmarks/dedup_corpus.py --sentences 20 --seed 1     # print a sample
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

NBSP = "\u00a0"

ACTORS_EN = ["Putin", "Kim Jong Un", "the Kremlin", "Washington", "Pyongyang", "Moscow", "Seoul"]
ACTORS_FR = ["Vladimir Poutine", "Kim Jong Un", "le Kremlin", "Washington", "Pyongyang", "Moscou"]
SPEAKERS_EN = ["Dmitry Peskov", "Matthew Miller", "Peskov", "Miller"]
SPEAKERS_FR = ["Dmitri Peskov", "Matthew Miller", "M. Peskov", "M. Miller"]
COUNTRIES_EN = ["Iran", "Syria", "Belarus", "China", "India", "Turkey", "Poland", "Egypt", "Mali"]
COUNTRIES_FR = ["l'Iran", "la Syrie", "la Biélorussie", "la Chine", "l'Inde", "la Turquie"]
VERBS_EN = ["delivered", "sent", "shipped", "promised", "sold", "transferred", "offered"]
VERBS_FR = ["livré", "envoyé", "expédié", "promis", "vendu", "transféré", "proposé"]
OBJECTS_EN = ["artillery shells", "missiles", "rockets", "drones", "tanks", "rifles", "trucks"]
OBJECTS_FR = ["obus", "missiles", "roquettes", "drones", "chars", "fusils", "camions"]
PREP_EN = ["to", "through", "via"]
PREP_FR = ["à", "via", "vers"]
AGENCY_EN = ["According to Reuters, ", "According to AFP, ", "SEOUL (Reuters) - "]
AGENCY_FR = ["Selon l'AFP, ", "D'après Reuters, ", "MOSCOU (AFP) - "]

VARIANT_KINDS = ("quotes", "nbsp", "dash", "drop", "attribution", "agency", "number")
NEGATIVE_KINDS = ("negation", "actor", "country", "number", "speaker")


def _lexicon(rng: random.Random, n: int) -> list[str]:
    syl = [c + v for c in "bcdfgklmnprstvz" for v in "aeiou"] + ["an", "or", "el", "is", "um"]
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(syl) for _ in range(rng.randint(2, 4))))
    return sorted(words)


@dataclass
class Item:
    text: str
    group: int
    kind: str  # "base", a variant kind joined by "+", "neg:<kind>", or "single"


@dataclass
class Story:
    """The slots of one story sentence; :meth:`render` writes it in a given style."""

    lang: str
    actor: str
    verb: str
    number: int
    obj: str
    prep: str
    country: str
    filler: list[str]
    aside: list[str]
    speaker: str
    negated: bool = False
    quote: str = "plain"  # plain, guillemets, curly, straight
    nbsp: bool = False
    dash: str = "—"
    attribution: str = "suffix"  # suffix, inverted, prefix, selon
    agency: str = ""
    numfmt: str = "comma"  # comma, space, none, dot, nbsp

    def _num(self) -> str:
        s = f"{self.number:,}"
        sep = {"comma": ",", "space": " ", "none": "", "dot": ".", "nbsp": NBSP}[self.numfmt]
        return s.replace(",", sep)

    def render(self) -> str:
        filler = " ".join(self.filler)
        sp = NBSP if self.nbsp else " "
        if self.quote == "guillemets":
            filler = f"«{sp}{filler}{sp}»"
        elif self.quote == "curly":
            filler = f"“{filler}”"
        elif self.quote == "straight":
            filler = f'"{filler}"'
        aside = f" {self.dash} {' '.join(self.aside)} {self.dash}" if self.aside else ""
        num = self._num()
        if self.lang == "en":
            verb = f"has not {self.verb}" if self.negated else f"has {self.verb}"
            core = (
                f"{self.actor}{aside} {verb} {num} {self.obj} {self.prep} {self.country} {filler}"
            )
            if self.attribution == "suffix":
                text = f"{core}, {self.speaker} said."
            elif self.attribution == "inverted":
                text = f"{core}, said {self.speaker}."
            elif self.attribution == "prefix":
                text = f"{self.speaker} said {core[0].lower() + core[1:] if core.startswith('the ') else core}."
            else:
                text = f"According to {self.speaker}, {core}."
        else:
            verb = f"n'a pas {self.verb}" if self.negated else f"a {self.verb}"
            core = (
                f"{self.actor}{aside} {verb} {num} {self.obj} {self.prep} {self.country} {filler}"
            )
            if self.attribution == "suffix":
                text = f"{core}, a déclaré {self.speaker}."
            elif self.attribution == "inverted":
                text = f"{core}, a dit {self.speaker}."
            elif self.attribution == "prefix":
                text = f"{self.speaker} a déclaré que {core}."
            else:
                text = f"Selon {self.speaker}, {core}."
        text = text[0].upper() + text[1:]
        if self.agency:
            text = self.agency + text
        return text


def _story(rng: random.Random, lex: list[str]) -> Story:
    lang = rng.choice(["en", "fr"])
    en = lang == "en"
    return Story(
        lang=lang,
        actor=rng.choice(ACTORS_EN if en else ACTORS_FR),
        verb=rng.choice(VERBS_EN if en else VERBS_FR),
        number=rng.choice([rng.randint(2, 999), rng.randint(1000, 999_999)]),
        obj=rng.choice(OBJECTS_EN if en else OBJECTS_FR),
        prep=rng.choice(PREP_EN if en else PREP_FR),
        country=rng.choice(COUNTRIES_EN if en else COUNTRIES_FR),
        filler=[rng.choice(lex) for _ in range(rng.randint(6, 10))],
        aside=[rng.choice(lex) for _ in range(rng.randint(2, 3))] if rng.random() < 0.4 else [],
        speaker=rng.choice(SPEAKERS_EN if en else SPEAKERS_FR),
        quote=rng.choice(["plain", "guillemets" if not en else "curly", "straight"]),
        numfmt=rng.choice(["comma", "none"] if en else ["space", "none", "dot"]),
    )


def _variant(rng: random.Random, s: Story) -> tuple[Story, str]:
    v = Story(**{**s.__dict__, "filler": list(s.filler), "aside": list(s.aside)})
    kinds = rng.sample(VARIANT_KINDS, rng.choice([1, 1, 2, 3]))
    for kind in kinds:
        if kind == "quotes":
            v.quote = rng.choice(
                [q for q in ("plain", "guillemets", "curly", "straight") if q != v.quote]
            )
        elif kind == "nbsp":
            v.nbsp = True
            v.quote = "guillemets"
            v.numfmt = "nbsp"
        elif kind == "dash":
            if not v.aside:
                v.aside = ["en", "bref"] if v.lang == "fr" else ["in", "short"]
            v.dash = rng.choice([d for d in ("—", "–", "-") if d != v.dash])
        elif kind == "drop":
            del v.filler[rng.randrange(len(v.filler))]
        elif kind == "attribution":
            v.attribution = rng.choice(
                [a for a in ("suffix", "inverted", "prefix", "selon") if a != v.attribution]
            )
        elif kind == "agency":
            v.agency = rng.choice(AGENCY_EN if v.lang == "en" else AGENCY_FR)
        elif kind == "number":
            v.numfmt = rng.choice([f for f in ("comma", "space", "none", "nbsp") if f != v.numfmt])
    return v, "+".join(sorted(kinds))


def _negative(rng: random.Random, s: Story) -> tuple[Story, str]:
    v = Story(**{**s.__dict__, "filler": list(s.filler), "aside": list(s.aside)})
    kind = rng.choice(NEGATIVE_KINDS)
    en = v.lang == "en"
    if kind == "negation":
        v.negated = not v.negated
    elif kind == "actor":
        v.actor = rng.choice([a for a in (ACTORS_EN if en else ACTORS_FR) if a != v.actor])
    elif kind == "country":
        v.country = rng.choice(
            [c for c in (COUNTRIES_EN if en else COUNTRIES_FR) if c != v.country]
        )
    elif kind == "number":
        v.number = (
            v.number + rng.choice([1, 2, 10, 100]) * rng.choice([1, -1])
            if v.number > 200
            else v.number + 1
        )
    else:
        pool = SPEAKERS_EN if en else SPEAKERS_FR
        mine = v.speaker.split()[-1]
        v.speaker = rng.choice([p for p in pool if p.split()[-1] != mine])
    return v, "neg:" + kind


def build(n: int, seed: int = 0) -> list[Item]:
    """About ``n`` sentences: 45% story groups (a base and 1-5 variants), 10% hard negatives,
    the rest singletons; shuffled (imports interleave outlets)."""
    rng = random.Random(seed)
    lex = _lexicon(rng, max(5000, min(60_000, n // 5)))
    items: list[Item] = []
    group = 0
    while len(items) < n:
        r = rng.random()
        s = _story(rng, lex)
        if r < 0.45:
            items.append(Item(s.render(), group, "base"))
            for _ in range(rng.randint(1, 5)):
                v, kind = _variant(rng, s)
                items.append(Item(v.render(), group, kind))
            group += 1
            if rng.random() < 0.5:
                v, kind = _negative(rng, s)
                items.append(Item(v.render(), group, kind))
                group += 1
        else:
            items.append(Item(s.render(), group, "single"))
            group += 1
    items = items[:n]
    rng.shuffle(items)
    return items


def truth_pairs(items: list[Item]) -> set[tuple[int, int]]:
    """(i < j) of every two sentences in the same group."""
    by: dict[int, list[int]] = {}
    for i, it in enumerate(items):
        by.setdefault(it.group, []).append(i)
    out: set[tuple[int, int]] = set()
    for members in by.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                out.add((members[x], members[y]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sentences", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for it in sorted(build(args.sentences, args.seed), key=lambda it: it.group):
        print(f"{it.group:5d} {it.kind:28s} {it.text}")


if __name__ == "__main__":
    main()
