"""The invitee's form (SPEC §5.2): read through the link, checked, kept as a draft, submitted.

The request holds the chosen password only as the hash that userPassword will carry."""

from __future__ import annotations

from typing import Any

from apexdir.clock import to_generalized_time
from apexdir.directory.hashing import password_hash
from apexdir.directory.repository import Repository
from apexdir.errors import ApexError, Invalid, NotFound, Unavailable
from apexdir.models import CreationRequest
from apexdir.rules import identifiers
from apexdir.rules.contact import normalize_mobile
from apexdir.rules.passwords import enforce_password
from apexdir.rules.text import display_name
from apexdir.runtime import Runtime
from apexdir.workflows import tokens
from apexdir.workflows.creation_requests import history, pending_hash
from apexdir.workflows.notify import token_from
from apexdir.workflows.validators import notify_submitted

SUBMITTED_MESSAGE = "Le formulaire de pré-création a été transmis pour validation."
NAME_LENGTH = 64  # sn and givenName as the form and the personal data page allow them


def _refused_link() -> Invalid:
    return Invalid(code="creation.link_refused")


def _open_request(rt: Runtime, token_or_link: str) -> CreationRequest:
    """The request a link points at, if the link is genuine, unused and not expired."""
    request_id, secret = tokens.split(token_from(token_or_link))
    refused = _refused_link()
    if not request_id:
        raise refused
    try:
        req = Repository(rt.directory, rt.layout).request(request_id)
    except (NotFound, Invalid):
        raise refused from None
    if req.status != "invited" or not tokens.matches(secret, req.token_hash):
        raise refused
    if req.expires_at and req.expires_at <= rt.clock():
        raise Invalid(code="creation.link_expired")
    return req


def person_name(label: str, value: str) -> str:
    """A nom or prénom as the form and bulk imports take it (rules.text.display_name)."""
    field = "last_name" if label == "Nom" else "first_name"
    return display_name(label, value, max_length=NAME_LENGTH, field=field)


def _summary(rt: Runtime, req: CreationRequest) -> dict[str, Any]:
    structure = Repository(rt.directory, rt.layout).structure(req.siret)
    return {
        "request_id": req.id,
        "siret": structure.siret,
        "name": structure.name,
        "trade_name": structure.trade_name,
        "street": structure.street,
        "street2": structure.street2,
        "city": structure.city,
        "postal_code": structure.postal_code,
        "country": structure.country,
        "last_name": req.last_name,
        "first_name": req.first_name,
        "mail": req.mail,
        "mobile": req.mobile,
        "application": req.client_application,
        "type": req.type,
        "service": req.service,
        "status": req.status,
    }


def form(rt: Runtime, token_or_link: str) -> dict[str, Any]:
    """What the form shows before anything is typed: the structure, the invitation and a
    draft saved earlier (never its password). Refuses a bad, spent or expired link."""
    req = _open_request(rt, token_or_link)
    summary = _summary(rt, req)
    summary["draft"] = bool(req.last_name and pending_hash(rt, req))
    return summary


def _checked(
    rt: Runtime,
    token_or_link: str,
    *,
    last_name: str,
    first_name: str,
    mobile: str | None,
    password: str,
    confirmation: str,
) -> tuple[CreationRequest, dict[str, Any]]:
    req = _open_request(rt, token_or_link)
    last = person_name("Nom", last_name)
    first = person_name("Prénom", first_name)
    identifiers.base_identifier(first, last)  # a name that yields no identifier is refused now
    phone = normalize_mobile(mobile) if mobile and mobile.strip() else None
    policy = rt.settings.policy
    enforce_password(
        password,
        confirmation,
        min_length=policy.password_min_length,
        max_length=policy.password_max_length,
    )
    summary = _summary(rt, req)
    summary.update(last_name=last, first_name=first, mobile=phone)
    return req, summary


