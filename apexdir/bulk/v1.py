"""The APEX v1 export that `apexdir migrate-v1` accepts: one CSV row per v1 account.

APEX v1 had two levels: N1 (acts for the partner) and N2 (attached to an N1, who chose its
password). v2 replaces them (SPEC §2): N1 → administrateur of the structure, N2 →
collaborateur in a service of that structure. Passwords are not carried over.

UTF-8 (`--encoding` otherwise), `;` or `,` as delimiter, a header line; columns in any
order, names case-insensitive:

- `niveau` (required): `N1` or `N2`;
- `identifiant` (required): the v1 login; kept when it follows SPEC §3 and is free, else a
  new one is generated from prenom/nom;
- `nom`, `prenom`, `mail` (required): the migration mail goes to `mail`;
- `mobile` (optional);
- `siret` (required, except for an N2 with `rattachement`): SIRET was not mandatory in v1,
  the export must be completed;
- `raison_sociale`, `categorie`: désignation and category (CSP), needed when the structure
  does not exist yet;
- `service` (N2 only): empty → `--default-service` ("Service principal"); ignored for N1;
- `rattachement` (N2): the v1 identifier of its N1, whose SIRET is used when `siret` is empty;
- `habilitations`: `APP/PROFIL|APP/PROFIL`, profiles of the catalogue (created beforehand).

Structures and services named by the rows are created when missing; rows naming one
structure must agree on its raison_sociale and categorie.
"""

from __future__ import annotations

from pathlib import Path

from apexdir.bulk.csvfile import read_text, rows, split_list
from apexdir.bulk.items import AccountItem, Parsed, Problem, ServiceItem, StructureItem
from apexdir.errors import Invalid

COLUMNS = (
    "niveau",
    "identifiant",
    "nom",
    "prenom",
    "mail",
    "mobile",
    "siret",
    "raison_sociale",
    "categorie",
    "service",
    "rattachement",
    "habilitations",
)
REQUIRED = ("niveau", "identifiant", "nom", "prenom", "mail")
LEVELS = {"N1": "administrateur", "N2": "collaborateur"}
DEFAULT_SERVICE = "Service principal"
ALIASES = {
    "prénom": "prenom",
    "e_mail": "mail",
    "email": "mail",
    "raison": "raison_sociale",
    "catégorie": "categorie",
    "niv": "niveau",
    "login": "identifiant",
}


def parse(path: Path, *, encoding: str = "utf-8", default_service: str = DEFAULT_SERVICE) -> Parsed:
    return parse_text(read_text(path, encoding), path, default_service=default_service)


def parse_text(text: str, path: Path, *, default_service: str = DEFAULT_SERVICE) -> Parsed:
    table = rows(_rename_header(text), path, COLUMNS)
    parsed = Parsed(format="apex-v1")
    n1_siret: dict[str, str] = {}
    for _, row in table:
        if (row.get("niveau") or "").upper() == "N1" and row.get("identifiant"):
            n1_siret.setdefault(row["identifiant"].lower(), row.get("siret") or "")
    for number, row in table:
        parsed.records += 1
        try:
            level, siret = _level_and_siret(row, n1_siret)
        except Invalid as exc:
            parsed.problems.append(Problem(number, str(exc)))
            continue
        if row.get("raison_sociale") or row.get("categorie"):
            parsed.items.append(
                StructureItem(
                    number,
                    siret,
                    row.get("categorie") or None,
                    row.get("raison_sociale") or None,
                    implicit=True,
                )
            )
        service = None
        if level == "N2":
            service = row.get("service") or default_service
            parsed.items.append(ServiceItem(number, siret, service, implicit=True))
        parsed.items.append(
            AccountItem(
                number,
                siret,
                LEVELS[level],
                row["nom"],
                row["prenom"],
                row["mail"],
                service=service,
                mobile=row.get("mobile") or None,
                identifier=row["identifiant"],
                identifier_policy="prefer",
                habilitations=split_list(row.get("habilitations")),
                source_identifier=row["identifiant"],
            )
        )
    return parsed


def _level_and_siret(row: dict[str, str], n1_siret: dict[str, str]) -> tuple[str, str]:
    """(N1 or N2, the structure's SIRET) of a row, or `Invalid` saying what is wrong with it;
    an N2 without a SIRET takes its N1's (`rattachement`)."""
    if "__error__" in row:
        raise Invalid(row["__error__"])
    missing = [c for c in REQUIRED if not row.get(c)]
    if missing:
        raise Invalid(f"empty required column(s): {', '.join(missing)}")
    level = row["niveau"].upper()
    if level not in LEVELS:
        raise Invalid(f"niveau {row['niveau']!r}: N1 or N2")
    siret = row.get("siret") or ""
    if not siret and level == "N2" and row.get("rattachement"):
        siret = n1_siret.get(row["rattachement"].lower(), "")
        if not siret:
            raise Invalid(f"rattachement {row['rattachement']!r}: no N1 with a SIRET in the file")
    if not siret:
        raise Invalid("siret: required (or rattachement for an N2)")
    return level, siret


def _rename_header(text: str) -> str:
    """Accept a few spellings of the column names (accents, "e-mail", "login")."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            delimiter = ";" if line.count(";") > line.count(",") else ","
            cells = [
                c.strip().strip('"').strip().lower().replace(" ", "_").replace("-", "_")
                for c in line.rstrip("\r\n").split(delimiter)
            ]
            lines[i] = delimiter.join(ALIASES.get(c, c) for c in cells) + "\n"
            break
    return "".join(lines)
