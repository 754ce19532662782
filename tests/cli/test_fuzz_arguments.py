"""Every CLI command with arbitrary text and bytes in every argument and on stdin.

Whatever it is given, a command ends without a traceback, with one of the documented exit
codes (0–5), and when it fails: exactly one `error:` line, and nothing written (the
directory, the journal and the outbox are as they were). The commands are enumerated from
click's command tree, so a new command is fuzzed without being listed here.
"""

from __future__ import annotations

import sqlite3
import traceback
import unicodedata
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from apexdir.cli.main import cli
from apexdir.config import Settings
from apexdir.directory.accesslog import Change
from apexdir.directory.server import SlapdInstance
from apexdir.runtime import Runtime
from tests.helpers import SIRET, Cli, make_world
from tests.writes import log_reader, mark, written_since
from tests.writes import shown as writes

# Long-running or environment-changing commands: the scheduler's loop, the local slapd's
# start and stop, and a web server.
SKIPPED = {("daemon", "run"), ("dev", "up"), ("dev", "down"), ("serve",), ("portal", "serve")}
# Options that name a file to write: kept inside the test's folder (see `_path_value`).
OUTPUT_OPTIONS = {"offline", "output"}
AUTH_GROUPS = {"login", "password"}
UNPRINTABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}
MAX_ERROR_LINE = 1100

APP = "APPDGFIP"
PROFILE = "Lecture"
SERVICE = "Comptabilité"
IDENTIFIER = "marie.martin-px"
MAIL = "marie@example.org"


