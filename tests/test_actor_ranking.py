"""The actor picker's ranking (issue 15 §1): the typed text matched against the START of names and
aliases, short aliases whole only, "+ create" first when nothing known matches, the sentence's own
spelling for new names; and who a sentence names (short aliases, apposition cues, « M. Surname »).

Sentences come from the bundled article (data/putin-kim-arms-fr.txt, segmented as `import` does)
and from English wire-style sentences; actors from the default schema's gazetteer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stanceterm.actors import (
    actors_in_sentence,
    alias_key,
    cue_names,
    match_rank,
    name_as_written,
    slugify,
)
from stanceterm.schema import load_schema
from stanceterm.segment import segment_body
from stanceterm.ui.dialogs.actor_picker import Candidate, candidates
from tests.conftest import run_async, settle

ARTICLE = Path(__file__).resolve().parents[1] / "data" / "putin-kim-arms-fr.txt"


def _gazetteer() -> tuple[dict[str, str], dict[str, str]]:
    aliases: dict[str, str] = {}
    names: dict[str, str] = {}
    for a in load_schema().actors:
        aid = slugify(a.name)
        names[aid] = a.name
        for alias in [a.name, *a.aliases]:
            aliases[alias] = aid
    return aliases, names


ALIASES, NAMES = _gazetteer()
_LINES = ARTICLE.read_text(encoding="utf-8").splitlines()
SENTENCES = segment_body("\n".join(_LINES[1:]), "fr", load_schema().boilerplate).sentences


def sent(fragment: str) -> str:
    """The article's sentence containing ``fragment`` (exactly one)."""
    found = [s for s in SENTENCES if fragment in s]
    assert len(found) == 1, (fragment, found)
    return found[0]


S4 = SENTENCES[3]
EN_PESKOV = "Russia denied the US claim that it was buying arms, Peskov said."
EN_DANIELS = (
    "Rorry Daniels, vice president of the Asia Society Policy Institute, said the meeting "
    "showed that sanctions had created a firewall."
)
EN_KIM_DY = (
    "Kim Dong-yup, a professor at the University of North Korean Studies, said shells were old."
)
EN_KJU = "North Korean leader Kim Jong Un met Putin at the cosmodrome."
EN_UNSC = "The UN Security Council has banned arms sales to North Korea."
EN_WASH = "Washington warned Moscow against any arms deal."


def new(name: str) -> tuple[None, str]:
    return (None, name)


