"""Issue 20 item 2: the portal and the CLI call workflows; the directory is the library's."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def _nodes(path: Path) -> tuple[ast.AST, ...]:
    """Every node of a module, parsed once per worker for the checks below."""
    return tuple(ast.walk(ast.parse(path.read_text(encoding="utf-8"))))


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in _nodes(path):
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
        for node in _nodes(path)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (n := (node.end_lineno or node.lineno) - node.lineno + 1) > 60
    }
    assert long == {}


# A directory connection may be closed by whoever opened it (the lease's own connection):
# that names no attribute. Every other call goes through the directory layer's functions.
_CONNECTION_LIFETIME = {"close"}


def _directory_calls(path: Path) -> list[str]:
    """`….directory.<method>(…)` calls of a module, as `line:method`."""
    return [
        f"{node.lineno}:{node.func.attr}"
        for node in _nodes(path)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "directory"
        and node.func.attr not in _CONNECTION_LIFETIME
    ]


@pytest.mark.parametrize("area", ["workflows", "oidc"])
def test_workflows_name_no_ldap_attribute(area: str) -> None:
    """Issue 20 item 1: workflows talk to the directory through `apexdir.directory`'s
    functions and models, never with raw requests (`rt.directory.get/search/swap…`) nor
    filters built from attribute names (`apexdir.directory.filters`)."""
    found = {
        str(path.relative_to(ROOT)): problems
        for path in sorted((ROOT / "apexdir" / area).rglob("*.py"))
        if (
            problems := _directory_calls(path)
            + sorted(n for n in _imports(path) if n == "apexdir.directory.filters")
        )
    }
    assert found == {}
