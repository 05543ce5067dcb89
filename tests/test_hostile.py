"""Hostile input, fuzzed: every case ends in a clean error or a correct import, never a
traceback or a partial write; export → import-labels → export is byte-identical."""

from __future__ import annotations

import json
import string
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stanceterm.export import LabelsError, export, import_labels
from stanceterm.ingest import import_file
from stanceterm.schema import load_schema
from stanceterm.store import Annotation, Stance, Store
from tests.conftest import add_article

SCHEMA = load_schema()
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def fresh() -> Store:
    s = Store.memory()
    s.set_label_schema(SCHEMA)
    return s


def _check_import(tmp: Path, name: str, data: bytes) -> None:
    store = fresh()
    f = tmp / name
    f.write_bytes(data)
    res = import_file(store, f)
    if res.error is not None:
        assert res.error.startswith(str(f))
        assert "\n" not in res.error
        assert store.counts()["articles"] == 0 and store.counts()["sentences"] == 0
    else:
        counts = store.counts()
        assert counts["articles"] == res.counts.articles_added
        for row in store.iter_sentence_rows():
            assert row[4] and row[4] == row[4].strip() and "\x00" not in row[4]
    assert store.integrity_ok()


@FUZZ
@given(data=st.binary(max_size=3000))
def test_import_arbitrary_bytes_jsonl(tmp_path: Path, data: bytes) -> None:
    _check_import(tmp_path, "x.jsonl", data)


@FUZZ
@given(data=st.binary(max_size=3000))
def test_import_arbitrary_bytes_txt(tmp_path: Path, data: bytes) -> None:
    _check_import(tmp_path, "x.txt", data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
article_like = st.fixed_dictionaries(
    {},
    optional={
        "text": st.text(max_size=300) | json_values,
        "id": st.text(max_size=20) | json_values,
        "title": st.text(max_size=30) | json_values,
        "lang": st.sampled_from(["fr", "en", "de", "", "x" * 10]) | json_values,
        "published": json_values,
    },
)


@FUZZ
@given(records=st.lists(article_like, min_size=1, max_size=5))
def test_import_jsonl_wrong_types(tmp_path: Path, records: list[dict[str, object]]) -> None:
    data = "".join(json.dumps(r) + "\n" for r in records).encode("utf-8", "surrogatepass")
    _check_import(tmp_path, "typed.jsonl", data)


def test_import_deep_nesting_and_huge_line(tmp_path: Path) -> None:
    _check_import(tmp_path, "deep.jsonl", b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n")
    huge = orjson.dumps({"text": "Une phrase assez longue. " * 2_000}) + b"\n"
    store = fresh()
    f = tmp_path / "huge.jsonl"
    f.write_bytes(huge)
    res = import_file(store, f)
    assert res.error is None and store.counts()["sentences"] == 2_000


label_record = st.fixed_dictionaries(
    {
        "schema_version": st.sampled_from([1, 1, 1, 0, 2]),
        "sentence_id": st.sampled_from(["a1:0", "a1:1", "a2:0", "zz:1", ""]),
        "article_id": st.sampled_from(["a1", "a2"]),
        "text": st.text(max_size=10),
        "annotator": st.sampled_from(["alice", "bob", "", "x" * 200]),
        "status": st.sampled_from(["done", "skipped", "flagged", "draft", "maybe"]),
        "claims": st.lists(st.sampled_from([*SCHEMA.claim_ids, "weather"]), max_size=3),
        "stances": st.lists(
            st.fixed_dictionaries(
                {
                    "claim": st.sampled_from([*SCHEMA.claim_ids, "weather"]),
                    "actor": st.text(string.ascii_letters + " '", min_size=0, max_size=12),
                    "stance": st.sampled_from([*SCHEMA.stances, "love"]),
                }
            ),
            max_size=3,
        ),
        "propagated_from": st.none() | st.sampled_from(["a1:0", "nope"]),
        "note": st.none() | st.text(max_size=20),
        "created_at": st.just("2026-01-01T00:00:00.000000Z"),
        "updated_at": st.just("2026-01-01T00:00:00.000000Z"),
    }
)


@FUZZ
@given(records=st.lists(label_record | json_values, min_size=1, max_size=6))
def test_import_labels_hostile(tmp_path: Path, records: list[object]) -> None:
    store = fresh()
    add_article(store, "a1", ["Putin said yes.", "Kim denied it."])
    add_article(store, "a2", ["Washington warned Moscow."])
    f = tmp_path / "labels.jsonl"
    f.write_bytes("".join(json.dumps(r) + "\n" for r in records).encode("utf-8", "surrogatepass"))
    try:
        res = import_labels(store, f, SCHEMA)
    except LabelsError as exc:
        msg = str(exc)
        assert msg.startswith(f"{f}:") and "\n" not in msg
        assert store.counts()["annotations"] == 0
        assert store.conn.execute("SELECT count(*) FROM annotation_events").fetchone()[0] == 0
        return
    assert store.counts()["annotations"] == res.written


texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=60,
)


@FUZZ
@given(
    note=st.none() | texts,
    actor=texts.filter(lambda t: t.strip() != ""),
    sentence=texts.filter(lambda t: t.strip() != ""),
    claims=st.lists(st.sampled_from(SCHEMA.claim_ids), unique=True, max_size=3),
    status=st.sampled_from(["done", "skipped", "flagged"]),
)
def test_export_import_export_byte_identical(
    tmp_path: Path, note: str | None, actor: str, sentence: str, claims: list[str], status: str
) -> None:
    a = fresh()
    add_article(a, "art", [sentence.strip() or "x", "Second."])
    actor_id = a.add_actor(actor, created_by="alice")
    stances = tuple(Stance(c, actor_id, "oppose") for c in claims)
    a.save(Annotation("art:0", "alice", status, tuple(claims), stances, note))
    a.save(Annotation("art:1", "bob", "done", ()))
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    export(a, "annotations", one)
    b = fresh()
    add_article(b, "art", [sentence.strip() or "x", "Second."])
    import_labels(b, one, SCHEMA)
    export(b, "annotations", two)
    assert one.read_bytes() == two.read_bytes()
