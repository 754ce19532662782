"""The domain as plain classes: no I/O. The directory adapter builds them from entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


# The values the directory holds (apexAccountType, apexStatus) and the CLI's JSON shows:
# StrEnum members are those very strings (equal to them, serialised as them).
class AccountType(StrEnum):
    """The three kinds of partner account; agents are not partner accounts."""

    ADMINISTRATEUR = "administrateur"
    RESPONSABLE = "responsable"
    COLLABORATEUR = "collaborateur"


class AccountStatus(StrEnum):
    """Whether an account may log in: active, suspended on its own (SPEC §10), or locked
    with its closed structure (reopening unlocks only these)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    STRUCTURE_CLOSED = "structure-closed"


class StructureStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class RequestStatus(StrEnum):
    """The life of a pre-creation request (SPEC §5): invited (link mailed), submitted (form
    filled), then accepted, refused, expired (link unused in time) or cancelled (its
    structure closed)."""

    INVITED = "invited"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class ReviewStatus(StrEnum):
    """The life of a habilitation review (issue 21 item 10): open, overdue (past its days,
    still to be finished), completed (every habilitation decided), closed (overdue, the
    unconfirmed ones withdrawn by the daemon)."""

    OPEN = "open"
    OVERDUE = "overdue"
    COMPLETED = "completed"
    CLOSED = "closed"


class Decision(StrEnum):
    """What a review decided of one habilitation."""

    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"


def habilitation(app: str, profile: str) -> str:
    return f"{app}/{profile}"


@dataclass
class Structure:
    siret: str
    name: str
    category: str
    dn: str = ""
    trade_name: str | None = None
    street: str | None = None
    street2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None
    # The life of a structure (SPEC §10): open or closed (with the agent's reason), and
    # the SIRETs it had before a move, by which its older history is named.
    status: StructureStatus = StructureStatus.OPEN
    reason: str | None = None
    previous_sirets: list[str] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.status == StructureStatus.CLOSED

    def public(self) -> dict[str, Any]:
        return {
            "siret": self.siret,
            "name": self.name,
            "category": self.category,
            "trade_name": self.trade_name,
            "street": self.street,
            "street2": self.street2,
            "postal_code": self.postal_code,
            "city": self.city,
            "country": self.country,
            "status": self.status,
            "previous_sirets": list(self.previous_sirets),
        }


@dataclass
class Service:
    id: str
    name: str
    siret: str
    dn: str = ""


@dataclass
class Account:
    identifier: str
    dn: str
    type: AccountType
    last_name: str
    first_name: str
    mail: str
    siret: str
    structure_dn: str
    service_id: str | None = None
    service_dn: str | None = None
    service: str | None = None
    mobile: str | None = None
    # One of ours, or the text an LDIF import carried as given (`apexdir.bulk.ldiffile`).
    status: AccountStatus | str = AccountStatus.ACTIVE
    client_application: str | None = None
    requested_at: datetime | None = None
    validated_at: datetime | None = None
    created_by: str | None = None
    last_login: datetime | None = None
    password_changed_at: datetime | None = None
    locked_at: datetime | None = None  # ppolicy's lockout after repeated failures
    locked_by_administrator: bool = False  # ppolicy's administrative lock (suspension)
    # Replaced to end every portal session of the account (logout, password change…).
    session_generation: str = ""
    habilitations: list[str] = field(default_factory=list)
    delegations: list[str] = field(default_factory=list)
    # Suspended by the daemon for inactivity (apexdir.rules.dormancy), not by a person.
    dormant_suspension: bool = False

    def public(self, *, with_mobile: bool = False, detail: bool = True) -> dict[str, Any]:
        """The account as the consultation shows it: never the phone unless asked for."""
        out: dict[str, Any] = {
            "identifier": self.identifier,
            "dn": self.dn,
            "last_name": self.last_name,
            "first_name": self.first_name,
            "mail": self.mail,
            "type": self.type,
            "habilitations": sorted(self.habilitations),
        }
        if detail:
            out.update(
                siret=self.siret,
                service=self.service,
                status=self.status,
                last_login=self.last_login.isoformat() if self.last_login else None,
                delegations=sorted(self.delegations),
                client_application=self.client_application,
            )
            if self.dormant_suspension and self.status == "suspended":
                out["suspension_reason"] = "inactivité"
        if with_mobile:
            out["mobile"] = self.mobile
        return out


@dataclass(frozen=True)
class AccountConsultation:
    """One account as its consultation shows it (`show_account`): the mobile is there, and
    shown, only when the actor may see it (an agent)."""

    account: Account
    mobile_visible: bool = False


