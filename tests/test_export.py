from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from stanceterm.export import Filters, LabelsError, export, import_labels
from stanceterm.records import AnnotationRecord, GoldRecord, SentenceRecord
from stanceterm.store import Annotation, Gold, Stance, Store


def _label(store: Store) -> None:
    pid = store.actors.resolve("Putin")
    assert pid
    store.labels.save(
        Annotation("a1:0", "alice", "done", ("arms_deal",), (Stance("arms_deal", pid, "support"),))
    )
    store.labels.save(Annotation("a1:1", "alice", "done", ()))  # "no claim"
    store.labels.save(Annotation("a1:2", "alice", "skipped"))  # missing
    store.labels.save(Annotation("a1:0", "bob", "flagged", ("denial",), note="unsure « » [bold]"))
    store.labels.save(Annotation("a2:0", "bob", "draft", ("denial",)))


def _lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


def test_annotations_export_fields(filled: Store, tmp_path: Path) -> None:
    _label(filled)
    out = tmp_path / "ann.jsonl"
    n = export(filled, "annotations", out, Filters(statuses=("done", "skipped", "flagged")))
    rows = _lines(out)
    assert n == 4 == len(rows)
    for r in rows:
        AnnotationRecord.model_validate(r)
    first = rows[0]
    assert first["sentence_id"] == "a1:0" and first["annotator"] == "alice"
    assert first["stances"] == [
        {
            "claim": "arms_deal",
            "actor": "Vladimir Poutine",
            "stance": "support",
            "actor_id": "vladimir-poutine",
        }
    ]
    by = {(r["sentence_id"], r["annotator"]): r for r in rows}
    assert by[("a1:1", "alice")]["status"] == "done" and by[("a1:1", "alice")]["claims"] == []
    assert by[("a1:2", "alice")]["status"] == "skipped"
    assert by[("a1:0", "bob")]["note"] == "unsure « » [bold]"


def test_filters(filled: Store, tmp_path: Path) -> None:
    _label(filled)
    out = tmp_path / "x.jsonl"
    assert (
        export(filled, "annotations", out, Filters(annotators=("bob",), statuses=("draft",))) == 1
    )
    assert export(filled, "annotations", out, Filters(articles=("a2",))) == 1


def test_sentences_export(filled: Store, tmp_path: Path) -> None:
    _label(filled)
    out = tmp_path / "s.jsonl"
    assert export(filled, "sentences", out) == 5
    rows = _lines(out)
    for r in rows:
        SentenceRecord.model_validate(r)
    assert rows[0]["index"] == 0 and rows[0]["cluster_id"] is None
    assert [a["annotator"] for a in rows[0]["annotations"]] == ["alice", "bob"]  # type: ignore[index]


def test_gold_export(filled: Store, tmp_path: Path) -> None:
    out = tmp_path / "g.jsonl"
    assert export(filled, "gold", out) == 0 and out.read_bytes() == b""
    pid = filled.actors.resolve("Putin")
    assert pid
    filled.gold.set(
        Gold(
            "a1:0",
            "gold",
            ("arms_deal",),
            (Stance("arms_deal", pid, "support"),),
            "carol",
            "alice",
            [
                {
                    "annotator": "alice",
                    "status": "done",
                    "claims": ["arms_deal"],
                    "stances": [{"claim": "arms_deal", "actor": pid, "stance": "support"}],
                }
            ],
        )
    )
    assert export(filled, "gold", out) == 1
    rec = GoldRecord.model_validate(_lines(out)[0])
    assert rec.adjudicator == "carol" and rec.sources[0].stances[0].actor == "Vladimir Poutine"


def test_round_trip_is_identity(filled: Store, tmp_path: Path, schema) -> None:  # type: ignore[no-untyped-def]
    _label(filled)
    first = tmp_path / "one.jsonl"
    export(filled, "annotations", first)
    fresh = Store.memory()
    fresh.set_label_schema(schema)
    from tests.conftest import add_article

    add_article(fresh, "a1", ["Putin said yes.", "Kim denied it.", "Sanctions fail."])
    add_article(fresh, "a2", ["Washington warned Moscow.", "Nothing else."])
    res = import_labels(fresh, first, schema)
    assert res.written == 5  # drafts included: no status filter
    second = tmp_path / "two.jsonl"
    export(fresh, "annotations", second)
    assert first.read_bytes() == second.read_bytes()
    again = import_labels(fresh, first, schema)  # idempotent
    assert again.written == 0 and again.unchanged == 5
    # and into the original DB: nothing changes
    assert import_labels(filled, first, schema).written == 0


