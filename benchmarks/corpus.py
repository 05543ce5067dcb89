"""Deterministic synthetic French/English news corpus for the benchmarks (and tests).

    from corpus import make_articles, write_jsonl
    arts = make_articles(200_000, seed=7)   # list of JSONL-ready dicts, ~200k sentences in all

Articles read like wire copy about the North Korea-Russia arms story: short paragraphs of plain
sentences mixed with the things sentence splitters trip on — titles and initials (M. Kim, Mr.
Putin, Dr. Lee, St. Petersburg, U.S., J. Kirby), numbers (3.5 %, 1.2 billion, 2023.), « »/“ ”/"
quotes with the period inside, parentheses, ellipses, questions, colons — and some very long
paragraphs (live blogs, transcripts). Some articles end with comment-form boilerplate. About half
of the articles give ``lang``; the rest leave it to detection. Same ``(n_sentences, seed)``, same
corpus, byte for byte.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson

FR_ACTORS = [
    "Vladimir Poutine",
    "Kim Jong Un",
    "le Kremlin",
    "Dmitri Peskov",
    "Washington",
    "le Département d'État",
    "Matthew Miller",
    "Pyongyang",
    "Moscou",
    "l'ONU",
    "Séoul",
    "le ministère sud-coréen de la Défense",
]
EN_ACTORS = [
    "Vladimir Putin",
    "Kim Jong Un",
    "the Kremlin",
    "Dmitry Peskov",
    "Washington",
    "the State Department",
    "Matthew Miller",
    "Pyongyang",
    "Moscow",
    "the United Nations",
    "Seoul",
    "South Korea's defence ministry",
]
FR_TITLED = ["M. Kim", "M. Poutine", "Mme Choe", "M. Peskov", "Dr Lee", "M. Miller"]
EN_TITLED = [
    "Mr. Kim",
    "Mr. Putin",
    "Ms. Choe",
    "Dr. Lee",
    "Gen. Austin",
    "Sen. Graham",
    "Mr. Miller",
]
FR_VERBS = [
    "a démenti",
    "a affirmé",
    "a dénoncé",
    "a confirmé",
    "a rejeté",
    "a souligné",
    "a reconnu",
    "a mis en garde contre",
]
EN_VERBS = [
    "denied",
    "said",
    "condemned",
    "confirmed",
    "rejected",
    "stressed",
    "acknowledged",
    "warned against",
]
FR_OBJECTS = [
    "les livraisons d'obus à la Russie",
    "tout accord sur les armes",
    "l'efficacité des sanctions internationales",
    "les accusations de Washington",
    "les transferts de missiles balistiques",
    "la coopération militaire entre les deux pays",
    "les images satellites publiées par les analystes",
    "un rapprochement stratégique avec Moscou",
]
EN_OBJECTS = [
    "the shipments of artillery shells to Russia",
    "any arms deal",
    "the effectiveness of international sanctions",
    "the accusations from Washington",
    "the transfers of ballistic missiles",
    "the military cooperation between the two countries",
    "the satellite images released by analysts",
    "a strategic rapprochement with Moscow",
]
FR_TAILS = [
    "selon des responsables américains",
    "lors d'une conférence de presse",
    "dans un communiqué publié mercredi",
    "devant les journalistes",
    "sans fournir de preuves",
    "d'après l'agence officielle KCNA",
]
EN_TAILS = [
    "according to American officials",
    "at a press conference",
    "in a statement released on Wednesday",
    "to reporters",
    "without providing evidence",
    "according to the official KCNA agency",
]
FR_QUOTES = [
    "Nous ne livrons aucune arme",
    "Ces accusations sont sans fondement",
    "La coopération se poursuivra",
    "Il n'y a rien à cacher",
    "Les sanctions ne fonctionnent pas",
]
EN_QUOTES = [
    "We are not supplying any weapons",
    "These accusations are baseless",
    "The cooperation will continue",
    "There is nothing to hide",
    "The sanctions are not working",
]
FR_PLACES = ["Vladivostok", "Saint-Pétersbourg", "le cosmodrome de Vostotchny", "la frontière"]
EN_PLACES = ["Vladivostok", "St. Petersburg", "the Vostochny cosmodrome", "the border"]
BOILERPLATE = {
    "fr": ["Laisser un commentaire", "Votre adresse e-mail ne sera pas publiée."],
    "en": [
        "Leave a Reply",
        "Your email address will not be published. Required fields are marked *",
    ],
}


def _plain(r: random.Random, lang: str) -> str:
    if lang == "fr":
        s = f"{r.choice(FR_ACTORS)} {r.choice(FR_VERBS)} {r.choice(FR_OBJECTS)}"
        if r.random() < 0.6:
            s += f", {r.choice(FR_TAILS)}"
    else:
        s = f"{r.choice(EN_ACTORS)} {r.choice(EN_VERBS)} {r.choice(EN_OBJECTS)}"
        if r.random() < 0.6:
            s += f", {r.choice(EN_TAILS)}"
    return s[0].upper() + s[1:] + "."


def _hard(r: random.Random, lang: str) -> str:
    fr = lang == "fr"
    kind = r.randrange(9)
    n1, n2 = r.randint(2, 98), r.randint(1, 9)
    if kind == 0:  # titles
        who = r.choice(FR_TITLED if fr else EN_TITLED)
        verb = r.choice(FR_VERBS if fr else EN_VERBS)
        obj = r.choice(FR_OBJECTS if fr else EN_OBJECTS)
        return f"{who} {verb} {obj}."
    if kind == 1:  # numbers with decimals
        if fr:
            return f"Les exportations ont progressé de {n1}.{n2} % en {r.randint(2015, 2024)}."
        return f"Exports rose {n1}.{n2}% to ${n2}.{n1} billion in {r.randint(2015, 2024)}."
    if kind == 2:  # quotes with the period inside
        q = r.choice(FR_QUOTES if fr else EN_QUOTES)
        who = r.choice(FR_ACTORS if fr else EN_ACTORS)
        if fr:
            return f"« {q}. » a déclaré {who}." if r.random() < 0.5 else f"« {q} », a dit {who}."
        return f"“{q},” {who} said." if r.random() < 0.5 else f'"{q}." {who} added.'
    if kind == 3:  # U.S., initials
        if fr:
            return f"Le porte-parole J. Kirby a cité les services de renseignement des É.-U. et de l'U.E. {r.choice(FR_TAILS)}."
        return f"U.S. spokesman John F. Kirby cited intelligence {r.choice(EN_TAILS)}."
    if kind == 4:  # ellipsis and question
        if fr:
            return f"Et ensuite… que fera {r.choice(FR_ACTORS)} ?"
        return f"And then... what will {r.choice(EN_ACTORS)} do?"
    if kind == 5:  # parentheses and place
        place = r.choice(FR_PLACES if fr else EN_PLACES)
        return (
            f"La rencontre a eu lieu à {place} (Extrême-Orient russe) le {n1 % 28 + 1} septembre."
            if fr
            else f"The meeting took place in {place} (Russian Far East) on September {n1 % 28 + 1}, "
            f"{r.choice(EN_TAILS)}."
        )
    if kind == 6:  # colon, abbreviations
        if fr:
            return f"Selon le rapport (p. {n1}), les livraisons comprennent des obus, des roquettes, etc. et des missiles."
        return f"The report (p. {n1}) lists shells, rockets, etc. and missiles, approx. {n1} containers."
    if kind == 7:  # times and counts
        if fr:
            return f"Le train est arrivé à {n2 + 8} h {n1 % 60:02d}, avec {n1} wagons."
        return f"The train arrived at {n2}:{n1 % 60:02d} a.m. with {n1} cars."
    return (
        f"Les sanctions de l'ONU visent {n1} entités depuis {r.randint(2006, 2017)}."
        if fr
        else f"UN sanctions have targeted {n1} entities since {r.randint(2006, 2017)}."
    )


def _sentence(r: random.Random, lang: str, hard_share: float) -> str:
    return _hard(r, lang) if r.random() < hard_share else _plain(r, lang)


def make_articles(
    n_sentences: int, seed: int = 0, hard_share: float = 0.35
) -> list[dict[str, str]]:
    """About ``n_sentences`` sentences of synthetic fr/en news, as JSONL-ready article dicts."""
    return list(iter_articles(n_sentences, seed, hard_share))


def iter_articles(n_sentences: int, seed: int = 0, hard_share: float = 0.35):  # type: ignore[no-untyped-def]
    r = random.Random(seed)
    made = 0
    serial = 0
    while made < n_sentences:
        serial += 1
        lang = "fr" if r.random() < 0.5 else "en"
        paragraphs: list[str] = []
        target = min(n_sentences - made, r.randint(8, 40))
        long_para = r.random() < 0.04  # live blogs, transcripts: one huge paragraph
        if long_para:
            target = min(n_sentences - made, r.randint(200, 600))
        count = 0
        while count < target:
            k = target - count if long_para else min(target - count, r.randint(1, 6))
            paragraphs.append(" ".join(_sentence(r, lang, hard_share) for _ in range(k)))
            count += k
        made += count
        if r.random() < 0.2:
            paragraphs += BOILERPLATE[lang]
        title = (
            f"Dépêche {serial} : Moscou et Pyongyang resserrent leurs liens"
            if lang == "fr"
            else f"Dispatch {serial}: Moscow and Pyongyang tighten ties"
        )
        art = {
            "id": f"bench-{seed}-{serial}",
            "title": title,
            "source": r.choice(["AFP", "Reuters", "AP", "Yonhap"]),
            "published": f"2023-09-{r.randint(1, 28):02d}",
            "text": "\n\n".join(paragraphs),
        }
        if r.random() < 0.5:
            art["lang"] = lang
        yield art


def write_jsonl(path: Path, n_sentences: int, seed: int = 0) -> Path:
    with path.open("wb") as f:
        for art in iter_articles(n_sentences, seed):
            f.write(orjson.dumps(art) + b"\n")
    return path
