"""Accounts of the structure (administrateur) or of the service (responsable): list,
invitation, pending creations (validate, refuse with a reason, resend an expired one),
and one account's rights: habilitations, délégations, identifier reminder, transfer,
deletion. Rights are the workflows'; the pages offer only what the table allows."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from apexdir.errors import Invalid, NotAllowed
from apexdir.models import Account, CreationRequest, RequestStatus
from apexdir.portal.context import account, actor, rt
from apexdir.portal.forms import (
    EmptyForm,
    InviteForm,
    ProfileForm,
    RefuseForm,
    SuspendForm,
    TransferForm,
)
from apexdir.portal.security import login_required
from apexdir.portal.views.gestion import (
    app_names,
    attempt,
    profile_label,
    services_of,
)
from apexdir.rules.lifecycle import status_label
from apexdir.rules.permissions import AccountType, Action, is_allowed
from apexdir.workflows import accounts, invitations, lifecycle, precreation, rights, services
from apexdir.workflows.actors import target_for

bp = Blueprint("comptes", __name__, url_prefix="/comptes")

PAGE = 100  # accounts per page: a structure of 1,000 stays readable and fast
STATUSES = {
    "invited": "Invitation envoyée",
    "submitted": "Formulaire transmis, à valider",
    "expired": "Invitation expirée",
    "refused": "Refusée",
    "accepted": "Acceptée",
}
# The creation requests listed under the accounts.
PENDING = [RequestStatus.INVITED, RequestStatus.SUBMITTED, RequestStatus.EXPIRED]


def _manager() -> Account:
    """Administrateurs and responsables manage accounts; a collaborateur gets the 403 page."""
    me = account()
    if me.type not in ("administrateur", "responsable"):
        raise NotAllowed("Action non autorisée : un collaborateur ne gère pas de comptes")
    return me


def _invite_form(me: Account) -> InviteForm:
    """The types and services offered are those the actor may invite (the workflow's)."""
    form = InviteForm(prefix="invitation")
    offered = precreation.invitable(rt(), actor(), me.siret)
    form.type_compte.choices = [(k.value, k.value.capitalize()) for k, s in offered.items() if s]
    form.service.choices = [(s.name, s.name) for s in offered[AccountType.COLLABORATEUR]]
    apps = sorted(app_names().items(), key=lambda item: item[1])
    form.application.choices = [("", "Aucune"), *apps]
    return form


@bp.route("", methods=["GET", "POST"])
@login_required
def liste() -> Any:
    me = _manager()
    form = _invite_form(me)
    if form.validate_on_submit():
        kind = form.type_compte.data or ""
        mail = (form.mail.data or "").strip()
        done = attempt(
            lambda: precreation.invite(
                rt(),
                actor(),
                siret=me.siret,
                account_type=kind,
                mail=mail,
                service=form.service.data or None,
                application=form.application.data or None,
            ),
            f"L'invitation a été envoyée à {mail}.",
        )
        if done:
            return redirect(url_for("comptes.liste"))
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    rows = accounts.manageable(rt(), actor())  # a responsable's: his service (SPEC §1)
    pages = max(1, -(-len(rows) // PAGE))
    page = min(page, pages)
    pending = precreation.pending(rt(), actor(), statuses=PENDING)
    return render_template(
        "comptes/liste.html",
        me=me,
        form=form,
        rows=rows[(page - 1) * PAGE : page * PAGE],
        total=len(rows),
        page=page,
        pages=pages,
        pending=pending,
        statuses=STATUSES,
        can_validate=lambda r: precreation.may_decide(actor(), r),
        empty=EmptyForm(),
    )


def _request(request_id: str) -> CreationRequest:
    """The request the actor may decide on: another structure's is a 403 (the workflow's)."""
    try:
        return invitations.for_decision(rt(), actor(), request_id[:64])
    except Invalid:
        abort(404)


@bp.post("/demandes/<request_id>/valider")
@login_required
def valider(request_id: str) -> Any:
    _manager()
    if EmptyForm().validate_on_submit():
        attempt(
            lambda: precreation.validate(rt(), actor(), request_id[:64]),
            lambda r: (
                f"La création du compte a été validée : identifiant {r.identifier}, "
                "envoyé par mail."
            ),
        )
    return redirect(url_for("comptes.liste"))


@bp.route("/demandes/<request_id>/refuser", methods=["GET", "POST"])
@login_required
def refuser(request_id: str) -> Any:
    _manager()
    req = _request(request_id)
    form = RefuseForm()
    if form.validate_on_submit():
        done = attempt(
            lambda: precreation.refuse(rt(), actor(), req.id, form.motif.data or ""),
            f"La demande de {req.mail} a été refusée ; le motif lui a été envoyé.",
        )
        if done:
            return redirect(url_for("comptes.liste"))
    return render_template("comptes/refus.html", me=account(), req=req, form=form)


@bp.post("/demandes/<request_id>/renvoyer")
@login_required
def renvoyer(request_id: str) -> Any:
    """An expired invitation is sent again: a new one, with the same data, in the request's
    own structure (the workflow checks the right and the status)."""
    _manager()
    if EmptyForm().validate_on_submit():
        attempt(
            lambda: invitations.resend(rt(), actor(), request_id[:64]),
            lambda r: f"Une nouvelle invitation a été envoyée à {r.mail}.",
        )
    return redirect(url_for("comptes.liste"))


# ---------------------------------------------------------------------- one account
def _target_account(identifier: str) -> Account:
    """The account named in the address, if the actor may consult it (403 otherwise)."""
    try:
        return accounts.consult(rt(), actor(), identifier[:256])
    except Invalid:
        abort(404)


@bp.get("/<identifier>")
@login_required
def detail(identifier: str) -> Any:
    me = _manager()
    target = _target_account(identifier)
    who, aim = actor(), target_for(target)
    names = app_names()
    mine = rights.handable(rt(), who, me)
    can = {action.value: is_allowed(who, action, aim) for action in Action}
    grant = ProfileForm(prefix="habiliter", formdata=None)
    grant.profil.choices = [
        (k, profile_label(k, names)) for k in mine if k not in target.habilitations
    ]
    delegate = ProfileForm(prefix="deleguer", formdata=None)
    delegate.profil.choices = [
        (k, profile_label(k, names)) for k in mine if k not in target.delegations
    ]
    suspend = SuspendForm(prefix="suspendre", formdata=None)
    transfer = TransferForm(prefix="transfert", formdata=None)
    transfer.service.choices = [
        (s.name, s.name) for s in services_of(me.siret) if s.id != target.service_id
    ]
    return render_template(
        "comptes/detail.html",
        me=me,
        target=target,
        can=can,
        names=names,
        grant=grant,
        delegate=delegate,
        transfer=transfer,
        suspend=suspend,
        # Why this account can be neither deleted, suspended nor retyped (SPEC §10), if so.
        last_admin=lifecycle.last_administrator_reason(rt(), target),
        status_label=status_label,
        dormant_days=rt().settings.policy.dormant_days,
        empty=EmptyForm(),
        mine=set(mine),
        label=lambda k: profile_label(k, names),
    )


def _profile_action(identifier: str, prefix: str, run: Any, message: str) -> Any:
    _manager()
    form = ProfileForm(prefix=prefix)
    if form.validate_on_submit():
        key = form.profil.data or ""
        app, _, profile = key.partition("/")
        if not app or not profile:
            abort(404)
        # The confirmation names the profile as the page does: application name — profile.
        label = f"« {profile_label(key, app_names())} »"
        attempt(lambda: run(rt(), actor(), identifier, app, profile), message.format(key=label))
    return redirect(url_for("comptes.detail", identifier=identifier))


@bp.post("/<identifier>/habiliter")
@login_required
def habiliter(identifier: str) -> Any:
    return _profile_action(
        identifier,
        "habiliter",
        rights.grant,
        "Le profil {key} a été attribué ; la personne est prévenue par mail.",
    )


@bp.post("/<identifier>/retirer")
@login_required
def retirer(identifier: str) -> Any:
    return _profile_action(
        identifier,
        "retirer",
        rights.revoke,
        "Le profil {key} a été retiré. La personne est prévenue par mail.",
    )


@bp.post("/<identifier>/deleguer")
@login_required
def deleguer(identifier: str) -> Any:
    return _profile_action(
        identifier,
        "deleguer",
        rights.delegate,
        "Le profil {key} a été délégué ; le responsable est prévenu par mail.",
    )


@bp.post("/<identifier>/retirer-delegation")
@login_required
def retirer_delegation(identifier: str) -> Any:
    _manager()
    form = ProfileForm(prefix="retirer-delegation")
    if form.validate_on_submit():
        app, _, profile = (form.profil.data or "").partition("/")
        if not app or not profile:
            abort(404)
        names = app_names()
        attempt(
            lambda: rights.undelegate(rt(), actor(), identifier, app, profile),
            lambda r: (
                f"La délégation du profil « {profile_label(r.profile, names)} » a été "
                "retirée."
                + (
                    f" Habilitations accordées avec elle, conservées : "
                    f"{', '.join(r.habilitations_kept)}."
                    if r.habilitations_kept
                    else ""
                )
            ),
        )
    return redirect(url_for("comptes.detail", identifier=identifier))


@bp.post("/<identifier>/renvoi-identifiant")
@login_required
def renvoi_identifiant(identifier: str) -> Any:
    _manager()
    if EmptyForm().validate_on_submit():
        attempt(
            lambda: accounts.resend_identifier(rt(), actor(), identifier),
            lambda r: f"L'identifiant a été renvoyé à {r.mail}.",
        )
    return redirect(url_for("comptes.detail", identifier=identifier))


@bp.post("/<identifier>/transferer")
@login_required
def transferer(identifier: str) -> Any:
    _manager()
    form = TransferForm(prefix="transfert")
    if form.validate_on_submit():
        name = form.service.data or ""
        attempt(
            lambda: services.transfer_account(rt(), actor(), identifier, name),
            f"Le compte a été transféré dans le service « {name} ».",
        )
    return redirect(url_for("comptes.detail", identifier=identifier))


@bp.route("/<identifier>/supprimer", methods=["GET", "POST"])
@login_required
def supprimer(identifier: str) -> Any:
    me = _manager()
    target = _target_account(identifier)
    form = EmptyForm()
    if form.validate_on_submit():
        done = attempt(
            lambda: accounts.delete_account(rt(), actor(), target.identifier),
            f"Le compte {target.identifier} a été supprimé. La personne est prévenue par mail.",
        )
        if done:
            return redirect(url_for("comptes.liste"))
        return redirect(url_for("comptes.detail", identifier=identifier))
    if not is_allowed(actor(), Action.ACCOUNT_DELETE, target_for(target)):
        raise NotAllowed("Action non autorisée")
    return render_template(
        "comptes/suppression.html", me=me, target=target, form=form, names=app_names()
    )
