"""Structures close, reopen and move (SPEC §10, issue 21 item 6), with real slapd binds."""

from __future__ import annotations

import subprocess

import pytest

from apexdir.directory import mapping as m
from apexdir.directory.server import SlapdInstance
from apexdir.oidc.claims import claims
from apexdir.oidc.store import subject
from apexdir.runtime import Runtime
from tests.cli import flows
from tests.cli.flows import APP, READ, SERVICE, SERVICE2, WRITE
from tests.helpers import OTHER_SIRET, PASSWORD, SIRET, Cli

NEW_SIRET = "73282932000017"  # the établissement's new SIRET (same SIREN, valid key)
CLOSED_SUBJECT = "APEX Partenaires – Fermeture de votre structure sur APEX Partenaires"
REOPENED_SUBJECT = "APEX Partenaires – Réouverture de votre structure sur APEX Partenaires"


def can_bind(slapd: SlapdInstance, identifier: str, password: str = PASSWORD) -> bool:
    """A raw LDAP bind, as any application makes it: ldapwhoami, no apexdir in between."""
    dn = slapd.layout.account_dn(identifier)
    done = subprocess.run(["ldapwhoami", "-x", "-H", slapd.uri, "-D", dn, "-w", password],
                          capture_output=True, text=True)  # fmt: skip
    return done.returncode == 0


def subjects(app_cli: Cli, mail: str) -> list[str]:
    return [mail_["subject"] for mail_ in app_cli.mails(to=mail)]


def suspend_on_its_own(rt: Runtime, identifier: str) -> None:
    """What the per-account suspension writes (status and slapd's lock in one modify)."""
    rt.directory.replace(rt.layout.account_dn(identifier), **m.suspension_changes(True))


def test_closing_locks_every_bind_and_reopening_lifts_only_its_own_lock(
    app_cli: Cli, slapd: SlapdInstance, rt: Runtime
) -> None:
    """Closed: no bind anywhere (raw LDAP, CLI login, OIDC), invitations cancelled, the
    administrateur mailed, nothing deleted; reopened: all but the suspended account log in."""
    w = flows.world(app_cli)
    invited = app_cli.invite(SIRET, "collaborateur", "new@example.org", SERVICE, as_=w.adm_a)
    submitted = app_cli.invite(SIRET, "collaborateur", "sub@example.org", SERVICE2, as_=w.adm_a)
    app_cli.complete("sub@example.org", "Léa", "Soumise")
    suspend_on_its_own(rt, w.collab2)
    generation = flows.entry(slapd, w.collab1).get("apexSessionGeneration")  # type: ignore[union-attr]
    assert can_bind(slapd, w.adm_a) and can_bind(slapd, w.collab1)

    done = app_cli.ok("structure", "close", SIRET, "--reason", "Cessation de l’activité")
    assert sorted(done["accounts_locked"]) == sorted([w.adm_a, w.resp1, w.resp2, w.collab1])
    assert done["accounts_already_locked"] == [w.collab2]
    assert sorted(done["requests_cancelled"]) == sorted([invited, submitted])
    assert done["administrators_mailed"] == [w.adm_a]
    assert done["status"] == "closed"

    # slapd refuses every bind of the structure's accounts; the other structure is untouched.
    for identifier in (w.adm_a, w.resp1, w.resp2, w.collab1, w.collab2):
        assert not can_bind(slapd, identifier), identifier
    assert can_bind(slapd, w.adm_b)
    # apexdir's login: the right password is told why, a wrong one is not told anything.
    right = app_cli.fails(1, "login", w.collab1, input=f"{PASSWORD}\n")
    assert "Votre structure est fermée sur APEX Partenaires" in right
    wrong = app_cli.fails(1, "login", w.collab1, input="Mauvais-Passw0rd!\n")
    assert "Identifiant ou mot de passe incorrect" in wrong
    assert "fermée" not in wrong
    # The OpenID Connect provider hands the account to no application.
    assert subject(rt, w.adm_a, APP, 0) is None
    # Nothing deleted: the accounts, their rights and their services are there, locked.
    shown = app_cli.ok("account", "show", w.adm_a)
    assert shown["status"] == "structure-closed"
    assert shown["habilitations"] == sorted([f"{APP}/{READ}", f"{APP}/{WRITE}"])
    assert app_cli.ok("account", "show", w.resp1)["delegations"] == [f"{APP}/{READ}"]
    structure = app_cli.ok("structure", "show", SIRET)
    assert structure["status"] == "closed"
    assert [s["name"] for s in structure["services"]] == [SERVICE, SERVICE2]
    # Open portal sessions end: the generation they were opened under is gone.
    assert flows.entry(slapd, w.collab1).get("apexSessionGeneration") != generation  # type: ignore[union-attr]
    # No new account, no reset link (a password change by apexdir would lift slapd's lock).
    app_cli.fails(1, "account", "invite", "--structure", SIRET, "--type", "collaborateur",
                  "--mail", "late@example.org", "--service", SERVICE)  # fmt: skip
    app_cli.ok("password", "forgot", w.resp1)
    app_cli.deliver()
    assert not [s for s in subjects(app_cli, w.mails[w.resp1]) if "Réinitialisation" in s]
    cancelled = app_cli.ok("account", "pending", "--structure", SIRET, "--status", "cancelled")
    assert sorted(r["request_id"] for r in cancelled) == sorted([invited, submitted])
    # The administrateur is told, with the reason, in the guide's voice.
    mails = app_cli.mails(to=w.mails[w.adm_a])
    closing = [mail for mail in mails if mail["subject"] == CLOSED_SUBJECT]
    assert len(closing) == 1
    assert "Banque Exemple (SIRET 73282932000074)" in closing[0]["body"]
    assert 'Motif indiqué : "Cessation de l’activité"' in closing[0]["body"]
    assert CLOSED_SUBJECT not in subjects(app_cli, w.mails[w.resp1])  # administrateurs only
    assert "déjà fermée" in app_cli.fails(1, "structure", "close", SIRET)

    reopened = app_cli.ok("structure", "reopen", SIRET)
    assert sorted(reopened["accounts_unlocked"]) == sorted(done["accounts_locked"])
    assert reopened["accounts_still_locked"] == [w.collab2]
    for identifier in (w.adm_a, w.resp1, w.resp2, w.collab1):
        assert can_bind(slapd, identifier), identifier
    assert not can_bind(slapd, w.collab2)  # suspended on its own: still suspended
    assert app_cli.ok("account", "show", w.collab2)["status"] == "suspended"
    assert app_cli.ok("account", "show", w.collab1)["status"] == "active"
    assert subject(rt, w.adm_a, APP, 0) is not None
    assert app_cli.ok("structure", "show", SIRET)["status"] == "open"
    assert REOPENED_SUBJECT in subjects(app_cli, w.mails[w.adm_a])
    assert "n'est pas fermée" in app_cli.fails(1, "structure", "reopen", SIRET)
    # Cancelled invitations stay cancelled; the structure takes new ones again.
    assert app_cli.ok("account", "pending", "--structure", SIRET) == []
    app_cli.invite(SIRET, "collaborateur", "again@example.org", SERVICE, as_=w.adm_a)
    actions = [e["action"] for e in app_cli.ok("journal")]
    assert "structure.close" in actions and "structure.reopen" in actions


