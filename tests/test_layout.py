"""The architecture's one hard rule: the core never imports Textual (DESIGN.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import stanceterm

PACKAGE = Path(stanceterm.__file__).parent
CORE = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in {"__init__", "__main__"})


def test_the_core_modules_are_all_listed() -> None:
    must = {"schema", "store", "ingest", "segment", "dedup", "agreement", "reliability"}
    assert must | {"adjudicate", "export", "team", "actors", "config", "textsafe"} <= set(CORE)


def test_no_core_module_imports_textual() -> None:
    imports = "; ".join(f"import stanceterm.{m}" for m in CORE)
    code = f"import sys; {imports}; bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual'); assert not bad, bad"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_sql_lives_in_the_store() -> None:
    """No other module runs SQL (the store is the only module with a connection)."""
    for path in PACKAGE.rglob("*.py"):
        if path.name == "store.py":
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("import sqlite3", ".execute(", "executemany("):
            assert needle not in text, f"{path.relative_to(PACKAGE)}: {needle}"
