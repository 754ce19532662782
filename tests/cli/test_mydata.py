"""A partner's own data (RGPD art. 15 and 20, issue 21 item 9): `apexdir me export`."""

from __future__ import annotations

import json
import re

from apexdir.directory.server import SlapdInstance
from tests.cli import flows
from tests.cli.flows import APP, EXTRA, READ, SERVICE
from tests.helpers import PASSWORD, SIRET, Cli


def login(app_cli: Cli, identifier: str, mail: str) -> None:
    """A whole login: password, then the mailed code."""
    app_cli.ok("login", identifier, input=f"{PASSWORD}\n")
    bodies = [m["body"] for m in app_cli.mails(to=mail) if "Code de vérification" in m["subject"]]
    code = re.findall(r"code de vérification (\d{6}) pour", "\n".join(bodies))[-1]
    app_cli.ok("login", "verify", identifier, code)


def test_a_partner_exports_his_own_data_and_nothing_secret(
    app_cli: Cli, slapd: SlapdInstance
) -> None:
    """Identity with his own mobile, structure, service, type, habilitations, délégations,
    last logins and the events about him; no hash, code or session value; others' details
    left out; the export is journaled."""
    w = flows.world(app_cli)
    app_cli.ok("grant", w.collab1, APP, READ, as_=w.resp1)
    login(app_cli, w.collab1, w.mails[w.collab1])
    login(app_cli, w.collab1, w.mails[w.collab1])
    app_cli.fails(1, "login", w.collab1, input="Mauvais-Passw0rd!\n")

    result = app_cli.run("--json", "--as", w.collab1, "me", "export", w.collab1)
    # --json given twice is harmless; without it the document is JSON all the same.
    plain = app_cli.run("me", "export", w.collab1, as_=w.collab1)
    assert result.exit_code == plain.exit_code == 0, (result.output, plain.output)
    document = json.loads(plain.stdout)
    identity = document["identite"]
    assert identity == {
        "identifiant": w.collab1,
        "nom": "Dupont",
        "prenom": "Jeanne",
        "adresse_mail": w.mails[w.collab1],
        "mobile": "+33612345678",
    }
    assert document["structure"] == {"siret": SIRET, "designation": "Banque Exemple"}
    assert document["service"] == SERVICE
    assert document["compte"]["type"] == "collaborateur"
    assert document["compte"]["statut"] == "Actif"
    assert document["compte"]["creation_initiee_par"] == w.resp1
    assert document["habilitations"] == [{"application": APP, "profil": READ}]
    assert document["delegations"] == []
    logins = document["connexions"]
    assert len(logins["connexions_au_portail"]) == 2
    assert logins["derniere_authentification"] is not None
    events = document["evenements"]
    actions = [e["action"] for e in events]
    assert actions.count("auth.verified") == 2 and "auth.login-refused" in actions
    grant = next(e for e in events if e["action"] == "grant")
    assert grant["auteur"] == w.resp1 and grant["libelle"] == "Profil applicatif attribué"
    # Never a secret: no hash, no code record, no session generation, no password.
    entry = flows.entry(slapd, w.collab1)
    assert entry is not None
    text = plain.stdout
    for secret in ("{ARGON2}", "argon2", "userPassword", "apexLoginCode", PASSWORD,
                   str(entry.get("apexSessionGeneration"))):  # fmt: skip
        assert secret not in text, secret
    # The export itself is journaled, by whom it was made.
    exports = [e for e in app_cli.ok("journal") if e["action"] == "account.data-export"]
    assert [e["actor"] for e in exports] == [w.collab1, w.collab1]


def test_an_administrators_export_lists_his_actions_without_the_others_details(
    app_cli: Cli,
) -> None:
    """An event he made on another account says when, what and on whom — no details of that
    person; délégations are listed for a responsable; an agent is « Agent DGFiP »."""
    w = flows.world(app_cli)
    app_cli.ok("delegate", w.resp1, APP, EXTRA)  # by an agent
    admin = app_cli.ok("me", "export", w.adm_a, as_=w.adm_a)
    invites = [e for e in admin["evenements"] if e["action"] == "account.invite"]
    assert invites and all(e["auteur"] == w.adm_a and e["details"] is None for e in invites)
    assert "resp1@example.org" not in json.dumps(admin)  # the invitees' mails are theirs
    resp = app_cli.ok("me", "export", w.resp1, as_=w.resp1)
    assert resp["delegations"] == [
        {"application": APP, "profil": EXTRA},
        {"application": APP, "profil": READ},
    ]
    by_agent = next(e for e in resp["evenements"] if e["action"] == "delegate"
                    and e["auteur"] == "Agent DGFiP")  # fmt: skip
    assert by_agent["cible"] == w.resp1


def test_who_may_export_whose_data(app_cli: Cli) -> None:
    """A partner his own only (4, even for an identifier that does not exist: nothing is
    read first); an agent anyone's; an unknown identifier is 3 for an agent."""
    w = flows.world(app_cli)
    app_cli.fails(4, "me", "export", w.collab2, as_=w.collab1)
    app_cli.fails(4, "me", "export", w.collab1, as_=w.adm_a)  # his administrateur neither
    app_cli.fails(4, "me", "export", "personne.inconnue-px", as_=w.collab1)
    assert app_cli.ok("me", "export", w.adm_b)["identite"]["identifiant"] == w.adm_b
    app_cli.fails(3, "me", "export", "personne.inconnue-px")
    app_cli.fails(2, "me", "export")
