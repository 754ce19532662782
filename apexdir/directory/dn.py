"""Reading DNs apexdir did not build: compare, cut, test where they sit (RFC 4514 escapes).

The one place that parses a DN (`layout.py` builds them). The common DN has no backslash:
it is cut with `str` methods (C speed; the bulk load calls these a million times on a
100,000-account file); a DN with escapes takes the escape-aware path.
"""

from __future__ import annotations

from apexdir.directory.layout import first_rdn_value


def rdns(dn: str) -> list[str]:
    """The RDNs of `dn`, escapes kept, spaces around each trimmed, empty ones dropped."""
    if "\\" not in dn:
        return [p.strip() for p in dn.split(",") if p.strip()]
    parts, current, i = [], [], 0
    while i < len(dn):
        ch = dn[i]
        if ch == "\\" and i + 1 < len(dn):
            current.append(dn[i : i + 2])
            i += 2
            continue
        if ch == ",":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def norm(dn: str) -> str:
    """A DN for comparisons: lower case, no spaces around `,` and `=` (escapes kept)."""
    text = dn.strip()
    if "\\" not in text and " " not in text:
        return text.lower()
    return ",".join("=".join(s.strip() for s in p.split("=", 1)) for p in rdns(text)).lower()


def parent(dn: str) -> str:
    """The DN without its first RDN."""
    if "\\" not in dn:
        return dn.partition(",")[2].lstrip()
    i = 0
    while i < len(dn) and dn[i] != ",":
        i += 2 if dn[i] == "\\" else 1
    return dn[i + 1 :].lstrip()


def rdn_value(dn: str) -> str:
    """The value of the first RDN, unescaped."""
    if "\\" in dn or "+" in dn:
        return first_rdn_value(dn)
    return dn.split(",", 1)[0].partition("=")[2].strip()


def is_child(dn: str, of: str) -> bool:
    """Whether `dn` sits directly under `of`."""
    return is_below(dn, of, depth=1)


def is_below(dn: str, of: str, *, depth: int) -> bool:
    """Whether `dn` sits exactly `depth` levels under `of` (a profile is 2 under the
    applications' branch: `cn=PROFILE,cn=APP,ou=applications,…`)."""
    mine = rdns(norm(dn))
    return len(mine) > depth and ",".join(mine[depth:]) == norm(of)
