"""The invitee's form (SPEC §5.2): read through the link, checked, kept as a draft, submitted.

The request holds the chosen password only as the hash that userPassword will carry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from apexdir.directory.hashing import password_hash
from apexdir.directory.repository import Repository
from apexdir.directory.requests import RequestForm
from apexdir.errors import Invalid, NotFound
from apexdir.models import CreationRequest, CreationSummary, RequestStatus
from apexdir.rules import identifiers
from apexdir.rules.contact import normalize_mobile
from apexdir.rules.text import display_name
from apexdir.runtime import Runtime
from apexdir.workflows import tokens
from apexdir.workflows.creation_requests import history, pending_hash
from apexdir.workflows.notify import token_from
from apexdir.workflows.password_policy import enforce_policy
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
    if req.status != RequestStatus.INVITED or not tokens.matches(secret, req.token_hash):
        raise refused
    if req.expires_at and req.expires_at <= rt.clock():
        raise Invalid(code="creation.link_expired")
    return req


def person_name(label: str, value: str) -> str:
    """A nom or prénom as the form and bulk imports take it (rules.text.display_name)."""
    field = "last_name" if label == "Nom" else "first_name"
    return display_name(label, value, max_length=NAME_LENGTH, field=field)


def _summary(rt: Runtime, req: CreationRequest) -> CreationSummary:
    structure = Repository(rt.directory, rt.layout).structure(req.siret)
    return CreationSummary(
        request_id=req.id,
        siret=structure.siret,
        name=structure.name,
        trade_name=structure.trade_name,
        street=structure.street,
        street2=structure.street2,
        city=structure.city,
        postal_code=structure.postal_code,
        country=structure.country,
        last_name=req.last_name,
        first_name=req.first_name,
        mail=req.mail,
        mobile=req.mobile,
        application=req.client_application,
        type=req.type,
        service=req.service,
        status=req.status,
    )


def form(rt: Runtime, token_or_link: str) -> CreationSummary:
    """What the form shows before anything is typed: the structure, the invitation and a
    draft saved earlier (never its password). Refuses a bad, spent or expired link."""
    req = _open_request(rt, token_or_link)
    return replace(_summary(rt, req), draft=bool(req.last_name and pending_hash(rt, req)))


def _checked(
    rt: Runtime,
    token_or_link: str,
    *,
    last_name: str,
    first_name: str,
    mobile: str | None,
    password: str,
    confirmation: str,
) -> tuple[CreationRequest, CreationSummary]:
    req = _open_request(rt, token_or_link)
    last = person_name("Nom", last_name)
    first = person_name("Prénom", first_name)
    identifiers.base_identifier(first, last)  # a name that yields no identifier is refused now
    phone = normalize_mobile(mobile) if mobile and mobile.strip() else None
    enforce_policy(rt, password, confirmation)
    return req, replace(_summary(rt, req), last_name=last, first_name=first, mobile=phone)


def _form(summary: CreationSummary, password: str) -> RequestForm:
    return RequestForm(
        summary.last_name or "", summary.first_name or "", summary.mobile, password_hash(password)
    )


def _conditional(write: Callable[[], bool]) -> None:
    """A write conditional on the link (its hash deleted, or deleted and put back): a lost
    condition, or a request gone, means the link was spent or replaced meanwhile, told as
    a bad link."""
    try:
        done = write()
    except NotFound:
        done = False
    if not done:
        raise _refused_link()


def _submit(rt: Runtime, req: CreationRequest, form: RequestForm | None) -> None:
    """One atomic modify, conditional on the request still being "invited" with this very
    link: two submissions of the same link, or a submission racing with the daemon that
    expires the link or swaps it for a reminder, cannot both succeed."""
    repo = Repository(rt.directory, rt.layout)
    _conditional(lambda: repo.submit_request(req, form, rt.clock()))
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
) -> CreationSummary:
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
    _submit(rt, req, _form(summary, password))
    notify_submitted(rt, req, summary.last_name or "", summary.first_name or "")
    return replace(summary, status=RequestStatus.SUBMITTED, message=SUBMITTED_MESSAGE)


def save_draft(
    rt: Runtime,
    token_or_link: str,
    *,
    last_name: str,
    first_name: str,
    mobile: str | None,
    password: str,
    confirmation: str,
) -> CreationSummary:
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
    # Conditional on the link being unspent: a draft never lands on a submitted request.
    repo = Repository(rt.directory, rt.layout)
    _conditional(lambda: repo.save_form(req, _form(summary, password)))
    return replace(summary, draft=True)


def submit_draft(rt: Runtime, token_or_link: str) -> CreationSummary:
    """The portal's step 2 (« Envoyer votre création de compte »): submit the saved draft."""
    req = _open_request(rt, token_or_link)
    if not (req.last_name and req.first_name and pending_hash(rt, req)):
        raise Invalid(code="creation.form_incomplete")
    _submit(rt, req, None)
    notify_submitted(rt, req, req.last_name or "", req.first_name or "")
    summary = _summary(rt, req)
    return replace(summary, status=RequestStatus.SUBMITTED, message=SUBMITTED_MESSAGE)
