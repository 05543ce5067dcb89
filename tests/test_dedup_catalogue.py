"""The explained verdict: two sentences merge only when every difference of their word alignment
is in the closed catalogue of benign edits. The near-misses are the issue's own examples (each
merged with the score-and-guard engine) plus one per never-benign class, in French and English."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stanceterm.dedup import cluster_texts, explain, format_explanation
from stanceterm.schema import load_schema


def _aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for actor in load_schema().actors:
        out[actor.name] = actor.name
        for alias in actor.aliases:
            out[alias] = actor.name
    return out


ALIASES = _aliases()

#: never benign: (class, A, B); every pair must stay apart (both orders)
NEAR_MISSES = [
    # role reversal anywhere, not only the speaker
    ("role reversal en", "Russia accused Ukraine of shelling the Zaporizhzhia nuclear plant again on Monday.",
     "Ukraine accused Russia of shelling the Zaporizhzhia nuclear plant again on Monday."),
    ("role reversal fr", "La Russie accuse l'Ukraine d'avoir bombardé la centrale nucléaire lundi soir.",
     "L'Ukraine accuse la Russie d'avoir bombardé la centrale nucléaire lundi soir."),
    ("place swap", "She took a break from Dublin for a few weeks and then went back to Tralee for good.",
     "She took a break from Tralee for a few weeks and then went back to Dublin for good."),
    # lower-case fact words
    ("number words", "Three soldiers were wounded near the border crossing on Tuesday morning, officials said.",
     "Four soldiers were wounded near the border crossing on Tuesday morning, officials said."),
    ("million billion", "The government will spend two million dollars on the new railway line next year.",
     "The government will spend two billion dollars on the new railway line next year."),
    ("months", "The new railway line between the two cities will open in March, the ministry said.",
     "The new railway line between the two cities will open in May, the ministry said."),
    ("weekdays fr", "Les négociations entre les deux délégations reprendront mardi à Genève, a indiqué le ministère.",
     "Les négociations entre les deux délégations reprendront jeudi à Genève, a indiqué le ministère."),
    ("nationality fr", "Le ministre français des Affaires étrangères est arrivé à Kiev pour une visite surprise.",
     "Le ministre allemand des Affaires étrangères est arrivé à Kiev pour une visite surprise."),
    ("antonym en", "Exports of rice to the neighbouring countries increased sharply in the second quarter.",
     "Exports of rice to the neighbouring countries decreased sharply in the second quarter."),
    ("antonym confirmed", "The ministry confirmed that the convoy had crossed the border during the night.",
     "The ministry denied that the convoy had crossed the border during the night."),
    ("antonym fr", "Le porte-parole du Kremlin a confirmé la livraison d'obus nord-coréens à l'armée russe.",
     "Le porte-parole du Kremlin a démenti la livraison d'obus nord-coréens à l'armée russe."),
    ("more less", "The company sold more cars in Europe this year than in the whole of the last decade.",
     "The company sold less cars in Europe this year than in the whole of the last decade."),
    ("before after", "The minister resigned before the vote on the budget in the national assembly.",
     "The minister resigned after the vote on the budget in the national assembly."),
    ("avec sans", "Le texte a été adopté avec les voix des députés de l'opposition mardi soir.",
     "Le texte a été adopté sans les voix des députés de l'opposition mardi soir."),
    ("lower-case place", "They want to go to Ireland next summer with the whole family and the dog.",
     "They want to go to malaysia next summer with the whole family and the dog."),
    # a substituted content word / name
    ("word to name", "You can find the full schedule of the conference on the Web page of the university.",
     "You can find the full schedule of the conference on the Kowalski page of the university."),
    ("name to word", "You can find the full schedule of the conference on the Kowalski page of the university.",
     "You can find the full schedule of the conference on the main page of the university."),
    # an inserted or removed modifier or clause
    ("inserted modifier", "A senior Iranian official said the talks with the European delegation would resume.",
     "A senior Iranian military official said the talks with the European delegation would resume."),
    ("removed clause", "The ministers met again in the evening, after the talks that ended on Friday in Geneva.",
     "The ministers met again in the evening, after the talks."),
    ("who leads", "Seoul ranks second behind Tokyo, although it leads in chip exports.",
     "Seoul ranks second behind Tokyo, which leads in chip exports."),
    ("removed quantifier", "North Korea has shipped more than 1,000 containers of munitions to Russia since September.",
     "North Korea has shipped 1,000 containers of munitions to Russia since September."),
    # attribution stripping that swallows content
    ("attribution tail", "The Kremlin rejected the proposal outright, said Dmitri Peskov.",
     "The Kremlin rejected the proposal outright, said Dmitri Peskov, who also announced new sanctions."),
    ("speaker changed", "The Kremlin rejected the proposal outright, said Dmitri Peskov.",
     "The Kremlin rejected the proposal outright, said Maria Zakharova."),
    # two known names are never typos of each other
    ("iran irak", "Les États-Unis ont accusé l'Iran de livrer des drones à la Russie depuis l'été.",
     "Les États-Unis ont accusé l'Irak de livrer des drones à la Russie depuis l'été."),
    ("austria australia", "The delegation from Austria arrived at the summit late on Sunday evening.",
     "The delegation from Australia arrived at the summit late on Sunday evening."),
    ("negation", "Le Kremlin a nié que la Corée du Nord livre des armes à la Russie depuis l'été.",
     "Le Kremlin n'a pas nié que la Corée du Nord livre des armes à la Russie depuis l'été."),
    ("two names swapped", "Well, you say Miramar on Monday and I say Piramar on Tuesday, as always.",
     "Well, you say Piramar on Monday and I say Miramar on Tuesday, as always."),
    ("number compound", "Ce premier de ses vingt-neuf longs métrages fut un énorme succès populaire.",
     "Ce premier de ses deux-neuf longs métrages fut un énorme succès populaire."),
    ("honorific and article swapped", "Les enfants de Mme Philippe avaient montré leur travail d'après Les contes du chat perché.",
     "Les enfants de Les Philippe avaient montré leur travail d'après Mme contes du chat perché."),
    ("picker alias", "The Kremlin said it had received the letter from Kowalski on Monday.",
     "The Kremlin said it had received the letter from Nowak on Monday."),
    # the quoted attribution's twin: the same move, another speaker
    ("quoted attribution speaker", '"We will not sign the agreement in its current form," said the minister.',
     '"We will not sign the agreement in its current form," Maria Lopez said.'),
    ("quoted attribution inside speaker", '"We will not sign the agreement," the minister said, "in its current form."',
     '"We will not sign the agreement in its current form," the president said.'),
    # two common words one letter apart are two words, not a typo
    ("scarce scare", "Affordable housing in New Orleans is more scarce than ever before, they said.",
     "Affordable housing in New Orleans is more scare than ever before, they said."),
    ("failed filed", "The phone failed a test due to a lost or stolen report at the shop on Monday.",
     "The phone filed a test due to a lost or stolen report at the shop on Monday."),
    ("fact words", "The minister could not say when the talks with the delegation would resume.",
     "The minister would not say when the talks with the delegation would resume."),
    ("can't cat", "The inspectors can't enter the nuclear plant near the front line this week.",
     "The inspectors cat enter the nuclear plant near the front line this week."),
    # a contraction is one written word: two known contractions are two words, the "n't" stays
    ("don't won't", "I don't think the inspectors will enter the nuclear plant this week.",
     "I won't think the inspectors will enter the nuclear plant this week."),
    ("he'll he'd", "He'll tell the inspectors to leave the nuclear plant before the vote.",
     "He'd tell the inspectors to leave the nuclear plant before the vote."),
    ("don't don's", "I don't know what the inspectors found at the nuclear plant this week.",
     "I don's know what the inspectors found at the nuclear plant this week."),
    ("n'est c'est", "Ce n'est pas le rapport que les inspecteurs ont remis au ministre lundi.",
     "Ce c'est pas le rapport que les inspecteurs ont remis au ministre lundi."),
    ("name possessive", "The delegation praised Iran's offer at the summit late on Sunday evening.",
     "The delegation praised Irak's offer at the summit late on Sunday evening."),
]  # fmt: skip

#: benign: (class, A, B); every pair must merge (both orders)
BENIGN_COPIES = [
    ("quotes", "Kim Jong Un a promis « un soutien total » à la Russie dans sa guerre, a déclaré Dmitri Peskov.",
     'Kim Jong Un a promis "un soutien total" à la Russie dans sa guerre, a déclaré Dmitri Peskov.'),
    ("number format", "North Korea has shipped 1,000 containers of munitions to Russia since September.",
     "North Korea has shipped 1\u00a0000 containers of munitions to Russia since September."),
    ("digits words en", "Ten soldiers were wounded near the border crossing on Tuesday morning.",
     "10 soldiers were wounded near the border crossing on Tuesday morning."),
    ("digits words fr", "Les trois soldats blessés près de la frontière ont été évacués mardi matin.",
     "Les 3 soldats blessés près de la frontière ont été évacués mardi matin."),
    ("attribution moved en", "North Korea has shipped 1,000 containers of munitions to Russia since September, Matthew Miller said.",
     "Matthew Miller said North Korea has shipped 1,000 containers of munitions to Russia since September."),
    ("attribution moved fr", "Kim Jong Un a promis un soutien total à la Russie dans sa guerre contre l'Ukraine, a déclaré Dmitri Peskov mercredi soir.",
     "Dmitri Peskov a déclaré que Kim Jong Un a promis un soutien total à la Russie dans sa guerre contre l'Ukraine mercredi soir."),
    ("agency prefix", "Pyongyang a livré des obus à la Russie depuis l'été.",
     "Selon l'AFP, Pyongyang a livré des obus à la Russie depuis l'été."),
    ("dateline", "Pyongyang a livré des obus à la Russie depuis l'été, selon l'AFP.",
     "MOSCOU (AFP) - Pyongyang a livré des obus à la Russie depuis l'été."),
    ("attribution dropped", "The Kremlin rejected the proposal outright, said Dmitri Peskov.",
     "The Kremlin rejected the proposal outright."),
    ("typos", "The government announced that the railway would be extended to the northern provinces.",
     "The govermnent announced that the railway would be extneded to the northern provinces."),
    ("transliteration", "Zelensky met the French president in Kyiv on Tuesday to discuss air defence.",
     "Zelenskyy met the French president in Kiev on Tuesday to discuss air defence."),
    ("abbreviation US", "The US military said the drone was shot down over the Red Sea on Monday.",
     "The U.S. military said the drone was shot down over the Red Sea on Monday."),
    ("abbreviation S&P", "The S&P 500 closed at a record high on Friday after the jobs report.",
     "The Standard & Poor's 500 closed at a record high on Friday after the jobs report."),
    ("function word", "Peskov said that the shipments had arrived in Vladivostok on Tuesday night.",
     "Peskov said the shipments had arrived in Vladivostok on Tuesday night."),
    ("alias", "Vladimir Putin promised to deepen military cooperation with Pyongyang during the summit.",
     "Poutine promised to deepen military cooperation with Pyongyang during the summit."),
    ("case dashes", "Kim Jong Un — who met Putin last week — promised more shells to the Russian army.",
     "Kim Jong Un - who met Putin last week - promised more shells to the Russian army."),
    # a typo that makes a rare word of a common one, in the sentence's language
    ("typo rare word", "We are very glad to have you on board for the new project this year.",
     "We are very glad to have you on bard for the new project this year."),
    ("typo rare word fact", "I would like to forward the following proposal to the whole committee.",
     "I wold like to forward the following proposal to the whole committee."),
    ("typo other language", "Floods in many parts of the country have taken a toll of human lives and homes.",
     "Floods in many parts of the country have taken a toll of human livres and homes."),
    ("typo contraction", "I didn't know what I was missing until the new library opened downtown.",
     "I didnzt know what I was missing until the new library opened downtown."),
    # a quoted sentence whose attribution moves around, or inside, the quote
    ("quoted attribution en", '"We will not sign the agreement in its current form," said the minister.',
     '"We will not sign the agreement in its current form," the minister said.'),
    ("quoted attribution before", 'The minister said: "We will not sign the agreement in its current form."',
     '"We will not sign the agreement in its current form," the minister said.'),
    ("quoted attribution inside", '"We will not sign the agreement," the minister said, "in its current form."',
     '"We will not sign the agreement in its current form," the minister said.'),
    ("quoted attribution fr", "« Nous ne signerons pas, a déclaré le ministre, cet accord en l'état. »",
     "« Nous ne signerons pas cet accord en l'état », a déclaré le ministre."),
    ("typo contraction and words", "I really haven't thought about writing a book on the war in the east.",
     "I really havent thooght abuot writing a book on the war in the east."),
    # a typo inside a contraction, compared as the written word ("do't" is no word)
    ("typo in contraction don't", "Being new in town, I don't really know where is cheap and close to the hall.",
     "Being new in town, I do't really know where is cheap and close to the hall."),
    ("typo in contraction isn't", "Very good for a midnight meal that isn't fast food.",
     "Very good for a midnight meal that in't fast food."),
    ("typo in contraction we're", "As we're getting more of those agreements, I'd like to add a template.",
     "As wi're getting more of those agreements, I'd like to add a template."),
    ("typo in contraction we'll", "Once we get the word from the office we'll let you know.",
     "Once we get the word from the office we'l let you know."),
    ("typo in contraction that's", "And that's the way the greatest bear market since the Depression worked.",
     "And tjhat's the way the greatest bear market since the Depression worked."),
    ("typo in contraction can't", "Does anyone have ideas for restaurants where I can't get lost?",
     "Does anyone have ideas for restaurants where I cn't get lost?"),
    ("typo in contraction initial", "Isn't it the best time of the year to visit the old harbour?",
     "In't it the best time of the year to visit the old harbour?"),
    ("typo in contraction beside number words", "Twenty five of them don't know where the border is, we'll see.",
     "Twenty five of them do't know where the border is, we'l see."),
]  # fmt: skip


@pytest.mark.parametrize("name,a,b", NEAR_MISSES, ids=[n for n, _, _ in NEAR_MISSES])
def test_near_misses_stay_apart(name: str, a: str, b: str) -> None:
    assert cluster_texts([a, b], aliases=ALIASES) == [0, 1], format_explanation(
        explain(a, b, ALIASES)
    )
    assert cluster_texts([b, a], aliases=ALIASES) == [0, 1]
    assert not explain(a, b, ALIASES).merge


@pytest.mark.parametrize("name,a,b", BENIGN_COPIES, ids=[n for n, _, _ in BENIGN_COPIES])
def test_benign_copies_merge(name: str, a: str, b: str) -> None:
    e = explain(a, b, ALIASES)
    assert e.merge, format_explanation(e)
    assert explain(b, a, ALIASES).merge
    assert cluster_texts([a, b], aliases=ALIASES) == [0, 0]


EXPECTED_CLASS = {
    "quotes": "quotes",
    "number format": "number format",
    "digits words en": "number words",
    "digits words fr": "number words",
    "attribution moved en": "attribution moved",
    "attribution moved fr": "attribution moved",
    "agency prefix": "attribution added",
    "dateline": "attribution added",
    "attribution dropped": "attribution dropped",
    "typos": "typo",
    "transliteration": "transliteration",
    "abbreviation US": "abbreviation",
    "abbreviation S&P": "abbreviation",
    "function word": "function word",
    "alias": "alias",
    "case dashes": "dashes",
    "typo rare word": "typo",
    "typo rare word fact": "typo",
    "typo other language": "typo",
    "typo contraction": "typo",
    "typo contraction and words": "typo",
    "typo in contraction don't": "typo",
    "typo in contraction isn't": "typo",
    "typo in contraction we're": "typo",
    "typo in contraction we'll": "typo",
    "typo in contraction that's": "typo",
    "typo in contraction can't": "typo",
    "typo in contraction initial": "typo",
    "typo in contraction beside number words": "typo",
    "quoted attribution en": "attribution moved",
    "quoted attribution before": "attribution moved",
    "quoted attribution inside": "attribution moved",
    "quoted attribution fr": "attribution moved",
}


@pytest.mark.parametrize("name,a,b", BENIGN_COPIES, ids=[n for n, _, _ in BENIGN_COPIES])
def test_each_benign_copy_is_explained_by_its_class(name: str, a: str, b: str) -> None:
    kinds = [d.kind for d in explain(a, b, ALIASES).differences]
    assert EXPECTED_CLASS[name] in kinds


def test_near_miss_reasons() -> None:
    def why(n: str) -> str | None:
        _, a, b = next(x for x in NEAR_MISSES if x[0] == n)
        return explain(a, b, ALIASES).reason

    assert why("role reversal en") == "reordered"
    assert why("place swap") == "reordered"
    assert why("number words") == "number"
    assert why("million billion") == "fact word"
    assert why("antonym fr") == "fact word"
    assert why("inserted modifier") == "content word"
    assert why("attribution tail") == "content word"
    assert why("speaker changed") in {"name", "speaker changed"}
    assert why("word to name") in {"name", "content word"}


def test_picker_alias_is_not_trusted() -> None:
    """An alias only merges when it is in the gazetteer that the engine is given; a name the
    gazetteer does not know is a different name."""
    a = "The Kremlin said it had received the letter from Kowalski on Monday."
    b = "The Kremlin said it had received the letter from Nowak on Monday."
    assert not explain(a, b).merge
    assert explain(a, b, {"Kowalski": "k", "Nowak": "k"}).merge


def test_known_names_from_the_corpus_are_not_typos() -> None:
    a = "The delegation from Balmoral arrived at the summit late on Sunday evening."
    b = "The delegation from Balmorel arrived at the summit late on Sunday evening."
    assert explain(a, b).merge  # an unknown spelling: a typo
    assert not explain(a, b, names={"balmoral": 3, "balmorel": 2}).merge  # two known names
    # in the engine, names come from the corpus: both spellings seen elsewhere
    others = [
        "Balmoral is a castle in Scotland near the river Dee.",
        "The hotel in Balmoral was closed for the whole winter.",
        "Balmorel is a small village in the hills.",
        "We drove to Balmorel in the rain last year.",
    ]
    assert cluster_texts([a, b]) == [0, 0]
    assert cluster_texts([*others, a, b])[-2:] == [4, 5]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.text(max_size=80))
def test_explain_never_fails_and_identical_text_merges(a: str, b: str) -> None:
    e = explain(a, b, ALIASES)
    assert isinstance(e.merge, bool)
    assert explain(a, a, ALIASES).merge
    assert "\n" not in e.summary()


def test_joins_carry_their_difference_summary() -> None:
    from stanceterm.dedup import Deduper

    d = Deduper(aliases=ALIASES)
    _, a, b = next(x for x in BENIGN_COPIES if x[0] == "attribution moved en")
    joins = d.process([("1", a), ("2", b.replace("1,000", "1 000"))])
    assert [(j.member, j.representative) for j in joins] == [("2", "1")]
    assert joins[0].difference == "number format, attribution moved"


def test_short_sentences_with_typos_are_proposed() -> None:
    """Blocking finds most typo copies of short sentences whose every content word has a typo
    (each pair scores >= 90; the whole-word and 4-letter-affix shingles of the old blocking
    proposed 3 of these 12, UD English sentences the old blocking missed; 3-letter affixes alone
    8 of 12; with each word's first and last letters too, all but at most one)."""
    pairs = [
        ("The food tasted like rat feces", "The food tatsed like rat fces"),
        ("From the AP comes this story :", "From the AP cmes this stroy :"),
        ("I would hesitate to recommend anyone.", "I wuold heskitate to reocmmend aynone."),
        ("The furnishing and finishes are great.", "The furnishng and fnishes are gerat."),
        ("All are mathematical, all are linguistic.", "All are mathematicbal, all are lignuistic."),
        ("You would be violating the law.", "You wuold be violatng the law."),
        ("Heather moving in has been a different story.", "Heather movnig in has been a dfferent tsory."),
        ("I'm really surprised by the negative reviews.", "I'm rqally sruprised by the negapive reveiws."),
        ("Will be a repeat customer with discount coupons.", "Will be a repat custoer with dicsount coupons."),
        ("The team focus is prevention and education.", "The team fous is prevention and deucation."),
        ("This is a terrorist organization plain and simple.", "This is a terrroist organication plian and siple."),
        ("I should have asked for a jury.", "I sihould have aqked for a jury."),
    ]  # fmt: skip
    for a, b in pairs:
        assert explain(a, b).merge, format_explanation(explain(a, b))
    found = [a for a, b in pairs if cluster_texts([a, b]) == [0, 0]]
    assert len(found) >= 11, found


def test_contraction_typo_when_the_corpus_capitalises_its_parts() -> None:
    """Short words written with a capital elsewhere in the corpus ("In", "That", in titles) are
    not names that forbid a typo inside a lower-case contraction; two known names still are."""
    others = [
        'She starred in "Live In Concert" and "All That Jazz" last year.',
        'The band recorded "Back In Black" and "That Girl" in one week.',
    ]
    a = "Very good for a midnight meal that isn't fast food."
    b = "Very good for a midnight meal that in't fast food."
    assert cluster_texts([*others, a, b])[-2:] == [2, 2]
    c = "And that's the way the greatest bear market since the Depression worked."
    d = "And tjhat's the way the greatest bear market since the Depression worked."
    assert cluster_texts([*others, c, d])[-2:] == [2, 2]
    # a possessive of two known names stays apart
    e = "The delegation praised Balmoral's offer at the summit late on Sunday evening."
    f = "The delegation praised Balmorel's offer at the summit late on Sunday evening."
    assert not explain(e, f, names={"balmoral": 3, "balmorel": 2}).merge


def test_contraction_typo_is_explained_as_the_written_word() -> None:
    e = explain(
        "Once we get the word from the office we'll let you know, don't worry.",
        "Once we get the word from the office we'l let you know, do't worry.",
    )
    assert e.merge
    assert [(d.kind, d.a, d.b) for d in e.differences] == [
        ("typo", "we'll", "we'l"),
        ("typo", "don't", "do't"),
    ]
    assert '"don\'t" -> "do\'t"' in format_explanation(e)
