"""`stanceterm agreement`: the numbers, the JSON shape, the tables, the errors."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import pytest
from sklearn.metrics import cohen_kappa_score

from stanceterm.cli import main
from stanceterm.schema import load_schema
from stanceterm.store import Annotation, Stance, Store
from tests.conftest import add_article, assert_clean_error, run

FIELD_KEYS = {"field", "metric", "level", "value", "ci_low", "ci_high", "units", "annotators"}


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DB file with hand-checkable labels (see the expected values in the tests)."""
    monkeypatch.chdir(tmp_path)
    for var in ("STANCETERM_DB", "STANCETERM_SCHEMA", "STANCETERM_ANNOTATOR", "COLUMNS"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "t.db"
    store = Store.open(path)
    store.set_label_schema(load_schema())
    add_article(store, "a1", ["s zero.", "s one.", "s two.", "s three.", "s four."])
    ids = [r[1] for r in store.corpus.iter_sentence_rows()]
    putin = store.actors.add("Vladimir Poutine", ["Putin"])
    other = store.actors.add("V. Putin")
    kim = store.actors.add("Kim Jong Un")
    store.actors.add_alias(putin, "V. Putin")  # "V. Putin" is now Poutine: the two ids merge
    for i, who, status, claims, stances in [
        (0, "alice", "done", ("arms_deal",), (Stance("arms_deal", putin, "support"),)),
        (0, "bob", "done", ("arms_deal",), (Stance("arms_deal", other, "support"),)),
        (1, "alice", "done", ("denial",), (Stance("denial", kim, "oppose"),)),
        (1, "bob", "done", ("denial",), ()),
        (2, "alice", "done", (), ()),
        (2, "bob", "skipped", (), ()),
        (3, "alice", "done", ("arms_deal", "denial"), ()),
        (3, "bob", "done", ("arms_deal",), ()),
        (3, "carol", "flagged", ("denial",), ()),
        (4, "alice", "done", ("denial",), ()),
        (4, "bob", "draft", ("denial",), ()),
    ]:
        store.labels.save(Annotation(ids[i], who, status, claims, stances))
    with store.tx():
        store.labels.import_records(
            [
                Annotation(
                    ids[2],
                    "bob",
                    "done",
                    ("sanctions_efficacy",),
                    (),
                    propagated_from=ids[0],
                    created_at="2026-01-01T00:00:00Z",
                    updated_at="2026-01-01T00:00:00Z",
                )
            ]
        )
    store.close()
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def as_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = cli(capsys, *args, "--json")
    assert code == 0, err
    data = orjson.loads(out)  # exactly one JSON object on stdout
    assert isinstance(data, dict)
    return data


def by_field(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["field"]: f for f in data["fields"]}


def test_numbers_match_hand_computation(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = as_json(capsys, "--db", str(db), "agreement", "--bootstrap", "300")
    assert data["annotators"] == ["alice", "bob"]  # carol only flagged: missing by default
    assert data["counted_statuses"] == ["done"]
    fields = by_field(data)
    assert list(fields) == [
        "claims",
        "claim:arms_deal",
        "claim:denial",
        "claim:sanctions_efficacy",
        "stance",
        "actors",
    ]
    for f in data["fields"]:
        assert set(f) >= FIELD_KEYS and f["metric"] == "alpha"
    # units: s0, s1, s3 (s2: bob skipped and his propagated copy is out; s4: bob's draft)
    deny = fields["claim:denial"]
    assert deny["level"] == "nominal" and deny["units"] == 3 and deny["annotators"] == 2
    assert math.isclose(deny["value"], 1 - 5 * 2 / 18)  # T,T / F,F / T,F
    assert deny["ci_low"] <= deny["value"] <= deny["ci_high"]
    assert fields["claim:arms_deal"]["value"] == 1.0  # agreement on every unit, with variation
    # no variation: undefined, null (never an invented 1.0)
    sanctions = fields["claim:sanctions_efficacy"]
    assert sanctions["value"] is None and sanctions["ci_low"] is None and sanctions["units"] == 3
    # stance: (s0, arms_deal, poutine) support/support (ids merged by alias),
    # (s1, denial, kim) oppose/"none": alpha = 1 - 3 * 2 / (16 - 4 - 1 - 1)
    stance = fields["stance"]
    assert stance["units"] == 2 and math.isclose(stance["value"], 0.4)
    assert fields["claims"]["level"] == "masi" and fields["actors"]["level"] == "masi"
    assert "kappa" not in data and "disagreements" not in data


def test_include_flagged_and_min_annotators(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = as_json(capsys, "--db", str(db), "agreement", "--include-flagged", "--bootstrap", "50")
    assert data["annotators"] == ["alice", "bob", "carol"]
    assert data["counted_statuses"] == ["done", "flagged"]
    # claim:denial now F,F / T,T / T,F,T: n = 7, n_T = 4, n_F = 3; the 3-value unit gives
    # o(T,F) = o(F,T) = 2 * 1 / (3 - 1): alpha = 1 - (n - 1) * 2 / (n^2 - 16 - 9) = 0.5
    deny = by_field(data)["claim:denial"]
    assert math.isclose(deny["value"], 1 - 6 * 2 / (49 - 16 - 9))
    three = as_json(
        capsys, "--db", str(db), "agreement", "--include-flagged", "--min-annotators", "3"
    )
    assert all(f["units"] <= 1 for f in three["fields"])
    assert by_field(three)["claims"]["units"] == 1 and three["min_annotators"] == 3


def test_from_export_gives_the_same_numbers(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = db.parent / "ann.jsonl"
    code, _, err = cli(capsys, "--db", str(db), "export", "--out", str(out))
    assert code == 0, err
    args = ("agreement", "--bootstrap", "200", "--seed", "7", "--by", "annotator")
    direct = as_json(capsys, "--db", str(db), *args)
    via_file = as_json(capsys, "--db", str(db), *args, "--from", str(out))
    assert via_file["fields"] == direct["fields"] and via_file["kappa"] == direct["kappa"]
    assert via_file["source"] == str(out)
    # with no DB the alias table is unknown: "V. Putin" stays a separate actor
    bare = as_json(capsys, "--db", str(db.parent / "none.db"), *args, "--from", str(out))
    assert by_field(bare)["claim:denial"] == by_field(direct)["claim:denial"]
    assert by_field(bare)["actors"]["value"] != by_field(direct)["actors"]["value"]
    assert not (db.parent / "none.db").exists()


def test_by_annotator_kappa_matches_sklearn(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = as_json(capsys, "--db", str(db), "agreement", "--by", "annotator", "--include-flagged")
    pairs = {(p["a"], p["b"]): p for p in data["kappa"]["pairs"]}
    assert list(pairs) == [("alice", "bob"), ("alice", "carol"), ("bob", "carol")]
    # claim presence (arms_deal, denial, sanctions_efficacy) on the sentences both labelled
    alice = {0: [1, 0, 0], 1: [0, 1, 0], 2: [0, 0, 0], 3: [1, 1, 0], 4: [0, 1, 0]}
    bob = {0: [1, 0, 0], 1: [0, 1, 0], 3: [1, 0, 0]}
    carol = {3: [0, 1, 0]}
    for (a, b), (x, y) in {
        ("alice", "bob"): (alice, bob),
        ("alice", "carol"): (alice, carol),
        ("bob", "carol"): (bob, carol),
    }.items():
        shared = sorted(set(x) & set(y))
        xs = [v for s in shared for v in x[s]]
        ys = [v for s in shared for v in y[s]]
        assert pairs[(a, b)]["units"] == len(xs)
        assert math.isclose(pairs[(a, b)]["kappa"], cohen_kappa_score(xs, ys))
    code, out, _ = cli(capsys, "--db", str(db), "agreement", "--by", "annotator")
    assert code == 0 and "Cohen's κ" in out and "alice" in out and "—" in out
    k = pairs[("alice", "bob")]["kappa"]
    code, md, _ = cli(
        capsys, "--db", str(db), "agreement", "--by", "annotator", "--format", "markdown"
    )
    assert "| κ (units) | alice | bob |" in md and f"| alice | — | {k:.3f} (9) |" in md
    code, tex, _ = cli(
        capsys, "--db", str(db), "agreement", "--by", "annotator", "--format", "latex"
    )
    assert r"$\kappa$ (units) & alice & bob \\" in tex and f"alice & -- & {k:.3f} (9)" in tex


def test_by_claim_and_by_actor(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    claim = as_json(capsys, "--db", str(db), "agreement", "--by", "claim", "--bootstrap", "20")
    assert [f["field"] for f in claim["fields"]][:2] == ["claim:arms_deal", "stance:arms_deal"]
    assert by_field(claim)["stance:denial"]["claim"] == "denial"
    actor = as_json(capsys, "--db", str(db), "agreement", "--by", "actor", "--bootstrap", "20")
    fields = by_field(actor)
    assert set(fields) == {"actors", "stance@vladimir-poutine", "stance@kim-jong-un"}
    assert fields["stance@vladimir-poutine"]["actor_name"] == "Vladimir Poutine"
    assert fields["stance@vladimir-poutine"]["value"] is None  # one unit, both "support"
    code, out, _ = cli(capsys, "--db", str(db), "agreement", "--by", "actor", "--bootstrap", "20")
    assert code == 0 and "stance @ Kim Jong Un" in out


def test_disagreements_file(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = db.parent / "out" / "dis.jsonl"
    data = as_json(capsys, "--db", str(db), "agreement", "--disagreements", str(target))
    lines = [orjson.loads(x) for x in target.read_bytes().splitlines()]
    assert data["disagreements"] == {"file": str(target), "units": len(lines)}
    # full disagreements first (in field order): claim:denial on s3 (T vs F), the stance
    # (s1, denial, kim) oppose vs none, the actors of s1 ({kim} vs {}); then claims on s3 (MASI)
    assert [(d["field"], d["disagreement"]) for d in lines] == [
        ("claim:denial", 1.0),
        ("stance", 1.0),
        ("actors", 1.0),
        ("claims", round(2 / 3, 6)),
    ]
    assert lines[1]["values"] == {"alice": "oppose", "bob": "none"}
    assert lines[1]["actor"] == "kim-jong-un" and lines[1]["text"] == "s one."
    assert lines[2]["values"] == {"alice": ["kim-jong-un"], "bob": []}
    assert lines[3]["values"] == {"alice": ["arms_deal", "denial"], "bob": ["arms_deal"]}
    assert all({"sentence_id", "text", "field", "values"} <= set(d) for d in lines)


def test_table_markdown_latex(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "--db", str(db), "agreement", "--bootstrap", "50")
    assert code == 0
    assert "Krippendorff's α" in out and "claim:sanctions_efficacy" in out
    assert "n/a" in out and "no variation" in out  # the note for the undefined alpha
    assert "0.444" in out and "skipped, draft, flagged" in err
    code, md, _ = cli(capsys, "--db", str(db), "agreement", "--format", "markdown")
    assert md.startswith("| field | metric | level | α | 95% CI | % agree | units | annotators |")
    assert "| claim:denial | alpha | nominal | 0.444 |" in md
    assert "| claim:sanctions_efficacy | alpha | nominal | n/a | n/a | 100.0 | 3 | 2 |" in md
    code, tex, _ = cli(capsys, "--db", str(db), "agreement", "--format", "latex", "--ci", "0.9")
    assert r"\begin{tabular}" in tex and r"claim:denial & alpha & nominal & 0.444" in tex
    assert r"90\% CI" in tex


def test_too_few_annotators(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "--db", str(db), "agreement", "--annotator", "alice")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "at least 2 annotators; found 1 (alice)" in err
    assert len(err.strip().splitlines()) == 1


def test_bad_from_file_names_the_line(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = db.parent / "bad.jsonl"
    good = {
        "schema_version": 1,
        "sentence_id": "s",
        "article_id": "a",
        "text": "t",
        "annotator": "A",
        "status": "done",
        "claims": [],
        "stances": [],
        "created_at": "x",
        "updated_at": "x",
    }
    bad.write_bytes(orjson.dumps(good) + b"\n" + b"{oops\n")
    code, out, err = cli(capsys, "--db", str(db), "agreement", "--from", str(bad))
    assert code == 1 and out == "" and err.startswith(f"error: {bad}:2: broken JSON")
    code, _, err = cli(capsys, "agreement", "--from", str(db.parent / "missing.jsonl"))
    assert code == 1 and "no such file" in err
    code, _, err = cli(capsys, "--db", str(db), "agreement", "--json", "--disagreements", "-")
    assert code == 1 and "would mix with the JSON" in err


def test_subprocess_help_and_error(db: Path) -> None:
    helped = run("agreement", "--help", cwd=db.parent)
    assert helped.returncode == 0
    for needle in ("Krippendorff", "missing data", '"none" is', "bootstrap", "--min-annotators"):
        assert needle in helped.stdout
    proc = run("--db", str(db), "agreement", "--annotator", "bob", cwd=db.parent)
    assert_clean_error(proc, "at least 2 annotators")


def test_unassisted_only_from_an_export(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--unassisted-only works with --from: the annotations export carries `suggested` per
    label, and a unit is assisted if any label of the file on it had suggestions shown (any
    status it carries). Same figures and counts as on the DB."""
    from dataclasses import replace

    prov = '{"accepted":true,"applied":true,"claims":["arms_deal"],"model":"m"}'
    with Store.open(db) as store:
        ids = [r[1] for r in store.corpus.iter_sentence_rows()]
        add_article(store, "a2", [f"t {i}." for i in range(6)])
        more = [r[1] for r in store.corpus.iter_sentence_rows()][len(ids) :]
        for i, sid in enumerate(more):
            for who in ("alice", "bob"):
                ann = Annotation(sid, who, "done", ("denial",) if (i + len(who)) % 3 else ())
                store.labels.save(replace(ann, suggested=prov) if who == "bob" and i < 2 else ann)
        # a skipped label made with suggestions shown makes its unit assisted too
        skipped = Annotation(more[2], "carol", "skipped", ())
        store.labels.save(replace(skipped, suggested=prov))
    out = db.parent / "ann.jsonl"
    code, _, err = cli(
        capsys, "--db", str(db), "export", "--out", str(out)
    )  # done, skipped, flagged
    assert code == 0, err
    args = ("agreement", "--bootstrap", "100", "--unassisted-only")
    direct = as_json(capsys, "--db", str(db), *args)
    via_file = as_json(capsys, "--db", str(db), *args, "--from", str(out))
    assert direct["suggestions"] == {
        "units": 6,
        "units_with_suggestions": 0,
        "unassisted_only": True,
    }
    assert via_file["suggestions"] == direct["suggestions"]
    assert via_file["fields"] == direct["fields"]
    everything = as_json(capsys, "--db", str(db), "agreement", "--from", str(out))
    assert everything["suggestions"]["units"] == 9
    assert everything["suggestions"]["units_with_suggestions"] == 3
    assert by_field(everything)["claims"]["units"] == 9


def test_terminal_table_fits_80_columns_without_breaking_words() -> None:
    """At 80 columns (tmux) the tables fit and stay readable: no line wider than 80, field
    names and actor names whole on one line (no mid-word wrap), every annotator named in full
    beside its kappa (a matrix that does not fit becomes one line per pair)."""
    import io
    import itertools

    from rich.console import Console

    from stanceterm.cli.render import print_agreement_table
    from stanceterm.reliability import AgreementReport, FieldResult, PairKappa

    def field(name: str, actor: str | None = None, value: float = 0.676) -> FieldResult:
        return FieldResult(
            name, "nominal", value, -0.02, 0.01, 1035055, 12, 0.83, 0.95, 1000, actor=actor
        )

    results = [
        FieldResult("claims", "masi", 0.676, 0.67, 0.68, 1035055, 12, 0.83, 0.95, 1000),
        field("claim:sanctions_efficacy"),
        field("stance"),
        field("stance@jb", actor="jb", value=math.nan),
    ]
    names = [f"annotator-{i}" for i in range(6)]
    pairs = [PairKappa(a, b, 0.731, 123456, 0.9) for a, b in itertools.combinations(names, 2)]
    rep = AgreementReport(
        "t.db",
        names,
        ("done",),
        2,
        0.95,
        1000,
        0,
        "annotator",
        results,
        {"jb": "Jean-Baptiste de la Fontaine-Saint-Exupéry (ministre)"},
        kappa=pairs,
    )
    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=True, color_system=None)
    print_agreement_table(rep, console)
    text = buf.getvalue()
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= 80, text
    for whole in (
        "claim:sanctions_efficacy",
        "Fontaine-Saint-Exupéry",
        "1035055",
        "[-0.020, 0.010]",
    ):
        assert any(whole in ln for ln in lines), (whole, text)
    for a, b in itertools.combinations(names, 2):
        assert any(a in ln and b in ln and "0.731" in ln and "123456" in ln for ln in lines) or (
            any(a in ln for ln in lines) and "…" not in text
        ), text
    assert "…" not in text  # nothing cut short
    assert "masi" in text  # the level is still shown (column or caption)
    # a wide terminal keeps the matrix
    wide = io.StringIO()
    print_agreement_table(
        rep, Console(file=wide, width=200, force_terminal=True, color_system=None)
    )
    assert "Cohen's κ (units) per pair" in wide.getvalue()
    assert any(
        ln.lstrip().startswith("annotator-0") and ln.count("123456") == 5
        for ln in wide.getvalue().splitlines()
    )


def test_piped_tables_follow_columns(db: Path) -> None:
    """`COLUMNS=80 stanceterm agreement --by claim | less`: piped, the table used a width of 200
    and came out 82 columns wide (a new user's report); COLUMNS now sets the width."""
    import os

    for by in ("claim", "actor"):
        p = run(
            "--db",
            str(db),
            "agreement",
            "--by",
            by,
            cwd=db.parent,
            env={**os.environ, "COLUMNS": "60"},
        )
        assert p.returncode == 0, p.stderr
        wide = [ln for ln in p.stdout.splitlines() if len(ln) > 60]
        assert not wide, wide
