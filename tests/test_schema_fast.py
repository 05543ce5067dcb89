"""The label schema's check without pydantic (startup, issue 17) is the pydantic model's.

``schema._fast_schema`` takes only plain JSON that the pydantic model takes unchanged; what it
does not take goes through the model (``schema.label_schema_model``). For the bundled schema and
many variants of it (valid, coerced, invalid), and for seeded random mutations:
- whatever the fast check takes, the model takes too, with the same values;
- ``LabelSchema.model_validate`` gives the model's values, or raises its errors word for word.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from pydantic import ValidationError

from stanceterm.schema import (
    LabelSchema,
    SchemaError,
    _fast_schema,
    _from_dump,
    default_schema_path,
    label_schema_model,
    load_schema_text,
)

BASE: dict[str, Any] = json.loads(default_schema_path().read_text(encoding="utf-8"))


def _variant(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    target: Any = d
    for p in path[:-1]:
        target = target[p]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return d


_DELETE = object()

VARIANTS: list[Any] = [
    BASE,
    {"claims": [{"id": "a", "key": 1}]},
    _variant(("extra",), 1),
    _variant(("claims",), _DELETE),
    _variant(("claims",), []),
    _variant(("claims",), [{"id": f"c{i}", "key": 1 + i % 9} for i in range(10)]),
    _variant(("claims", 0, "key"), "3"),
    _variant(("claims", 0, "key"), 0),
    _variant(("claims", 0, "key"), 10),
    _variant(("claims", 0, "key"), True),
    _variant(("claims", 0, "key"), 1.0),
    _variant(("claims", 0, "key"), _DELETE),
    _variant(("claims", 0, "id"), "Bad"),
    _variant(("claims", 0, "id"), "abc\n"),
    _variant(("claims", 0, "id"), 5),
    _variant(("claims", 0, "label"), None),
    _variant(("claims", 0, "other"), "x"),
    _variant(("claims", 0), ["id", "key"]),
    _variant(("claims", 1, "id"), BASE["claims"][0]["id"]),
    _variant(("claims", 1, "key"), BASE["claims"][0]["key"]),
    _variant(("stances",), []),
    _variant(("stances",), ["support", "support"]),
    _variant(("stances",), ["Support"]),
    _variant(("stances",), ["support", 3]),
    _variant(("stances",), "support"),
    _variant(("stances",), _DELETE),
    _variant(("actors",), [{"name": ""}]),
    _variant(("actors",), [{"name": "la Russie", "aliases": "Russie"}]),
    _variant(("actors",), [{"name": "la Russie", "other": 1}]),
    _variant(("actors",), [{"name": "la Russie"}]),
    _variant(("actors",), {"name": "la Russie"}),
    _variant(("boilerplate",), ["("]),
    _variant(("boilerplate",), [1]),
    _variant(("boilerplate",), ["^Lire aussi"]),
    _variant(("name",), 5),
    _variant(("version",), "2"),
    _variant(("version",), True),
    _variant(("version",), 2),
    [BASE],
    "schema",
]


def _model(data: Any) -> tuple[LabelSchema | None, list[Any] | None]:
    """The pydantic model's verdict: (the schema, None) or (None, its errors)."""
    try:
        return _from_dump(label_schema_model().model_validate(data).model_dump()), None
    except ValidationError as exc:
        return None, exc.errors(include_context=False)


def _check(data: Any) -> bool:
    """Asserts the fast check and model_validate agree with the model; True when the fast
    check took ``data``."""
    expected, errors = _model(data)
    fast = _fast_schema(data)
    if fast is not None:
        assert errors is None and fast == expected
    try:
        got = LabelSchema.model_validate(data)
    except ValidationError as exc:
        assert errors is not None and exc.errors(include_context=False) == errors
    else:
        assert got == expected
    return fast is not None


def test_the_bundled_schema_takes_the_fast_path() -> None:
    assert _fast_schema(copy.deepcopy(BASE)) is not None


@pytest.mark.parametrize("data", VARIANTS, ids=range(len(VARIANTS)))
def test_variants_agree_with_the_pydantic_model(data: Any) -> None:
    _check(data)


def test_random_mutations_agree_with_the_pydantic_model() -> None:
    rng = random.Random(17)
    values = [None, 0, 1, 9, 10, -1, True, 2.0, "", "x", "Bad", "ok_id", [], ["a"], {}, {"a": 1}]
    fast = 0
    for _ in range(600):
        d: Any = copy.deepcopy(BASE)
        for _ in range(rng.randint(1, 3)):
            target: Any = d
            while isinstance(target, dict | list) and target and rng.random() < 0.6:
                key = rng.choice(list(target) if isinstance(target, dict) else range(len(target)))
                if not isinstance(target[key], dict | list):
                    break
                target = target[key]
            if isinstance(target, dict) and target:
                key = rng.choice(list(target))
                if rng.random() < 0.2:
                    del target[key]
                else:
                    target[key] = rng.choice(values)
            elif isinstance(target, list) and target:
                target[rng.randrange(len(target))] = rng.choice(values)
        fast += _check(d)
    assert fast > 0  # some mutations stay valid (a label or a key changed in range)


def test_errors_are_worded_by_the_model() -> None:
    bad = json.dumps(_variant(("claims", 0, "key"), 0))
    with pytest.raises(
        SchemaError, match=r"^f: invalid label schema: claims\.0\.key: Input should"
    ):
        load_schema_text(bad, "f")
    dup = json.dumps(_variant(("stances",), ["support", "support"]))
    with pytest.raises(SchemaError, match="stances: must be a non-empty list of distinct names"):
        load_schema_text(dup, "f")


def test_the_dataclass_keeps_the_models_methods() -> None:
    schema = LabelSchema.model_validate(copy.deepcopy(BASE))
    dumped = schema.model_dump(mode="json")
    assert dumped == label_schema_model().model_validate(BASE).model_dump(mode="json")
    copied = schema.model_copy(deep=True)
    copied.claims[0].label = "changed"
    assert schema.claims[0].label != "changed" and copied != schema
    assert LabelSchema.model_json_schema()["title"] == "LabelSchema"
