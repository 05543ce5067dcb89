"""The architecture's one hard rule: the core never imports Textual (DESIGN.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import stanceterm

PACKAGE = Path(stanceterm.__file__).parent
CORE = sorted(
    [p.stem for p in PACKAGE.glob("*.py") if p.stem not in {"__init__", "__main__"}]
    + [p.parent.name for p in PACKAGE.glob("*/__init__.py") if p.parent.name != "ui"]
)
STORE = PACKAGE / "store"


def test_the_core_modules_are_all_listed() -> None:
    must = {"schema", "store", "ingest", "segment", "dedup", "agreement", "reliability"}
    assert must | {"adjudicate", "export", "team", "actors", "config", "textsafe"} <= set(CORE)


def test_no_core_module_imports_textual() -> None:
    imports = "; ".join(f"import stanceterm.{m}" for m in CORE)
    code = f"import sys; {imports}; bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual'); assert not bad, bad"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_sql_lives_in_the_store() -> None:
    """No module outside the store package runs SQL (the store has the only connections)."""
    assert (STORE / "__init__.py").is_file()
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(STORE):
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("import sqlite3", ".execute(", "executemany("):
            assert needle not in text, f"{path.relative_to(PACKAGE)}: {needle}"


def test_begin_and_commit_only_in_the_store_handle() -> None:
    """One transaction contract: only store/db.py begins and ends transactions."""
    for path in sorted(STORE.glob("*.py")):
        if path.name == "db.py":
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ('"BEGIN', '"COMMIT', '"ROLLBACK', "'BEGIN", "'COMMIT"):
            assert needle not in text, f"store/{path.name}: {needle}"
    assert '"BEGIN IMMEDIATE"' in (STORE / "db.py").read_text(encoding="utf-8")


def test_store_modules_stay_small() -> None:
    """Each store module stays under ~600 lines, or says at its top why not."""
    for path in sorted(STORE.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        n = text.count("\n")
        assert n <= 650 or "Longer than 600 lines because" in text[:2000], f"store/{path.name}: {n}"
