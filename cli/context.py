"""What every command shares: the runtime, the actor, output in JSON or for people, errors."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from apexdir.errors import ApexError
    from apexdir.rules.permissions import Actor
    from apexdir.runtime import Runtime


# A value quoted in an error line is cut past this length, and the line past MAX_LINE: an
# operator's terminal or a log line should not receive 10,000 characters of an argument.
MAX_VALUE = 120
MAX_LINE = 1000
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escape(char: str) -> str:
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of the command line that was not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control, format or undecodable character written as an escape:
    a value cannot move the cursor, rewrite the line or forge a second `error:` line."""
    return "".join(_escape(c) if unicodedata.category(c) in _UNPRINTABLE else c for c in str(text))


def _cut(word: str) -> str:
    return word if len(word) <= MAX_VALUE else f"{word[: MAX_VALUE - 20]}…{word[-10:]}"


def one_line(message: str) -> str:
    """A message as one short, printable line: escaped, long words and the line cut."""
    text = " ".join(_cut(word) for word in printable(message).split(" "))
    if len(text) > MAX_LINE:
        text = f"{text[: MAX_LINE - 200]} … {text[-190:]}"
    return text


def error_line(message: str) -> None:
    click.echo(f"error: {one_line(message)}", err=True)


def exit_code(exc: ApexError) -> int:
    """The exit code of CLI.md for an apexdir error: decided here, at the edge, from the
    error's class (the core's errors know nothing of exit codes)."""
    from apexdir.errors import NotAllowed, NotFound, Unavailable, UsageError

    codes: list[tuple[type[ApexError], int]] = [
        (UsageError, 2),
        (NotFound, 3),
        (NotAllowed, 4),
        (Unavailable, 5),
    ]
    return next((code for kind, code in codes if isinstance(exc, kind)), 1)


def fail(exc: ApexError) -> NoReturn:
    """The one place where an apexdir error becomes an `error:` line and an exit code."""
    error_line(str(exc))
    sys.exit(exit_code(exc))


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
    try:
        text = sys.stdin.read()
    except UnicodeDecodeError:
        raise UsageError(code="cli.stdin_not_text") from None
    if not is_text(text):  # read with surrogateescape (C locale): the same refusal
        raise UsageError(code="cli.stdin_not_text")
    lines = text.splitlines()
    if len(lines) < count:
        raise UsageError(code="cli.stdin_lines", params={"count": count})
    return lines[:count]


def is_text(value: str) -> bool:
    """Whether `value` came from valid UTF-8: Python decodes the bytes of the command line
    (and of a C-locale stdin) that are not as lone surrogates, which nothing can encode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


pass_cli = click.make_pass_decorator(CliContext)
