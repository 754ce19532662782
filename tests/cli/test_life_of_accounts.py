"""The life of accounts (SPEC §10, issue 21 items 1–5): tombstones, the mails of a deletion
and of a withdrawal, the last administrateur, suspension (checked by raw binds), type change."""

from __future__ import annotations

import subprocess
from typing import Any

from apexdir.directory.server import SlapdInstance
from apexdir.runtime import Runtime
from tests.cli import flows
from tests.cli.flows import APP, APP_NAME, READ, SERVICE, SERVICE2
from tests.conftest import admin
from tests.helpers import PASSWORD, SIRET, Cli

DELETED = "APEX Partenaires – Suppression de votre compte APEX Partenaires"
WITHDRAWN = "APEX Partenaires – Retrait de profils applicatifs"
SUSPENDED = "APEX Partenaires – Suspension de votre compte APEX Partenaires"
REACTIVATED = "APEX Partenaires – Réactivation de votre compte APEX Partenaires"
LAST_ADMIN = "dernier administrateur actif"


def _subjects(cli: Cli, mail: str) -> list[str]:
    return [m["subject"] for m in cli.mails(to=mail)]


def _body(cli: Cli, mail: str, subject: str) -> str:
    bodies = [m["body"] for m in cli.mails(to=mail) if m["subject"] == subject]
    assert bodies, f"no « {subject} » to {mail}"
    return str(bodies[-1])


def _whoami(slapd: SlapdInstance, identifier: str) -> subprocess.CompletedProcess[str]:
    """A raw LDAP bind, as any application does: `ldapwhoami -D <dn> -w <password>`."""
    dn = slapd.layout.account_dn(identifier)
    return subprocess.run(
        ["ldapwhoami", "-x", "-H", slapd.uri, "-D", dn, "-w", PASSWORD],
        capture_output=True,
        text=True,
        check=False,
    )


def _actions(cli: Cli, action: str) -> list[dict[str, Any]]:
    return [e for e in cli.ok("journal") if e["action"] == action]


# ---------------------------------------------------------------------- item 1
def test_a_deleted_identifier_is_never_issued_again(app_cli: Cli, slapd: SlapdInstance) -> None:
    """remi.temporaire-px deleted: the next Rémi Temporaire gets remi.temporaire2-px."""
    flows.structure(app_cli, SIRET, "Banque Exemple", SERVICE)
    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    first = flows.account(app_cli, SIRET, "collaborateur", "remi@example.org", "Rémi",
                          "Temporaire", service=SERVICE, inviter=adm, validator=adm)  # fmt: skip
    assert first == "remi.temporaire-px"
    app_cli.ok("account", "delete", first, as_=adm)
    second = flows.account(app_cli, SIRET, "collaborateur", "remi2@example.org", "Rémi",
                           "Temporaire", service=SERVICE, inviter=adm, validator=adm)  # fmt: skip
    assert second == "remi.temporaire2-px"
    app_cli.ok("account", "delete", second, as_=adm)
    third = flows.account(app_cli, SIRET, "collaborateur", "remi3@example.org", "Rémi",
                          "Temporaire", service=SERVICE, inviter=adm, validator=adm)  # fmt: skip
    assert third == "remi.temporaire3-px"
    app_cli.fails(3, "account", "show", first)  # the old account stays gone

    # The tombstone holds the identifier and nothing personal; slapd dates it.
    with admin(slapd) as directory:
        stone = directory.get(slapd.layout.tombstone_dn(first), ["*", "createTimestamp"])
        assert stone is not None
        user = {k.lower() for k in stone.attrs} - {"createtimestamp"}
        assert user == {"objectclass", "uid"}
        assert stone.get("createTimestamp") is not None
        # Not under ou=people: applications searching accounts never see it.
        found = directory.search(slapd.layout.people_dn, "(uid=remi.temporaire*)", ["uid"])
        assert [str(e.get("uid")) for e in found] == [third]


