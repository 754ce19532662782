"""The history of a structure as partners read it (issue 21 item 8): which journal actions
belong to it, their French labels, who is shown as having acted, and the criteria of a
search. Pure: the events themselves are read and written by `apexdir.directory.events`.

Only the actions of `LABELS` are kept in the directory for every node to read; the rest
(logins, codes sent, refused codes…) stays in the node's own journal: a login a day for
each of 100,000 accounts would be 36 million entries a year for nothing an administrateur
asked to read (the last login is on the account already).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apexdir.errors import Invalid

PARIS = ZoneInfo("Europe/Paris")
AGENT_PREFIX = "agent:"

# Action code (as journaled by the workflows) → what an administrateur reads.
LABELS: dict[str, str] = {
    "account.invite": "Invitation à créer un compte",
    "account.complete": "Formulaire de pré-création complété",
    "account.validate": "Création de compte validée",
    "account.refuse": "Création de compte refusée",
    "account.resend-identifier": "Identifiant renvoyé",
    "account.update": "Données personnelles modifiées",
    "account.transfer": "Compte transféré vers un autre service",
    "account.delete": "Compte supprimé",
    "account.suspend": "Compte suspendu",
    "account.reactivate": "Compte réactivé",
    "account.dormant-warning": "Avertissement avant suspension pour inactivité",
    "account.dormant-suspend": "Compte suspendu pour inactivité",
    "account.retype": "Type de compte modifié",
    "grant": "Profil applicatif attribué",
    "revoke": "Profil applicatif retiré",
    "delegate": "Profil applicatif délégué",
    "undelegate": "Délégation retirée",
    "service.create": "Service créé",
    "service.rename": "Service renommé",
    "service.merge": "Services fusionnés",
    "service.delete": "Service supprimé",
    "structure.create": "Structure créée",
    "structure.update": "Structure modifiée",
    "structure.close": "Structure fermée",
    "structure.reopen": "Structure rouverte",
    "structure.move": "Structure transférée vers un nouveau SIRET",
    "auth.password-reset": "Mot de passe réinitialisé",
    "auth.password-change": "Mot de passe modifié",
    "auth.locked": "Compte verrouillé après des erreurs de mot de passe",
    "review.open": "Revue des habilitations ouverte",
    "review.due": "Revue annuelle des habilitations ouverte",
    "review.confirm": "Habilitation confirmée (revue des habilitations)",
    "review.complete": "Revue des habilitations terminée",
    "review.overdue": "Revue des habilitations non terminée dans le délai",
    "review.auto-revoke": "Profil applicatif retiré faute de confirmation (revue)",
}
# Done by the person the event is about, without being logged in (the journal has no
# actor): the history names that person.
BY_THE_PERSON = frozenset({"account.complete", "auth.password-reset"})
# Done by APEX itself (slapd's lockout, the daemon): nobody to name.
BY_THE_SYSTEM = frozenset(
    {"auth.locked", "account.dormant-warning", "account.dormant-suspend", "review.due",
     "review.overdue", "review.auto-revoke"}
)  # fmt: skip
# Of the structure as a whole: « La structure » in « Concerne ».
_OF_STRUCTURE = frozenset({"review.open", "review.due", "review.complete", "review.overdue"})
AGENT = "Agent DGFiP"
SYSTEM = "APEX Partenaires"
INVITEE = "La personne invitée"

PAGE_SIZE = 50
EXPORT_LIMIT = 50_000  # a CSV of more is cut (the period filter narrows it)


def label(action: str) -> str:
    return LABELS.get(action, action)


def shared(action: str) -> bool:
    """Whether an action belongs to the history every node reads."""
    return action in LABELS


def actor_value(identifier: str | None, operator: str | None) -> str:
    """How the acting party is stored: the partner's identifier, or `agent:<os user>`."""
    return identifier if identifier else f"{AGENT_PREFIX}{operator or 'unknown'}"


def who(action: str, actor: str | None, target: str | None, *, agent_names: bool) -> str:
    """Who acted, as shown: an identifier, « Agent DGFiP » (the agent's OS user only to
    agents: partners need not know DGFiP's staff), the person himself, or APEX."""
    if action in BY_THE_SYSTEM:
        return SYSTEM
    if action == "account.complete":
        # The target is the request's id: the invitee has no identifier yet (the mail is
        # in « Concerne »), and a hexadecimal id means nothing to an administrateur.
        return INVITEE
    if action in BY_THE_PERSON and target:
        return target
    if actor and actor.startswith(AGENT_PREFIX):
        name = actor[len(AGENT_PREFIX) :]
        return f"{AGENT} ({name})" if agent_names and name else AGENT
    return actor or SYSTEM


def new_event_id(moment: datetime) -> str:
    """An event's name: its UTC time to the microsecond, then a random part. Names sort as
    the events happened, and two nodes never pick the same one."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y%m%d%H%M%S}{utc.microsecond:06d}Z-{secrets.token_hex(4)}"


def event_time(event_id: str) -> datetime:
    """The moment encoded in an event's name (to the second), for a page's cursor."""
    head = event_id[:14]
    if len(head) != 14 or not head.isdigit():
        raise Invalid("curseur de pagination invalide")
    try:
        return datetime.strptime(head, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise Invalid("curseur de pagination invalide") from None


@dataclass(frozen=True)
class Criteria:
    """What a history search keeps: a period (UTC bounds, both included), one account (as
    actor or as target), one action."""

    since: datetime | None = None
    until: datetime | None = None
    account: str | None = None
    action: str | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise Invalid("La date de début doit précéder la date de fin.")
        if self.action is not None and self.action not in LABELS:
            raise Invalid("Action inconnue.")


def day_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """A period of whole days in Paris time as UTC bounds: from the first day's midnight to
    the last day's last second."""
    since = datetime.combine(start, time.min, PARIS).astimezone(UTC) if start else None
    until = None
    if end:
        next_day = datetime.combine(end + timedelta(days=1), time.min, PARIS)
        until = next_day.astimezone(UTC) - timedelta(seconds=1)
    return since, until


def paris(moment: datetime) -> str:
    """« 15/01/2026 à 10:30 », Paris time, as the pages write a moment."""
    local = moment.astimezone(PARIS)
    return f"{local:%d/%m/%Y} à {local:%H:%M}"


# Whose request an event of a creation names: its target is the request, not a person.
_BY_MAIL = frozenset({"account.invite", "account.complete", "account.refuse"})


def whom(action: str, target: str | None, details: dict[str, object]) -> str:
    """To whom or what it was done, as shown: an identifier, the invitee's address, a
    service, the structure."""
    if action in _BY_MAIL and details.get("mail"):
        return str(details["mail"])
    if action.startswith("service.") and target:
        name = target.split("/", 1)[-1]
        into = details.get("into") if action == "service.merge" else details.get("new_name")
        return f"Service « {name} »" + (f" → « {into} »" if into else "")
    if action.startswith("structure.") or action in _OF_STRUCTURE:
        return "La structure"
    if action == "account.transfer" and details.get("to"):
        return f"{target} → service « {details['to']} »"
    return target or "—"


def what(action: str, details: dict[str, object]) -> str:
    """The label, with the profile of a right granted or withdrawn."""
    text = label(action)
    profile = details.get("profile")
    return f"{text} : {profile}" if profile else text


def source(details: dict[str, object]) -> tuple[str, str]:
    """The source address and user agent a portal action recorded ("" when none)."""
    found = details.get("source")
    if not isinstance(found, dict):
        return "", ""
    return str(found.get("address") or ""), str(found.get("user_agent") or "")
