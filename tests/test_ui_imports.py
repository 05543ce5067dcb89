"""Import hygiene of the UI package, read from the source with ast (nothing is imported).

- No UI module hides an import of another UI module inside a function or under
  ``if TYPE_CHECKING:`` (that is how the old cycles were hidden). The CLI imports the UI lazily on
  purpose (fast start of ``export`` and ``stats``): this rule is for ``stanceterm/ui/`` only.
- The UI modules import each other without a cycle, counting every import (top-level,
  function-level and TYPE_CHECKING ones).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import import_cycles

UI = Path(__file__).resolve().parents[1] / "src" / "stanceterm" / "ui"
PACKAGE = "stanceterm.ui"


def _module_name(path: Path) -> str:
    parts = path.relative_to(UI.parent).with_suffix("").parts
    name = ".".join(("stanceterm", *parts))
    return name.removesuffix(".__init__")


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(UI.rglob("*.py"))}


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _imported(node: ast.Import | ast.ImportFrom, module: str, modules: dict[str, Path]) -> set[str]:
    """The stanceterm.ui modules an import statement imports (``from pkg import mod`` counts
    ``pkg.mod`` when it is a module)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name.startswith(PACKAGE)}
    if node.level:  # relative: resolve against this module's package
        base = module if _is_package(module, modules) else module.rsplit(".", 1)[0]
        for _ in range(node.level - 1):
            base = base.rsplit(".", 1)[0]
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    if not (target == PACKAGE or target.startswith(PACKAGE + ".")):
        return set()
    out = {target}
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        if sub in modules:
            out.add(sub)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(
    tree: ast.AST, hidden: str | None = None
) -> list[tuple[ast.Import | ast.ImportFrom, str | None]]:
    """Every import statement, with where it hides (None: at module level)."""
    out: list[tuple[ast.Import | ast.ImportFrom, str | None]] = []
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.Import | ast.ImportFrom):
            out.append((child, hidden))
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            where = getattr(child, "name", "lambda")
            out.extend(_walk(child, hidden or f"inside function {where}()"))
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                out.extend(_walk(ast.Module(body=[stmt], type_ignores=[]), "under TYPE_CHECKING"))
            for stmt in child.orelse:
                out.extend(_walk(ast.Module(body=[stmt], type_ignores=[]), hidden))
        else:
            out.extend(_walk(child, hidden))
    return out


def _imports() -> dict[str, list[tuple[set[str], str | None, int]]]:
    modules = _modules()
    found: dict[str, list[tuple[set[str], str | None, int]]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        found[name] = [
            (_imported(node, name, modules), hidden, node.lineno) for node, hidden in _walk(tree)
        ]
    return found


def test_the_walk_finds_the_ui_modules() -> None:
    imports = _imports()
    assert {"stanceterm.ui.base", "stanceterm.ui.writer", "stanceterm.ui.keymap"} <= set(imports)
    assert {"stanceterm.ui.base", "stanceterm.ui.writer"} <= {
        m for targets, _, _ in imports["stanceterm.ui.app"] for m in targets
    } | {m for targets, _, _ in imports["stanceterm.ui.base"] for m in targets}


def test_the_walk_sees_hidden_and_relative_imports() -> None:
    """The checker itself: a relative import in a function, an absolute one under
    TYPE_CHECKING, and a module-level ``from stanceterm.ui import keymap`` are all resolved."""
    source = """
from typing import TYPE_CHECKING
from stanceterm.ui import keymap
if TYPE_CHECKING:
    from stanceterm.ui.app import AnnotateApp
def f():
    from ..writer import Job
    from . import help
"""
    modules = _modules()
    found = [
        (sorted(_imported(node, "stanceterm.ui.screens.annotate", modules)), hidden)
        for node, hidden in _walk(ast.parse(source))
    ]
    assert found == [
        ([], None),
        (["stanceterm.ui", "stanceterm.ui.keymap"], None),
        (["stanceterm.ui.app"], "under TYPE_CHECKING"),
        (["stanceterm.ui.writer"], "inside function f()"),
        (["stanceterm.ui.screens", "stanceterm.ui.screens.help"], "inside function f()"),
    ]


def test_no_ui_import_hides_in_a_function_or_type_checking() -> None:
    hidden = [
        f"{name.replace('.', '/')}.py:{line}: imports {', '.join(sorted(targets))} {where}"
        for name, found in _imports().items()
        for targets, where, line in found
        if targets and where is not None
    ]
    assert not hidden, "\n".join(hidden)


def test_cycle_finder_finds_a_cycle() -> None:
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_ui_modules() -> None:
    graph: dict[str, set[str]] = {}
    for name, found in _imports().items():
        targets = graph.setdefault(name, set())
        for imported, _, _ in found:
            # a package's __init__ is imported on the way to its modules; ui's are empty
            targets |= {m for m in imported if m != name}
    assert import_cycles(graph) == []