def test_init_creates_the_tombstone_branch_and_deletion_survives_its_absence(
    app_cli: Cli, slapd: SlapdInstance
) -> None:
    """`apexdir init` makes ou=retired (idempotent); a directory not re-initialised after
    the upgrade still gets its tombstone (the branch is made on demand)."""
    retired = slapd.layout.retired_dn
    with admin(slapd) as directory:
        directory.delete(retired)
    assert retired in app_cli.ok("init")["created"]
    assert retired not in app_cli.ok("init")["created"]

    flows.structure(app_cli, SIRET, "Banque Exemple", SERVICE)
    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    with admin(slapd) as directory:
        directory.delete(retired)
    collab = flows.account(app_cli, SIRET, "collaborateur", "c@example.org", "Cathy", "Noël",
                           service=SERVICE, inviter=adm, validator=adm)  # fmt: skip
    app_cli.ok("account", "delete", collab, as_=adm)
    with admin(slapd) as directory:
        assert directory.exists(slapd.layout.tombstone_dn(collab))


# ---------------------------------------------------------------------- item 2
def test_deletion_and_withdrawal_tell_the_person(app_cli: Cli) -> None:
    """« Suppression de votre compte APEX Partenaires » with the identifier; « Retrait de
    profils applicatifs » with the application, as the attribution was."""
    w = flows.world(app_cli)
    app_cli.ok("grant", w.collab1, APP, READ, as_=w.resp1)
    app_cli.ok("revoke", w.collab1, APP, READ, as_=w.resp1)
    body = _body(app_cli, w.mails[w.collab1], WITHDRAWN)
    assert f'l\'application "{APP_NAME}" vous a été retiré' in body
    result = app_cli.ok("account", "delete", w.collab1, as_=w.resp1)
    assert result["deleted"] is True
    body = _body(app_cli, w.mails[w.collab1], DELETED)
    assert body.startswith("Bonjour,\n\nVotre compte Apex Partenaires (jeanne.dupont-px) a été ")
    assert "qui ne sera attribué à personne d'autre" in body
    assert body.endswith("Bien cordialement,\nLa Direction générale des Finances publiques\n")
    assert [e["target"] for e in _actions(app_cli, "account.delete")] == [w.collab1]


def test_a_deletion_that_fails_sends_no_mail(
    app_cli: Cli, rt: Runtime, slapd: SlapdInstance
) -> None:
    """The mail is queued before the deletion and cancelled if the deletion fails."""
    import pytest

    from apexdir.errors import ApexError
    from apexdir.workflows.accounts import delete_account
    from apexdir.workflows.actors import AGENT

    w = flows.world(app_cli)
    app_cli.deliver()

    def refuse(dn: str) -> None:
        raise ApexError("directory error (delete): simulated")

    rt.directory.delete = refuse  # type: ignore[method-assign]
    with pytest.raises(ApexError):
        delete_account(rt, AGENT, w.collab2)
    assert DELETED not in _subjects(app_cli, w.mails[w.collab2])
    assert flows.entry(slapd, w.collab2) is not None


# ---------------------------------------------------------------------- item 3
def test_the_last_active_administrateur_stays(app_cli: Cli, slapd: SlapdInstance) -> None:
    """Neither deleted, suspended nor retyped, by an agent either (exit 1 with the reason);
    a second active administrateur lifts the guard; a suspended one does not count."""
    flows.structure(app_cli, SIRET, "Banque Exemple", SERVICE)
    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    for args in (
        ("account", "delete", adm),
        ("account", "suspend", adm),
        ("account", "retype", adm, "--type", "responsable", "--service", SERVICE),
    ):
        err = app_cli.fails(1, *args)
        assert LAST_ADMIN in err and SIRET in err, err
    adm2 = flows.account(app_cli, SIRET, "administrateur", "adm2@example.org", "Paul", "Durand")
    app_cli.ok("account", "suspend", adm2)
    assert LAST_ADMIN in app_cli.fails(1, "account", "delete", adm)  # adm2 is not active
    app_cli.ok("account", "delete", adm2)  # a suspended administrateur may go
    adm3 = flows.account(app_cli, SIRET, "administrateur", "adm3@example.org", "Lucie", "Petit")
    app_cli.ok("account", "suspend", adm)
    assert LAST_ADMIN in app_cli.fails(1, "account", "suspend", adm3)
    assert flows.bind(slapd, adm3)


