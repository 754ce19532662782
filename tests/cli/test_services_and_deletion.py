"""Services (create, rename, merge, transfer, delete), the delete guard, independence (§2, §6)."""

from __future__ import annotations

from apexdir.directory.server import SlapdInstance
from tests.cli import flows
from tests.cli.flows import APP, EXTRA, READ, SERVICE, SERVICE2, WRITE
from tests.helpers import OTHER_SIRET, SIRET, Cli

# The keys, in order, of an account and of a structure as `show` prints them (CLI.md).
ACCOUNT = ["identifier", "dn", "last_name", "first_name", "mail", "type", "habilitations"]
STRUCTURE = ["siret", "name", "category", "trade_name", "street", "street2", "postal_code"]
STRUCTURE += ["city", "country", "status", "previous_sirets"]


def _dns(slapd: SlapdInstance, *identifiers: str) -> dict[str, tuple[str, str]]:
    """identifier → (DN, entryUUID) as the directory holds them."""
    out = {}
    for identifier in identifiers:
        entry = flows.entry(slapd, identifier)
        assert entry is not None, identifier
        out[identifier] = (entry.dn.lower(), str(entry.get("entryUUID")))
    return out


def test_service_create_rename_delete(app_cli: Cli, slapd: SlapdInstance) -> None:
    """Names are unique within a structure (any case), free across structures; rename keeps DNs."""
    flows.structure(app_cli, SIRET, "Banque Exemple", SERVICE)
    flows.structure(app_cli, OTHER_SIRET, "La Poste", SERVICE)  # same name elsewhere: fine
    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    app_cli.fails(1, "service", "create", SIRET, "comptabilité", as_=adm)
    created = app_cli.ok("service", "create", SIRET, "  Paie   et  Budget ", as_=adm)
    assert created["name"] == "Paie et Budget" and created["siret"] == SIRET
    collab = flows.account(
        app_cli,
        SIRET,
        "collaborateur",
        "c@example.org",
        "Cathy",
        "Noël",
        service="Paie et Budget",
        inviter=adm,
        validator=adm,
    )
    before = _dns(slapd, collab)
    app_cli.fails(1, "service", "rename", SIRET, "Paie et Budget", SERVICE, as_=adm)
    renamed = app_cli.ok("service", "rename", SIRET, "Paie et Budget", "Paie", as_=adm)
    assert renamed["name"] == "Paie"
    assert app_cli.ok("service", "rename", SIRET, "Paie", "PAIE", as_=adm)["name"] == "PAIE"
    assert _dns(slapd, collab) == before
    assert app_cli.ok("account", "show", collab, as_=adm)["service"] == "PAIE"
    names = [s["name"] for s in app_cli.ok("structure", "show", SIRET, as_=adm)["services"]]
    assert names == [SERVICE, "PAIE"]
    err = app_cli.fails(1, "service", "delete", SIRET, "PAIE", as_=adm)
    assert "1 compte(s)" in err
    app_cli.ok("service", "delete", SIRET, SERVICE, as_=adm)
    assert [s["name"] for s in app_cli.ok("service", "list", SIRET)] == ["PAIE"]
    assert [s["name"] for s in app_cli.ok("service", "list", OTHER_SIRET)] == [SERVICE]
    # An open invitation holds its service too.
    app_cli.ok("service", "create", SIRET, "Vide", as_=adm)
    flows.invite(app_cli, SIRET, "collaborateur", "v@example.org", "Vide", as_=adm)
    err = app_cli.fails(1, "service", "delete", SIRET, "Vide", as_=adm)
    assert "1 demande(s) de création en cours" in err


