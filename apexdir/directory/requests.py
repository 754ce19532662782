"""A pré-création request's writes, through the request's map: its creation from the model,
and each status transition as one compare-and-swap (`Directory.swap`: False when another
writer changed the request meanwhile, every other error raised). Workflows name the
transition (reserve, submit, accept, refuse…), never an LDAP attribute.

A mixin of `Repository`, as `writes.Writes` is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apexdir.clock import to_generalized_time
from apexdir.directory import notices
from apexdir.directory.connection import Changes, Directory, Entry
from apexdir.directory.layout import Layout, first_rdn_value
from apexdir.directory.mapping import as_text, as_time
from apexdir.directory.notices import Marking, Ops, added
from apexdir.models import AccountType, CreationRequest, RequestStatus

# The request's map, both ways: its Python names → LDAP attributes (`request_attrs` writes
# them, `request_from` reads them).
REQUEST = {
    "id": "apexRequestId",
    "mail": "mail",
    "type": "apexAccountType",
    "structure_dn": "apexStructureRef",
    "service_dn": "apexServiceRef",
    "status": "apexStatus",
    "client_application": "apexClientApplication",
    "created_by": "apexCreatedBy",
    "requested_at": "apexRequestedAt",
    "expires_at": "apexExpiresAt",
    "submitted_at": "apexSubmittedAt",
    "decided_at": "apexDecidedAt",
    "decided_by": "apexValidatedBy",
    "reason": "apexReason",
    "identifier": "apexIdentifier",
    "last_name": "sn",
    "first_name": "givenName",
    "mobile": "mobile",
    "token_hash": "apexTokenHash",
}
# The notices a request was sent (its reminders), one value each.
NOTICE = notices.ATTRIBUTE
# The hash of the password the invitee chose, kept until the validation (never on the model).
PENDING_PASSWORD = "apexPendingPassword"
_TIMES = {"requested_at", "expires_at", "submitted_at", "decided_at"}
# What a read asks for: the map's attributes and the notices.
REQUEST_READ = [*REQUEST.values(), NOTICE]


@dataclass(frozen=True, slots=True)
class RequestForm:
    """What the invitee's form puts on the request."""

    last_name: str
    first_name: str
    mobile: str | None
    password_hash: str


def request_attrs(req: CreationRequest) -> dict[str, Any]:
    """The entry of a new request (None values are not written)."""
    values = {attr: getattr(req, name) for name, attr in REQUEST.items()}
    for name in _TIMES:
        if getattr(req, name) is not None:
            values[REQUEST[name]] = to_generalized_time(getattr(req, name))
    return {"objectClass": ["apexRequest"], **values}


def request_from(entry: Entry, service_names: dict[str, str] | None = None) -> CreationRequest:
    """The request an entry holds, by the same map (its service's name from `service_names`)."""
    values: dict[str, Any] = {name: as_text(entry.get(attr)) for name, attr in REQUEST.items()}
    values |= {name: as_time(entry.get(REQUEST[name])) for name in _TIMES}
    structure_dn, service_dn = values["structure_dn"] or "", values["service_dn"]
    service_id = first_rdn_value(service_dn) if service_dn else None
    return CreationRequest(
        **values
        | {
            "id": str(entry.get(REQUEST["id"])),
            "mail": values["mail"] or "",
            "type": AccountType(str(entry.get(REQUEST["type"], "")).lower()),
            "siret": first_rdn_value(structure_dn) if structure_dn else "",
            "structure_dn": structure_dn,
            "status": RequestStatus(values["status"] or ""),
            "dn": entry.dn,
            "service_id": service_id,
            "service": (service_names or {}).get(service_id or ""),
            "notices": [str(n) for n in entry.all(NOTICE)],
        }
    )


def _set(values: dict[str, Any]) -> dict[str, list[tuple[str, list[Any]]]]:
    """Replace each attribute by its value (None or "": remove it), as changes of a modify."""
    return {a: [("replace", [v] if v else [])] for a, v in values.items()}


def _status(old: RequestStatus, new: RequestStatus) -> dict[str, list[tuple[str, list[Any]]]]:
    """The compare-and-swap of a status: the exact old value deleted, the new one added."""
    return {REQUEST["status"]: [("delete", [old]), ("add", [new])]}


def form_changes(form: RequestForm) -> dict[str, list[tuple[str, list[Any]]]]:
    return _set(
        {
            REQUEST["last_name"]: form.last_name,
            REQUEST["first_name"]: form.first_name,
            REQUEST["mobile"]: form.mobile,
            PENDING_PASSWORD: form.password_hash,
        }
    )


def decision_changes(
    req: CreationRequest,
    status: RequestStatus,
    when: datetime,
    by: str,
    reason: str | None = None,
) -> Changes:
    """Accepted or refused, from the status read: the chosen password and the mobile go
    (a refusal's link too, and it keeps its reason)."""
    values: dict[str, Any] = {
        REQUEST["decided_at"]: to_generalized_time(when),
        REQUEST["decided_by"]: by,
        PENDING_PASSWORD: None,
        REQUEST["mobile"]: None,
    }
    if reason is not None:
        values[REQUEST["reason"]] = reason
        values[REQUEST["token_hash"]] = None
    return {**_status(req.status, status), **_set(values)}


def undecision_changes(
    req: CreationRequest, status: RequestStatus, pending_hash: str | None
) -> Changes:
    """A decision (`status`) taken back, when its mail could not be queued: the request as
    `req` was read, its password hash and mobile (and, after a refusal, its link) back."""
    values: dict[str, Any] = {
        REQUEST["decided_at"]: None,
        REQUEST["decided_by"]: None,
        PENDING_PASSWORD: pending_hash,
        REQUEST["mobile"]: req.mobile,
    }
    if status == RequestStatus.REFUSED:
        values[REQUEST["reason"]] = None
        values[REQUEST["token_hash"]] = req.token_hash
    return {**_status(status, req.status), **_set(values)}


