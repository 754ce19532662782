"""Fixtures: a real slapd per test session (per xdist worker), real SMTP/SMS sinks, a runtime.

Every test starts from an empty tree (base entries and policies only) and empty sinks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from apexdir.config import LdapSettings, Settings
from apexdir.directory import hashing
from apexdir.directory.connection import Directory
from apexdir.directory.provision import initialize
from apexdir.directory.server import SlapdInstance
from apexdir.runtime import Runtime
from tests.worlds import depth, empty_store, in_written_branches, wiped

# Property tests check what is accepted, not how fast: on a loaded machine hypothesis's 200 ms
# deadline turned a slow first example (phonenumbers' metadata loading) into a failure.
hypothesis_settings.register_profile("apexdir", deadline=None)
hypothesis_settings.load_profile("apexdir")

# apexdir hashes a password itself when a partner submits the creation form (argon2id at
# OWASP's cost, ≈ 40 ms of CPU): the tests create hundreds of accounts, and that hashing was
# the largest single item of the suite's CPU (issue 20 item 9). They hash at a low cost
# instead (1 MiB, one pass), and so does the tests' slapd (its argon2 module line): a
# password change there verified the old password and up to ten in the history, then hashed
# the new one, ≈ 33 ms each at the product's cost. tests/auth/test_secrets_at_rest.py checks
# both hashings at the product's cost, on a directory of its own.
hashing.COST = (1024, 1)


def _share_route_builders() -> None:
    """Werkzeug compiles two URL builders for every route of every Flask application it
    makes (an AST turned into code, ≈ 0.9 ms a route, 60 routes): 55 ms of the 100 ms an
    application costs, and the tests make hundreds (a gunicorn worker makes one). A builder
    is a plain function of the route's parts: the rule is its first argument (bound later
    by `Rule.compile`) and it closes over nothing, so routes with the same parts can share
    it. Rules with defaults are left alone: their builder holds converted values."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    made: dict[tuple[Any, ...], Any] = {}

    def shared(rule: Rule, append_unknown: bool = True) -> Any:
        if rule.defaults:
            return compile_builder(rule, append_unknown)
        key = (rule.rule, tuple(rule._trace), append_unknown)
        if key not in made:
            made[key] = compile_builder(rule, append_unknown)
        return made[key]

    Rule._compile_builder = shared  # type: ignore[method-assign]


_share_route_builders()

BASE_DN = "dc=apex,dc=dgfip,dc=finances,dc=gouv,dc=fr"
TMPFS = Path("/dev/shm")


def pytest_configure(config: pytest.Config) -> None:
    """The tests' files (tmp_path: state stores, sinks, slapd folders) on a tmpfs where
    there is one, unless a --basetemp or PYTEST_DEBUG_TEMPROOT says where: every state
    store closed synced its WAL to the disk (≈ 1.5 ms), every fresh one ≈ 6 ms more, and
    the tests open hundreds. The xdist workers inherit the folder from the controller."""
    if config.option.basetemp or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return
    if TMPFS.is_dir() and os.access(TMPFS, os.W_OK | os.X_OK) and _free(TMPFS) >= 2 << 30:
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(TMPFS)


def _free(path: Path) -> int:
    """Bytes free: a container's /dev/shm is often 64 MB, less than a run leaves (≈ 110 MB)."""
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdInstance]:
    # dbnosync: the tests do not need durable writes, and fsync per write dominates them.
    instance = SlapdInstance(
        tmp_path_factory.mktemp("slapd"),
        base_dn=BASE_DN,
        dbnosync=True,
        lastbind_precision=0,
        argon2_cost=hashing.COST,
    )
    instance.start()
    yield instance
    instance.destroy()


@pytest.fixture(scope="session")
def sinks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from apexdir.dev.sinks import Sinks

    sink = Sinks(tmp_path_factory.mktemp("sinks"))
    sink.start()
    yield sink
    sink.stop()


def make_settings(slapd: SlapdInstance, sinks: Any, state: Path, **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "ldap": {
            "uris": [slapd.uri],
            "base_dn": slapd.base_dn,
            "bind_dn": slapd.layout.apexdir_dn,
            "bind_password_file": str(slapd.apexdir_password_file),
        },
        "smtp": {"host": "127.0.0.1", "port": sinks.smtp_port},
        "sms": {"url": f"http://127.0.0.1:{sinks.sms_port}/sms"},
        "state": {"path": str(state)},
    }
    for key, value in overrides.items():
        data.setdefault(key, {}).update(value)
    return Settings.model_validate(data)


