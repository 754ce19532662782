"""Shared test helpers: run the CLI, deliver the spool, read the sinks, build a population."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from apexdir.cli.main import cli

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
        return self.ok("daemon", "run-once", "outbox")

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
        """A validated account (validated by `as_`, or by an agent for an administrator)."""
        request = self.invite(siret, kind, mail, service, as_=as_)
        self.complete(mail, first, last, mobile)
        validator = as_ if kind != "administrateur" else None
        return str(self.ok("account", "validate", request, as_=validator)["identifier"])


_SINKS: dict[str, Path] = {}


def register_sinks(config: Path, directory: Path) -> None:
    _SINKS[str(config)] = directory


def _sinks_dir(config: Path) -> Path:
    return _SINKS[str(config)]
