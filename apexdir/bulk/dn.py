"""DN helpers for bulk loads, called a million times on a 100,000-account file.

The common DN has no escape: it is cut with `str` methods (C speed). A DN with a backslash
goes to the general, escape-aware functions of `apexdir.directory` (layout, mapping).
"""

from __future__ import annotations

from apexdir.directory.layout import first_rdn_value
from apexdir.directory.mapping import parent_dn


def norm_dn(dn: str) -> str:
    """A DN compared loosely: lower case, no spaces around `,` and `=` (escapes kept)."""
    text = dn.strip()
    if "\\" not in text:
        if " " not in text:
            return text.lower()
        return ",".join(
            "=".join(side.strip() for side in part.split("=", 1)) for part in text.split(",")
        ).lower()
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return ",".join("=".join(s.strip() for s in p.split("=", 1)) for p in parts).lower()


def rdn_value(dn: str) -> str:
    """The value of the first RDN, unescaped."""
    if "\\" in dn or "+" in dn:
        return first_rdn_value(dn)
    return dn.split(",", 1)[0].partition("=")[2].strip()


def parent(dn: str) -> str:
    """The DN without its first RDN."""
    if "\\" in dn:
        return parent_dn(dn)
    return dn.partition(",")[2].lstrip()
