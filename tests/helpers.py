"""Shared test helpers: run the CLI, deliver the spool, read the sinks, build a population."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from click.testing import CliRunner, Result

from apexdir.cli.main import cli
from apexdir.runtime import Runtime

T = TypeVar("T")

PASSWORD = "Str0ng-Passw0rd!"
SIRET = "73282932000074"
OTHER_SIRET = "35600000000048"


@dataclass
class Cli:
    config: Path

    def run(self, *args: str, input: str | None = None, as_: str | None = None) -> Result:
        prefix = ["--config", str(self.config), "--json"]
        if as_:
            prefix += ["--as", as_]
        return CliRunner().invoke(cli, [*prefix, *args], input=input, catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None, as_: str | None = None) -> Any:
        result = self.run(*args, input=input, as_=as_)
        assert result.exit_code == 0, (args, result.exit_code, result.output, result.stderr)
        return json.loads(result.stdout) if result.stdout.strip() else None

    def fails(self, code: int, *args: str, input: str | None = None, as_: str | None = None) -> str:
        result = self.run(*args, input=input, as_=as_)
        assert result.exit_code == code, (args, result.exit_code, result.output)
        assert result.stderr.startswith("error:"), result.stderr
        assert result.stdout == "", "a failed command prints nothing on stdout"
        return result.stderr

    def deliver(self) -> dict[str, Any]:
        """One pass of the outbox job (`apexdir daemon run-once outbox`, called in the
        library: tests/cli/test_foundation_cli.py runs the command itself)."""
        from apexdir.daemon.jobs import outbox

        return _in_process(self.config, lambda rt: outbox.run_once(rt.settings))

    def mails(self, to: str | None = None) -> list[dict[str, Any]]:
        from apexdir.dev.captured import captured_mails

        self.deliver()
        settings_dir = _sinks_dir(self.config)
        return captured_mails(settings_dir, to=to)

    def link_for(self, mail: str) -> str:
        bodies = [m["body"] for m in self.mails(to=mail)]
        links = re.findall(r"URL : (\S+)", "\n".join(bodies))
        assert links, f"no link mailed to {mail}"
        return links[-1]

    def invite(
        self,
        siret: str,
        kind: str,
        mail: str,
        service: str | None = None,
        as_: str | None = None,
        application: str | None = None,
    ) -> str:
        """Start a creation; the request id."""
        args = ["account", "invite", "--structure", siret, "--type", kind, "--mail", mail]
        if service:
            args += ["--service", service]
        if application:
            args += ["--application", application]
        return str(self.ok(*args, as_=as_)["request_id"])

    def complete(
        self, mail: str, first: str, last: str, mobile: str | None = None
    ) -> dict[str, Any]:
        """The invitee fills the form from the link mailed to `mail`."""
        form = [
            "account",
            "complete",
            self.link_for(mail),
            "--last-name",
            last,
            "--first-name",
            first,
            "--yes",
        ]
        if mobile:
            form += ["--mobile", mobile]
        result: dict[str, Any] = self.ok(*form, input=f"{PASSWORD}\n{PASSWORD}\n")
        return result

    def create_account(
        self,
        siret: str,
        kind: str,
        mail: str,
        first: str,
        last: str,
        service: str | None = None,
        as_: str | None = None,
        mobile: str | None = None,
    ) -> str:
        """A validated account (validated by `as_`, or by an agent for an administrator),
        built by `make_account` with this CLI's configuration."""
        validator = as_ if kind != "administrateur" else None
        return make_account(self.config, siret, kind, mail, first, last, service=service,
                            inviter=as_, validator=validator, mobile=mobile)  # fmt: skip

    def create_structure(self, siret: str = SIRET, name: str = "Banque Exemple",
                         *services: str, **fields: str) -> str:  # fmt: skip
        """A structure and its services, built by `make_structure`."""
        return make_structure(self.config, siret, name, *services, **fields)


_SETTINGS: dict[tuple[Any, ...], tuple[Any, str]] = {}


def _configuration(config: Path) -> tuple[Any, str]:
    """`load_settings(config)` and the file's text, read again only when the file (its time
    and size) or the `APEXDIR_*` variables changed: the worlds and deliveries read the same
    file hundreds of times."""
    from apexdir.config import ENV_PREFIX, load_settings

    stat = config.stat()
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIX)))
    key = (str(config), stat.st_mtime_ns, stat.st_size, env)
    if key not in _SETTINGS:
        _SETTINGS[key] = (load_settings(str(config)), config.read_text(encoding="utf-8"))
    return _SETTINGS[key]