def cancellation_changes(req: CreationRequest, reason: str, when: datetime, by: str) -> Changes:
    """A pending creation cancelled (its structure closed): a compare-and-set from the status
    it was read with, so that a request accepted or refused meanwhile is left as decided.
    Its secrets go: the link's hash and the chosen password's hash serve no one any more."""
    values = {
        REQUEST["reason"]: reason,
        REQUEST["decided_at"]: to_generalized_time(when),
        REQUEST["decided_by"]: by,
        PENDING_PASSWORD: None,
        REQUEST["token_hash"]: None,
    }
    return {**_status(req.status, RequestStatus.CANCELLED), **_set(values)}


# The compare-and-swap marks of the daemon's passes (`notices.mark_then_commit`), each with
# the changes that take it back when the mail cannot be queued.
def expiry_marking(req: CreationRequest, when: datetime) -> Marking:
    """ "invited" → "expired" at `when`, its link spent (when it has one)."""
    mark: Ops = {
        **_status(RequestStatus.INVITED, RequestStatus.EXPIRED),
        **_set({REQUEST["decided_at"]: to_generalized_time(when)}),
    }
    unmark = {
        **_status(RequestStatus.EXPIRED, RequestStatus.INVITED),
        **_set({REQUEST["decided_at"]: None}),
    }
    if req.token_hash:
        mark[REQUEST["token_hash"]] = [("delete", [req.token_hash])]
        unmark[REQUEST["token_hash"]] = [("add", [req.token_hash])]
    return Marking(req.dn, mark, unmark)


def reminder_marking(req: CreationRequest, fresh_hash: str, notice: str) -> Marking:
    """The link's hash swapped for `fresh_hash` (deleted and put back when the same: the
    mark is conditional on the link being unspent) and the notice noted."""
    assert req.token_hash
    token, noted = REQUEST["token_hash"], added(req.dn, notice)
    return Marking(
        req.dn,
        {token: [("delete", [req.token_hash]), ("add", [fresh_hash])], **noted.mark},
        {token: [("delete", [fresh_hash]), ("add", [req.token_hash])], **noted.unmark},
    )


def notice_marking(req: CreationRequest, notice: str) -> Marking:
    """A notice noted on the request (the add fails if another pass noted it first)."""
    return added(req.dn, notice)


class RequestWrites:
    directory: Directory
    layout: Layout

    def create_request(self, req: CreationRequest) -> CreationRequest:
        req.dn = self.layout.request_dn(req.id)
        self.directory.add(req.dn, request_attrs(req))
        return req

    def delete_request(self, req: CreationRequest) -> None:
        self.directory.delete(req.dn or self.layout.request_dn(req.id))

    def pending_password(self, req: CreationRequest) -> str | None:
        entry = self.directory.get(req.dn, [PENDING_PASSWORD])
        value = entry.get(PENDING_PASSWORD) if entry else None
        if isinstance(value, bytes):
            value = value.decode()
        return str(value) if value else None

    def reserve_identifier(self, req: CreationRequest, identifier: str) -> bool:
        """The identifier written on the request before its account exists: added when
        absent, swapped from the one read otherwise. False when another validator moved it."""
        ops: list[tuple[str, list[Any]]] = [("add", [identifier])]
        if req.identifier:
            ops.insert(0, ("delete", [req.identifier]))
        if not self.directory.swap(req.dn, {REQUEST["identifier"]: ops}):
            return False
        req.identifier = identifier
        return True

    def save_form(self, req: CreationRequest, form: RequestForm) -> bool:
        """The form kept on the request, still "invited", if its link is still unspent."""
        assert req.token_hash
        token = {REQUEST["token_hash"]: [("delete", [req.token_hash]), ("add", [req.token_hash])]}
        return self.directory.swap(req.dn, {**form_changes(form), **token})

    def submit_request(
        self, req: CreationRequest, form: RequestForm | None, when: datetime
    ) -> bool:
        """ "invited" → "submitted" with this very link, spent (single use), in one modify."""
        assert req.token_hash
        changes = {
            **(form_changes(form) if form else {}),
            **_status(RequestStatus.INVITED, RequestStatus.SUBMITTED),
            REQUEST["token_hash"]: [("delete", [req.token_hash])],
            **_set({REQUEST["submitted_at"]: to_generalized_time(when)}),
        }
        return self.directory.swap(req.dn, changes)

    def accept_request(self, req: CreationRequest, when: datetime, by: str) -> bool:
        return self.directory.swap(req.dn, decision_changes(req, RequestStatus.ACCEPTED, when, by))

    def refuse_request(self, req: CreationRequest, reason: str, when: datetime, by: str) -> bool:
        return self.directory.swap(
            req.dn, decision_changes(req, RequestStatus.REFUSED, when, by, reason)
        )

    def cancel_request(self, req: CreationRequest, reason: str, when: datetime, by: str) -> bool:
        """Cancel a pending creation; False when it was decided meanwhile (left as it is)."""
        return self.directory.swap(req.dn, cancellation_changes(req, reason, when, by))

    def note(self, req: CreationRequest, notice: str) -> bool:
        """The notice noted on the request; False when another pass noted it first."""
        return notice_marking(req, notice).apply(self.directory)

    def undo_decision(
        self, req: CreationRequest, status: RequestStatus, pending_hash: str | None
    ) -> None:
        """Put back the request as `req` was read before it became `status`."""
        self.directory.modify(req.dn, undecision_changes(req, status, pending_hash))
