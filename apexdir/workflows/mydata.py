"""A partner's own data (RGPD articles 15 and 20): one JSON document, the same for
`apexdir me export IDENTIFIER` and « Télécharger mes données » on `/donnees-personnelles`.

What it holds: identity, mail, his own mobile, structure (SIRET, désignation), service,
type and status, habilitations and délégations, the dates of the account, his last
logins (slapd's lastbind `authTimestamp`, and the journal's `auth.verified` events) and the
journal's events about him — those whose target or actor is his identifier.

What it never holds: secrets of any kind (password hash and history, pending codes and
reset links, session generation, notices), nor what the journal says of *other* people:
an event he performed on another account lists when, what and on whom, not its details;
an agent appears as « Agent DGFiP », never by the agent's own name.

The journal is the node's own (SQLite): the events are those this node recorded, and the
document says so. The keys are French: the document is the partner's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apexdir.directory.repository import Repository
from apexdir.errors import NotFound
from apexdir.models import Account
from apexdir.rules.permissions import Action, Actor, Target, require
from apexdir.rules.structure_life import ACCOUNT_CLOSED, ACCOUNT_STATUS_LABEL
from apexdir.runtime import Runtime
from apexdir.workflows.actors import target_for

FORMAT = "apex-partenaires/donnees-personnelles/1"
AGENT = "Agent DGFiP"
# What the events are, in French; an action not listed keeps its code alone.
LABELS = {
    "auth.login": "Mot de passe vérifié, code de vérification envoyé",
    "auth.verified": "Connexion (code de vérification saisi)",
    "auth.login-refused": "Connexion refusée",
    "auth.code-refused": "Code de vérification incorrect",
    "auth.code-resent": "Nouveau code de vérification envoyé",
    "auth.locked": "Compte verrouillé après plusieurs échecs",
    "auth.reset-requested": "Réinitialisation du mot de passe demandée",
    "auth.reset-refused": "Réinitialisation du mot de passe refusée",
    "auth.password-reset": "Mot de passe réinitialisé",
    "auth.password-change": "Mot de passe modifié",
    "account.validate": "Création du compte acceptée",
    "account.update": "Données personnelles modifiées",
    "account.transfer": "Changement de service",
    "account.delete": "Suppression d'un compte",
    "account.suspend": "Suspension d'un compte",
    "account.reactivate": "Réactivation d'un compte",
    "account.dormant-warning": "Avertissement : suspension prochaine pour inactivité",
    "account.dormant-suspend": "Suspension du compte pour inactivité",
    "account.dormant-cancel": "Suspension pour inactivité annulée par une connexion",
    "account.retype": "Changement de type de compte",
    "account.invite": "Création de compte initiée",
    "account.resend-identifier": "Identifiant renvoyé",
    "auth.codes-capped": "Connexion suspendue : trop de codes demandés ou incorrects",
    "account.data-export": "Téléchargement des données personnelles",
    "grant": "Profil applicatif attribué",
    "revoke": "Profil applicatif retiré",
    "delegate": "Profil applicatif délégué",
    "undelegate": "Délégation retirée",
}
STATUS = {"active": "Actif", "suspended": "Suspendu", ACCOUNT_CLOSED: ACCOUNT_STATUS_LABEL}
ABOUT = (
    "Données personnelles vous concernant dans l'annuaire APEX Partenaires de la DGFIP "
    "(RGPD, articles 15 et 20). Les événements et connexions sont ceux du journal du serveur "
    "qui a produit ce fichier, conservés pendant la durée de conservation du journal. "
    "Aucun secret n'y figure (mot de passe, codes, liens)."
)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _profiles(keys: list[str]) -> list[dict[str, str]]:
    """ "APP/PROFILE" strings as the partner reads them."""
    out = []
    for key in keys:
        app, _, profile = key.partition("/")
        out.append({"application": app, "profil": profile})
    return out


def _event(row: dict[str, Any], me: str) -> dict[str, Any]:
    about_me = (row.get("target") or "").lower() == me.lower()
    return {
        "date": row["at"],
        "action": row["action"],
        "libelle": LABELS.get(row["action"], row["action"]),
        "auteur": row.get("actor") or AGENT,
        "cible": row.get("target"),
        # Details of an event about someone else are that person's, not his.
        "details": row.get("details") if about_me else None,
    }


def export(rt: Runtime, actor: Actor, identifier: str) -> dict[str, Any]:
    """The document of `identifier`'s own data; a partner exports his own only (the table's
    SELF scope, checked before anything is read), an agent anyone's."""
    require(actor, Action.DATA_EXPORT, Target(identifier=identifier.strip()))
    repo = Repository(rt.directory, rt.layout)
    account = repo.account(identifier.strip())
    require(actor, Action.DATA_EXPORT, target_for(account))
    try:
        designation: str | None = repo.structure(account.siret).name
    except NotFound:  # a broken reference: the SIRET is still his data
        designation = None
    rows = rt.journal.about(account.identifier)
    document = _document(account, designation, rows, rt.clock())
    rt.journal.record(
        "account.data-export", account.identifier, actor=actor.identifier, operator=rt.operator
    )
    return document


def _document(
    account: Account, designation: str | None, rows: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    logins = [row["at"] for row in rows if row["action"] == "auth.verified"]
    return {
        "format": FORMAT,
        "genere_le": _iso(now),
        "a_propos": ABOUT,
        "identite": {
            "identifiant": account.identifier,
            "nom": account.last_name,
            "prenom": account.first_name,
            "adresse_mail": account.mail,
            "mobile": account.mobile,
        },
        "compte": {
            "type": account.type,
            "statut": STATUS.get(account.status, account.status),
            "application_cliente": account.client_application,
            "creation_demandee_le": _iso(account.requested_at),
            "creation_validee_le": _iso(account.validated_at),
            "creation_initiee_par": account.created_by,
            "mot_de_passe_modifie_le": _iso(account.password_changed_at),
        },
        "structure": {"siret": account.siret, "designation": designation},
        "service": account.service,
        "habilitations": _profiles(account.habilitations),
        "delegations": _profiles(account.delegations),
        "connexions": {
            # lastbind: the last successful bind anywhere (portal or an application).
            "derniere_authentification": _iso(account.last_login),
            "connexions_au_portail": sorted(logins, reverse=True),
        },
        "evenements": [_event(row, account.identifier) for row in rows],
    }