def _in_process(config: Path, step: Callable[[Runtime], T]) -> T:
    """Run `step` on a runtime of `config`'s settings, as one CLI command would (same
    settings, same operator), in a thread of its own: Playwright's sync API keeps an
    asyncio loop running in the browser tests' thread, and the outbox delivery runs one."""

    def run() -> T:
        runtime = Runtime(_configuration(config)[0])
        try:
            return step(runtime)
        finally:
            runtime.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def make_account(
    config: Path,
    siret: str,
    kind: str,
    mail: str,
    first: str,
    last: str,
    *,
    service: str | None = None,
    inviter: str | None = None,
    validator: str | None = None,
    mobile: str | None = None,
) -> str:
    """The one account builder of the tests: the creation a partner goes through (invited
    by `inviter` → the pré-création mail delivered by the outbox job → the form, password
    PASSWORD → validated by `validator`; None is an agent), called in the library rather
    than through four CLI commands and a parse of the mail (tests/cli/test_creation_flow.py
    drives the CLI's own journey). The identifier."""
    from apexdir.daemon.jobs import outbox
    from apexdir.workflows import precreation
    from apexdir.workflows.actors import resolve_actor

    def build(rt: Runtime) -> str:
        request = precreation.invite(rt, resolve_actor(rt, inviter), siret=siret,
                                     account_type=kind, mail=mail, service=service)  # fmt: skip
        request_id = request.id
        outbox.run_once(rt.settings)  # the pré-création mail leaves, as a link read would
        precreation.complete(rt, f"{request_id}.{precreation.link_secret(rt, request_id)}",
                             last_name=last, first_name=first, mobile=mobile,
                             password=PASSWORD, confirmation=PASSWORD, submit=True)  # fmt: skip
        return str(precreation.validate(rt, resolve_actor(rt, validator), request_id).identifier)

    call = ("account", siret, kind, mail, first, last, service, inviter, validator, mobile)
    return make_world(config, call, build)


def make_structure(config: Path, siret: str = SIRET, name: str = "Banque Exemple",
                   *services: str, category: str = "Banques", **fields: str) -> str:  # fmt: skip
    """The one structure set-up of the tests: a structure created by an agent (`fields`:
    trade_name, street, street2, postal_code, city, country) and its services. The SIRET."""
    from apexdir.workflows.actors import resolve_actor
    from apexdir.workflows.services import create_service
    from apexdir.workflows.structures import create_structure

    def build(rt: Runtime) -> str:
        agent = resolve_actor(rt, None)
        create_structure(rt, agent, siret=siret, category=category, name=name, **fields)
        for service in services:
            create_service(rt, agent, siret, service)
        return siret

    call = ("structure", siret, name, *services, category, *sorted(fields.items()))
    return make_world(config, call, build)


def make_catalogue(config: Path, code: str, name: str, *profiles: str) -> str:
    """An application and its profiles, added by an agent (`app add`, `app profile-add`:
    tests/cli/test_catalogue.py drives those commands). The application's code."""
    from apexdir.workflows.actors import resolve_actor
    from apexdir.workflows.catalogue import add_application, add_profile

    def build(rt: Runtime) -> str:
        agent = resolve_actor(rt, None)
        add_application(rt, agent, code, name)
        for profile in profiles:
            add_profile(rt, agent, code, profile)
        return code

    return make_world(config, ("catalogue", code, name, *profiles), build)


def make_service(config: Path, siret: str, name: str) -> str:
    """A service of the structure, created by an agent (`service create`). Its name."""
    from apexdir.workflows.actors import resolve_actor
    from apexdir.workflows.services import create_service

    def build(rt: Runtime) -> str:
        create_service(rt, resolve_actor(rt, None), siret, name)
        return name

    return make_world(config, ("service", siret, name), build)


def make_right(config: Path, change: str, identifier: str, app: str, profile: str,
               as_: str | None = None) -> str:  # fmt: skip
    """`change` ("grant" or "delegate") of `app`/`profile` to `identifier` by `as_` (None:
    an agent), as `apexdir grant|delegate` does it (tests/cli/test_rights_flow.py drives
    those commands). The identifier."""
    from apexdir.workflows import rights
    from apexdir.workflows.actors import resolve_actor

    run = {"grant": rights.grant, "delegate": rights.delegate}[change]

    def build(rt: Runtime) -> str:
        run(rt, resolve_actor(rt, as_), identifier, app, profile)
        return identifier

    return make_world(config, ("right", change, identifier, app, profile, as_), build)


def make_world(config: Path, call: tuple[Any, ...], build: Callable[[Runtime], str]) -> str:
    """`build(rt)`, a step of a test's world named `call`, run for real or its world put
    back (tests/worlds.py). `call` names everything `build` depends on."""
    from tests.worlds import built

    text = _configuration(config)[1]
    sinks = _SINKS.get(str(config))
    return _in_process(config, lambda rt: built(rt, sinks, text, call, build))


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> None:
    """Until `condition()` holds, asked every 50 ms; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


_CODES: list[bytes] = []


def plain_sha256_search(salt: str, digest: str) -> str | None:
    """The attack on a stored or logged code record without the key: the 10^6 six-digit
    codes tried as a plain salted SHA-256 (`sha256("<salt>:<code>")` in hexadecimal, the
    form before issue 12) against its digest; the code it finds, or None. The salt's state
    is hashed once and copied for each code, and raw digests are compared: 0.44 s of CPU
    where a set of the 10^6 hexadecimal digests took 1.15 s."""
    if not _CODES:
        _CODES.extend(b"%06d" % code for code in range(10**6))
    try:
        wanted = bytes.fromhex(digest)
    except ValueError:
        return None  # not a hexadecimal digest: no SHA-256 gives it
    salted = hashlib.sha256(f"{salt}:".encode())
    for code in _CODES:
        attempt = salted.copy()
        attempt.update(code)
        if attempt.digest() == wanted:
            return code.decode()
    return None


_SINKS: dict[str, Path] = {}


def register_sinks(config: Path, directory: Path) -> None:
    _SINKS[str(config)] = directory


def _sinks_dir(config: Path) -> Path:
    return _SINKS[str(config)]
