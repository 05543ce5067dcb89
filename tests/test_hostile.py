"""Hostile input, fuzzed: every case ends in a clean error or a correct import, never a
traceback or a partial write; export → import-labels → export is byte-identical."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import string
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stanceterm.cli import main
from stanceterm.export import LabelsError, export, import_labels
from stanceterm.ingest import import_file
from stanceterm.schema import load_schema
from stanceterm.store import Annotation, Stance, Store
from tests.conftest import DEMO, add_article

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
        for row in store.corpus.iter_sentence_rows():
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
    actor_id = a.actors.add(actor, created_by="alice")
    stances = tuple(Stance(c, actor_id, "oppose") for c in claims)
    a.labels.save(Annotation("art:0", "alice", status, tuple(claims), stances, note))
    a.labels.save(Annotation("art:1", "bob", "done", ()))
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    export(a, "annotations", one)
    b = fresh()
    add_article(b, "art", [sentence.strip() or "x", "Second."])
    import_labels(b, one, SCHEMA)
    export(b, "annotations", two)
    assert one.read_bytes() == two.read_bytes()


# --------------------------------------------------------------------------- through the CLI
# Each hostile file is given to the real command on a DB that already holds data: the command
# ends with one `error: FILE:LINE: reason` line and exit 1 (no traceback), and the DB is exactly
# as before (counts, history and export bytes), whatever the file held before its bad line.

HUGE = 16 * 1024 * 1024 + 10


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A DB with the demo article and one label; and a valid labels line for that DB."""
    tmp = tmp_path_factory.mktemp("populated")
    db = tmp / "base.db"
    s = Store.open(db)
    s.set_label_schema(SCHEMA)
    assert import_file(s, DEMO).error is None
    first = s.corpus.first()
    assert first is not None
    s.labels.save(Annotation(first.id, "alice", "done", ("denial",)))
    second = s.corpus.step(first.seq)
    assert second is not None
    s.close()
    good = orjson.dumps(
        {
            "schema_version": 1,
            "sentence_id": second.id,
            "article_id": second.article_id,
            "text": second.text,
            "annotator": "bob",
            "status": "done",
            "claims": ["arms_deal"],
            "stances": [{"claim": "arms_deal", "actor": "Kim Jong Un", "stance": "support"}],
            "propagated_from": None,
            "note": None,
            "created_at": "2026-01-01T00:00:00.000000Z",
            "updated_at": "2026-01-01T00:00:00.000000Z",
        }
    )
    return db, good


def _state(db: Path, tmp: Path) -> tuple[dict[str, int], int, bytes]:
    s = Store.open(db)
    try:
        assert s.integrity_ok()
        with s.read() as c:
            events = c.execute("SELECT count(*) FROM annotation_events").fetchone()[0]
        out = tmp / "state.jsonl"
        export(s, "sentences", out)
        return s.counts(), events, out.read_bytes()
    finally:
        s.close()


def _cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, err.getvalue() + out.getvalue()


