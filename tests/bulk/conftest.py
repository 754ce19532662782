"""Fixtures of the bulk tests: small import files and a way to read what landed in slapd."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from apexdir.directory.server import SlapdInstance
from tests.conftest import admin

OTHER = "35600000000048"  # La Poste's own SIRET rule
BANK = "73282932000074"

HEADER = (
    "kind,siret,category,name,city,service,application,profile,type,last_name,"
    "first_name,mail,mobile,identifier,habilitations,delegations"
)

# Line numbers matter to the tests: line 1 is the header.
CSV_ROWS = [
    f"structure,{BANK},Banques,Banque Exemple,Paris,,,,,,,,,,,",  # 2
    f"structure,{OTHER},Organismes publics,La Poste,Paris,,,,,,,,,,,",  # 3
    f"service,{BANK},,,,Comptabilité,,,,,,,,,,",  # 4
    f"service,{BANK},,,,Paie,,,,,,,,,,",  # 5
    f"service,{OTHER},,,,Courrier,,,,,,,,,,",  # 6
    "profile,,,Application ADELIE,,,ADELIE,CONSULT,,,,,,,,",  # 7
    "profile,,,,,,ADELIE,SAISIE,,,,,,,,",  # 8
    f"account,{BANK},,,,,,,administrateur,Martin,Marie,marie@bank.example,06 12 34 56 78,,"
    "ADELIE/CONSULT|ADELIE/SAISIE,",  # 9
    f"account,{BANK},,,,Comptabilité,,,responsable,Noël,Cathy,cathy@bank.example,,,"
    "ADELIE/CONSULT,ADELIE/CONSULT",  # 10
    f"account,{BANK},,,,Paie,,,collaborateur,d'Alembert,Sylvie,sylvie@bank.example,,,,",  # 11
    f"account,{OTHER},,,,Courrier,,,collaborateur,Martin,Marie,marie.martin@laposte.example,,,"
    "ADELIE/CONSULT,",  # 12
    f"account,{OTHER},,,,,,,administrateur,de la Bruyère,Michel,michel@laposte.example,,"
    "michel.de-la-bruyere-px,,",  # 13
]


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def import_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "import.csv", CSV_ROWS)


class Tree:
    """What the directory holds, read with the rootdn (tests only)."""

    def __init__(self, slapd: SlapdInstance) -> None:
        self.slapd = slapd
        self.layout = slapd.layout

    def search(self, base: str, filt: str, attrs: list[str]) -> list[Any]:
        with admin(self.slapd) as directory:
            return directory.search(base, filt, attrs)

    def accounts(self) -> dict[str, Any]:
        found = self.search(
            self.layout.people_dn,
            "(objectClass=apexAccount)",
            [
                "uid",
                "memberOf",
                "mail",
                "apexServiceRef",
                "apexAccountType",
                "pwdChangedTime",
                "apexDelegatedProfile",
                "mobile",
                "apexResetSecret",
            ],
        )
        return {str(e.get("uid")): e for e in found}

    def count(self, base: str, filt: str) -> int:
        return len(self.search(base, filt, ["1.1"]))

    def structures(self) -> int:
        return self.count(self.layout.structures_dn, "(objectClass=apexStructure)")

    def services(self) -> int:
        return self.count(self.layout.structures_dn, "(objectClass=apexService)")


@pytest.fixture
def tree(slapd: SlapdInstance) -> Tree:
    return Tree(slapd)


def whoami(uri: str, dn: str, password: str) -> int:
    return subprocess.run(
        ["ldapwhoami", "-x", "-H", uri, "-D", dn, "-w", password], capture_output=True
    ).returncode