def _rec(**over: object) -> bytes:
    base: dict[str, object] = {
        "schema_version": 1,
        "sentence_id": "a1:0",
        "article_id": "a1",
        "text": "Putin said yes.",
        "annotator": "zoe",
        "status": "done",
        "claims": ["arms_deal"],
        "stances": [{"claim": "arms_deal", "actor": "Putin", "stance": "support"}],
        "propagated_from": None,
        "note": None,
        "created_at": "2026-01-01T00:00:00.000000Z",
        "updated_at": "2026-01-01T00:00:00.000000Z",
    }
    base.update(over)
    return orjson.dumps(base)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (_rec(claims=["weather"]), "unknown claim 'weather'"),
        (
            _rec(stances=[{"claim": "arms_deal", "actor": "X", "stance": "love"}]),
            "unknown stance 'love'",
        ),
        (_rec(sentence_id="zz:9"), "unknown sentence_id 'zz:9'"),
        (_rec(article_id="a2"), "belongs to article"),
        (_rec(status="maybe"), "status"),
        (
            _rec(stances=[{"claim": "denial", "actor": "X", "stance": "oppose"}]),
            "not among the claims",
        ),
        (b'{"broken": ', "broken JSON"),
        (_rec(schema_version=99), "schema_version"),
        (_rec(annotator="a\u0000b"), "NUL"),
    ],
)
def test_import_labels_errors_name_line_and_write_nothing(
    filled: Store,
    tmp_path: Path,
    schema,
    bad: bytes,
    match: str,  # type: ignore[no-untyped-def]
) -> None:
    f = tmp_path / "labels.jsonl"
    f.write_bytes(
        _rec(sentence_id="a1:1", text="Kim denied it.", claims=[], stances=[]) + b"\n" + bad + b"\n"
    )
    with pytest.raises(LabelsError, match=match) as info:
        import_labels(filled, f, schema)
    assert str(info.value).startswith(f"{f}:2: ")
    assert filled.counts()["annotations"] == 0
    assert filled.conn.execute("SELECT count(*) FROM annotation_events").fetchone()[0] == 0


def test_import_labels_creates_unknown_actor(filled: Store, tmp_path: Path, schema) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "l.jsonl"
    f.write_bytes(
        _rec(stances=[{"claim": "arms_deal", "actor": "Valeriy Akimenko", "stance": "neutral"}])
        + b"\n"
    )
    res = import_labels(filled, f, schema)
    assert res.actors_created == 1
    ann = filled.labels.get("a1:0", "zoe")
    assert ann is not None and ann.stances[0].actor == "valeriy-akimenko"


def test_export_never_leaves_partial_file(
    filled: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _label(filled)
    out = tmp_path / "keep.jsonl"
    out.write_bytes(b"old content\n")
    import stanceterm.export as ex

    def boom(store: Store, filters: Filters, counts: object):  # type: ignore[no-untyped-def]
        yield b"{}\n"
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(ex.WRITERS, "annotations", boom)
    with pytest.raises(RuntimeError):
        export(filled, "annotations", out)
    assert out.read_bytes() == b"old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.jsonl"]


def test_export_to_a_device_writes_through(filled: Store, tmp_path: Path) -> None:
    """Exporting to /dev/null (or a FIFO) must not replace the device with a regular file."""
    import os
    import stat

    _label(filled)
    assert export(filled, "annotations", os.devnull) == 5
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    export(filled, "annotations", fifo)
    reader.join(10)
    assert got and got[0].count(b"\n") == 5
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_import_labels_reads_minimal_hand_written_records(
    filled: Store,
    tmp_path: Path,
    schema,  # type: ignore[no-untyped-def]
) -> None:
    """sentence_id, annotator, status (+ claims, stances) suffice; the rest is filled in."""
    f = tmp_path / "hand.jsonl"
    lines = [
        {
            "sentence_id": "a1:0",
            "annotator": "zoe",
            "status": "done",
            "claims": ["arms_deal"],
            "stances": [{"claim": "arms_deal", "actor": "Putin", "stance": "support"}],
        },
        {"sentence_id": "a1:1", "annotator": "zoe", "status": "skipped"},
    ]
    f.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    first = import_labels(filled, f, schema)
    assert first.written == 2
    a = filled.labels.get("a1:0", "zoe")
    assert a is not None and a.claims == ("arms_deal",) and a.created_at and a.updated_at
    again = import_labels(filled, f, schema)  # no timestamps, same labels: nothing changes
    assert (again.written, again.unchanged) == (0, 2)
    assert filled.labels.get("a1:0", "zoe") == a
    out = tmp_path / "out.jsonl"
    export(filled, "annotations", out)
    recs = [AnnotationRecord.model_validate_json(x) for x in out.read_bytes().splitlines()]
    assert {(r.sentence_id, r.article_id, r.text) for r in recs} == {
        ("a1:0", "a1", "Putin said yes."),
        ("a1:1", "a1", "Kim denied it."),
    }
    f.write_bytes(orjson.dumps({**lines[0], "article_id": "a2"}) + b"\n")
    with pytest.raises(LabelsError, match=r"hand.jsonl:1: .*belongs to article 'a1'"):
        import_labels(filled, f, schema)


def test_stance_render_cache_is_small_per_entry() -> None:
    """The render cache keeps its fragments in buffers of their own size: orjson's output is
    over-allocated (kilobytes for a short list), and 20,000 such entries once made the export's
    memory grow by ~40 MB on varied labels (issue 17: RSS growth < 50 MB from 10k to 1M rows)."""
    import tracemalloc

    import stanceterm.export as ex

    names = {f"actor-{i}": f"Actor {i}" for i in range(5000)}
    render = ex._StanceRenderer(names, limit=20_000)
    raws = [
        orjson.dumps([{"claim": "arms_deal", "actor": f"actor-{i}", "stance": "support"}]).decode()
        for i in range(5000)
    ]
    tracemalloc.start()
    try:
        for raw in raws:
            render(raw)
        used, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(render.cache) == 5000
    assert used / 5000 < 400, f"{used / 5000:.0f} bytes per cached stance list"
