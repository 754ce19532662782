"""Start-up of a directory command: it loads only what it uses (issue 13, CLI latency).

Each command is a process of its own, so every module imported eagerly is paid by every
command. These tests run the installed `apexdir` script in a subprocess against the test
directory and list what it imported; benchmarks/cli.py measures the time itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli import flows
from tests.helpers import SIRET, Cli

APEXDIR = Path(sys.executable).with_name("apexdir")

# Run the console script as its own process would, then report what it imported on the
# last line of stderr, after the command's own output (atexit runs after sys.exit).
WRAPPER = """
import atexit, json, runpy, sys

def report():
    loader = sys.modules.get("pydantic.plugin._loader")
    scanned = loader is not None and getattr(loader, "_plugins", None) is not None
    print(json.dumps({"modules": sorted(sys.modules), "plugins_scanned": scanned}),
          file=sys.stderr)

atexit.register(report)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

# Libraries a read of one entry has no use for: a number is neither parsed nor formatted
# (phonenumbers), no table is printed (rich), no mail rendered or sent, no state store
# opened, no password hashed. `account show` checks no SIRET either (python-stdnum).
NOT_FOR_A_READ = ("phonenumbers", "rich", "jinja2", "sqlite_utils", "aiosmtplib", "argon2")


def started(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`apexdir ARGS` in a subprocess; its result and what it imported."""
    # apexdir sets PYDANTIC_DISABLE_PLUGINS in this process too: the child must set it itself.
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(APEXDIR), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    return result, json.loads(result.stderr.strip().splitlines()[-1])


def loaded(modules: list[str], package: str) -> bool:
    return any(m == package or m.startswith(f"{package}.") for m in modules)


@pytest.fixture
def identifier(app_cli: Cli) -> str:
    """An administrator with a mobile, in a structure with a service."""
    flows.catalogue(app_cli)
    flows.structure(app_cli, SIRET, "Banque Exemple", flows.SERVICE)
    return flows.account(app_cli, SIRET, "administrateur", "adm@banque.fr", "Anne", "Martin")


def test_account_show_loads_only_what_it_uses(config_file: Path, identifier: str) -> None:
    """`account show` answers without phonenumbers, stdnum, rich, mail, state or hashing
    libraries, and without pydantic's scan of every distribution for plugins."""
    args = ("--config", str(config_file), "--json", "account", "show", identifier)
    result, imported = started(*args)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["identifier"] == identifier
    modules = imported["modules"]
    assert loaded(modules, "ldap3") and loaded(modules, "pydantic")  # the wrapper saw them
    assert [p for p in (*NOT_FOR_A_READ, "stdnum") if loaded(modules, p)] == []
    assert imported["plugins_scanned"] is False


def test_structure_show_loads_only_what_it_uses(config_file: Path, identifier: str) -> None:
    """`structure show` checks the SIRET (stdnum) but loads nothing else it does not use."""
    result, imported = started("--config", str(config_file), "--json", "structure", "show", SIRET)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["administrators"][0]["identifier"] == identifier
    modules = imported["modules"]
    assert loaded(modules, "stdnum")
    assert [p for p in NOT_FOR_A_READ if loaded(modules, p)] == []
    assert imported["plugins_scanned"] is False


def test_a_mobile_is_still_parsed_where_one_is_given(app_cli: Cli) -> None:
    """The lazy import of phonenumbers still normalises a mobile typed at creation."""
    flows.catalogue(app_cli)
    flows.structure(app_cli, SIRET, "Banque Exemple", flows.SERVICE)
    uid = flows.account(
        app_cli, SIRET, "administrateur", "adm@banque.fr", "Anne", "Martin", mobile="0612345678"
    )
    assert app_cli.ok("account", "show", uid)["mobile"] == "+33612345678"