def _walk(command: click.Command, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            if (*path, name) in SKIPPED:
                continue  # not even imported: a web server may need more than the CLI
            sub = command.get_command(ctx, name)
            if sub is not None:
                yield from _walk(sub, (*path, name))
    else:
        yield path, command


COMMANDS = dict(_walk(cli, ()))


@pytest.fixture
def world(app_cli: Cli) -> dict[str, str]:
    """A small population written directly (fast), so that fuzzed commands can reach past
    their lookups: a structure, a service, a profile, an account and a pending request
    (a world kept for the next test: tests/worlds.py)."""
    return {"request": make_world(app_cli.config, ("fuzz",), _populate)}


def _populate(rt: Runtime) -> str:
    from apexdir.workflows.actors import AGENT
    from apexdir.workflows.catalogue import add_application, add_profile
    from apexdir.workflows.precreation import invite
    from apexdir.workflows.services import create_service
    from apexdir.workflows.structures import create_structure

    create_structure(rt, AGENT, siret=SIRET, category="Banques", name="Banque Exemple")
    service = create_service(rt, AGENT, SIRET, SERVICE)
    add_application(rt, AGENT, APP, "App DGFIP")
    add_profile(rt, AGENT, APP, PROFILE)
    rt.directory.add(
        rt.layout.account_dn(IDENTIFIER),
        {
            "objectClass": ["inetOrgPerson", "apexAccount"],
            "uid": IDENTIFIER,
            "cn": "Marie Martin",
            "sn": "Martin",
            "givenName": "Marie",
            "mail": MAIL,
            "apexAccountType": "collaborateur",
            "apexStructureRef": rt.layout.structure_dn(SIRET),
            "apexServiceRef": service.dn,
            "apexStatus": "active",
        },
    )
    request = invite(rt, AGENT, siret=SIRET, account_type="administrateur", mail="new@example.org")
    return request.id


def _decoy_try(change: Change) -> bool:
    """The decoy's try marker, which a refused code rewrites by design (the write a real
    try costs): the one write a refusal may make."""
    from apexdir.directory.onetime import DECOY_TRY_ATTRIBUTE

    return change.dn.lower().startswith("cn=decoy,") and {a.lower() for a in change.attributes} <= {
        DECOY_TRY_ATTRIBUTE
    }


# What the operating system hands a program: text, or bytes that are not UTF-8, which Python
# decodes as lone surrogates. An argument cannot hold NUL.
_TEXT = st.text(max_size=24).map(lambda s: s.replace("\x00", ""))
_BYTES = st.binary(max_size=16).map(
    lambda b: b.replace(b"\x00", b"").decode("utf-8", "surrogateescape")
)
_ODD = st.sampled_from(
    ["", " ", "-", "*", "a" * 10_000, "é" * 300, "x\r\nerror: forged", "\x1b[31mrouge", "é@x.fr"]
)
_STDIN = st.one_of(st.none(), st.text(max_size=60), st.binary(max_size=60))


def _known(world: dict[str, str]) -> list[str]:
    return [SIRET, APP, PROFILE, SERVICE, IDENTIFIER, MAIL, world["request"], "administrateur"]


def _value(data: st.DataObject, known: list[str]) -> str:
    choices = [_TEXT, _BYTES, _ODD]
    if known:
        choices.append(st.sampled_from(known))
    return str(data.draw(st.one_of(*choices)))


def _path_value(data: st.DataObject, tmp: Path) -> str:
    """A file name to write, inside the test's folder whatever was drawn."""
    name = data.draw(st.one_of(_TEXT, _BYTES, st.just("-")))
    return name if name == "-" else str(tmp / (name.replace("/", "_").strip(".") or "_"))


def _argv(
    data: st.DataObject, path: tuple[str, ...], command: click.Command, known: list[str], tmp: Path
) -> list[str]:
    args: list[str] = []
    for param in command.params:
        if isinstance(param, click.Argument):
            if isinstance(param.type, click.Path) and data.draw(st.booleans()):
                file = tmp / f"input-{len(args)}"
                file.write_bytes(data.draw(st.binary(max_size=400)))
                args.append(str(file))
            elif isinstance(param.type, click.Choice) and data.draw(st.booleans()):
                args.append(str(data.draw(st.sampled_from(param.type.choices))))
            else:
                args.append(_value(data, known))
            continue
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        if not data.draw(st.booleans()):
            continue
        flag = param.opts[0]
        if param.is_flag:
            args.append(flag)
        elif param.name in OUTPUT_OPTIONS:
            args += [flag, _path_value(data, tmp)]
        elif isinstance(param.type, click.Choice) and data.draw(st.booleans()):
            args += [flag, str(data.draw(st.sampled_from(param.type.choices)))]
        else:
            args += [flag, _value(data, known)]
    return [*path, *args]


class Env:
    """What one fuzzed run needs (function-scoped fixtures, shared by a test's examples): a
    reader of slapd's accesslog (tests/writes.py: "nothing written" is "no write logged
    since the mark"), and the state store's journal and outbox rows of the last example when
    it changed nothing (a refused command: checked equal after it), which are then the next
    example's "before"."""

    def __init__(
        self, world: dict[str, str], config: Path, settings: Settings, slapd: SlapdInstance
    ) -> None:
        self.world, self.config, self.state = world, config, settings.state.path
        self.log = log_reader(slapd)
        self.unchanged: tuple[Any, ...] | None = None

    def rows(self) -> tuple[Any, ...]:
        """The journal and outbox rows (a few: the state store is the test's own). A
        connection per read, as a command could replace the file (`restore`)."""
        with closing(sqlite3.connect(self.state)) as db:
            journal = db.execute("SELECT * FROM journal ORDER BY id").fetchall()
            outbox = db.execute("SELECT id, recipients, subject FROM outbox ORDER BY id")
            return journal, outbox.fetchall()


@pytest.fixture
def env(
    world: dict[str, str],
    config_file: Path,
    settings: Settings,
    slapd: SlapdInstance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Env]:
    monkeypatch.chdir(tmp_path)  # `dev …` reads ./var; files written land in the test's folder
    env = Env(world, config_file, settings, slapd)
    with env.log:
        yield env


def _run(env: Env, path: tuple[str, ...], data: st.DataObject) -> None:
    """One command, arbitrary values: no traceback, an exit code of CLI.md, and on failure
    one `error:` line and nothing written."""
    # An identifier that exists makes a wrong password a real (journaled) refusal: the
    # authentication commands get arbitrary identifiers only.
    known = [] if path[0] in AUTH_GROUPS else _known(env.world)
    argv = _argv(data, path, COMMANDS[path], known, Path.cwd())
    prefix = ["--config", str(env.config)]
    if data.draw(st.booleans()):
        prefix.append("--json")
    acting = data.draw(st.one_of(st.none(), _TEXT, _BYTES, st.sampled_from([IDENTIFIER, ""])))
    if acting is not None:
        prefix += ["--as", acting]
    stdin = data.draw(_STDIN)
    since, rows, env.unchanged = mark(), env.unchanged or env.rows(), None
    result = CliRunner().invoke(cli, [*prefix, *argv], input=stdin)
    shown = (argv, acting, stdin, result.exit_code, result.stderr[-2000:])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        pytest.fail(f"traceback for {shown}:\n{trace}")
    assert result.exit_code in range(6), shown
    if result.exit_code == 0:
        return
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, shown
    # Values are quoted escaped and cut: no control character, no 10,000-character line.
    assert not any(unicodedata.category(c) in UNPRINTABLE for c in errors[0]), shown
    assert len(errors[0]) <= MAX_ERROR_LINE, shown
    assert not (written := written_since(env.log, since, ignore=_decoy_try)), (
        shown,
        writes(written),
    )
    assert env.rows() == rows, shown
    env.unchanged = rows


# Fewer examples for the commands that take long whatever they are given: converting a
# configuration with slaptest, and a backup (an export of the whole directory and a copy of
# the state store: 0.4 s an example that succeeds, 10 of the file's 42 s with 25 examples).
SLOW = {("config", "cn-config"), ("backup",)}
FUZZ = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
}


@pytest.mark.parametrize("path", sorted(set(COMMANDS) - SLOW), ids=" ".join)
@fuzz_settings(max_examples=25, **FUZZ)
@given(data=st.data())
def test_any_argument_and_stdin(path: tuple[str, ...], data: st.DataObject, env: Env) -> None:
    """No traceback, an exit code of CLI.md, one `error:` line and nothing written on failure."""
    _run(env, path, data)


@pytest.mark.parametrize("path", sorted(SLOW & set(COMMANDS)), ids=" ".join)
@fuzz_settings(max_examples=6, **FUZZ)
@given(data=st.data())
def test_slow_commands_too(path: tuple[str, ...], data: st.DataObject, env: Env) -> None:
    """The same for the commands that take long, with fewer examples."""
    _run(env, path, data)
