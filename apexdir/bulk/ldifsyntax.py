"""LDIF text → records, for the import: line numbers kept, values decoded.

`records` + `parse_record` handle any file (folded lines, CRLF); `unfolded` reads the usual
file without folded lines (apexdir's and ldapadd-style LDIF) in one pass. What
`apexdir.directory.ldif.parse` does, without its generality: a bulk file has hundreds of
thousands of records, and a problem must name its line.
"""

from __future__ import annotations

import base64
import binascii
from typing import Protocol


class Sink(Protocol):
    def flush(self, line: int, dn: str, attrs: dict[str, list[str]], error: str) -> None: ...


def parse_record(lines: list[str]) -> tuple[str, dict[str, list[str]]]:
    """(dn, {lower-case attribute: values}) of one record's unfolded lines.

    The caller split the records already (it needs their line numbers).
    """
    dn = ""
    attrs: dict[str, list[str]] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"not an LDIF line: {line!r}")
        if value[:1] == ":":
            value = base64.b64decode(value[1:].strip()).decode("utf-8")
        elif value[:1] == "<":
            raise ValueError(f"{name}: values read from a URL (:<) are not supported")
        else:
            value = value.strip()
        key = name.strip().lower()
        if key == "dn":
            dn = value
        elif key in attrs:
            attrs[key].append(value)
        else:
            attrs[key] = [value]
    if not dn:
        raise ValueError("record without dn")
    return dn, attrs


def records(text: str) -> list[tuple[int, list[str]]]:
    """(line of the first line, lines) per record; comments and `version:` dropped."""
    out: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith("#"):
            continue
        if raw.startswith(" ") and current:
            current[-1] += raw[1:]
            continue
        if not raw.strip():
            if current:
                out.append((start, current))
                current = []
            continue
        if not current:
            start = number
        current.append(raw)
    if current:
        out.append((start, current))
    return [(n, lines) for n, lines in out if not lines[0].lower().startswith("version:")]


def looks_like_ldif(text: str) -> bool:
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            return line.lower().startswith(("dn:", "version:"))
    return False


def unfolded(text: str, reader: Sink, first_line: int = 1) -> None:
    """`records` + `parse_record` in one pass, for the usual file without folded lines
    (apexdir's and ldapadd-style LDIF): a 100,000-account file has two million lines."""
    attrs: dict[str, list[str]] = {}
    start, dn, error = 0, "", ""
    keys: dict[str, str] = {}  # an attribute name as written → stripped, lower case
    for number, raw in enumerate([*text.split("\n"), ""], start=first_line):
        if not raw or raw.isspace():
            if start:
                reader.flush(start, dn, attrs, error)
                start, dn, attrs, error = 0, "", {}, ""
            continue
        if raw[0] == "#" or error:
            continue
        if not start:
            start = number
        name, sep, value = raw.partition(":")
        if not sep:
            error = f"not an LDIF line: {raw!r}"
            continue
        head = value[:1]
        if head == ":":
            try:
                value = base64.b64decode(value[1:].strip()).decode("utf-8")
            except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
                error = str(exc)
                continue
        elif head == "<":
            error = f"{name}: values read from a URL (:<) are not supported"
            continue
        else:
            value = value.strip()
        key = keys.get(name)
        if key is None:
            key = keys[name] = name.strip().lower()
        if key == "dn":
            dn = value
        elif key in attrs:
            attrs[key].append(value)
        else:
            attrs[key] = [value]