# ---------------------------------------------------------------------- item 4
def test_suspension_is_enforced_by_slapd_and_reversible(
    app_cli: Cli, slapd: SlapdInstance, rt: Runtime
) -> None:
    """A suspended account fails every raw bind (ldapwhoami), the CLI login answers as for
    an unknown identifier, the OIDC provider hands it nothing; reactivation lifts it all."""
    from apexdir.oidc.store import subject

    w = flows.world(app_cli)
    assert _whoami(slapd, w.collab1).returncode == 0
    assert subject(rt, w.collab1, APP, 0) is not None
    before = flows.entry(slapd, w.collab1)
    assert before is not None

    result = app_cli.ok("account", "suspend", w.collab1, "--reason", "Départ en congé", as_=w.adm_a)
    assert result == {"identifier": w.collab1, "status": "suspended", "reason": "Départ en congé"}
    assert list(result) == ["identifier", "status", "reason"]
    refused = _whoami(slapd, w.collab1)
    assert refused.returncode == 49, refused  # invalidCredentials: slapd refuses the bind
    after = flows.entry(slapd, w.collab1)
    assert after is not None
    assert str(after.get("pwdAccountLockedTime")) == "000001010000Z"
    assert after.get("apexSessionGeneration") != before.get("apexSessionGeneration")
    assert app_cli.ok("account", "show", w.collab1)["status"] == "suspended"
    assert subject(rt, w.collab1, APP, 0) is None

    # The login answers as for an unknown identifier; no lockout mail is sent.
    known = app_cli.run("login", w.collab1, input=f"{PASSWORD}\n")
    unknown = app_cli.run("login", "personne.inconnue-px", input=f"{PASSWORD}\n")
    assert (known.exit_code, known.stderr) == (unknown.exit_code, unknown.stderr)
    assert known.exit_code == 1
    app_cli.fails(4, "grant", w.collab2, APP, READ, as_=w.collab1)  # --as refuses it too
    subjects = _subjects(app_cli, w.mails[w.collab1])
    assert "APEX Partenaires – Verrouillage de votre compte" not in subjects
    body = _body(app_cli, w.mails[w.collab1], SUSPENDED)
    assert 'Motif indiqué : "Départ en congé"' in body and w.collab1 in body

    app_cli.fails(1, "account", "suspend", w.collab1, as_=w.adm_a)  # already
    reactivated = app_cli.run("account", "reactivate", w.collab1, as_=w.adm_a)
    assert reactivated.stdout == f'{{\n  "identifier": "{w.collab1}",\n  "status": "active"\n}}\n'
    assert _whoami(slapd, w.collab1).returncode == 0
    assert subject(rt, w.collab1, APP, 0) is not None
    assert REACTIVATED in _subjects(app_cli, w.mails[w.collab1])
    app_cli.fails(1, "account", "reactivate", w.collab1, as_=w.adm_a)  # not suspended
    app_cli.ok("login", w.collab1, input=f"{PASSWORD}\n")
    journal = [(e["action"], e["target"], e["actor"]) for e in app_cli.ok("journal")]
    assert ("account.suspend", w.collab1, w.adm_a) in journal
    assert ("account.reactivate", w.collab1, w.adm_a) in journal


