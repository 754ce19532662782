"""Turns the slapd.conf schema (schema/apex.schema) into its cn=config form (schema/apex.ldif).

Both forms ship; this keeps one source of truth. Run `python -m apexdir.directory.schema_ldif`
after editing apex.schema (a test fails when the two drift apart).
"""

from __future__ import annotations

import re
import sys

from apexdir.resources import schema_dir

_KEYWORDS = {
    "objectidentifier": "olcObjectIdentifier",
    "attributetype": "olcAttributeTypes",
    "objectclass": "olcObjectClasses",
}


def statements(text: str) -> list[tuple[str, str]]:
    """(keyword, definition) pairs; continuation lines start with white space."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace():
            keyword, body = out[-1]
            out[-1] = (keyword, f"{body} {line.strip()}")
            continue
        keyword, _, body = line.partition(" ")
        out.append((keyword.lower(), body.strip()))
    return [(k, re.sub(r"\s+", " ", b)) for k, b in out]


def to_ldif(text: str, name: str = "apex") -> str:
    lines = [
        "# Generated from apex.schema by apexdir.directory.schema_ldif: do not edit.",
        "# Load with: ldapadd -Y EXTERNAL -H ldapi:/// -f apex.ldif",
        f"dn: cn={name},cn=schema,cn=config",
        "objectClass: olcSchemaConfig",
        f"cn: {name}",
    ]
    for keyword, body in statements(text):
        attr = _KEYWORDS.get(keyword)
        if attr is None:
            raise ValueError(f"unknown schema keyword: {keyword}")
        lines.append(f"{attr}: {body}")
    return "\n".join(lines) + "\n"


def main() -> None:
    source = schema_dir() / "apex.schema"
    target = schema_dir() / "apex.ldif"
    target.write_text(to_ldif(source.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