def test_a_suspension_during_the_closing_outlives_the_reopening(
    app_cli: Cli, slapd: SlapdInstance, rt: Runtime
) -> None:
    """An account suspended while its structure is closed stays suspended when it reopens."""
    flows.catalogue(app_cli)
    flows.structure(app_cli, SIRET, "Banque Exemple", SERVICE)
    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    collab = flows.account(app_cli, SIRET, "collaborateur", "c@example.org", "Cathy", "Noël",
                           service=SERVICE, inviter=adm, validator=adm)  # fmt: skip
    app_cli.ok("structure", "close", SIRET)
    suspend_on_its_own(rt, collab)
    assert app_cli.ok("structure", "reopen", SIRET)["accounts_unlocked"] == [adm]
    assert can_bind(slapd, adm) and not can_bind(slapd, collab)


def test_only_an_agent_closes_or_moves_and_the_sirets_are_checked(app_cli: Cli) -> None:
    """Exit codes of CLI.md: 4 for a partner, 3 for an unknown SIRET, 1 for a bad one."""
    flows.structure(app_cli, SIRET, "Banque Exemple", SERVICE)
    flows.structure(app_cli, OTHER_SIRET, "La Poste")
    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    for args in (("close", SIRET), ("reopen", SIRET), ("move", SIRET, "--to", NEW_SIRET)):
        app_cli.fails(4, "structure", *args, as_=adm)
    app_cli.fails(3, "structure", "close", "73282932000025")
    app_cli.fails(3, "structure", "move", "73282932000025", "--to", NEW_SIRET)
    app_cli.fails(1, "structure", "close", "73282932000075")  # wrong key
    app_cli.fails(1, "structure", "move", SIRET, "--to", "73282932000075")
    app_cli.fails(1, "structure", "move", SIRET, "--to", SIRET)
    assert "déjà celui" in app_cli.fails(1, "structure", "move", SIRET, "--to", OTHER_SIRET)
    app_cli.fails(2, "structure", "move", SIRET)  # --to is required
    assert app_cli.ok("structure", "show", SIRET)["siret"] == SIRET  # nothing moved


