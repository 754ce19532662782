"""Habilitations and délégations through the CLI (SPEC §6 and its Decision)."""

from __future__ import annotations

from apexdir.directory.server import SlapdInstance
from tests.cli import flows
from tests.cli.flows import APP, APP_NAME, EXTRA, READ, WRITE
from tests.helpers import Cli


def test_agent_grants_administrators_with_the_attribution_mail(
    app_cli: Cli, slapd: SlapdInstance
) -> None:
    """Each grant mails « Attribution de profils applicatifs »; LDAP group and memberOf agree."""
    w = flows.world(app_cli)
    sent = flows.mails_to(app_cli, "adm.a@example.org", "attribution")
    assert len(sent) == 2
    assert (
        f'profil applicatif sur l\'application "{APP_NAME}" vous a été attribué' in sent[0]["body"]
    )
    assert slapd.layout.account_dn(w.adm_a).lower() in flows.members(slapd, APP, READ)
    app_cli.fails(1, "grant", w.adm_a, APP, READ)  # already held
    app_cli.fails(3, "grant", w.adm_a, APP, "Inconnu")
    app_cli.fails(3, "grant", "nobody-px", APP, READ)
    # Administrators get their profiles from an agent, not from one another.
    app_cli.fails(4, "grant", w.adm_a, APP, EXTRA, as_=w.adm_a)
    result = app_cli.ok("revoke", w.adm_a, APP, WRITE)
    assert result["revoked"] is True
    assert app_cli.ok("account", "show", w.adm_a)["habilitations"] == [f"{APP}/{READ}"]
    app_cli.fails(1, "revoke", w.adm_a, APP, WRITE)


def test_administrator_grants_and_delegates_only_what_he_holds(app_cli: Cli) -> None:
    """Lecture and Ecriture: yes; Consultation (not held): no, for grant and delegate alike."""
    w = flows.world(app_cli)
    app_cli.ok("grant", w.collab2, APP, WRITE, as_=w.adm_a)
    app_cli.ok("grant", w.resp2, APP, READ, as_=w.adm_a)
    assert flows.mails_to(app_cli, "collab2@example.org", "attribution")
    app_cli.fails(4, "grant", w.collab2, APP, EXTRA, as_=w.adm_a)
    app_cli.fails(4, "delegate", w.resp2, APP, EXTRA, as_=w.adm_a)
    delegated = app_cli.ok("delegate", w.resp2, APP, WRITE, as_=w.adm_a)
    assert delegated == {"identifier": w.resp2, "delegation": f"{APP}/{WRITE}", "delegated": True}
    body = flows.mails_to(app_cli, "resp2@example.org", "delegation")[-1]["body"]
    assert APP_NAME in body
    app_cli.fails(1, "delegate", w.resp2, APP, WRITE, as_=w.adm_a)  # already delegated
    # Delegation goes to responsables only; never across structures.
    app_cli.fails(4, "delegate", w.collab2, APP, READ, as_=w.adm_a)
    app_cli.fails(4, "delegate", w.resp2, APP, READ, as_=w.adm_b)
    app_cli.fails(4, "grant", w.collab2, APP, READ, as_=w.adm_b)
    # The agent holds every profile.
    app_cli.ok("delegate", w.resp2, APP, EXTRA)
    shown = app_cli.ok("account", "show", w.resp2, as_=w.adm_a)
    assert shown["delegations"] == [f"{APP}/{EXTRA}", f"{APP}/{WRITE}"]
    assert shown["habilitations"] == [f"{APP}/{READ}"]


