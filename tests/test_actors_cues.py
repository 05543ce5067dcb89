"""actors.actors_in_sentence and actors.cue_names: who a sentence names (feeds the actor picker)."""

from __future__ import annotations

import pytest

from stanceterm.actors import actors_in_sentence, cue_names
from stanceterm.schema import load_schema


@pytest.fixture(scope="module")
def aliases() -> dict[str, str]:
    from stanceterm.actors import slugify

    out: dict[str, str] = {}
    for a in load_schema().actors:
        for alias in [a.name, *a.aliases]:
            out[alias] = slugify(a.name)
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Les deux parties nient l’affirmation des États-Unis selon laquelle les armes "
            "soutiennent la guerre contre l’Ukraine.",
            ["les-etats-unis", "l-ukraine"],
        ),
        ("Moscou a indiqué qu’elle aiderait Pyongyang.", ["la-russie", "la-coree-du-nord"]),
        ("M. Kim a rencontré M. Poutine.", ["kim-jong-un", "vladimir-poutine"]),
        ("LES ETATS-UNIS ont réagi.", ["les-etats-unis"]),  # case and accents folded
        # acronyms only match case-sensitively: « un » and "us" are not the UN or the US
        ("Il s'agit d'un accord, told us nothing.", []),
        ("The US and the UN disagree.", ["les-etats-unis", "l-onu"]),
        ("Kimchi exports rose.", []),  # whole words only
        ("", []),
    ],
)
def test_actors_in_sentence(text: str, expected: list[str], aliases: dict[str, str]) -> None:
    assert actors_in_sentence(text, aliases) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Selon Jean Dupont, rien n'est signé.", ["Jean Dupont"]),
        ("« Non », a déclaré Jean-Yves Le Drian.", ["Jean-Yves Le Drian"]),
        ("M. Dupont a affirmé que oui.", ["M. Dupont"]),
        ("Le ministre Sergueï Lavrov a ajouté que rien ne change.", ["Sergueï Lavrov"]),
        ("Ursula von der Leyen said sanctions work.", ["Ursula von der Leyen"]),
        ("According to the Pentagon, nothing moved.", ["Pentagon"]),
        ("Mr. Blinken denied it, according to John Kirby.", ["Mr. Blinken", "John Kirby"]),
        ("Les deux parties nient tout.", []),  # a sentence opener is not a name
        ("Selon laquelle tout va bien.", []),
        ("Il a nié.", []),
    ],
)
def test_cue_names(text: str, expected: list[str]) -> None:
    assert cue_names(text) == expected


def test_cue_names_leave_out_known_actors(aliases: dict[str, str]) -> None:
    text = "Selon Matthew Miller, porte-parole, et selon Jean Dupont, non."
    assert cue_names(text) == ["Matthew Miller", "Jean Dupont"]
    assert cue_names(text, aliases) == ["Jean Dupont"]