def admin(slapd: SlapdInstance) -> Directory:
    """A rootdn connection, for fixtures only: tests act through apexdir's own account."""
    ldap = LdapSettings(
        uris=[slapd.uri],
        base_dn=slapd.base_dn,
        bind_dn=slapd.layout.admin_dn,
        bind_password=slapd.admin_password(),
    )
    return Directory(ldap)


def wipe(slapd: SlapdInstance) -> None:
    """Empty the branches a test writes to: one subtree search of the whole tree (not one
    per branch: this runs after every test), then the deletes, leaves first."""
    written = in_written_branches(slapd.layout)
    directory = _wiper(slapd)
    found = directory.search(slapd.base_dn, "(objectClass=*)", ["1.1"])
    doomed = [e.dn for e in found if written(e.dn)]
    for dn in sorted(doomed, key=depth, reverse=True):
        directory.delete(dn)
    wiped()


_WIPERS: dict[tuple[str, str], Directory] = {}


def _wiper(slapd: SlapdInstance) -> Directory:
    """The rootdn connection `wipe` keeps open for its slapd: a connection and a bind at
    every test were a third of what a wipe cost."""
    key = (slapd.uri, slapd.admin_password())
    if key not in _WIPERS:
        _WIPERS[key] = admin(slapd)
    return _WIPERS[key]


@pytest.fixture(scope="session")
def _initialized(
    slapd: SlapdInstance, sinks: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = make_settings(slapd, sinks, tmp_path_factory.mktemp("init") / "state.db")
    with Directory(settings.ldap) as directory:
        initialize(directory, Runtime(settings).layout, settings.policy)
    wiped()


@pytest.fixture(scope="session")
def _state_template(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An empty state store as `open_store` leaves a new file (schema migrated, closed: no
    WAL beside it), made once: its migrations cost 6 ms at every test."""
    from apexdir.state.db import open_store

    path = tmp_path_factory.mktemp("state-template") / "state.db"
    open_store(path).close()
    template = path.read_bytes()
    empty_store(template)
    return template


def fresh_store(path: Path, template: bytes) -> Path:
    """A new state store at `path`, a copy of the template, private as apexdir makes it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(template)
    return path


@pytest.fixture
def settings(
    slapd: SlapdInstance, sinks: Any, tmp_path: Path, _initialized: None, _state_template: bytes
) -> Iterator[Settings]:
    from apexdir.dev.captured import clear

    yield make_settings(slapd, sinks, fresh_store(tmp_path / "state.db", _state_template))
    wipe(slapd)
    clear(sinks.directory)


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(settings, operator="tester")
    yield runtime
    runtime.close()


@pytest.fixture
def config_file(settings: Settings, tmp_path: Path) -> Path:
    """A TOML file equal to `settings`, for CLI tests."""
    return write_config(settings, tmp_path / "apexdir.toml")


def write_config(settings: Settings, path: Path) -> Path:
    """`settings` (directory, sinks, state store) as the TOML file the CLI reads."""
    ldap = settings.ldap
    path.write_text(
        f"""[ldap]
uris = ["{ldap.uris[0]}"]
base_dn = "{ldap.base_dn}"
bind_dn = "{ldap.bind_dn}"
bind_password_file = "{ldap.bind_password_file}"

[smtp]
host = "{settings.smtp.host}"
port = {settings.smtp.port}

[sms]
url = "{settings.sms.url}"

[state]
path = "{settings.state.path}"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("APEXDIR_"):
            monkeypatch.delenv(name)


@pytest.fixture
def app_cli(config_file: Path, sinks: Any) -> Any:
    """The CLI bound to the test directory and sinks."""
    from tests.helpers import Cli, register_sinks

    register_sinks(config_file, sinks.directory)
    return Cli(config_file)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """`TEST_WORLDS=report`: what each worker did with its worlds (tests/worlds.py)."""
    import sys

    from tests.worlds import WORLDS

    if os.environ.get("TEST_WORLDS") == "report":
        print(f"worlds of process {os.getpid()}: {WORLDS.counts}", file=sys.stderr)
