"""Creation of each account type, refusal, links, identifier reminder, personal data (§5, §7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apexdir.clock import FrozenClock
from apexdir.config import Settings
from apexdir.directory.server import SlapdInstance
from apexdir.errors import Invalid
from apexdir.runtime import Runtime
from apexdir.workflows import precreation
from apexdir.workflows.actors import AGENT
from tests.cli import flows
from tests.cli.flows import APP, READ, SERVICE, SERVICE2
from tests.helpers import PASSWORD, SIRET, Cli


def test_responsable_invited_by_administrator_into_a_service(
    app_cli: Cli, slapd: SlapdInstance
) -> None:
    """An administrator invites a responsable into a service and validates him; he can bind."""
    flows.catalogue(app_cli)
    flows.structure(app_cli, SIRET, "Banque Exemple", SERVICE)
    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    request = flows.invite(
        app_cli, SIRET, "responsable", "jean@example.org", SERVICE, as_=adm, application=APP
    )
    assert flows.mails_to(app_cli, "jean@example.org", "precreation")
    pending = app_cli.ok("account", "pending", as_=adm)
    assert [(p["request_id"], p["type"], p["service"], p["status"]) for p in pending] == [
        (request, "responsable", SERVICE, "invited")
    ]
    summary = flows.complete(app_cli, "jean@example.org", "Jean", "Dupont", "+33 6 12 34 56 78")
    assert summary == {
        "request_id": request,
        "status": "submitted",
        "message": "Le formulaire de pré-création a été transmis pour validation.",
    }
    assert flows.entry(slapd, "jean.dupont-px") is None, "not an account before validation"
    identifier = app_cli.ok("account", "validate", request, as_=adm)["identifier"]
    assert identifier == "jean.dupont-px"
    body = flows.mails_to(app_cli, "jean@example.org", "validation")[-1]["body"]
    assert "votre identifiant de connexion : jean.dupont-px" in body
    assert flows.bind(slapd, identifier)
    shown = app_cli.ok("account", "show", identifier, as_=adm)
    assert (shown["type"], shown["siret"], shown["service"], shown["status"]) == (
        "responsable",
        SIRET,
        SERVICE,
        "active",
    )
    assert shown["client_application"] == APP
    entry = flows.entry(slapd, identifier)
    assert entry is not None and entry.get("mobile") == "+33612345678"
    assert entry.get("apexCreatedBy") == adm and entry.get("apexValidatedBy") == adm


def test_collaborateur_invited_by_responsable_is_validated_by_administrator(
    app_cli: Cli, slapd: SlapdInstance
) -> None:
    """A responsable invites into his own service only; his administrator validates, not him."""
    flows.structure(app_cli, SIRET, "Banque Exemple", SERVICE, SERVICE2)
    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    resp = flows.account(
        app_cli,
        SIRET,
        "responsable",
        "resp@example.org",
        "Jean",
        "Dupont",
        service=SERVICE,
        inviter=adm,
        validator=adm,
    )
    for kind, service in (
        ("collaborateur", SERVICE2),
        ("responsable", SERVICE),
        ("administrateur", None),
    ):
        args = [
            "account",
            "invite",
            "--structure",
            SIRET,
            "--type",
            kind,
            "--mail",
            "x@example.org",
        ] + (["--service", service] if service else [])
        app_cli.fails(4, *args, as_=resp)
    request = flows.invite(app_cli, SIRET, "collaborateur", "c@example.org", SERVICE, as_=resp)
    assert [p["request_id"] for p in app_cli.ok("account", "pending", as_=resp)] == [request]
    flows.complete(app_cli, "c@example.org", "Cathy", "Noël")
    app_cli.fails(4, "account", "validate", request, as_=resp)
    app_cli.fails(4, "account", "refuse", request, "--reason", "non", as_=resp)
    assert app_cli.ok("account", "pending", as_=resp)[0]["status"] == "submitted"
    accepted = app_cli.ok("account", "validate", request, as_=adm)
    assert accepted == {"request_id": request, "identifier": "cathy.noel-px", "status": "accepted"}
    identifier = accepted["identifier"]
    assert flows.bind(slapd, identifier)
    shown = app_cli.ok("account", "show", identifier, as_=resp)
    assert (shown["type"], shown["service"]) == ("collaborateur", SERVICE)
    entry = flows.entry(slapd, identifier)
    assert entry is not None
    assert (entry.get("apexCreatedBy"), entry.get("apexValidatedBy")) == (resp, adm)


def test_every_account_type_and_the_journal(app_cli: Cli) -> None:
    """Administrateur, responsable and collaborateur each reach "active"; the journal says who."""
    flows.structure(app_cli, SIRET, "Banque Exemple", SERVICE)
    adm = flows.account(
        app_cli, SIRET, "administrateur", "a@example.org", "Benjamin", "Petit-Silva"
    )
    resp = flows.account(
        app_cli,
        SIRET,
        "responsable",
        "r@example.org",
        "Michel",
        "de la Bruyère",
        service=SERVICE,
        inviter=adm,
        validator=adm,
    )
    collab = flows.account(
        app_cli,
        SIRET,
        "collaborateur",
        "c@example.org",
        "Sylvie",
        "d'Alembert",
        service=SERVICE,
        inviter=adm,
        validator=adm,
    )
    assert (adm, resp, collab) == (
        "benjamin.petit-silva-px",
        "michel.de-la-bruyere-px",
        "sylvie.dalembert-px",
    )
    listed = app_cli.ok("account", "list", "--structure", SIRET)
    assert {(a["identifier"], a["type"], a["status"]) for a in listed} == {
        (adm, "administrateur", "active"),
        (resp, "responsable", "active"),
        (collab, "collaborateur", "active"),
    }
    assert all("mobile" not in a for a in listed)
    actions = [(e["action"], e["actor"], e["operator"]) for e in flows.journal(app_cli)]
    assert ("account.validate", None, actions[0][2]) in actions  # the agent validated adm
    assert ("account.invite", adm, actions[0][2]) in actions
    assert ("account.validate", adm, actions[0][2]) in actions
    assert all("Str0ng" not in str(e) for e in flows.journal(app_cli)), "never a secret"


def test_refusal_before_and_after_the_form(app_cli: Cli, slapd: SlapdInstance) -> None:
    """A refusal mails the reason; the link dies with it; a refused request cannot be validated."""
    flows.structure(app_cli, SIRET, "Banque Exemple", SERVICE)
    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    early = flows.invite(app_cli, SIRET, "collaborateur", "early@example.org", SERVICE, as_=adm)
    link = app_cli.link_for("early@example.org")
    app_cli.fails(1, "account", "refuse", early, "--reason", "   ", as_=adm)
    refused = app_cli.ok("account", "refuse", early, "--reason", "Doublon", as_=adm)
    assert refused == {"request_id": early, "status": "refused", "reason": "Doublon"}
    form = ["account", "complete", link, "--last-name", "Roux", "--first-name", "Léa", "--yes"]
    app_cli.fails(1, *form, input=f"{PASSWORD}\n{PASSWORD}\n")

    late = flows.invite(app_cli, SIRET, "collaborateur", "late@example.org", SERVICE, as_=adm)
    flows.complete(app_cli, "late@example.org", "Léo", "Blanc")
    app_cli.ok("account", "refuse", late, "--reason", "Personne inconnue du service", as_=adm)
    mail = flows.mails_to(app_cli, "late@example.org", "refusal")[-1]
    assert 'Motif indiqué par le valideur : "Personne inconnue du service"' in mail["body"]
    app_cli.fails(1, "account", "validate", late, as_=adm)
    app_cli.fails(1, "account", "refuse", late, "--reason", "encore", as_=adm)
    assert flows.entry(slapd, "leo.blanc-px") is None
    statuses = {
        p["request_id"]: p["status"]
        for p in app_cli.ok("account", "pending", "--status", "refused", as_=adm)
    }
    assert statuses == {early: "refused", late: "refused"}
    with flows.admin(slapd) as directory:
        held = directory.get(slapd.layout.request_dn(late), ["apexPendingPassword", "mobile"])
    assert held is not None and not held.attrs.get("apexPendingPassword"), "no password kept"


def test_token_reuse(app_cli: Cli, slapd: SlapdInstance) -> None:
    """The link works once; after validation it is still refused; a forged secret is refused."""
    flows.structure(app_cli, SIRET, "Banque Exemple")
    request = flows.invite(app_cli, SIRET, "administrateur", "a@example.org")
    link = app_cli.link_for("a@example.org")
    token = link.rsplit("/", 1)[-1]
    request_id, secret = token.split(".", 1)
    assert request_id == request and len(secret) >= 22  # ≥ 128 random bits
    form = ["--last-name", "Martin", "--first-name", "Marie", "--yes"]
    forged = f"{request_id}.{'A' * len(secret)}"
    app_cli.fails(1, "account", "complete", forged, *form, input=f"{PASSWORD}\n{PASSWORD}\n")
    app_cli.ok("account", "complete", token, *form, input=f"{PASSWORD}\n{PASSWORD}\n")
    with flows.admin(slapd) as directory:
        held = directory.get(slapd.layout.request_dn(request), ["*"])
    assert held is not None
    pending = held.get("apexPendingPassword")
    pending = pending.decode() if isinstance(pending, bytes) else str(pending)
    assert pending.startswith("{ARGON2}$argon2id$") and PASSWORD not in str(held.attrs)
    assert not held.attrs.get("apexTokenHash"), "the link's hash goes with its use"
    for used in (token, link):
        err = app_cli.fails(
            1, "account", "complete", used, *form, input=f"{PASSWORD}\n{PASSWORD}\n"
        )
        assert "déjà été utilisé" in err
    app_cli.ok("account", "validate", request)
    app_cli.fails(1, "account", "complete", link, *form, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert app_cli.ok("account", "validate", request)["identifier"] == "marie.martin-px"
    assert len(app_cli.ok("account", "list")) == 1


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


def test_link_expires_after_the_configured_days(
    app_cli: Cli, settings: Settings, clock: FrozenClock
) -> None:
    """7 days by default (configurable): the form is refused after, and a new invitation works."""
    flows.structure(app_cli, SIRET, "Banque Exemple")
    rt = Runtime(settings, clock=clock, operator="tester")
    try:
        clock.advance(days=-7, minutes=-1)  # invited 7 days and a minute ago
        precreation.invite(
            rt, AGENT, siret=SIRET, account_type="administrateur", mail="late@example.org"
        )
        precreation.invite(
            rt, AGENT, siret=SIRET, account_type="administrateur", mail="ontime@example.org"
        )
        form = ["--last-name", "Martin", "--first-name", "Marie", "--yes"]
        pw = f"{PASSWORD}\n{PASSWORD}\n"
        late = app_cli.link_for("late@example.org")
        err = app_cli.fails(1, "account", "complete", late, *form, input=pw)
        assert "expiré" in err
        # An expired invitation does not block a new one for the same address.
        new = flows.invite(app_cli, SIRET, "administrateur", "late@example.org")
        app_cli.ok("account", "complete", app_cli.link_for("late@example.org"), *form, input=pw)
        assert app_cli.ok("account", "validate", new)["identifier"] == "marie.martin-px"
        statuses = {
            p["mail"]: p["status"] for p in app_cli.ok("account", "pending", "--status", "expired")
        }
        assert statuses == {"late@example.org": "expired", "ontime@example.org": "expired"}

        # The library with the injected clock: valid until the last second, not after.
        invited_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        clock.now = invited_at
        req = precreation.invite(
            rt, AGENT, siret=SIRET, account_type="administrateur", mail="edge@example.org"
        )
        link = app_cli.link_for("edge@example.org")
        fields = {
            "last_name": "Noël",
            "first_name": "Cathy",
            "mobile": None,
            "password": PASSWORD,
            "confirmation": PASSWORD,
        }
        clock.now = invited_at + timedelta(days=7, seconds=-1)
        summary = precreation.complete(rt, link, submit=False, **fields)
        assert summary.request_id == req.id
        clock.now = invited_at + timedelta(days=7)
        with pytest.raises(Invalid, match="expiré"):
            precreation.complete(rt, link, submit=True, **fields)

        short = settings.model_copy(deep=True)
        short.policy.invitation_validity_days = 2
        rt2 = Runtime(short, clock=clock, operator="tester")
        try:
            clock.now = invited_at
            precreation.invite(
                rt2, AGENT, siret=SIRET, account_type="administrateur", mail="short@example.org"
            )
            short_link = app_cli.link_for("short@example.org")
            clock.now = invited_at + timedelta(days=2, seconds=-1)
            precreation.complete(rt2, short_link, submit=False, **fields)
            clock.now = invited_at + timedelta(days=2)
            with pytest.raises(Invalid, match="expiré"):
                precreation.complete(rt2, short_link, submit=True, **fields)
        finally:
            rt2.close()
    finally:
        rt.close()


def test_resend_identifier(app_cli: Cli) -> None:
    """Administrator, responsable (for his collaborateurs) and agent re-send the identifier mail."""
    w = flows.world(app_cli)
    for actor in (None, w.adm_a, w.resp1):
        result = app_cli.ok("account", "resend-identifier", w.collab1, as_=actor)
        assert result == {"identifier": w.collab1, "mail": "collab1@example.org"}
    sent = flows.mails_to(app_cli, "collab1@example.org", "identifier")
    assert len(sent) == 3 and all(w.collab1 in m["body"] for m in sent)
    app_cli.fails(4, "account", "resend-identifier", w.collab2, as_=w.resp1)
    app_cli.fails(4, "account", "resend-identifier", w.collab1, as_=w.adm_b)
    app_cli.fails(4, "account", "resend-identifier", w.collab1, as_=w.collab1)
    app_cli.fails(3, "account", "resend-identifier", "nobody-px")
    assert len(flows.mails_to(app_cli, "collab2@example.org", "identifier")) == 0


def test_consultation_never_shows_a_phone(app_cli: Cli) -> None:
    """structure show, for every type: structure, administrators, services — no phone anywhere."""
    w = flows.world(app_cli)
    for actor in (None, w.adm_a, w.resp1, w.collab1):
        data = app_cli.ok("structure", "show", SIRET, as_=actor)
        text = flows.dumps(data)
        assert "mobile" not in text and "+33" not in text and "612345678" not in text
        assert (data["siret"], data["name"], data["category"]) == (
            SIRET,
            "Banque Exemple",
            "Banques",
        )
        assert [a["identifier"] for a in data["administrators"]] == [w.adm_a]
        assert data["services"] == [
            {
                "name": SERVICE,
                "responsables": [_public(app_cli, w.resp1)],
                "collaborateurs": [_public(app_cli, w.collab1)],
            },
            {
                "name": SERVICE2,
                "responsables": [_public(app_cli, w.resp2)],
                "collaborateurs": [_public(app_cli, w.collab2)],
            },
        ]
        admin = data["administrators"][0]
        assert set(admin) == {
            "identifier",
            "dn",
            "last_name",
            "first_name",
            "mail",
            "type",
            "habilitations",
        }
        assert admin["habilitations"] == [f"{APP}/Ecriture", f"{APP}/{READ}"]
    app_cli.fails(4, "structure", "show", SIRET, as_=w.adm_b)


def _public(cli: Cli, identifier: str) -> dict[str, object]:
    shown = cli.ok("account", "show", identifier)
    keys = ("identifier", "dn", "last_name", "first_name", "mail", "type", "habilitations")
    return {k: shown[k] for k in keys}


def test_account_show_gives_the_mobile_to_an_agent_only(app_cli: Cli) -> None:
    """The detail of an account: nom, prénom, e-mail, SIRET, type, habilitations; mobile: agent."""
    w = flows.world(app_cli)
    shown = app_cli.ok("account", "show", w.collab1)
    assert shown["mobile"] == "+33612345678"
    for actor in (w.adm_a, w.resp1, w.resp2, w.collab1, w.collab2):
        seen = app_cli.ok("account", "show", w.collab1, as_=actor)
        assert "mobile" not in seen and "+33" not in flows.dumps(seen)
        assert (seen["last_name"], seen["first_name"], seen["mail"], seen["siret"]) == (
            "Dupont",
            "Jeanne",
            "collab1@example.org",
            SIRET,
        )
        assert seen["type"] == "collaborateur" and "habilitations" in seen
        for key in ("identifier", "dn", "service", "status", "last_login"):
            assert key in seen
    app_cli.fails(4, "account", "show", w.collab1, as_=w.adm_b)


def test_mail_change_reaches_both_addresses(app_cli: Cli, slapd: SlapdInstance) -> None:
    """me update --mail: confirmation to the old and the new address; identifier unchanged."""
    w = flows.world(app_cli)
    result = app_cli.ok(
        "me",
        "update",
        w.collab1,
        "--mail",
        "Jeanne.New@Example.ORG",
        "--last-name",
        "Durand-Dupont",
        "--mobile",
        "07 81 22 33 44",
        as_=w.collab1,
    )
    assert result["message"] == "Vos données personnelles ont été modifiées."
    assert list(result) == [
        "identifier", "dn", "last_name", "first_name", "mail", "type", "habilitations",
        "siret", "service", "status", "last_login", "delegations", "client_application",
        "mobile", "message",
    ]  # fmt: skip
    assert result["identifier"] == w.collab1 and result["mail"] == "Jeanne.New@example.org"
    for address in ("collab1@example.org", "Jeanne.New@example.org"):
        sent = flows.mails_to(app_cli, address, "personal_data")
        assert len(sent) == 1, address
        assert f"({w.collab1})" in sent[0]["body"]
        assert (
            "Une modification de vos informations personnelles a été effectuée" in sent[0]["body"]
        )
    entry = flows.entry(slapd, w.collab1)
    assert entry is not None
    assert (entry.get("uid"), entry.get("mail"), entry.get("sn"), entry.get("mobile")) == (
        w.collab1,
        "Jeanne.New@example.org",
        "Durand-Dupont",
        "+33781223344",
    )
    assert entry.dn.lower() == slapd.layout.account_dn(w.collab1).lower()
    assert flows.bind(slapd, w.collab1)
    # Only the name and the mail changed: one mail to the account's address, none elsewhere.
    app_cli.ok("me", "update", w.collab1, "--first-name", "Jeanne-Marie", as_=w.collab1)
    assert len(flows.mails_to(app_cli, "Jeanne.New@example.org", "personal_data")) == 2
    assert len(flows.mails_to(app_cli, "collab1@example.org", "personal_data")) == 1
    # Someone else's data: not even his administrator.
    app_cli.fails(4, "me", "update", w.collab1, "--last-name", "X", as_=w.adm_a)
    app_cli.fails(4, "me", "update", w.collab1, "--last-name", "X", as_=w.resp1)
