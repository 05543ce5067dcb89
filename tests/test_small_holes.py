"""Issue 12 §8: small holes found in the same review, each through the real CLI.

- sentence-splitting worker processes exit with their parent after a ``kill -9`` of ``import``;
- ``--db`` naming a FIFO or a device is refused in one line (it used to hang), ``--db ''`` too
  (it used to mean ./stanceterm.db);
- annotator names follow one rule everywhere: ``import-labels`` refuses the names that
  ``--annotator`` refuses.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import children_of

ROOT = Path(__file__).resolve().parents[1]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("STANCETERM_")}
ENV.update(PYTHONPATH=str(ROOT / "src"), COLUMNS="200")


def run(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stanceterm", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_error_line(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode != 0, p.stdout + p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    return lines[0]


# --------------------------------------------------------------------------- kill -9 of import


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_import_workers_exit_with_their_parent_after_kill_9(tmp_path: Path) -> None:
    rng = random.Random(8)
    words = ["le", "ministre", "a", "déclaré", "que", "accord", "Moscou", "sanctions", "jeudi"]
    big = tmp_path / "big.jsonl"
    with big.open("w", encoding="utf-8") as f:
        for a in range(400):  # about 4 MB: many pool batches
            text = " ".join(
                " ".join(rng.choice(words) for _ in range(12)).capitalize() + f" ({a}-{i})."
                for i in range(80)
            )
            f.write(json.dumps({"id": f"a{a}", "text": text, "lang": "fr"}) + "\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stanceterm",
            "--db",
            str(tmp_path / "t.db"),
            "import",
            "-j2",
            str(big),
        ],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            workers = children_of(proc.pid)
            time.sleep(0.02)
        assert proc.poll() is None, "import finished before its workers were seen: more text"
        assert len(workers) >= 2, workers
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    until = time.monotonic() + 5
    while time.monotonic() < until and any(Path(f"/proc/{p}").exists() for p in workers):
        time.sleep(0.05)
    alive = [p for p in workers if Path(f"/proc/{p}").exists()]
    for p in alive:  # do not leave them behind when the test fails
        os.kill(p, signal.SIGKILL)
    assert not alive, f"{len(alive)} sentence-splitting worker(s) outlived the killed import"


# --------------------------------------------------------------------------- --db


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("command", [["stats"], ["import", "x.txt"], ["export", "--out", "-"]])
def test_db_naming_a_fifo_is_refused_in_one_line(tmp_path: Path, command: list[str]) -> None:
    fifo = tmp_path / "pipe.db"
    os.mkfifo(fifo)
    (tmp_path / "x.txt").write_text("Titre\n\nUne phrase.\n", encoding="utf-8")
    try:
        p = run("--db", str(fifo), *command, cwd=tmp_path, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("stanceterm hung on a FIFO given as --db")
    line = one_error_line(p)
    assert str(fifo) in line and "not a regular file" in line, line


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_db_naming_a_device_is_refused_in_one_line(tmp_path: Path, device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    try:
        p = run("--db", device, "stats", cwd=tmp_path, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"stanceterm hung on {device} given as --db")
    line = one_error_line(p)
    assert device in line and "not a regular file" in line, line


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_db_path_is_refused(tmp_path: Path, value: str) -> None:
    p = run("--db", value, "stats", cwd=tmp_path)
    line = one_error_line(p)
    assert "--db" in line and "empty" in line, line
    assert not (tmp_path / "stanceterm.db").exists()


# --------------------------------------------------------------------------- annotator names


@pytest.mark.parametrize("name", ["   ", "a\nb", "", "tab\there", "x" * 300, "\x1b[31mred"])
def test_import_labels_refuses_the_names_annotate_refuses(tmp_path: Path, name: str) -> None:
    db = tmp_path / "t.db"
    (tmp_path / "a.txt").write_text("Titre\n\nUne phrase. Une autre.\n", encoding="utf-8")
    assert run("--db", str(db), "import", str(tmp_path / "a.txt"), cwd=tmp_path).returncode == 0
    out = run("--db", str(db), "export", "--kind", "sentences", "--out", "-", cwd=tmp_path)
    sid = json.loads(out.stdout.splitlines()[0])["sentence_id"]
    # the same name, given to the screen: refused before it opens
    p = run("--db", str(db), "annotate", "--annotator", name, cwd=tmp_path)
    one_error_line(p)
    labels = tmp_path / "labels.jsonl"
    good = {"sentence_id": sid, "annotator": "alice", "status": "done", "claims": []}
    bad = {**good, "annotator": name}
    labels.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    p = run("--db", str(db), "import-labels", str(labels), cwd=tmp_path)
    line = one_error_line(p)
    assert f"{labels}:2:" in line and "annotator" in line, line
    # nothing half-written: the good line 1 was not imported either
    out = run("--db", str(db), "export", "--out", "-", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout
