"""Named errors raised by the core. An error is data: its class says what kind of refusal
it is, `code` and `params` what exactly (rendered in French by `apexdir.messages`), `field`
which input it concerns (the portal puts it beside that field). The edges decide the rest:
the CLI's exit codes are in `cli/context.py`, the portal's HTTP statuses in
`portal/errors.py`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApexError(Exception):
    """Base of every error apexdir reports to a user.

    Raise it with a catalogue `code` (and its `params`, and the `field` concerned), or,
    for the raise sites not migrated yet, with a ready `message`."""

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        params: Mapping[str, Any] | None = None,
        field: str | None = None,
        details: list[str] | None = None,
    ) -> None:
        self.code = code
        self.params = dict(params or {})
        self.field = field
        if message is None:
            if code is None:
                raise TypeError("an ApexError needs a message or a catalogue code")
            from apexdir.messages import text

            message = text(code, self.params)
        super().__init__(message)
        self.message = message
        self.details = list(details or [])

    def __str__(self) -> str:
        if not self.details:
            return self.message
        return f"{self.message}: " + "; ".join(self.details)


class Invalid(ApexError):
    """Bad input: a value that breaks a rule."""


class PolicyViolation(Invalid):
    """A password or another policy refused the value; `details` lists each unmet rule."""


class Conflict(ApexError):
    """The state forbids the action: duplicate, guard, wrong status."""


class ConfigError(ApexError):
    """Missing or invalid configuration; the message names the file and the key."""


class UsageError(ApexError):
    """The command was called wrongly."""


class NotFound(ApexError):
    """The target does not exist."""


class NotAllowed(ApexError):
    """The actor has no right to do this."""


class AuthenticationFailed(ApexError):
    """Wrong credentials, a code refused, or a password-policy refusal at bind time;
    `reason` says which, for the edges (a wrong code keeps the person on the code page)."""

    def __init__(
        self,
        message: str | None = None,
        *,
        reason: str = "invalid",
        code: str | None = None,
        params: Mapping[str, Any] | None = None,
        field: str | None = None,
        details: list[str] | None = None,
    ) -> None:
        super().__init__(message, code=code, params=params, field=field, details=details)
        self.reason = reason


class Unavailable(ApexError):
    """The directory, the SMTP server or the state store cannot be reached."""