def _refused(
    populated: tuple[Path, bytes],
    tmp: Path,
    command: str,
    name: str,
    data: bytes,
    where: str,
    reason: str,
) -> None:
    base, _ = populated
    db = tmp / "t.db"
    shutil.copy(base, db)
    before = _state(db, tmp)
    f = tmp / name
    f.write_bytes(data)
    code, output = _cli("--db", str(db), command, str(f))
    assert code == 1, output
    assert "Traceback" not in output and "internal error" not in output, output
    errors = [ln for ln in output.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, output
    assert errors[0].startswith(f"error: {f}{where}: "), errors[0]
    assert reason in errors[0], errors[0]
    assert len(errors[0]) < 2000  # a huge line is not echoed back
    assert _state(db, tmp) == before


ARTICLE = orjson.dumps({"title": "Bonjour", "text": "Une phrase correcte. Une autre."}) + b"\n"


@pytest.mark.parametrize(
    ("name", "data", "where", "reason"),
    [
        ("huge.jsonl", ARTICLE + b'{"text": "' + b"a" * HUGE + b'"}\n', ":2", "longer than"),
        ("huge-no-newline.jsonl", ARTICLE + b"x" * HUGE, ":2", "longer than"),
        ("latin1.jsonl", ARTICLE + '{"text": "Élysée déçu."}\n'.encode("latin-1"), ":2", "UTF-8"),
        ("latin1.txt", "Titre\n\nL'Élysée est déçu.\n".encode("latin-1"), ":3", "UTF-8"),
        ("utf16.jsonl", '{"text": "Bonjour."}\n'.encode("utf-16"), ":1", "UTF-16"),
        ("nul.txt", b"Titre\n\nUne phrase.\x00 Une autre.\n", ":3", "NUL"),
        ("nul.jsonl", ARTICLE + b'{"text": "a\\u0000b."}\n', ":2", "NUL"),
        (
            "deep.jsonl",
            ARTICLE + b'{"text": ' + b"[" * 200_000 + b"]" * 200_000 + b"}\n",
            ":2",
            "broken JSON",
        ),
        ("types.jsonl", ARTICLE + b'{"text": ["list"], "title": 3}\n', ":2", "text"),
        ("garbage.jsonl", ARTICLE + bytes(range(1, 256)) + b"\n", ":2", ""),
    ],
)
def test_cli_import_refuses_hostile_files_cleanly(
    populated: tuple[Path, bytes], tmp_path: Path, name: str, data: bytes, where: str, reason: str
) -> None:
    _refused(populated, tmp_path, "import", name, data, where, reason)


def _label(good: bytes, **change: object) -> bytes:
    rec = orjson.loads(good)
    rec.update(change)
    return orjson.dumps(rec)


@pytest.mark.parametrize(
    ("case", "line", "where", "reason"),
    [
        ("huge", b'{"note": "' + b"a" * HUGE + b'"}', ":2", "longer than"),
        ("latin1", '{"note": "déçu"}'.encode("latin-1"), ":2", "UTF-8"),
        ("nul byte", b'{"note": "a\x00b"}', ":2", "NUL"),
        ("nul escape", None, ":2", "NUL"),
        ("deep", b"[" * 200_000 + b"]" * 200_000, ":2", "broken JSON"),
        ("binary", bytes(range(1, 256)), ":2", ""),
        ("unknown sentence", None, ":2", "unknown sentence_id"),
        ("unknown article", None, ":2", "belongs to article"),
        ("unknown claim", None, ":2", "unknown claim"),
        ("unknown stance", None, ":2", "unknown stance"),
        ("unknown propagated_from", None, ":2", "propagated_from"),
        ("unknown status", None, ":2", "status"),
        ("wrong types", None, ":2", "claims"),
        ("duplicate", None, ":2", "duplicate record"),
    ],
)
def test_cli_import_labels_refuses_hostile_files_cleanly(
    populated: tuple[Path, bytes],
    tmp_path: Path,
    case: str,
    line: bytes | None,
    where: str,
    reason: str,
) -> None:
    _, good = populated
    rec = orjson.loads(good)
    made = {
        "nul escape": _label(good, annotator="carol", note="a\u0000b"),
        "unknown sentence": _label(good, annotator="carol", sentence_id="nope:0"),
        "unknown article": _label(good, annotator="carol", article_id="nope"),
        "unknown claim": _label(good, annotator="carol", claims=["weather"], stances=[]),
        "unknown stance": _label(
            good, annotator="carol", stances=[{**rec["stances"][0], "stance": "love"}]
        ),
        "unknown propagated_from": _label(good, annotator="carol", propagated_from="nope:1"),
        "unknown status": _label(good, annotator="carol", status="maybe"),
        "wrong types": _label(good, annotator="carol", claims="arms_deal"),
        "duplicate": good,
    }
    bad = line if line is not None else made[case]
    # the first line is valid and would be written: the bad second line refuses the whole file
    _refused(
        populated,
        tmp_path,
        "import-labels",
        "labels.jsonl",
        good + b"\n" + bad + b"\n",
        where,
        reason,
    )


@FUZZ
@given(data=st.binary(max_size=2000))
def test_import_labels_arbitrary_bytes(tmp_path: Path, data: bytes) -> None:
    store = fresh()
    add_article(store, "a1", ["Putin said yes."])
    f = tmp_path / "labels.jsonl"
    f.write_bytes(data)
    try:
        res = import_labels(store, f, SCHEMA)
    except LabelsError as exc:
        assert str(exc).startswith(f"{f}:") and "\n" not in str(exc)
        assert store.counts()["annotations"] == 0
        return
    assert res.written == 0 and store.counts()["annotations"] == 0  # only blank lines


@pytest.mark.parametrize("field", ["note", "model", "text"])
def test_a_lone_surrogate_escape_is_one_line_naming_the_line(tmp_path: Path, field: str) -> None:
    """JSON can spell a lone UTF-16 surrogate ("\\ud800"), which is no text (SQLite and orjson
    cannot write it). A guard, green when written: both readers already refuse it as broken JSON
    on one line naming the line (the history-form test's strategy made such strings itself)."""
    from tests.conftest import assert_clean_error, run

    db = tmp_path / "s.db"
    assert run("--db", str(db), "import", str(DEMO), cwd=tmp_path).returncode == 0
    out = run("--db", str(db), "export", "--kind", "sentences", "--out", "-", cwd=tmp_path)
    sid, text = (lambda r: (r["sentence_id"], r["text"]))(orjson.loads(out.stdout.splitlines()[0]))
    if field == "text":
        f = tmp_path / "a.jsonl"
        f.write_text('{"id": "ok", "text": "Un texte."}\n{"id": "x", "text": "Oui \\ud800 non."}\n')
        p = run("--db", str(db), "import", str(f), cwd=tmp_path)
        assert_clean_error(p, f"{f}:2:")
        assert "surrogate" in p.stderr
        assert "ok" not in Store.open(db, read_only=True).corpus.article_ids()
        return
    rec = {"sentence_id": sid, "text": text, "annotator": "alice", "status": "done",
           "claims": ["arms_deal"], "stances": [], "note": "fine"}  # fmt: skip
    line = json.dumps(rec)
    if field == "note":
        line = line.replace('"fine"', '"bad \\ud800"')
    else:
        line = (
            line[:-1]
            + ', "suggested": {"claims": [], "model": "m\\udc00", "accepted": false, "applied": false}}'
        )
    f = tmp_path / "labels.jsonl"
    f.write_text(
        json.dumps({**rec, "sentence_id": sid}).replace("alice", "bob") + "\n" + line + "\n"
    )
    p = run("--db", str(db), "import-labels", str(f), cwd=tmp_path)
    assert_clean_error(p, f"{f}:2:")
    assert "surrogate" in p.stderr
