"""Building blocks of the CLI tests: a catalogue, structures and accounts made through the CLI.

Every account is created the way a partner is: invite → the link mailed → the form →
validation, by the actors SPEC §5 names (an agent validates administrators, an
administrator validates responsables and collaborateurs, whoever invited them).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

from apexdir.directory.connection import Entry
from apexdir.directory.server import SlapdInstance
from tests.conftest import admin
from tests.helpers import (
    OTHER_SIRET,
    PASSWORD,
    SIRET,
    Cli,
    make_account,
    make_catalogue,
    make_right,
)

APP = "APPDGFIP"
APP_NAME = "App DGFIP"
READ = "Lecture"
WRITE = "Ecriture"
EXTRA = "Consultation"
SERVICE = "Comptabilité"
SERVICE2 = "Ressources humaines"
OTHER_SERVICE = "Direction"

SUBJECTS = {
    "precreation": "APEX Partenaires – Informations complémentaires concernant la création "
    "de votre compte personnel",
    "validation": "APEX Partenaires – Validation de création de votre compte",
    "refusal": "APEX Partenaires – Refus de création de votre compte",
    "attribution": "APEX Partenaires – Attribution de profils applicatifs",
    "delegation": "APEX Partenaires – Délégation de profils applicatifs",
    "identifier": "APEX Partenaires – Rappel de votre identifiant de connexion",
    "personal_data": "APEX Partenaires - Confirmation modification de vos données personnelles",
}


def catalogue(cli: Cli) -> None:
    """One application with three profiles."""
    make_catalogue(cli.config, APP, APP_NAME, READ, WRITE, EXTRA)


def structure(cli: Cli, siret: str = SIRET, name: str = "Banque Exemple", *services: str) -> None:
    cli.create_structure(siret, name, *services, street="15 rue de Langoumois",
                         city="Argenteuil", postal_code="95018", country="France")  # fmt: skip


def invite(
    cli: Cli,
    siret: str,
    kind: str,
    mail: str,
    service: str | None = None,
    as_: str | None = None,
    application: str | None = None,
) -> str:
    return cli.invite(siret, kind, mail, service, as_=as_, application=application)


def complete(
    cli: Cli, mail: str, first: str, last: str, mobile: str | None = None
) -> dict[str, Any]:
    return cli.complete(mail, first, last, mobile)


def account(
    cli: Cli,
    siret: str,
    kind: str,
    mail: str,
    first: str,
    last: str,
    *,
    service: str | None = None,
    inviter: str | None = None,
    validator: str | None = None,
    mobile: str | None = "06 12 34 56 78",
) -> str:
    """A validated account (tests/helpers.py's builder); the identifier."""
    return make_account(cli.config, siret, kind, mail, first, last, service=service,
                        inviter=inviter, validator=validator, mobile=mobile)  # fmt: skip


@dataclass
class World:
    """Two structures: A (services Comptabilité and Ressources humaines) and B (Direction).

    In A: an administrator holding Lecture and Ecriture, a responsable per service (the one of
    Comptabilité holds the delegation of Lecture), a collaborateur per service. In B: an
    administrator holding Lecture and Ecriture.
    """

    adm_a: str = ""
    adm_b: str = ""
    resp1: str = ""
    resp2: str = ""
    collab1: str = ""
    collab2: str = ""
    mails: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)  # what a test keeps along the way


def world(cli: Cli) -> World:
    catalogue(cli)
    structure(cli, SIRET, "Banque Exemple", SERVICE, SERVICE2)
    structure(cli, OTHER_SIRET, "La Poste", OTHER_SERVICE)
    w = World()
    w.adm_a = account(cli, SIRET, "administrateur", "adm.a@example.org", "Marie", "Martin")
    w.adm_b = account(cli, OTHER_SIRET, "administrateur", "adm.b@example.org", "Paul", "Durand")
    for adm in (w.adm_a, w.adm_b):
        make_right(cli.config, "grant", adm, APP, READ)
        make_right(cli.config, "grant", adm, APP, WRITE)
    a = w.adm_a
    w.resp1 = account(
        cli,
        SIRET,
        "responsable",
        "resp1@example.org",
        "Jean",
        "Dupont",
        service=SERVICE,
        inviter=a,
        validator=a,
    )
    w.resp2 = account(
        cli,
        SIRET,
        "responsable",
        "resp2@example.org",
        "Lucie",
        "Bernard",
        service=SERVICE2,
        inviter=a,
        validator=a,
    )
    make_right(cli.config, "delegate", w.resp1, APP, READ, as_=a)
    w.collab1 = account(
        cli,
        SIRET,
        "collaborateur",
        "collab1@example.org",
        "Jeanne",
        "Dupont",
        service=SERVICE,
        inviter=w.resp1,
        validator=a,
    )
    w.collab2 = account(
        cli,
        SIRET,
        "collaborateur",
        "collab2@example.org",
        "Hugo",
        "Petit",
        service=SERVICE2,
        inviter=a,
        validator=a,
    )
    w.mails = {
        w.adm_a: "adm.a@example.org",
        w.adm_b: "adm.b@example.org",
        w.resp1: "resp1@example.org",
        w.resp2: "resp2@example.org",
        w.collab1: "collab1@example.org",
        w.collab2: "collab2@example.org",
    }
    return w


# ---------------------------------------------------------------------- the directory itself
def entry(slapd: SlapdInstance, identifier: str) -> Entry | None:
    """The account's entry as the directory holds it (rootdn: every attribute)."""
    with admin(slapd) as directory:
        return directory.get(slapd.layout.account_dn(identifier), ["*", "+"])


def snapshot(slapd: SlapdInstance) -> dict[str, dict[str, list[str]]]:
    """Every entry of the data branches with its user attributes, for "nothing changed"."""
    out: dict[str, dict[str, list[str]]] = {}
    with admin(slapd) as directory:
        for branch in ("structures", "people", "applications", "requests"):
            for e in directory.search(f"ou={branch},{slapd.base_dn}", "(objectClass=*)"):
                out[e.dn.lower()] = {k.lower(): sorted(map(str, v)) for k, v in e.attrs.items()}
    return out


def members(slapd: SlapdInstance, app: str, profile: str) -> list[str]:
    with admin(slapd) as directory:
        found = directory.get(slapd.layout.profile_dn(app, profile), ["member"])
        return sorted(str(m).lower() for m in found.all("member")) if found else []


def bind(slapd: SlapdInstance, identifier: str, password: str = PASSWORD) -> bool:
    """Whether the account can bind with that password, as an application does (ldapwhoami)."""
    result = subprocess.run(
        [
            "ldapwhoami",
            "-x",
            "-H",
            slapd.uri,
            "-D",
            slapd.layout.account_dn(identifier),
            "-w",
            password,
        ],
        capture_output=True,
        text=True,
    )
    return result.returncode == 0


def ldapsearch(slapd: SlapdInstance, ldap_filter: str, *attrs: str) -> str:
    """ldapsearch's LDIF as the rootdn sees it (the operator's own tool)."""
    result = subprocess.run(
        [
            "ldapsearch",
            "-x",
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-H",
            slapd.uri,
            "-D",
            slapd.layout.admin_dn,
            "-w",
            slapd.admin_password(),
            "-b",
            slapd.layout.people_dn,
            ldap_filter,
            *attrs,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def mails_to(cli: Cli, mail: str, kind: str) -> list[dict[str, Any]]:
    return [m for m in cli.mails(to=mail) if m["subject"] == SUBJECTS[kind]]


def journal(cli: Cli) -> list[dict[str, Any]]:
    return list(cli.ok("journal"))


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)
