"""LDAP filters built by pure functions; every value is escaped (RFC 4515)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ldap3.utils.conv import escape_filter_chars

from apexdir.clock import to_generalized_time


def escape(value: str) -> str:
    return escape_filter_chars(value, encoding="utf-8")


def eq(attr: str, value: str) -> str:
    return f"({attr}={escape(value)})"


def present(attr: str) -> str:
    return f"({attr}=*)"


def starts(attr: str, prefix: str) -> str:
    return f"({attr}={escape(prefix)}*)"


def ge(attr: str, value: str | datetime) -> str:
    text = to_generalized_time(value) if isinstance(value, datetime) else escape(value)
    return f"({attr}>={text})"


def le(attr: str, value: str | datetime) -> str:
    text = to_generalized_time(value) if isinstance(value, datetime) else escape(value)
    return f"({attr}<={text})"


def and_(*parts: str) -> str:
    kept = [p for p in parts if p]
    return kept[0] if len(kept) == 1 else f"(&{''.join(kept)})"


def or_(*parts: str) -> str:
    kept = [p for p in parts if p]
    if not kept:
        return "(!(objectClass=*))"
    return kept[0] if len(kept) == 1 else f"(|{''.join(kept)})"


def not_(part: str) -> str:
    return f"(!{part})"


def any_of(attr: str, values: Iterable[str]) -> str:
    return or_(*(eq(attr, v) for v in values))
