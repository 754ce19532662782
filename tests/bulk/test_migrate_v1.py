"""`apexdir migrate-v1 FILE`: N1/N2 mapping, identifiers, the set-your-password mail."""

from __future__ import annotations

import re
from pathlib import Path

from apexdir.directory.server import SlapdInstance
from tests.bulk.conftest import BANK, OTHER, Tree, whoami, write_csv
from tests.helpers import Cli

SUBJECT = "APEX Partenaires – Définition du mot de passe de votre compte"
NEW = "N0uveau-S3cret!x"
V1_HEADER = (
    "niveau;identifiant;nom;prenom;mail;mobile;siret;raison_sociale;categorie;service;"
    "rattachement;habilitations"
)
V1_ROWS = [
    f"N1;marie.martin-px;Martin;Marie;marie@bank.example;;{BANK};Banque Exemple;Banques;;;"
    "ADELIE/CONSULT",  # 2: identifier kept
    f"N1;JDUPONT;Dupont;Jean;jean@bank.example;06 12 34 56 78;{BANK};Banque Exemple;Banques;;;",
    "N2;paul.durand-px;Durand;Paul;paul@bank.example;;;;;Comptabilité;marie.martin-px;"
    "ADELIE/CONSULT",  # 4: SIRET of its N1, kept
    f"N2;taken.one-px;Noël;Cathy;cathy@bank.example;;{BANK};;;;;",  # 5: taken → generated
]


def _catalogue(app_cli: Cli, tmp_path: Path) -> None:
    """ADELIE/CONSULT in the catalogue, and an account holding `taken.one-px` elsewhere."""
    app_cli.ok("app", "add", "ADELIE", "--name", "Application ADELIE")
    app_cli.ok("app", "profile-add", "ADELIE", "CONSULT")
    rows = [
        f"structure,{OTHER},Organismes publics,La Poste",
        f"account,{OTHER},,,administrateur,One,Taken,taken@laposte.example,taken.one-px",
    ]
    header = "kind,siret,category,name,type,last_name,first_name,mail,identifier"
    app_cli.ok("import", str(write_csv(tmp_path / "before.csv", rows, header)))


def _links(app_cli: Cli, mail: str) -> list[str]:
    bodies = [m["body"] for m in app_cli.mails(to=mail) if m["subject"] == SUBJECT]
    return re.findall(r"URL : (\S+)", "\n".join(bodies))


def test_migration(app_cli: Cli, tmp_path: Path, tree: Tree, slapd: SlapdInstance) -> None:
    """N1 → administrateur, N2 → collaborateur; ids kept when SPEC §3 and free; mails."""
    _catalogue(app_cli, tmp_path)
    path = write_csv(tmp_path / "v1.csv", V1_ROWS, V1_HEADER)
    report = app_cli.ok("migrate-v1", str(path))
    assert report["format"] == "apex-v1"
    assert report["identifiers"] == {"kept": 2, "generated": 2}
    assert report["renamed"] == [
        {"line": 3, "v1": "JDUPONT", "identifier": "jean.dupont-px"},
        {"line": 5, "v1": "taken.one-px", "identifier": "cathy.noel-px"},
    ]
    assert report["invited"] == 4
    assert report["created"]["structures"] == 1 and report["created"]["services"] == 2
    accounts = tree.accounts()
    assert accounts["marie.martin-px"].get("apexAccountType") == "administrateur"
    assert accounts["jean.dupont-px"].get("apexAccountType") == "administrateur"
    assert accounts["jean.dupont-px"].get("apexServiceRef") is None
    shown = app_cli.ok("structure", "show", BANK)
    services = {
        s["name"]: [a["identifier"] for a in s["collaborateurs"]] for s in shown["services"]
    }
    assert services == {"Comptabilité": ["paul.durand-px"], "Service principal": ["cathy.noel-px"]}
    assert [a["habilitations"] for a in shown["administrators"]] == [[], ["ADELIE/CONSULT"]]
    # No password was carried over: nobody can bind before choosing one.
    paul = slapd.layout.account_dn("paul.durand-px")
    assert whoami(slapd.uri, paul, "anything") != 0
    (link,) = _links(app_cli, "paul@bank.example")
    mail = next(m for m in app_cli.mails(to="paul@bank.example") if m["subject"] == SUBJECT)
    assert "paul.durand-px" in mail["body"]
    assert link.startswith("https://apex-partenaires.dgfip.finances.gouv.fr/reinitialisation/")
    # The link lets the account choose its password, once.
    app_cli.ok("password", "reset", "paul.durand-px", link, input=f"{NEW}\n{NEW}\n")
    assert whoami(slapd.uri, paul, NEW) == 0
    app_cli.fails(1, "password", "reset", "paul.durand-px", link, input=f"{NEW}x\n{NEW}x\n")
    # The journal has one entry for the run, and no link.
    entries = [e for e in app_cli.ok("journal") if e["action"] == "bulk.migrate-v1"]
    assert len(entries) == 1 and "reinitialisation" not in str(entries[0])
    # A re-run creates nothing and mails nobody again.
    again = app_cli.ok("migrate-v1", str(path))
    assert again["created"] == {} and again["invited"] == 0
    assert again["existing"]["accounts"] == 4
    assert len(_links(app_cli, "cathy@bank.example")) == 1


def test_existing_accounts_never_invited_are_invited(
    app_cli: Cli, tmp_path: Path, tree: Tree
) -> None:
    """Accounts loaded without an invitation (offline, or a run killed before the mail)
    get one from the next run; only once."""
    app_cli.ok("app", "add", "ADELIE", "--name", "Application ADELIE")
    app_cli.ok("app", "profile-add", "ADELIE", "CONSULT")
    path = write_csv(tmp_path / "v1.csv", V1_ROWS[:1], V1_HEADER)
    app_cli.ok("migrate-v1", "--offline", str(tmp_path / "out.ldif"), "--dry-run", str(path))
    rows = [
        f"structure,{BANK},Banques,Banque Exemple",
        f"account,{BANK},,,administrateur,Martin,Marie,marie@bank.example,",
    ]
    header = "kind,siret,category,name,type,last_name,first_name,mail,identifier"
    app_cli.ok("import", str(write_csv(tmp_path / "plain.csv", rows, header)))
    assert _links(app_cli, "marie@bank.example") == []
    report = app_cli.ok("migrate-v1", str(path))
    assert report["created"]["habilitations"] == 1 and report["invited"] == 1
    assert len(_links(app_cli, "marie@bank.example")) == 1
    assert app_cli.ok("migrate-v1", str(path))["invited"] == 0


def test_v1_rows_that_cannot_be_migrated(app_cli: Cli, tmp_path: Path, tree: Tree) -> None:
    rows = [
        "N3;x.y-px;Y;X;x@bank.example;;;;;;;",  # 2: no such level
        "N2;a.b-px;B;A;a@bank.example;;;;;;nobody-px;",  # 3: unknown N1
        f"N1;c.d-px;D;C;c@bank.example;;{BANK};;;;;",  # 4: structure unknown, not described
        f"N1;e.f-px;F;E;;;{BANK};Banque;Banques;;;",  # 5: no mail
    ]
    stderr = app_cli.fails(1, "migrate-v1", str(write_csv(tmp_path / "v1.csv", rows, V1_HEADER)))
    lines = stderr.splitlines()[1:]
    assert "line 2: niveau 'N3'" in lines[0]
    assert "line 3: rattachement 'nobody-px'" in lines[1]
    assert f"line 4: structure {BANK} does not exist" in lines[2]
    assert "line 5: empty required column(s): mail" in lines[3]
    assert tree.accounts() == {}
