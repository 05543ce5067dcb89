"""The command line as a user meets it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import orjson
import pytest

from tests.conftest import DEMO, ROOT, assert_clean_error, run


def test_import_export_import_labels_round_trip(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    p = run("--db", db, "import", str(DEMO), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "Imported 1 article," in p.stderr
    again = run("--db", db, "import", str(DEMO), cwd=tmp_path)
    assert "Imported 0 articles," in again.stderr and "skipped 1 article already" in again.stderr
    out = run("--db", db, "export", "--kind", "sentences", "--out", "-", cwd=tmp_path)
    rows = [orjson.loads(x) for x in out.stdout.splitlines()]
    assert rows and rows[0]["index"] == 0 and rows[0]["annotations"] == []
    # label two sentences through import-labels, then export them back byte for byte
    labels = tmp_path / "labels.jsonl"
    recs = []
    for r in rows[:2]:
        recs.append(
            {
                "schema_version": 1,
                "sentence_id": r["sentence_id"],
                "article_id": r["article_id"],
                "text": r["text"],
                "annotator": "alice",
                "status": "done",
                "claims": ["arms_deal"],
                "stances": [
                    {
                        "claim": "arms_deal",
                        "actor": "Vladimir Poutine",
                        "stance": "support",
                        "actor_id": "vladimir-poutine",
                    }
                ],
                "propagated_from": None,
                "note": None,
                "created_at": "2026-01-01T00:00:00.000000Z",
                "updated_at": "2026-01-01T00:00:00.000000Z",
            }
        )
    labels.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))
    p = run("--db", db, "import-labels", str(labels), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    exp = run("--db", db, "export", "--out", "-", cwd=tmp_path)
    assert exp.stdout.encode() == labels.read_bytes()
    stats = run("--db", db, "stats", cwd=tmp_path)
    assert stats.returncode == 0 and "alice" in stats.stdout


def test_default_export_location_is_exports_folder(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    run("--db", db, "import", str(DEMO), cwd=tmp_path)
    p = run("--db", db, "export", "--kind", "sentences", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    files = list((tmp_path / "exports").glob("sentences-*.jsonl"))
    assert len(files) == 1 and files[0].stat().st_size > 0


def test_bad_file_among_good_ones(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"text": "Moscow denied it. Washington insisted."}) + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"text": "fine."}\n{"text": \n')
    db = str(tmp_path / "t.db")
    p = run("--db", db, "import", str(good), str(bad), cwd=tmp_path)
    assert_clean_error(p, f"{bad}:2: broken JSON")
    assert "Imported 1 article," in p.stderr
    assert p.returncode == 1


def test_db_that_is_not_ours(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(4096))
    before = junk.read_bytes()
    p = run("--db", str(junk), "stats", cwd=tmp_path)
    assert_clean_error(p, "not a stanceterm database")
    assert junk.read_bytes() == before


def test_invalid_schema_names_the_field(tmp_path: Path) -> None:
    s = tmp_path / "labels.json"
    data = json.loads((ROOT / "schemas" / "labels.default.json").read_text())
    data["claims"][0]["key"] = 12
    s.write_text(json.dumps(data))
    p = run("--db", str(tmp_path / "t.db"), "--schema", str(s), "import", str(DEMO), cwd=tmp_path)
    assert_clean_error(p, "claims.0.key")


def test_env_db_and_missing_db_for_export(tmp_path: Path) -> None:
    p = run("export", "--out", "-", cwd=tmp_path, env={"STANCETERM_DB": str(tmp_path / "nope.db")})
    assert_clean_error(p, "no such database")


def test_import_labels_unknown_sentence(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    run("--db", db, "import", str(DEMO), cwd=tmp_path)
    f = tmp_path / "l.jsonl"
    f.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "sentence_id": "nope:1",
                "article_id": "x",
                "text": "",
                "annotator": "a",
                "status": "done",
                "claims": [],
                "stances": [],
                "propagated_from": None,
                "note": None,
                "created_at": "t",
                "updated_at": "t",
            }
        )
        + "\n"
    )
    p = run("--db", db, "import-labels", str(f), cwd=tmp_path)
    assert_clean_error(p, f"{f}:1: unknown sentence_id 'nope:1'")


def test_schemas_are_up_to_date(tmp_path: Path) -> None:
    p = run("schemas", "--check", "--dir", str(ROOT / "schemas"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr


def test_schemas_check_detects_stale(tmp_path: Path) -> None:
    p = run("schemas", "--dir", str(tmp_path / "s"), cwd=tmp_path)
    assert p.returncode == 0
    (tmp_path / "s" / "annotation.schema.json").write_text("{}")
    p = run("schemas", "--check", "--dir", str(tmp_path / "s"), cwd=tmp_path)
    assert_clean_error(p, "stale")


@pytest.mark.parametrize(
    "args", [["import", "/definitely/not/here.jsonl"], ["import-labels", "/nope.jsonl"]]
)
def test_missing_files(tmp_path: Path, args: list[str]) -> None:
    p = run("--db", str(tmp_path / "t.db"), *args, cwd=tmp_path)
    assert p.returncode != 0 and "Traceback" not in p.stderr


def test_schema_stance_names_are_plain_identifiers(tmp_path: Path) -> None:
    """Stance names are keys, labels and column values; markup or escapes there are refused."""
    s = tmp_path / "labels.json"
    data = json.loads((ROOT / "schemas" / "labels.default.json").read_text())
    data["stances"] = ["support", "[bold]oppose[/]", "neutral"]
    s.write_text(json.dumps(data))
    p = run("--db", str(tmp_path / "t.db"), "--schema", str(s), "import", str(DEMO), cwd=tmp_path)
    assert_clean_error(p, "stances")
    assert not (tmp_path / "t.db").exists()


@pytest.mark.parametrize(
    ("args", "env", "who"),
    [
        ((), {}, "demo"),
        ((), {"STANCETERM_ANNOTATOR": "lea"}, "demo"),  # the issue: the demo is user "demo"
        (("--annotator", "max"), {"STANCETERM_ANNOTATOR": "lea"}, "max"),
    ],
)
def test_demo_annotates_as_demo_unless_told_otherwise(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    env: dict[str, str],
    who: str,
) -> None:
    from stanceterm import cli as cli_mod
    from stanceterm.cli import annotate

    seen: list[str] = []
    monkeypatch.setattr(annotate, "_annotate", lambda app, name, show_others: seen.append(name))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STANCETERM_DB", raising=False)
    monkeypatch.delenv("STANCETERM_ANNOTATOR", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    cli_mod.main(["demo", *args])
    assert seen == [who]
    assert (tmp_path / "stanceterm-demo.db").exists()


def test_unknown_theme_is_one_clean_line(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    assert run("--db", db, "import", str(DEMO), cwd=tmp_path).returncode == 0
    p = run(
        "--db", db, "annotate", "--annotator", "a", cwd=tmp_path, env={"STANCETERM_THEME": "neon"}
    )
    assert_clean_error(p, "STANCETERM_THEME", "unknown theme 'neon'", "textual-light")
    cfg = tmp_path / "stanceterm.toml"
    cfg.write_text('theme = "neon"\n')
    p = run("--db", db, "review", "--annotator", "j", "--all", cwd=tmp_path)
    assert p.returncode == 0 and "Nothing to review" in p.stderr  # nothing to show: no UI, no check
