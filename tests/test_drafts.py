"""Issue 12 §6: nothing typed is invisible.

- ``export`` (default statuses) and ``stats`` say how many drafts were left out, and how to get
  them (``--status draft``);
- a skipped sentence is missing data: its export record carries no claims and no stances.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("STANCETERM_")}
ENV.update(PYTHONPATH=str(ROOT / "src"), COLUMNS="200")


def run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(
        [sys.executable, "-m", "stanceterm", "--db", str(db), *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    return p


def team_db(tmp_path: Path) -> tuple[Path, list[str]]:
    db = tmp_path / "t.db"
    (tmp_path / "a.txt").write_text(
        "Titre\n\nMoscou a nié. Pyongyang a confirmé. Washington a averti. Rien.\n",
        encoding="utf-8",
    )
    run(db, "import", str(tmp_path / "a.txt"))
    out = run(db, "export", "--kind", "sentences", "--out", "-").stdout
    ids = [json.loads(line)["sentence_id"] for line in out.splitlines()]
    stance = {"claim": "denial", "actor": "la Russie", "stance": "support"}
    recs = [
        {"sentence_id": ids[0], "annotator": "alice", "status": "done", "claims": []},
        {"sentence_id": ids[1], "annotator": "alice", "status": "draft", "claims": ["denial"]},
        {"sentence_id": ids[2], "annotator": "alice", "status": "draft", "claims": ["arms_deal"]},
        {"sentence_id": ids[0], "annotator": "bob", "status": "draft", "claims": ["denial"]},
        # skipped after tagging: the claims and the stance stay in the DB (and its history)
        {"sentence_id": ids[3], "annotator": "bob", "status": "skipped", "claims": ["denial"]}
        | {"stances": [stance]},
    ]
    labels = tmp_path / "l.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    run(db, "import-labels", str(labels))
    return db, ids


def test_export_says_how_many_drafts_it_left_out(tmp_path: Path) -> None:
    db, _ = team_db(tmp_path)
    p = run(db, "export", "--out", "-")
    assert len(p.stdout.splitlines()) == 2  # alice's done, bob's skipped
    assert "3 drafts" in p.stderr and "--status draft" in p.stderr, p.stderr
    p = run(db, "export", "--out", "-", "--annotator", "alice")
    assert "2 drafts" in p.stderr, p.stderr
    p = run(db, "export", "--out", "-", "--status", "draft")
    assert len(p.stdout.splitlines()) == 3
    assert "left out" not in p.stderr, p.stderr
    p = run(db, "export", "--kind", "sentences", "--out", "-")
    assert "3 drafts" in p.stderr, p.stderr


def test_stats_says_how_many_drafts_and_how_to_export_them(tmp_path: Path) -> None:
    db, _ = team_db(tmp_path)
    p = run(db, "stats")
    said = p.stdout + p.stderr
    assert "3 drafts" in said and "--status draft" in said, said


def test_a_skipped_sentence_exports_no_claims_and_no_stances(tmp_path: Path) -> None:
    db, ids = team_db(tmp_path)
    out = run(db, "export", "--out", "-", "--annotator", "bob", "--status", "skipped").stdout
    (rec,) = [json.loads(line) for line in out.splitlines()]
    assert rec["sentence_id"] == ids[3] and rec["status"] == "skipped"
    assert rec["claims"] == [] and rec["stances"] == []
    out = run(db, "export", "--kind", "sentences", "--out", "-").stdout
    sent = next(json.loads(x) for x in out.splitlines() if json.loads(x)["sentence_id"] == ids[3])
    (ann,) = sent["annotations"]
    assert ann["status"] == "skipped" and ann["claims"] == [] and ann["stances"] == []