# (sentence, typed text, expected first row: an actor id, or (None, name) for "+ create name")
CASES: list[tuple[str, str, str | tuple[None, str]]] = [
    # the failures
    (S4, "russ", "la-russie"),  # not les États-Unis through the alias "US"
    (sent("a déclaré Kim Dong-yup"), "kim dong-yup", new("Kim Dong-yup")),  # not Kim Jong Un
    (sent("Leif-Eric Easley"), "easl", new("Leif-Eric Easley")),
    (sent("Rorry Daniels"), "rorry daniels", new("Rorry Daniels")),  # as written in the sentence
    # French, the bundled article
    (S4, "russie", "la-russie"),
    (S4, "us", "les-etats-unis"),
    (S4, "etats", "les-etats-unis"),
    (S4, "ukr", "l-ukraine"),
    (S4, "", "les-etats-unis"),
    (S4, "Sergueï Lavrov", new("Sergueï Lavrov")),
    (sent("a déclaré Kim Dong-yup"), "kim d", new("Kim Dong-yup")),
    (sent("Leif-Eric Easley"), "leif", new("Leif-Eric Easley")),
    (sent("Leif-Eric Easley"), "seoul", "la-coree-du-sud"),
    (sent("Rorry Daniels"), "ror", new("Rorry Daniels")),
    (sent("Yang Uk"), "yang", new("Yang Uk")),
    (sent("a noté Park Won-gon"), "park", new("Park Won-gon")),
    (sent("Valeriy Akimenko"), "akim", new("Valeriy Akimenko")),
    (sent("M. Poutine a également déclaré"), "pout", "vladimir-poutine"),
    (sent("M. Poutine a également déclaré"), "putin", "vladimir-poutine"),
    (sent("M. Poutine a également déclaré"), "vladimir poutinne", "vladimir-poutine"),
    (sent("M. Kim a semblé"), "kim", "kim-jong-un"),
    (sent("Moscou a indiqué"), "pyong", "la-coree-du-nord"),
    (sent("Moscou a indiqué"), "mosc", "la-russie"),
    (sent("Moscou a indiqué"), "cor", "la-coree-du-nord"),  # in the sentence, over du Sud
    (sent("Matthew Miller"), "miller", "les-etats-unis"),
    (sent("Matthew Miller"), "onu", "l-onu"),
    (sent("Le Kremlin avait"), "krem", "le-kremlin"),
    (sent("Le Kremlin avait"), "wash", "les-etats-unis"),
    (sent("estiment les experts"), "exp", "les-experts"),
    # English
    (EN_PESKOV, "russ", "la-russie"),
    (EN_PESKOV, "pesk", "le-kremlin"),
    (EN_PESKOV, "us", "les-etats-unis"),
    (EN_DANIELS, "rorry", new("Rorry Daniels")),
    (EN_DANIELS, "rorry daniels", new("Rorry Daniels")),
    (EN_KIM_DY, "kim dong", new("Kim Dong-yup")),
    (EN_KJU, "kim jong", "kim-jong-un"),
    (EN_KJU, "north korea", "la-coree-du-nord"),
    (EN_KJU, "mr kim", "kim-jong-un"),
    (EN_UNSC, "un", "l-onu"),
    (EN_UNSC, "sec", "l-onu"),
    (EN_WASH, "united s", "les-etats-unis"),
    (EN_WASH, "John Kirby", new("John Kirby")),
]


def first(sentence: str, typed: str) -> Candidate:
    return candidates(typed, sentence, ALIASES, NAMES)[0]


def test_table_has_enough_cases() -> None:
    assert len(CASES) >= 30
    assert "des États-Unis" in S4 and S4.startswith("Les deux parties nient")


@pytest.mark.parametrize(("sentence", "typed", "expected"), CASES)
def test_first_row_is_the_right_actor(
    sentence: str, typed: str, expected: str | tuple[None, str]
) -> None:
    c = first(sentence, typed)
    got = c.actor_id if c.actor_id is not None else (None, c.name)
    assert got == expected, candidates(typed, sentence, ALIASES, NAMES)[:4]


def test_easl_lists_the_new_name_before_unrelated_actors() -> None:
    cands = candidates("easl", sent("Leif-Eric Easley"), ALIASES, NAMES)
    assert cands[0] == Candidate(None, "Leif-Eric Easley", "in sentence · new", cands[0].rank)
    assert all(c.actor_id is None for c in cands)  # no known actor starts like "easl"


def test_new_name_as_written_in_the_sentence() -> None:
    text = sent("Rorry Daniels")
    assert name_as_written("rorry daniels", text) == "Rorry Daniels"
    assert name_as_written("RORRY", text) == "Rorry"
    assert name_as_written("ror", text) is None  # not a whole word
    cands = candidates("rorry daniels", text, ALIASES, NAMES)
    assert [c.name for c in cands if c.actor_id is None] == ["Rorry Daniels"]
    # a name not among the cues, typed in lower case, is still created as the sentence writes it
    cands = candidates("vostochny", sent("centre spatial Vostochny"), ALIASES, NAMES)
    assert (cands[0].actor_id, cands[0].name) == (None, "Vostochny")


def test_rank_is_a_sortable_key_with_ties() -> None:
    russie = match_rank("russ", "Russie")
    russian_president = match_rank("russ", "Russian President")
    us = match_rank("russ", "US")
    assert russie is not None and russian_president is not None
    assert us is None  # short aliases are matched whole only
    assert russie < russian_president
    assert match_rank("us", "US") is not None  # ...but typed whole, they match
    # equal ranks are equal tuples: a later boost may reorder only those
    assert match_rank("cor", "Corée du Nord") == match_rank("cor", "Corée du Sud")
    assert match_rank("zzz", "la Russie") is None