@pytest.mark.parametrize("closed_first", [False, True])
def test_moving_carries_services_accounts_requests_rights_and_history(
    app_cli: Cli, slapd: SlapdInstance, rt: Runtime, closed_first: bool
) -> None:
    """modrdn of the structure: refint rewrites the references (apexdir has nothing left to
    rewrite), DNs and entryUUIDs stay (so does the OIDC `sub`), the old SIRET is not found,
    applications read the new `apex_siret`; a closed structure moves closed."""
    w = flows.world(app_cli)
    pending = app_cli.invite(SIRET, "collaborateur", "later@example.org", SERVICE, as_=w.adm_a)
    app_cli.ok("daemon", "run-once", "changes")  # the feed starts at the end of the log
    before = {i: flows.entry(slapd, i) for i in (w.adm_a, w.resp1, w.collab1, w.collab2)}
    sub_before = subject(rt, w.adm_a, APP, 0)
    assert sub_before is not None and sub_before.account.siret == SIRET
    if closed_first:
        app_cli.ok("structure", "close", SIRET)

    moved = app_cli.ok("structure", "move", SIRET, "--to", " 732 829 320 00017 ")
    assert moved["siret"] == NEW_SIRET and moved["previous_siret"] == SIRET
    assert moved["previous_sirets"] == [SIRET]
    assert moved["services"] == 2 and moved["accounts"] == 5
    # slapd's refint rewrites the references in a background task after the modrdn: on a
    # loaded machine apexdir's own pass may get to some first; either way they end right.
    assert moved["stale_references_rewritten"] >= 0

    new_dn = slapd.layout.structure_dn(NEW_SIRET).lower()
    for identifier, old in before.items():
        now = flows.entry(slapd, identifier)
        assert now is not None and old is not None
        assert now.dn == old.dn and now.get("entryUUID") == old.get("entryUUID")
        assert str(now.get("apexStructureRef")).lower() == new_dn
        service = now.get("apexServiceRef")
        if service:
            assert str(service).lower().endswith("," + new_dn)
            assert m.first_rdn_value(str(service)) == m.first_rdn_value(
                str(old.get("apexServiceRef"))
            )
    # The old SIRET names nothing; the agent is told where it went.
    gone = app_cli.fails(3, "structure", "show", SIRET)
    assert "introuvable" in gone
    assert NEW_SIRET in app_cli.fails(3, "structure", "close" if not closed_first else "reopen",
                                      SIRET)  # fmt: skip
    shown = app_cli.ok("structure", "show", NEW_SIRET)
    assert shown["status"] == ("closed" if closed_first else "open")
    assert [s["name"] for s in shown["services"]] == [SERVICE, SERVICE2]
    assert [a["identifier"] for a in shown["administrators"]] == [w.adm_a]
    if closed_first:
        assert not can_bind(slapd, w.adm_a)
        app_cli.ok("structure", "reopen", NEW_SIRET)
    # Rights follow: habilitations and délégations are the account's, not the structure's.
    habilitations = app_cli.ok("account", "show", w.adm_a)["habilitations"]
    assert habilitations == sorted([f"{APP}/{READ}", f"{APP}/{WRITE}"])
    assert app_cli.ok("account", "show", w.resp1)["delegations"] == [f"{APP}/{READ}"]
    assert app_cli.ok("account", "show", w.collab1, as_=w.adm_a)["siret"] == NEW_SIRET
    # Applications: same `sub` (entryUUID), the new SIRET in apex_siret.
    sub_after = subject(rt, w.adm_a, APP, 0)
    assert sub_after is not None and sub_after.sub == sub_before.sub
    assert claims(sub_after.account, sub_after.sub, APP, "openid")["apex_siret"] == NEW_SIRET
    assert can_bind(slapd, w.adm_a)
    # The invitation moved with its structure (refint again): the closing had cancelled it,
    # else it is completed and validated there.
    requests = app_cli.ok("account", "pending", "--structure", NEW_SIRET, "--status",
                          "cancelled" if closed_first else "invited")  # fmt: skip
    assert [r["request_id"] for r in requests] == [pending]
    if not closed_first:
        app_cli.complete("later@example.org", "Paul", "Tardif")
        created = app_cli.ok("account", "validate", pending, as_=w.adm_a)["identifier"]
        assert app_cli.ok("account", "show", created)["siret"] == NEW_SIRET
    # History: the move is journaled from → to; the change feed reads the modrdn calmly.
    app_cli.ok("daemon", "run-once", "changes")
    move = [e for e in app_cli.ok("journal") if e["action"] == "structure.move"]
    assert len(move) == 1 and move[0]["target"] == NEW_SIRET
    app_cli.fails(3, "structure", "move", SIRET, "--to", "73282932000025")


def test_reactivating_in_a_closed_structure_keeps_the_closure_lock(
    app_cli: Cli, slapd: SlapdInstance
) -> None:
    """A suspension lifted while the structure is closed leaves the account closed with the
    others (no bind), and the reopening then unlocks it; a closed structure's last
    administrateur is no guard (nobody logs in there)."""
    flows.catalogue(app_cli)
    flows.structure(app_cli, SIRET, "Banque Exemple", SERVICE)
    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    collab = flows.account(app_cli, SIRET, "collaborateur", "c@example.org", "Cathy", "Noël",
                           service=SERVICE, inviter=adm, validator=adm)  # fmt: skip
    app_cli.ok("account", "suspend", collab)
    app_cli.ok("structure", "close", SIRET)
    assert app_cli.ok("account", "reactivate", collab)["status"] == "structure-closed"
    assert not can_bind(slapd, collab)
    assert sorted(app_cli.ok("structure", "reopen", SIRET)["accounts_unlocked"]) == sorted(
        [adm, collab]
    )
    assert can_bind(slapd, collab)
