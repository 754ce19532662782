"""The one LDIF (RFC 2849) reader and writer for content records: what apexdir ships,
imports, loads with slapadd and backs up.

The writer takes values as text or as the bytes slapd holds (a backup keeps argon2 values
that end with a NUL and a stray byte): a value goes out as it is when it is printable ASCII
that does not start with a space, a colon or "<" nor end with a space, base64-encoded
otherwise (control characters included).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from typing import Any

# (dn, attributes, more attributes): values may be one value, a list of them, or None, ""
# or [] (left out) — as a bulk import's plan holds them, so that no dict is copied.
Record = tuple[str, dict[str, Any], tuple[tuple[str, Any], ...]]
CHUNK = 20_000  # lines rendered before a chunk is handed out


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


def safe(value: str) -> bool:
    """Whether `value` may be written as it is (a SAFE-STRING that survives a round trip)."""
    return not value or (
        value.isascii() and value.isprintable() and value[0] not in " :<" and value[-1] != " "
    )


def line(name: str, value: str | bytes) -> str:
    """One attribute line, with its newline."""
    if isinstance(value, bytes):
        if value.isascii() and safe(text := value.decode("ascii")):
            return f"{name}: {text}\n"
        return f"{name}:: {base64.b64encode(value).decode()}\n"
    if safe(value):
        return f"{name}: {value}\n"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode()}\n"


def dump(records: Iterable[tuple[str, dict[str, Any]]]) -> Iterator[str]:
    """LDIF text, one record at a time (for slapadd and exports)."""
    for dn, attrs in records:
        yield from render([(dn, attrs, ())])


def render(records: Iterable[Record]) -> Iterator[str]:
    """LDIF text of (dn, attributes, more attributes), in large chunks.

    A bulk load writes two million values: `safe`'s test is inlined for the common single
    text value (a call per value was a third of the writing), and the plan's dicts are
    read as they are.
    """
    chunk: list[str] = []
    append = chunk.append
    for dn, attrs, tail in records:
        append(line("dn", dn))
        for name, value in (*attrs.items(), *tail) if tail else attrs.items():
            if value.__class__ is str:  # most values: no list to make, no str() to call
                if (
                    value
                    and value.isascii()
                    and value.isprintable()
                    and value[0] not in " :<"
                    and value[-1] != " "
                ):
                    append(f"{name}: {value}\n")
                elif value:
                    append(line(name, value))
                continue
            if value is None or value == []:
                continue
            for item in value if isinstance(value, list) else (value,):
                if item.__class__ is bytes:
                    append(line(name, item))
                    continue
                text = str(item)
                if (
                    text.isascii()
                    and text.isprintable()
                    and text[:1] not in " :<"
                    and text[-1] != " "
                ):
                    append(f"{name}: {text}\n")
                else:
                    append(line(name, text))
        append("\n")
        if len(chunk) > CHUNK:
            yield "".join(chunk)
            chunk.clear()
    yield "".join(chunk)