def _form_changes(summary: dict[str, Any], password: str) -> dict[str, list[tuple[str, list[Any]]]]:
    phone = summary["mobile"]
    return {
        "sn": [("replace", [summary["last_name"]])],
        "givenName": [("replace", [summary["first_name"]])],
        "mobile": [("replace", [phone] if phone else [])],
        "apexPendingPassword": [("replace", [password_hash(password)])],
    }


def _modify_request(
    rt: Runtime, req: CreationRequest, changes: dict[str, list[tuple[str, list[Any]]]]
) -> None:
    """A write conditional on the link (its hash deleted, or deleted and put back): a lost
    condition means the link was spent or replaced meanwhile, told as a bad link."""
    try:
        rt.directory.modify(req.dn, changes)
    except (Unavailable, Invalid):
        raise
    except ApexError:
        raise _refused_link() from None


def _submit(
    rt: Runtime, req: CreationRequest, changes: dict[str, list[tuple[str, list[Any]]]]
) -> None:
    """One atomic modify, conditional on the request still being "invited" with this very
    link: two submissions of the same link, or a submission racing with the daemon that
    expires the link or swaps it for a reminder, cannot both succeed."""
    assert req.token_hash
    changes = {
        **changes,
        "apexStatus": [("delete", ["invited"]), ("add", ["submitted"])],
        "apexTokenHash": [("delete", [req.token_hash])],  # single use: the secret goes
        "apexSubmittedAt": [("replace", [to_generalized_time(rt.clock())])],
    }
    _modify_request(rt, req, changes)
    rt.journal.record("account.complete", req.id, actor=None, operator=rt.operator,
                      details={"mail": req.mail}, **history(req))  # fmt: skip


def complete(
    rt: Runtime,
    token_or_link: str,
    *,
    last_name: str,
    first_name: str,
    mobile: str | None,
    password: str,
    confirmation: str,
    submit: bool,
) -> dict[str, Any]:
    """The invitee's form: validates everything, returns the summary, submits when asked.

    A refused form (bad password, mismatch, bad number) leaves the link usable.
    """
    req, summary = _checked(
        rt,
        token_or_link,
        last_name=last_name,
        first_name=first_name,
        mobile=mobile,
        password=password,
        confirmation=confirmation,
    )
    if not submit:
        return summary
    _submit(rt, req, _form_changes(summary, password))
    notify_submitted(rt, req, summary["last_name"], summary["first_name"])
    summary["status"] = "submitted"
    summary["message"] = SUBMITTED_MESSAGE
    return summary


def save_draft(
    rt: Runtime,
    token_or_link: str,
    *,
    last_name: str,
    first_name: str,
    mobile: str | None,
    password: str,
    confirmation: str,
) -> dict[str, Any]:
    """The portal's step 1: check the form and keep it on the request (the password only as
    the hash userPassword will carry), still "invited", so that the récapitulatif's button
    submits it without the password travelling again or resting in a cookie."""
    req, summary = _checked(
        rt,
        token_or_link,
        last_name=last_name,
        first_name=first_name,
        mobile=mobile,
        password=password,
        confirmation=confirmation,
    )
    assert req.token_hash
    changes = _form_changes(summary, password)
    # Conditional on the link being unspent: a draft never lands on a submitted request.
    changes["apexTokenHash"] = [("delete", [req.token_hash]), ("add", [req.token_hash])]
    _modify_request(rt, req, changes)
    summary["draft"] = True
    return summary


def submit_draft(rt: Runtime, token_or_link: str) -> dict[str, Any]:
    """The portal's step 2 (« Envoyer votre création de compte »): submit the saved draft."""
    req = _open_request(rt, token_or_link)
    if not (req.last_name and req.first_name and pending_hash(rt, req)):
        raise Invalid(code="creation.form_incomplete")
    _submit(rt, req, {})
    notify_submitted(rt, req, req.last_name or "", req.first_name or "")
    summary = _summary(rt, req)
    summary["status"] = "submitted"
    summary["message"] = SUBMITTED_MESSAGE
    return summary