def test_in_sentence_marker_for_short_aliases() -> None:
    kim_dy = sent("a déclaré Kim Dong-yup")
    assert "kim-jong-un" not in actors_in_sentence(kim_dy, ALIASES)
    assert "kim-jong-un" in actors_in_sentence(sent("M. Kim a semblé"), ALIASES)
    assert "kim-jong-un" not in actors_in_sentence(EN_KIM_DY, ALIASES)
    assert actors_in_sentence("Kim Jong Un met Kim Yo Jong.", ALIASES) == ["kim-jong-un"]
    cands = candidates("", kim_dy, ALIASES, NAMES)
    kju = next(c for c in cands if c.actor_id == "kim-jong-un")
    assert "in sentence" not in kju.why


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Rorry Daniels, vice-présidente de l'Asia Society Policy Institute, a déclaré que non.",
            ["Rorry Daniels"],
        ),
        ("Yang Uk, chercheur à l'institut Asan, a déclaré qu'il doutait.", ["Yang Uk"]),
        (EN_DANIELS, ["Rorry Daniels"]),
        (EN_KIM_DY, ["Kim Dong-yup"]),
        (
            "Mais rien n'est simple pour Pyongyang, a noté Park Won-gon, professeur.",
            ["Park Won-gon"],
        ),
        ("Park Won-gon a noté que rien n'est simple.", ["Park Won-gon"]),
        # an opening clause is not an apposition: no name before its comma
        ("Mardi, le porte-parole, a déclaré que non.", []),
    ],
)
def test_apposition_and_a_note_cues(text: str, expected: list[str]) -> None:
    assert cue_names(text) == expected


def test_civility_title_links_a_surname_to_a_known_actor() -> None:
    aliases = {**ALIASES, "Valeriy Akimenko": "valeriy-akimenko"}
    names = {**NAMES, "valeriy-akimenko": "Valeriy Akimenko"}
    text = "Selon M. Akimenko, l'artillerie est décisive."
    assert actors_in_sentence(text, aliases) == ["valeriy-akimenko"]
    assert cue_names(text, aliases) == []  # not offered again as a new « M. Akimenko »
    assert actors_in_sentence("Dr Akimenko said so.", aliases) == ["valeriy-akimenko"]
    assert actors_in_sentence("Akimenko Street is long.", aliases) == []  # no title, no link
    c = candidates("", text, aliases, names)[0]
    assert (c.actor_id, c.why) == ("valeriy-akimenko", "in sentence")
    assert candidates("akim", text, aliases, names)[0].actor_id == "valeriy-akimenko"


def test_alias_key_unchanged() -> None:
    assert alias_key("les États-Unis") == "les etats unis"


# --------------------------------------------------------------------------- the real picker


@run_async
async def test_pilot_russ_enter_saves_la_russie(tmp_path: Path) -> None:
    from stanceterm.ingest import import_file
    from stanceterm.store import Stance, Store
    from stanceterm.ui.app import StanceApp
    from stanceterm.ui.dialogs.actor_picker import ActorPicker
    from stanceterm.ui.dialogs.prompts import StancePrompt

    store = Store.open(tmp_path / "demo.db")
    schema = load_schema()
    store.set_label_schema(schema)
    result = import_file(store, ARTICLE, boilerplate=schema.boilerplate)
    assert result.error is None
    app = StanceApp(store, schema, "alice")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            await pilot.press("j", "j", "j")  # sentence 4
            await settle(app, pilot)
            await pilot.press("1", "a")
            await pilot.pause()
            picker = app.screen
            assert isinstance(picker, ActorPicker)
            await pilot.press(*"russ")
            await pilot.pause()
            assert picker.query_one("#actor-options").highlighted == 0  # type: ignore[attr-defined]
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, StancePrompt)
            await pilot.press("s")
            await settle(app, pilot)
        found = [store.corpus.sentence_at(seq) for seq in range(1, 10)]
        sid = next(s.id for s in found if s and s.text.startswith("Les deux parties"))
        a = store.labels.get(sid, "alice")
        assert a is not None and a.stances == (Stance("arms_deal", "la-russie", "support"),)
    finally:
        store.close()
