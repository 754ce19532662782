"""Named errors raised by the core; the CLI turns each into one exit code (CLI.md)."""

from __future__ import annotations


class ApexError(Exception):
    """Base of every error apexdir reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details or [])

    def __str__(self) -> str:
        if not self.details:
            return self.message
        return f"{self.message}: " + "; ".join(self.details)


class Invalid(ApexError):
    """Bad input: a value that breaks a rule (exit 1)."""


class PolicyViolation(Invalid):
    """A password or another policy refused the value (exit 1); `details` lists each unmet rule."""


class Conflict(ApexError):
    """The state forbids the action: duplicate, guard, wrong status (exit 1)."""


class ConfigError(ApexError):
    """Missing or invalid configuration; the message names the file and the key (exit 1)."""


class UsageError(ApexError):
    """The command was called wrongly (exit 2)."""

    exit_code = 2


class NotFound(ApexError):
    """The target does not exist (exit 3)."""

    exit_code = 3


class NotAllowed(ApexError):
    """The actor has no right to do this (exit 4)."""

    exit_code = 4


class AuthenticationFailed(ApexError):
    """Wrong credentials or a password-policy refusal at bind time (exit 1)."""

    def __init__(self, message: str, *, reason: str = "invalid", details: list[str] | None = None):
        super().__init__(message, details=details)
        self.reason = reason


class Unavailable(ApexError):
    """The directory, the SMTP server or the state store cannot be reached (exit 5)."""

    exit_code = 5