def test_merge_moves_accounts_and_requests_and_keeps_dns(
    app_cli: Cli, slapd: SlapdInstance
) -> None:
    """Every account and open request of the source moves; same DN, same rights; source gone."""
    w = flows.world(app_cli)
    app_cli.ok("grant", w.collab1, APP, READ, as_=w.resp1)
    request = flows.invite(app_cli, SIRET, "collaborateur", "new@example.org", SERVICE, as_=w.adm_a)
    before = _dns(slapd, w.resp1, w.collab1, w.resp2, w.collab2)
    habilitations = {i: app_cli.ok("account", "show", i)["habilitations"] for i in before}
    app_cli.fails(1, "service", "merge", SIRET, SERVICE, SERVICE, as_=w.adm_a)
    app_cli.fails(3, "service", "merge", SIRET, SERVICE, "Nulle part", as_=w.adm_a)
    result = app_cli.ok("service", "merge", SIRET, SERVICE, SERVICE2, as_=w.adm_a)
    assert result == {"source": SERVICE, "target": SERVICE2, "moved": 2, "requests_moved": 1}
    assert list(result) == ["source", "target", "moved", "requests_moved"]

    assert _dns(slapd, *before) == before
    for identifier in before:
        shown = app_cli.ok("account", "show", identifier)
        assert shown["service"] == SERVICE2
        assert shown["habilitations"] == habilitations[identifier]
        assert flows.bind(slapd, identifier)
    assert app_cli.ok("account", "show", w.resp1)["delegations"] == [f"{APP}/{READ}"]
    detail = [*ACCOUNT, "siret", "service", "status", "last_login", "delegations"]
    detail.append("client_application")
    assert list(app_cli.ok("account", "show", w.resp1)) == [*detail, "mobile"]  # an agent
    assert list(app_cli.ok("account", "show", w.resp1, as_=w.adm_a)) == detail
    ldif = flows.ldapsearch(slapd, "(objectClass=apexAccount)", "apexServiceRef")
    refs = [line.split(": ", 1)[1] for line in ldif.splitlines() if line.startswith("apexServ")]
    assert len(refs) == 4 and len(set(refs)) == 1
    assert ldif.count("dn: uid=") == 6  # nobody renamed, nobody lost
    data = app_cli.ok("structure", "show", SIRET)
    assert list(data) == [*STRUCTURE, "administrators", "services"]
    assert [list(a) for a in data["administrators"]] == [ACCOUNT]
    assert list(data["services"][0]) == ["name", "responsables", "collaborateurs"]
    assert [list(a) for a in data["services"][0]["collaborateurs"]] == [ACCOUNT, ACCOUNT]
    assert [s["name"] for s in data["services"]] == [SERVICE2]
    assert {a["identifier"] for a in data["services"][0]["responsables"]} == {w.resp1, w.resp2}
    app_cli.fails(3, "service", "delete", SIRET, SERVICE)

    # The moved invitation completes into the target service.
    flows.complete(app_cli, "new@example.org", "Zoé", "Roux")
    identifier = app_cli.ok("account", "validate", request, as_=w.adm_a)["identifier"]
    assert app_cli.ok("account", "show", identifier)["service"] == SERVICE2


def test_transfer_keeps_the_dn_and_the_rights(app_cli: Cli, slapd: SlapdInstance) -> None:
    """A responsable or collaborateur moves within his structure; an administrator cannot."""
    w = flows.world(app_cli)
    app_cli.ok("grant", w.collab1, APP, READ, as_=w.resp1)
    before = _dns(slapd, w.collab1, w.resp1)
    moved = app_cli.ok("account", "transfer", w.collab1, "--service", SERVICE2, as_=w.adm_a)
    assert moved["service"] == SERVICE2 and moved["habilitations"] == [f"{APP}/{READ}"]
    assert "mobile" not in moved
    app_cli.ok("account", "transfer", w.resp1, "--service", SERVICE2)
    assert _dns(slapd, w.collab1, w.resp1) == before
    assert flows.bind(slapd, w.collab1)
    assert app_cli.ok("account", "show", w.resp1)["delegations"] == [f"{APP}/{READ}"]
    # No longer in the responsable's old service… but he moved too: same service again.
    sent = app_cli.ok("account", "resend-identifier", w.collab1, as_=w.resp1)
    assert sent == {"identifier": w.collab1, "mail": w.mails[w.collab1]}
    app_cli.fails(4, "account", "transfer", w.adm_a, "--service", SERVICE2)
    app_cli.fails(4, "account", "transfer", w.collab1, "--service", SERVICE, as_=w.resp1)
    app_cli.fails(3, "account", "transfer", w.collab1, "--service", "Direction", as_=w.adm_a)
    app_cli.fails(4, "account", "transfer", w.collab1, "--service", "Direction", as_=w.adm_b)
    app_cli.fails(3, "account", "transfer", w.collab1, "--service", "Direction")


