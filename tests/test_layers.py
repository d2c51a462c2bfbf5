"""No import cycles anywhere in polyim (issue 17 point 6): the registry imports the protocol packages and
they import ``protocols/entry.py``, the HTTP route modules and ``http/server.py`` import
``http/common.py``, the bench's protocol loads import ``bench/load.py`` and ``bench/worker.py`` imports
them. Imports inside functions and under ``TYPE_CHECKING`` count: deferring an import hides a cycle from
the interpreter, not from the next reader."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import polyim

ROOT = Path(polyim.__file__).parent


def _name(path: Path) -> str:
    return ".".join(("polyim", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")


def _imports(tree: ast.AST, modules: set[str]) -> set[str]:
    """The polyim modules one file imports; ``from package import module`` names the module."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            subs = {f"{node.module}.{alias.name}" for alias in node.names}
            found |= subs if subs <= modules else subs | {node.module}
    return found & modules


def test_polyim_has_no_import_cycle() -> None:
    paths = {_name(p): p for p in ROOT.rglob("*.py")}
    modules = set(paths)
    graph = {
        name: _imports(ast.parse(path.read_text(encoding="utf-8")), modules) - {name}
        for name, path in paths.items()
    }
    tuple(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError naming the cycle