def test_responsable_grants_only_delegated_profiles_to_his_collaborateurs(app_cli: Cli) -> None:
    """Delegated Lecture to his own collaborateur: yes; anything else, anyone else: no."""
    w = flows.world(app_cli)
    granted = app_cli.ok("grant", w.collab1, APP, READ, as_=w.resp1)
    assert granted == {"identifier": w.collab1, "habilitation": f"{APP}/{READ}", "granted": True}
    assert flows.mails_to(app_cli, "collab1@example.org", "attribution")
    app_cli.fails(4, "grant", w.collab1, APP, WRITE, as_=w.resp1)  # not delegated to him
    app_cli.fails(4, "grant", w.collab2, APP, READ, as_=w.resp1)  # another service
    app_cli.fails(4, "grant", w.resp2, APP, READ, as_=w.resp1)  # a responsable
    app_cli.fails(4, "grant", w.resp1, APP, READ, as_=w.resp1)  # himself
    app_cli.fails(4, "grant", w.collab1, APP, READ, as_=w.resp2)  # not his service
    app_cli.fails(4, "grant", w.collab1, APP, READ, as_=w.collab2)
    app_cli.fails(4, "delegate", w.resp2, APP, READ, as_=w.resp1)
    app_cli.fails(4, "undelegate", w.resp1, APP, READ, as_=w.resp1)
    app_cli.ok("revoke", w.collab1, APP, READ, as_=w.resp1)
    app_cli.ok("grant", w.collab1, APP, READ, as_=w.resp1)
    assert app_cli.ok("account", "show", w.collab1)["habilitations"] == [f"{APP}/{READ}"]


def test_undelegate_lists_the_habilitations_it_keeps(app_cli: Cli) -> None:
    """Withdrawing a delegation revokes nothing; it names the collaborateurs who keep it."""
    w = flows.world(app_cli)
    app_cli.ok("grant", w.collab1, APP, READ, as_=w.resp1)
    extra = flows.account(
        app_cli,
        flows.SIRET,
        "collaborateur",
        "x@example.org",
        "Léa",
        "Roux",
        service=flows.SERVICE,
        inviter=w.resp1,
        validator=w.adm_a,
    )
    app_cli.ok("grant", extra, APP, READ, as_=w.resp1)
    app_cli.ok("grant", w.collab2, APP, READ, as_=w.adm_a)  # another service: not his doing
    app_cli.fails(1, "undelegate", w.resp1, APP, WRITE, as_=w.adm_a)  # was never delegated
    app_cli.fails(4, "undelegate", w.resp1, APP, READ, as_=w.adm_b)
    result = app_cli.ok("undelegate", w.resp1, APP, READ, as_=w.adm_a)
    assert result["withdrawn"] is True
    assert sorted(result["habilitations_kept"]) == sorted([w.collab1, extra])
    for identifier in (w.collab1, extra, w.collab2):
        assert app_cli.ok("account", "show", identifier)["habilitations"] == [f"{APP}/{READ}"]
    assert app_cli.ok("account", "show", w.resp1)["delegations"] == []
    app_cli.fails(4, "grant", w.collab1, APP, READ, as_=w.resp1)
    app_cli.fails(4, "revoke", w.collab1, APP, READ, as_=w.resp1)
    app_cli.ok("revoke", w.collab1, APP, READ, as_=w.adm_a)


def test_revoking_takes_nothing_a_partner_should_keep(app_cli: Cli) -> None:
    """An administrator empties an account even of a profile he does not hold (before a
    deletion); a responsable revokes only what was delegated to him."""
    w = flows.world(app_cli)
    app_cli.ok("grant", w.collab1, APP, EXTRA)  # by the agent: the administrator lacks it
    app_cli.ok("grant", w.collab1, APP, WRITE, as_=w.adm_a)
    app_cli.fails(4, "revoke", w.collab1, APP, WRITE, as_=w.resp1)  # not delegated to him
    app_cli.fails(4, "revoke", w.collab1, APP, EXTRA, as_=w.resp1)
    app_cli.fails(4, "revoke", w.collab1, APP, EXTRA, as_=w.adm_b)
    app_cli.ok("revoke", w.collab1, APP, EXTRA, as_=w.adm_a)
    app_cli.ok("revoke", w.collab1, APP, WRITE, as_=w.adm_a)
    app_cli.ok("account", "delete", w.collab1, as_=w.adm_a)