def test_delete_guard_and_what_a_deletion_removes(app_cli: Cli, slapd: SlapdInstance) -> None:
    """Refused while a habilitation is held; then the account leaves its profiles, nothing else."""
    w = flows.world(app_cli)
    app_cli.ok("grant", w.collab1, APP, READ, as_=w.resp1)
    collab_dn = slapd.layout.account_dn(w.collab1).lower()
    assert collab_dn in flows.members(slapd, APP, READ)
    err = app_cli.fails(1, "account", "delete", w.collab1, as_=w.resp1)
    assert f"{APP}/{READ}" in err
    app_cli.fails(1, "account", "delete", w.collab1)  # the agent too: same guard
    assert flows.entry(slapd, w.collab1) is not None
    app_cli.ok("revoke", w.collab1, APP, READ, as_=w.resp1)
    others = {i: flows.entry(slapd, i) for i in (w.adm_a, w.resp1, w.resp2, w.collab2)}
    result = app_cli.ok("account", "delete", w.collab1, as_=w.resp1)
    assert result == {"identifier": w.collab1, "deleted": True, "delegations_dropped": []}
    assert flows.entry(slapd, w.collab1) is None
    assert not flows.bind(slapd, w.collab1)
    app_cli.fails(3, "account", "show", w.collab1)
    for identifier, before in others.items():
        after = flows.entry(slapd, identifier)
        assert after is not None and before is not None
        assert _user_attrs(after.attrs) == _user_attrs(before.attrs), identifier

    # A responsable holding only a delegation can be deleted: the delegation goes with him.
    app_cli.fails(4, "account", "delete", w.resp1, as_=w.resp2)
    deleted = app_cli.ok("account", "delete", w.resp1, as_=w.adm_a)
    assert deleted["delegations_dropped"] == [f"{APP}/{READ}"]
    # An administrator: by an agent only, same guard.
    app_cli.fails(4, "account", "delete", w.adm_a, as_=w.adm_a)
    app_cli.fails(1, "account", "delete", w.adm_a)


def _user_attrs(attrs: dict[str, list[object]]) -> dict[str, list[str]]:
    volatile = {"modifytimestamp", "modifiersname", "entrycsn", "authtimestamp", "pwdlastsuccess"}
    return {k.lower(): sorted(map(str, v)) for k, v in attrs.items() if k.lower() not in volatile}


def test_deleting_an_administrator_leaves_the_accounts_he_created(
    app_cli: Cli, slapd: SlapdInstance
) -> None:
    """Independence: the responsables and collaborateurs he invited and validated keep it all."""
    flows.catalogue(app_cli)
    flows.structure(app_cli, SIRET, "Banque Exemple", SERVICE)
    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    adm2 = flows.account(app_cli, SIRET, "administrateur", "adm2@example.org", "Paul", "Durand")
    app_cli.ok("grant", adm, APP, READ)
    app_cli.ok("grant", adm, APP, WRITE)
    resp = flows.account(
        app_cli,
        SIRET,
        "responsable",
        "r@example.org",
        "Jean",
        "Dupont",
        service=SERVICE,
        inviter=adm,
        validator=adm,
    )
    collab = flows.account(
        app_cli,
        SIRET,
        "collaborateur",
        "c@example.org",
        "Jeanne",
        "Petit",
        service=SERVICE,
        inviter=adm,
        validator=adm,
    )
    app_cli.ok("grant", resp, APP, READ, as_=adm)
    app_cli.ok("grant", collab, APP, WRITE, as_=adm)
    app_cli.ok("delegate", resp, APP, READ, as_=adm)
    open_request = flows.invite(app_cli, SIRET, "collaborateur", "o@example.org", SERVICE, as_=adm)
    kept = {i: flows.entry(slapd, i) for i in (resp, collab, adm2)}
    assert kept[collab] is not None and kept[collab].get("apexCreatedBy") == adm

    app_cli.fails(1, "account", "delete", adm)  # still holds profiles
    app_cli.ok("revoke", adm, APP, READ)
    app_cli.ok("revoke", adm, APP, WRITE)
    app_cli.ok("account", "delete", adm)

    for identifier, before in kept.items():
        after = flows.entry(slapd, identifier)
        assert after is not None, f"{identifier} was deleted with its creator"
        assert _user_attrs(after.attrs) == _user_attrs(before.attrs), identifier  # type: ignore[union-attr]
        assert flows.bind(slapd, identifier)
    assert app_cli.ok("account", "show", collab)["habilitations"] == [f"{APP}/{WRITE}"]
    assert app_cli.ok("account", "show", resp)["delegations"] == [f"{APP}/{READ}"]
    # His open invitation can still be completed and validated by another administrator.
    flows.complete(app_cli, "o@example.org", "Olga", "Ivanova")
    assert app_cli.ok("account", "validate", open_request, as_=adm2)["identifier"] == (
        "olga.ivanova-px"
    )
    # And the collaborateur the responsable manages stays when the responsable goes.
    app_cli.ok("revoke", resp, APP, READ)
    app_cli.ok("grant", adm2, APP, EXTRA)
    app_cli.ok("account", "delete", resp, as_=adm2)
    assert app_cli.ok("account", "show", collab)["habilitations"] == [f"{APP}/{WRITE}"]