def test_who_may_suspend(app_cli: Cli) -> None:
    """Administrateur: his structure's responsables and collaborateurs; agent: anyone;
    exit 4 otherwise, 3 for an unknown account, 1 for a reason that is a link."""
    w = flows.world(app_cli)
    app_cli.fails(4, "account", "suspend", w.collab1, as_=w.resp1)  # a responsable: no
    app_cli.fails(4, "account", "suspend", w.collab1, as_=w.adm_b)  # another structure
    app_cli.fails(4, "account", "suspend", w.adm_a, as_=w.adm_a)  # administrateurs: agent
    app_cli.fails(3, "account", "suspend", "personne.inconnue-px")
    app_cli.fails(1, "account", "suspend", w.collab2, "--reason", "voir https://evil.example")
    app_cli.ok("account", "suspend", w.resp2, as_=w.adm_a)
    app_cli.fails(4, "account", "reactivate", w.resp2, as_=w.adm_b)
    app_cli.ok("account", "reactivate", w.resp2)  # the agent lifts what an administrateur set
    app_cli.ok("account", "suspend", w.collab2)  # no reason: the mail says none
    assert "Motif" not in _body(app_cli, w.mails[w.collab2], SUSPENDED)


# ---------------------------------------------------------------------- item 5
def test_retype_follows_the_table_and_drops_delegations(app_cli: Cli, slapd: SlapdInstance) -> None:
    """A responsable made collaborateur loses his délégations (listed); an administrateur
    cannot make an administrateur; an agent can, and the service goes."""
    w = flows.world(app_cli)
    result = app_cli.ok("account", "retype", w.resp1, "--type", "collaborateur", as_=w.adm_a)
    assert result["type"] == "collaborateur" and result["previous_type"] == "responsable"
    assert result["delegations_dropped"] == [f"{APP}/{READ}"]
    assert result["service"] == SERVICE
    assert list(result) == [
        "identifier", "dn", "last_name", "first_name", "mail", "type", "habilitations",
        "siret", "service", "status", "last_login", "delegations", "client_application",
        "previous_type", "delegations_dropped",
    ]  # fmt: skip
    entry = flows.entry(slapd, w.resp1)
    assert entry is not None and not entry.all("apexDelegatedProfile")
    assert entry.dn.lower() == slapd.layout.account_dn(w.resp1).lower()  # same DN

    moved = app_cli.ok("account", "retype", w.collab2, "--type", "responsable", "--service",
                       SERVICE, as_=w.adm_a)  # fmt: skip
    assert (moved["type"], moved["service"], moved["delegations_dropped"]) == (
        "responsable",
        SERVICE,
        [],
    )
    app_cli.fails(4, "account", "retype", w.collab1, "--type", "administrateur", as_=w.adm_a)
    app_cli.fails(4, "account", "retype", w.collab1, "--type", "responsable", as_=w.resp1)
    app_cli.fails(4, "account", "retype", w.collab1, "--type", "responsable", as_=w.adm_b)
    app_cli.fails(1, "account", "retype", w.collab1, "--type", "collaborateur")  # already
    app_cli.fails(3, "account", "retype", w.collab1, "--type", "responsable", "--service", "Nulle")
    app_cli.fails(2, "account", "retype", w.collab1, "--type", "chef")

    promoted = app_cli.ok("account", "retype", w.collab1, "--type", "administrateur")
    assert promoted["type"] == "administrateur" and promoted["service"] is None
    app_cli.fails(1, "account", "retype", w.collab1, "--type", "collaborateur")  # no service
    back = app_cli.ok("account", "retype", w.collab1, "--type", "collaborateur", "--service",
                      SERVICE2)  # fmt: skip
    assert back["service"] == SERVICE2
    retypes = _actions(app_cli, "account.retype")
    assert [e["target"] for e in retypes] == [w.resp1, w.collab2, w.collab1, w.collab1]


def test_retype_human_output_lists_the_delegations(app_cli: Cli) -> None:
    """Without --json, the délégations dropped are listed for the operator."""
    from click.testing import CliRunner

    from apexdir.cli.main import cli

    w = flows.world(app_cli)
    args = ["--config", str(app_cli.config), "account", "retype", w.resp1, "--type",
            "collaborateur"]  # fmt: skip
    out = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert "responsable → collaborateur" in out.stdout
    assert f"délégations retirées : {APP}/{READ}" in out.stdout
