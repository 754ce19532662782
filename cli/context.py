"""What every command shares: the runtime, the actor, output in JSON or for people, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from apexdir.errors import ApexError
    from apexdir.rules.permissions import Actor
    from apexdir.runtime import Runtime


def fail(exc: ApexError) -> NoReturn:
    """The one place where an apexdir error becomes an `error:` line and an exit code."""
    message = str(exc).replace("\n", " ")
    click.echo(f"error: {message}", err=True)
    sys.exit(exc.exit_code)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return str(value)


@dataclass
class CliContext:
    config_file: str | None = None
    as_json: bool = False
    acting_as: str | None = None
    _runtime: Runtime | None = field(default=None, repr=False)

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            from apexdir.config import load_settings
            from apexdir.runtime import Runtime

            self._runtime = Runtime(load_settings(self.config_file))
        return self._runtime

    def actor(self) -> Actor:
        from apexdir.workflows.actors import resolve_actor

        return resolve_actor(self.runtime, self.acting_as)

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None

    # ------------------------------------------------------------------ output
    def emit(self, data: Any, human: Callable[[Any], None] | str | None = None) -> None:
        if self.as_json:
            click.echo(json.dumps(data, ensure_ascii=False, default=_default, indent=2))
        elif callable(human):
            human(data)
        elif isinstance(human, str):
            click.echo(human)
        else:
            click.echo(json.dumps(data, ensure_ascii=False, default=_default, indent=2))

    def table(
        self, rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str = ""
    ) -> None:
        from rich.console import Console
        from rich.table import Table

        # Piped output is read by people too (runbooks, logs): do not squeeze it to 80 columns.
        width = None if sys.stdout.isatty() else 200
        table = Table(title=title or None)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*[_cell(row.get(c)) for c in columns])
        Console(width=width).print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def read_secrets(count: int, prompt: str = "Mot de passe") -> list[str]:
    """Passwords come from standard input, one per line, or twice at a terminal prompt."""
    from apexdir.errors import UsageError

    if sys.stdin.isatty():
        # Three (a change): the current password first, then the new one twice.
        head = [click.prompt("Mot de passe actuel", hide_input=True)] if count == 3 else []
        first = click.prompt(prompt, hide_input=True, confirmation_prompt=count >= 2)
        return head + ([first] * 2 if count >= 2 else [first])
    lines = sys.stdin.read().splitlines()
    if len(lines) < count:
        raise UsageError(
            f"expected {count} line(s) on standard input (passwords are never arguments)"
        )
    return lines[:count]


pass_cli = click.make_pass_decorator(CliContext)
