"""Pré-création from the mailed link (guide ch. 1.3): form → récapitulatif → confirmation.

Step 1 keeps the checked form on the request as a draft (the password only as its hash),
so that step 2's button sends nothing secret again and the cookie holds no secret.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, session, url_for

from apexdir.errors import Invalid
from apexdir.models import CreationSummary
from apexdir.portal import checks
from apexdir.portal.context import rt
from apexdir.portal.errors import french
from apexdir.portal.forms import CreationForm, EmptyForm
from apexdir.portal.security import limited, no_referrer
from apexdir.rules.contact import display_mobile
from apexdir.workflows import precreation

bp = Blueprint("creation", __name__, url_prefix="/creation")
bp.after_request(no_referrer)

STEPS = ["Formulaire de pré-création à compléter", "Récapitulatif", "Confirmation"]
TYPES = {
    "administrateur": "Administrateur",
    "responsable": "Responsable",
    "collaborateur": "Collaborateur",
}


def _request_id(token: str) -> str:
    return token.partition(".")[0][:64]


def _refused(exc: Invalid) -> Any:
    return (
        render_template("creation/lien.html", message=french(exc)),
        404,
    )


def _opened(token: str) -> CreationSummary | Any:
    """The form's context, or the page to show instead: the confirmation again for the
    browser that just submitted this link (a reload, a double click), else the bad link."""
    try:
        return precreation.form(rt(), token)
    except Invalid as exc:
        if session.get("creation_done") == _request_id(token):
            return redirect(url_for("creation.confirmation"))
        return _refused(exc)


@bp.route("/<token>", methods=["GET", "POST"])
@limited("creation")
def formulaire(token: str) -> Any:
    r = rt()
    context = _opened(token)
    if not isinstance(context, CreationSummary):
        return context
    form = CreationForm()
    if not form.is_submitted() and context.draft:
        form.nom.data = context.last_name
        form.prenom.data = context.first_name
        # Shown as people write it ("06 98 76 54 32"), not as stored (E.164).
        form.mobile.data = display_mobile(context.mobile)
    if form.validate_on_submit():
        policy = r.settings.policy
        checks.check_mobile(form.mobile)
        checks.check_new_password(form, policy, form.mot_de_passe, form.confirmation)
        if not checks.has_errors(form):
            try:
                precreation.save_draft(
                    r,
                    token,
                    last_name=form.nom.data or "",
                    first_name=form.prenom.data or "",
                    mobile=form.mobile.data,
                    password=form.mot_de_passe.data or "",
                    confirmation=form.confirmation.data or "",
                )
            except Invalid as exc:
                checks.place(form, exc)
            else:
                return redirect(url_for("creation.recapitulatif", token=token))
    elif form.is_submitted():
        checks.check_mobile(form.mobile)
        checks.check_new_password(form, r.settings.policy, form.mot_de_passe, form.confirmation)
    return render_template(
        "creation/formulaire.html",
        form=form,
        context=context,
        token=token,
        steps=STEPS,
        types=TYPES,
        rules=checks.password_rules(r.settings.policy),
    )


@bp.route("/<token>/recapitulatif", methods=["GET", "POST"])
@limited("creation")
def recapitulatif(token: str) -> Any:
    r = rt()
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            precreation.submit_draft(r, token)
        except Invalid as exc:
            if session.get("creation_done") == _request_id(token):
                return redirect(url_for("creation.confirmation"))  # a double click
            if exc.code == "creation.form_incomplete":
                return redirect(url_for("creation.formulaire", token=token))
            return _refused(exc)
        session["creation_done"] = _request_id(token)
        return redirect(url_for("creation.confirmation"))
    context = _opened(token)
    if not isinstance(context, CreationSummary):
        return context
    if not context.draft:
        return redirect(url_for("creation.formulaire", token=token))
    return render_template(
        "creation/recapitulatif.html",
        form=form,
        context=context,
        token=token,
        steps=STEPS,
        types=TYPES,
    )


@bp.get("/confirmation")
def confirmation() -> Any:
    if not session.get("creation_done"):
        return redirect(url_for("connexion.login"))
    return render_template(
        "creation/confirmation.html", steps=STEPS, message=precreation.SUBMITTED_MESSAGE
    )