@dataclass(frozen=True)
class ServiceMembers:
    """A service of a structure's consultation, with its responsables and collaborateurs."""

    service: Service
    responsables: list[Account] = field(default_factory=list)
    collaborateurs: list[Account] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.service.name


@dataclass(frozen=True)
class StructureConsultation:
    """A structure's consultation (`show_structure`): its administrators and, per service,
    its accounts."""

    structure: Structure
    administrators: list[Account] = field(default_factory=list)
    services: list[ServiceMembers] = field(default_factory=list)


@dataclass(frozen=True)
class AccountDeletion:
    """What `delete_account` did: the account gone, the delegations it held dropped."""

    identifier: str
    delegations_dropped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IdentifierReminder:
    """The identifier mailed again (`resend_identifier`), and to which address."""

    identifier: str
    mail: str


@dataclass
class Profile:
    app: str
    name: str
    dn: str = ""
    members: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return habilitation(self.app, self.name)


@dataclass
class Application:
    code: str
    name: str
    dn: str = ""
    profiles: list[str] = field(default_factory=list)
    url: str | None = None  # where partners open it (« Accéder à l'application »)


@dataclass
class CreationRequest:
    id: str
    mail: str
    type: AccountType
    siret: str
    structure_dn: str
    status: RequestStatus
    dn: str = ""
    service_id: str | None = None
    service_dn: str | None = None
    service: str | None = None
    client_application: str | None = None
    created_by: str | None = None
    requested_at: datetime | None = None
    expires_at: datetime | None = None
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str | None = None
    identifier: str | None = None
    last_name: str | None = None
    first_name: str | None = None
    mobile: str | None = None
    token_hash: str | None = None
    notices: list[str] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {
            "request_id": self.id,
            "mail": self.mail,
            "type": self.type,
            "structure": self.siret,
            "service": self.service,
            "status": self.status,
            "application": self.client_application,
            "last_name": self.last_name,
            "first_name": self.first_name,
            "requested_at": self.requested_at.isoformat() if self.requested_at else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "submitted_at": self.submitted_at.isoformat() if self.submitted_at else None,
            "created_by": self.created_by,
            "identifier": self.identifier,
            "reason": self.reason,
        }


@dataclass
class Event:
    """One event of a structure's history (issue 21 item 8), as kept in the directory.

    `actor` is a partner's identifier or `agent:<os user>`; `structure` a SIRET, `service`
    a service id (None: the structure as a whole, or an administrateur).
    """

    id: str
    at: datetime
    action: str
    structure: str
    actor: str | None = None
    target: str | None = None
    service: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewDecision:
    """One habilitation reviewed, confirmed or withdrawn."""

    identifier: str
    habilitation: str
    decision: Decision
    by: str
    at: datetime


@dataclass
class Review:
    """A review of a structure's habilitations by its administrateurs (issue 21 item 10).

    `reminders`: the days whose mail went (0 is the opening's)."""

    id: str
    dn: str
    siret: str
    status: ReviewStatus
    opened_at: datetime
    closed_at: datetime | None = None
    opened_by: str | None = None
    decisions: list[ReviewDecision] = field(default_factory=list)
    reminders: set[int] = field(default_factory=set)

    @property
    def active(self) -> bool:
        return self.status in (ReviewStatus.OPEN, ReviewStatus.OVERDUE)

    def decided(self) -> dict[tuple[str, str], ReviewDecision]:
        """The latest decision of each (identifier, habilitation)."""
        out: dict[tuple[str, str], ReviewDecision] = {}
        for d in sorted(self.decisions, key=lambda d: d.at):
            out[(d.identifier.lower(), d.habilitation)] = d
        return out


@dataclass(frozen=True)
class RequestDecision:
    """What `validate` or `refuse` decided on a creation request: accepted with the
    identifier it assigned, or refused with the reason mailed."""

    request_id: str
    status: RequestStatus
    identifier: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CreationSummary:
    """The invitee's form as it shows (SPEC §5.2): the structure, the invitation with the
    names and mobile typed (checked), whether a draft is saved, and once submitted the
    message to show."""

    request_id: str
    siret: str
    name: str
    trade_name: str | None
    street: str | None
    street2: str | None
    city: str | None
    postal_code: str | None
    country: str | None
    last_name: str | None
    first_name: str | None
    mail: str
    mobile: str | None
    application: str | None
    type: AccountType
    service: str | None
    status: RequestStatus
    draft: bool = False
    message: str | None = None
