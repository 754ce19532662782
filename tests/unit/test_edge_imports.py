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


@pytest.mark.parametrize("edge", ["portal", "cli", "daemon"])
def test_edges_do_not_import_the_directory(edge: str) -> None:
    """No module of the edge imports `apexdir.directory` (even lazily, inside a function)."""
    found = {
        str(path.relative_to(ROOT)): sorted(
            n for n in _imports(path) if n.startswith("apexdir.directory") or n == "ldap3"
        )
        for path in sorted((ROOT / edge).rglob("*.py"))
    }
    assert {path: names for path, names in found.items() if names} == {}


def test_ldap3_only_in_the_directory_layer() -> None:
    """ldap3 is the directory layer's business: no other module of the library imports it."""
    found = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "apexdir").rglob("*.py")
        if "directory" not in path.relative_to(ROOT / "apexdir").parts[:1]
        and any(n == "ldap3" or n.startswith("ldap3.") for n in _imports(path))
    )
    assert found == []


def test_aiosmtpd_is_not_a_runtime_dependency() -> None:
    """The dev SMTP sink's server lives in the `dev` extra; the product never imports it."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not any(d.startswith("aiosmtpd") for d in project["dependencies"])
    users = sorted(
        str(path.relative_to(ROOT))
        for edge in ("apexdir", "portal", "daemon", "cli")
        for path in (ROOT / edge).rglob("*.py")
        if "dev" not in path.relative_to(ROOT / edge).parts[:1]
        and any(n.startswith("aiosmtpd") for n in _imports(path))
    )
    assert users == []


def test_no_product_module_over_400_lines() -> None:
    """Issue 20: a module does one job; past 400 lines it is doing two."""
    long = {
        str(path.relative_to(ROOT)): n
        for edge in ("apexdir", "portal", "daemon", "cli")
        for path in (ROOT / edge).rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}


def test_no_product_function_over_60_lines() -> None:
    """Issue 20: past 60 lines a function is doing several things; split it by what it does."""
    long = {
        f"{path.relative_to(ROOT)}:{node.name}": n
        for edge in ("apexdir", "portal", "daemon", "cli")
        for path in (ROOT / edge).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (n := (node.end_lineno or node.lineno) - node.lineno + 1) > 60
    }
    assert long == {}
