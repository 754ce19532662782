"""The creation flow of each account type, end to end through the CLI (SPEC §5)."""

from __future__ import annotations

import subprocess

from apexdir.directory.server import SlapdInstance
from tests.helpers import OTHER_SIRET, PASSWORD, SIRET, Cli

SUBJECT_PRECREATION = (
    "APEX Partenaires – Informations complémentaires concernant la création "
    "de votre compte personnel"
)


def setup_structure(app_cli: Cli) -> None:
    app_cli.ok(
        "structure",
        "create",
        "--siret",
        SIRET,
        "--category",
        "Banques",
        "--name",
        "Banque Exemple",
        "--city",
        "Paris",
        "--postal-code",
        "75001",
    )
    app_cli.ok("service", "create", SIRET, "Comptabilité")


def test_administrator_creation_end_to_end(app_cli: Cli, slapd: SlapdInstance) -> None:
    """Agent invites, invitee completes, agent validates; the identifier is mailed; bind works."""
    setup_structure(app_cli)
    request = app_cli.ok(
        "account",
        "invite",
        "--structure",
        SIRET,
        "--type",
        "administrateur",
        "--mail",
        "marie@example.org",
    )["request_id"]
    mails = app_cli.mails(to="marie@example.org")
    assert [m["subject"] for m in mails] == [SUBJECT_PRECREATION]
    assert "La création d'un compte a été initiée" in mails[0]["body"]
    link = app_cli.link_for("marie@example.org")
    assert link.endswith(link.rsplit("/", 1)[-1])

    pending = app_cli.ok("account", "pending")
    assert [(p["request_id"], p["status"]) for p in pending] == [(request, "invited")]

    submitted = app_cli.ok(
        "account",
        "complete",
        link,
        "--last-name",
        "Martin",
        "--first-name",
        "Marie",
        "--mobile",
        "06 12 34 56 78",
        "--yes",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert submitted["status"] == "submitted"
    assert app_cli.ok("account", "pending")[0]["status"] == "submitted"

    identifier = app_cli.ok("account", "validate", request)["identifier"]
    assert identifier == "marie.martin-px"
    mails = app_cli.mails(to="marie@example.org")
    assert mails[-1]["subject"] == "APEX Partenaires – Validation de création de votre compte"
    assert "votre identifiant de connexion : marie.martin-px" in mails[-1]["body"]

    bind = subprocess.run(
        [
            "ldapwhoami",
            "-x",
            "-H",
            slapd.uri,
            "-D",
            f"uid={identifier},{slapd.layout.people_dn}",
            "-w",
            PASSWORD,
        ],
        capture_output=True,
        text=True,
    )
    assert bind.returncode == 0, bind.stderr

    shown = app_cli.ok("account", "show", identifier)
    assert shown["type"] == "administrateur" and shown["siret"] == SIRET
    assert shown["mobile"] == "+33612345678"  # an agent sees the mobile


def test_token_is_single_use_and_bad_form_does_not_burn_it(app_cli: Cli) -> None:
    """A refused form leaves the link usable; a used link is refused."""
    setup_structure(app_cli)
    app_cli.ok(
        "account",
        "invite",
        "--structure",
        SIRET,
        "--type",
        "administrateur",
        "--mail",
        "a@example.org",
    )
    link = app_cli.link_for("a@example.org")
    form = ["account", "complete", link, "--last-name", "Noël", "--first-name", "Cathy", "--yes"]
    err = app_cli.fails(1, *form, input="short\nshort\n")
    assert "mot de passe" in err.lower()
    app_cli.fails(1, *form, input=f"{PASSWORD}\nOther-Passw0rd!\n")
    app_cli.ok(*form, input=f"{PASSWORD}\n{PASSWORD}\n")
    app_cli.fails(1, *form, input=f"{PASSWORD}\n{PASSWORD}\n")


def test_collaborateur_created_by_administrator(app_cli: Cli) -> None:
    """An administrator invites and validates a collaborateur of his structure."""
    setup_structure(app_cli)
    admin = app_cli.create_account(
        SIRET, "administrateur", "adm@example.org", "Sylvie", "d'Alembert"
    )
    assert admin == "sylvie.dalembert-px"
    collab = app_cli.create_account(
        SIRET,
        "collaborateur",
        "c@example.org",
        "Michel",
        "de la Bruyère",
        service="Comptabilité",
        as_=admin,
    )
    assert collab == "michel.de-la-bruyere-px"
    shown = app_cli.ok("account", "show", collab, as_=admin)
    assert shown["service"] == "Comptabilité"
    assert "mobile" not in shown


def test_refusal_mails_the_reason(app_cli: Cli) -> None:
    """A refusal needs a reason and mails it."""
    setup_structure(app_cli)
    request = app_cli.ok(
        "account",
        "invite",
        "--structure",
        SIRET,
        "--type",
        "administrateur",
        "--mail",
        "r@example.org",
    )["request_id"]
    app_cli.fails(2, "account", "refuse", request)
    app_cli.ok("account", "refuse", request, "--reason", "Structure inconnue de nos services")
    body = app_cli.mails(to="r@example.org")[-1]["body"]
    assert "Structure inconnue de nos services" in body
    app_cli.fails(1, "account", "validate", request)


def test_collisions_get_numbers(app_cli: Cli) -> None:
    """Two Marie Martin: marie.martin-px then marie.martin2-px."""
    setup_structure(app_cli)
    first = app_cli.create_account(SIRET, "administrateur", "m1@example.org", "Marie", "Martin")
    second = app_cli.create_account(SIRET, "administrateur", "m2@example.org", "Marie", "Martin")
    assert (first, second) == ("marie.martin-px", "marie.martin2-px")


def test_administrator_of_another_structure_is_refused(app_cli: Cli) -> None:
    """Exit 4 for an administrator acting on another structure."""
    setup_structure(app_cli)
    app_cli.ok(
        "structure",
        "create",
        "--siret",
        OTHER_SIRET,
        "--category",
        "Ministères",
        "--name",
        "La Poste",
    )
    admin = app_cli.create_account(SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    app_cli.fails(
        4,
        "account",
        "invite",
        "--structure",
        OTHER_SIRET,
        "--type",
        "administrateur",
        "--mail",
        "x@example.org",
        as_=admin,
    )
    app_cli.fails(4, "structure", "show", OTHER_SIRET, as_=admin)
    app_cli.fails(
        4,
        "structure",
        "create",
        "--siret",
        "55208131766522",
        "--category",
        "Banques",
        "--name",
        "X",
        as_=admin,
    )


SUBMITTED = "APEX Partenaires – Demande de création de compte à valider"


def test_a_submitted_form_is_mailed_at_once_to_who_validates_it(app_cli: Cli) -> None:
    """Issue 19 item 11: the administrator learns of a submitted form at once; the
    responsable who invited is told too, without being asked to act (he cannot validate)."""
    setup_structure(app_cli)
    admin = app_cli.create_account(SIRET, "administrateur", "adm@example.org", "Sylvie", "Roux")
    resp = app_cli.create_account(SIRET, "responsable", "resp@example.org", "Rémi", "Blanc",
                                  service="Comptabilité", as_=admin)  # fmt: skip
    app_cli.invite(SIRET, "collaborateur", "c@example.org", service="Comptabilité", as_=resp)
    [own] = [m for m in app_cli.mails(to="adm@example.org") if m["subject"] == SUBMITTED]
    assert "Rémi Blanc (resp@example.org)" in own["body"]  # the responsable's own form
    before = len(app_cli.mails(to="adm@example.org"))
    app_cli.complete("c@example.org", "Michel", "Lenoir")
    [to_admin] = app_cli.mails(to="adm@example.org")[before:]
    assert to_admin["subject"] == SUBMITTED
    assert "Michel Lenoir (c@example.org)" in to_admin["body"]
    assert "compte collaborateur" in to_admin["body"]
    assert "accepter ou refuser cette demande dans les meilleurs délais" in to_admin["body"]
    [to_resp] = [m for m in app_cli.mails(to="resp@example.org") if m["subject"] == SUBMITTED]
    assert "Michel Lenoir (c@example.org)" in to_resp["body"]
    assert "L'administrateur de votre structure va accepter ou refuser" in to_resp["body"]
