"""Pending-request pages check the actor's right on the request's own structure (issue 18,
item 8): an administrateur of A can neither read, refuse nor resend a request of B, and
« Renvoyer l'invitation » acts only on an expired invitation, in its own structure."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from apexdir.runtime import Runtime
from tests.helpers import OTHER_SIRET, SIRET, Cli
from tests.portal.conftest import Browser, text_of

RIVAL_MAIL = "pending1@rivale.fr"
RIVAL_EXPIRED = "expired1@rivale.fr"
OWN_EXPIRED = "ancien@example.org"


@dataclass
class Rivals:
    admin: str  # administrateur of A (structure fixture)
    submitted: str  # B's request, form completed, waiting for validation
    expired: str  # B's invitation, past its date
    own_expired: str  # A's invitation, past its date
    own_open: str  # A's invitation, still valid


def _expire(rt: Runtime, request_id: str) -> None:
    """Move an invitation's date into the past, as 8 days of waiting would."""
    rt.directory.modify(
        rt.layout.request_dn(request_id), {"apexExpiresAt": [("replace", ["20200101000000Z"])]}
    )


@pytest.fixture
def rivals(app_cli: Cli, structure: str, rt: Runtime) -> Rivals:
    admin = app_cli.create_account(
        structure, "administrateur", "alice.admin@example.org", "Alice", "Admin"
    )
    app_cli.ok(
        "structure", "create", "--siret", OTHER_SIRET, "--category", "Banques", "--name", "Rivale"
    )
    # The same service name as in A: the old resend found it there and invited into A.
    app_cli.ok("service", "create", OTHER_SIRET, "Comptabilité")
    submitted = app_cli.invite(OTHER_SIRET, "collaborateur", RIVAL_MAIL, "Comptabilité")
    app_cli.complete(RIVAL_MAIL, "Paul", "Pending")
    expired = app_cli.invite(OTHER_SIRET, "collaborateur", RIVAL_EXPIRED, "Comptabilité")
    own_expired = app_cli.invite(structure, "collaborateur", OWN_EXPIRED, "Comptabilité")
    own_open = app_cli.invite(structure, "collaborateur", "ouvert@example.org", "Comptabilité")
    _expire(rt, expired)
    _expire(rt, own_expired)
    return Rivals(admin, submitted, expired, own_expired, own_open)


@pytest.fixture
def admin_a(app: Flask, app_cli: Cli, tmp_path: Path) -> Callable[[str], Any]:
    """The administrateur of A, logged in."""

    def as_(identifier: str) -> Browser:
        browser = Browser(app.test_client(), tmp_path / "portal-sinks")
        browser.login(app_cli, identifier, "alice.admin@example.org")
        return browser

    return as_


def _requests(app_cli: Cli, siret: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = app_cli.ok(
        "account", "pending", "--structure", siret, "--status", "invited", "--status", "submitted"
    )
    return found


def test_refusal_page_of_another_structure(rivals: Rivals, admin_a: Any, app_cli: Cli) -> None:
    """A's administrateur neither reads nor refuses B's request: 403, no mail, no change."""
    browser = admin_a(rivals.admin)
    page = browser.get(f"/comptes/demandes/{rivals.submitted}/refuser")
    assert page.status_code == 403
    assert RIVAL_MAIL not in page.text
    browser.get("/comptes")
    sent = browser.post(
        f"/comptes/demandes/{rivals.submitted}/refuser", {"motif": "Inconnu de nos services"}
    )
    assert sent.status_code == 403
    assert [r["status"] for r in _requests(app_cli, OTHER_SIRET) if r["mail"] == RIVAL_MAIL] == [
        "submitted"
    ]
    assert not [m for m in app_cli.mails(to=RIVAL_MAIL) if "Inconnu" in m["body"]]


def test_resend_of_another_structure(rivals: Rivals, admin_a: Any, app_cli: Cli) -> None:
    """Resending B's expired invitation from A: 403, no request in A, no mail to B's invitee."""
    mailed = len(app_cli.mails(to=RIVAL_EXPIRED))
    browser = admin_a(rivals.admin)
    browser.get("/comptes")
    answer = browser.post(f"/comptes/demandes/{rivals.expired}/renvoyer")
    assert answer.status_code == 403
    assert len(app_cli.mails(to=RIVAL_EXPIRED)) == mailed
    assert RIVAL_EXPIRED not in {r["mail"] for r in _requests(app_cli, SIRET)}


def test_resend_only_an_expired_invitation(rivals: Rivals, admin_a: Any, app_cli: Cli) -> None:
    """An invitation still valid (for the portal's clock) is not sent again; an expired one
    is, in its own structure, once."""
    browser = admin_a(rivals.admin)
    page = browser.get("/comptes")
    offered = set(re.findall(r"/comptes/demandes/([0-9a-f]+)/renvoyer", page.text))
    assert rivals.own_expired in offered and rivals.expired not in offered
    mailed = len(app_cli.mails(to=OWN_EXPIRED))
    done = browser.post(f"/comptes/demandes/{rivals.own_expired}/renvoyer", follow_redirects=True)
    assert f"Une nouvelle invitation a été envoyée à {OWN_EXPIRED}." in text_of(done.text)
    assert len(app_cli.mails(to=OWN_EXPIRED)) == mailed + 1
    # A second click: the new invitation is open, nothing more is sent.
    browser.get("/comptes")
    browser.post(f"/comptes/demandes/{rivals.own_expired}/renvoyer")
    assert len(app_cli.mails(to=OWN_EXPIRED)) == mailed + 1


def test_resend_refuses_an_open_invitation(rivals: Rivals, admin_a: Any, app_cli: Cli) -> None:
    """An invitation still valid is not « renvoyée »: a clear message, nothing sent."""
    browser = admin_a(rivals.admin)
    mailed = len(app_cli.mails(to="ouvert@example.org"))
    browser.get("/comptes")
    answer = browser.post(f"/comptes/demandes/{rivals.own_open}/renvoyer", follow_redirects=True)
    assert "seule une invitation expirée peut être renvoyée" in text_of(answer.text)
    assert len(app_cli.mails(to="ouvert@example.org")) == mailed


def test_cli_shares_the_rule(rivals: Rivals, app_cli: Cli) -> None:
    """The CLI's refuse and resend-invitation, as A's administrateur: exit 4 on B's requests,
    exit 1 on an open invitation, a new invitation for A's expired one."""
    app_cli.fails(4, "account", "refuse", rivals.submitted, "--reason", "Non", as_=rivals.admin)
    app_cli.fails(4, "account", "resend-invitation", rivals.expired, as_=rivals.admin)
    app_cli.fails(1, "account", "resend-invitation", rivals.own_open, as_=rivals.admin)
    sent = app_cli.ok("account", "resend-invitation", rivals.own_expired, as_=rivals.admin)
    assert (sent["mail"], sent["structure"]) == (OWN_EXPIRED, SIRET)
