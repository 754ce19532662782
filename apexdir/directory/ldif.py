"""A small LDIF (RFC 2849) reader and writer for content records: what apexdir ships and imports."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator


def parse(text: str) -> Iterator[tuple[str, dict[str, list[str]]]]:
    """(dn, attributes) per record; comments skipped, folded lines joined, base64 decoded."""
    lines: list[str] = []
    for raw in text.splitlines():
        if raw.startswith(" ") and lines:
            lines[-1] += raw[1:]
        else:
            lines.append(raw)
    record: list[str] = []
    for line in [*lines, ""]:
        if line.startswith("#"):
            continue
        if line.strip():
            record.append(line)
            continue
        if record:
            yield _record(record)
            record = []


def _record(lines: list[str]) -> tuple[str, dict[str, list[str]]]:
    dn = ""
    attrs: dict[str, list[str]] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"not an LDIF line: {line!r}")
        if value.startswith(":"):
            value = base64.b64decode(value[1:].strip()).decode("utf-8")
        else:
            value = value.strip()
        if name.lower() == "dn":
            dn = value
        elif name.lower() != "version":
            attrs.setdefault(name, []).append(value)
    if not dn:
        raise ValueError("LDIF record without dn")
    return dn, attrs


def _safe(value: str) -> bool:
    return (
        value.isascii()
        and value == value.strip()
        and not value.startswith((":", "<"))
        and ("\n" not in value and "\r" not in value and "\0" not in value)
    )


def dump(records: Iterable[tuple[str, dict[str, list[str]]]]) -> Iterator[str]:
    """LDIF text, one record at a time (for slapadd and exports)."""
    for dn, attrs in records:
        out = [_line("dn", dn)]
        for name, values in attrs.items():
            out.extend(_line(name, v) for v in values)
        yield "\n".join(out) + "\n\n"


def _line(name: str, value: str) -> str:
    if _safe(value):
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode()}"
