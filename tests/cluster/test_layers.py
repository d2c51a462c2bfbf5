"""The seams' layering: the core imports the cluster's interfaces without a cycle, the interfaces import
only the neutral vocabulary (polyim.model), and the core never imports a protocol (design.md §1)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import polyim

ROOT = Path(polyim.__file__).parent


def imports(package: str) -> dict[str, set[str]]:
    """Module → the polyim modules it imports, for every module of ``package``."""
    graph: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        name = ".".join(("polyim", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        graph[name] = {
            node.module
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("polyim")
        }
    return graph


def test_core_and_cluster_have_no_import_cycle() -> None:
    graph = imports("core") | imports("cluster")
    inside = {m: {d for d in deps if d in graph} for m, deps in graph.items()}
    tuple(graphlib.TopologicalSorter(inside).static_order())  # raises CycleError on a cycle


def test_the_interfaces_import_only_the_vocabulary() -> None:
    """So the core imports them, and a Redis implementation imports them, with no cycle through the core."""
    assert imports("cluster")["polyim.cluster.base"] <= {"polyim.model"}


def test_the_core_imports_no_protocol_transport_or_server() -> None:
    banned = ("polyim.protocols", "polyim.transport", "polyim.http", "polyim.server")
    for module, deps in imports("core").items():
        assert not [d for d in deps if d.startswith(banned)], module
