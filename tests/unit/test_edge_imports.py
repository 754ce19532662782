"""Issue 20 item 2: the portal and the CLI call workflows; the directory is the library's."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("edge", ["portal", "cli"])
def test_edges_do_not_import_the_directory(edge: str) -> None:
    """No module of the edge imports `apexdir.directory` (even lazily, inside a function)."""
    found = {
        str(path.relative_to(ROOT)): sorted(
            n for n in _imports(path) if n.startswith("apexdir.directory") or n == "ldap3"
        )
        for path in sorted((ROOT / edge).rglob("*.py"))
    }
    assert {path: names for path, names in found.items() if names} == {}
