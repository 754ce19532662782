"""The import CSV: one file for structures, services, profiles and accounts.

UTF-8 (a BOM is fine; `--encoding` for others), `,` or `;` as delimiter (whichever the
header line uses), a header line naming the columns in any order. The `kind` column says
what a row is; a row leaves empty the columns its kind does not use. Values with several
items (habilitations, delegations) separate them with `|`.

| column | structure | service | profile | account |
|---|---|---|---|---|
| kind | `structure` | `service` | `profile` | `account` |
| siret | required | required | | required |
| category | required (configured list) | | | |
| name | désignation, required | | application name (when new) | |
| trade_name, street, street2, postal_code, city, country | optional | | | |
| service | | required | | responsable, collaborateur: required |
| application | | | code, required | application cliente, optional |
| profile | | | required | |
| type | | | | administrateur, responsable or collaborateur |
| last_name, first_name, mail | | | | required |
| mobile | | | | optional |
| identifier | | | | optional: kept (must follow SPEC §3 and be free), else generated |
| habilitations | | | | optional: `APP/PROFILE|APP/PROFILE` |
| delegations | | | | optional, responsables only: `APP/PROFILE|…` |

Rows may come in any order: an account may precede its structure. Blank lines and lines
whose first cell starts with `#` are ignored. An unknown column makes the whole file
invalid (a typo would otherwise silently drop a value).
"""

from __future__ import annotations

import csv
from pathlib import Path

from apexdir.bulk.items import (
    AccountItem,
    Parsed,
    Problem,
    ProfileItem,
    ServiceItem,
    StructureItem,
)
from apexdir.errors import Invalid

COLUMNS = (
    "kind",
    "siret",
    "category",
    "name",
    "trade_name",
    "street",
    "street2",
    "postal_code",
    "city",
    "country",
    "service",
    "application",
    "profile",
    "type",
    "last_name",
    "first_name",
    "mail",
    "mobile",
    "identifier",
    "habilitations",
    "delegations",
)
KINDS = {
    "structure": "structure",
    "service": "service",
    "profile": "profile",
    "profil": "profile",
    "account": "account",
    "compte": "account",
}
SEPARATOR = "|"


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """The file's text; a file that is not in `encoding` is refused with a hint."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise Invalid(f"{path}: cannot read: {exc.strerror}") from None
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise Invalid(
            f"{path}: line {line} is not valid {encoding} (pass --encoding, e.g. cp1252)"
        ) from None
    except LookupError:
        raise Invalid(f"--encoding {encoding}: unknown encoding") from None


def rows(text: str, path: Path, known: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line number, {column: stripped value}) per row; the header is checked first."""
    lines = text.splitlines()
    header_at = next(
        (i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")), None
    )
    if header_at is None:
        raise Invalid(f"{path}: empty file (a header line is expected)")
    header_line = lines[header_at]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(lines[header_at:], delimiter=delimiter)
    header = [h.strip().lower().replace(" ", "_").replace("-", "_") for h in next(reader)]
    unknown = [h for h in header if h not in known]
    if unknown:
        raise Invalid(
            f"{path}: line {header_at + 1}: unknown column(s) {', '.join(unknown)}; "
            f"known: {', '.join(known)}"
        )
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise Invalid(f"{path}: line {header_at + 1}: column(s) twice: {', '.join(duplicated)}")
    out: list[tuple[int, dict[str, str]]] = []
    end = 1  # reader.line_num counts from the header (line header_at + 1 of the file)
    for cells in reader:
        start, end = end + 1, reader.line_num
        number = header_at + start
        if not cells or not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        if len(cells) > len(header):
            out.append((number, {"__error__": f"{len(cells)} cells for {len(header)} columns"}))
            continue
        out.append((number, {h: c.strip() for h, c in zip(header, cells, strict=False)}))
    return out


def split_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(SEPARATOR) if part.strip()]


def _opt(row: dict[str, str], column: str) -> str | None:
    return row.get(column) or None


def parse(path: Path, encoding: str = "utf-8") -> Parsed:
    return parse_text(read_text(path, encoding), path)


def parse_text(text: str, path: Path) -> Parsed:
    parsed = Parsed(format="csv")
    for number, row in rows(text, path, COLUMNS):
        parsed.records += 1
        if "__error__" in row:
            parsed.problems.append(Problem(number, row["__error__"]))
            continue
        kind = KINDS.get((row.get("kind") or "").lower())
        if kind is None:
            parsed.problems.append(
                Problem(number, f"kind {row.get('kind')!r}: structure, service, profile or account")
            )
        elif kind == "structure":
            parsed.items.append(
                StructureItem(
                    number,
                    row.get("siret", ""),
                    _opt(row, "category"),
                    _opt(row, "name"),
                    _opt(row, "trade_name"),
                    _opt(row, "street"),
                    _opt(row, "street2"),
                    _opt(row, "postal_code"),
                    _opt(row, "city"),
                    _opt(row, "country"),
                )
            )
        elif kind == "service":
            parsed.items.append(ServiceItem(number, row.get("siret", ""), row.get("service", "")))
        elif kind == "profile":
            parsed.items.append(
                ProfileItem(
                    number, row.get("application", ""), row.get("profile", ""), _opt(row, "name")
                )
            )
        else:
            parsed.items.append(
                AccountItem(
                    number,
                    row.get("siret", ""),
                    row.get("type", ""),
                    row.get("last_name", ""),
                    row.get("first_name", ""),
                    row.get("mail", ""),
                    service=_opt(row, "service"),
                    mobile=_opt(row, "mobile"),
                    identifier=_opt(row, "identifier"),
                    application=_opt(row, "application"),
                    habilitations=split_list(row.get("habilitations")),
                    delegations=split_list(row.get("delegations")),
                )
            )
    return parsed
