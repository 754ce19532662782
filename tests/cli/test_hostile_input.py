"""LDAP filter and DN metacharacters, and non-ASCII, in names: stored and shown literally."""

from __future__ import annotations

from apexdir.directory.server import SlapdInstance
from tests.cli import flows
from tests.helpers import OTHER_SIRET, SIRET, Cli

# DN and filter metacharacters, but "<" and ">": names refuse them (markup, issue 18 item 10).
META = '* ( ) \\ , + " ; = #'
SERVICE = f"R&D {META} Zoë 北京"
OTHER = "*"
INJECTION = "*)(cn=*))(|(cn=*"
STRUCTURE = f"#Société {META} Œuvre «ñ»"
LAST = f"D'Artagnan-Ærø {META}"
FIRST = "Zoë (la) *"


def test_hostile_names_are_stored_and_shown_literally(app_cli: Cli, slapd: SlapdInstance) -> None:
    """Service, structure and person names with metacharacters round-trip through every command."""
    created = app_cli.ok(
        "structure",
        "create",
        "--siret",
        SIRET,
        "--category",
        "Banques",
        "--name",
        STRUCTURE,
        "--trade-name",
        META,
        "--city",
        "Saint-Étienne",
    )
    assert created["name"] == STRUCTURE and created["trade_name"] == META
    flows.structure(app_cli, OTHER_SIRET, "La Poste", "x")
    for name in (SERVICE, OTHER, INJECTION):
        assert app_cli.ok("service", "create", SIRET, name)["name"] == name
    # A filter metacharacter matches nothing but itself.
    app_cli.fails(3, "service", "rename", SIRET, "R*", "y")
    app_cli.fails(3, "service", "delete", SIRET, "*)(cn=*")
    app_cli.fails(3, "service", "delete", OTHER_SIRET, OTHER)
    app_cli.fails(1, "service", "create", SIRET, SERVICE.upper())

    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", FIRST, LAST)
    assert adm == "zoe-la.dartagnan-aero-px"
    collab = flows.account(
        app_cli,
        SIRET,
        "collaborateur",
        "c@example.org",
        "Ñandú",
        "Ōtsuka",
        service=SERVICE,
        inviter=adm,
        validator=adm,
    )
    assert collab == "nandu.otsuka-px"
    starred = flows.account(
        app_cli,
        SIRET,
        "collaborateur",
        "s@example.org",
        "Anne",
        "Étoile",
        service=OTHER,
        inviter=adm,
        validator=adm,
    )

    shown = app_cli.ok("account", "show", adm)
    assert (shown["first_name"], shown["last_name"]) == (FIRST, LAST)
    data = app_cli.ok("structure", "show", SIRET, as_=adm)
    assert data["name"] == STRUCTURE and data["trade_name"] == META
    assert data["administrators"][0]["last_name"] == LAST
    by_name = {s["name"]: s for s in data["services"]}
    assert set(by_name) == {SERVICE, OTHER, INJECTION}
    assert [a["identifier"] for a in by_name[SERVICE]["collaborateurs"]] == [collab]
    assert [a["identifier"] for a in by_name[OTHER]["collaborateurs"]] == [starred]
    assert by_name[INJECTION]["collaborateurs"] == []
    assert app_cli.ok("account", "show", collab)["service"] == SERVICE
    entry = flows.entry(slapd, adm)
    assert entry is not None and (entry.get("sn"), entry.get("givenName")) == (LAST, FIRST)

    renamed = f"{SERVICE} \\2a"
    app_cli.ok("service", "rename", SIRET, SERVICE, renamed, as_=adm)
    app_cli.ok("account", "transfer", collab, "--service", INJECTION, as_=adm)
    assert app_cli.ok("account", "show", collab)["service"] == INJECTION
    result = app_cli.ok("service", "merge", SIRET, OTHER, INJECTION, as_=adm)
    assert result["moved"] == 1
    app_cli.ok("service", "delete", SIRET, renamed, as_=adm)
    names = [s["name"] for s in app_cli.ok("service", "list", SIRET)]
    assert names == [INJECTION]
    app_cli.ok("me", "update", adm, "--last-name", f"{LAST} \\00 )(", as_=adm)
    assert app_cli.ok("account", "show", adm)["last_name"] == f"{LAST} \\00 )("
    assert app_cli.ok("account", "show", adm)["identifier"] == adm

    # Identifiers and request ids that are filters or DNs find nothing.
    for hostile in ("*", "zoe*", "uid=*", f"{adm},ou=people", "*)(uid=*"):
        app_cli.fails(3, "account", "show", hostile)
        app_cli.fails(4, "account", "show", adm, as_=hostile)
    app_cli.fails(3, "account", "validate", "*")
    app_cli.fails(3, "grant", adm, "APPDGFIP", "Lecture")  # no such application


def test_hostile_refusal_reason_and_invitation(app_cli: Cli) -> None:
    """Markup in a reason is refused (plain text only); filter metacharacters and quotes
    reach the mail as text; a hostile mail address is refused."""
    flows.structure(app_cli, SIRET, "Banque Exemple")
    request = flows.invite(app_cli, SIRET, "administrateur", "a@example.org")
    markup = '<script>alert("x")</script>'
    assert "sans balise" in app_cli.fails(1, "account", "refuse", request, "--reason", markup)
    reason = '"R&D" *)(uid=* a < b'
    app_cli.ok("account", "refuse", request, "--reason", reason)
    body = flows.mails_to(app_cli, "a@example.org", "refusal")[-1]["body"]
    assert f'Motif indiqué par le valideur : "{reason}"' in body
    for address in ("*@example.org)(mail=*", "a@b", "x y@example.org", "<a@example.org>"):
        app_cli.fails(
            1,
            "account",
            "invite",
            "--structure",
            SIRET,
            "--type",
            "administrateur",
            "--mail",
            address,
        )
