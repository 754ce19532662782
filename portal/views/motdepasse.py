"""Forgotten password (guide ch. 5): identifier + captcha → SMS code or mailed link → new
password → confirmation. Every identifier, unknown ones included, reaches the same pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for

from apexdir.errors import AuthenticationFailed, Conflict, Invalid
from apexdir.portal import captcha, checks, device
from apexdir.portal.context import rt
from apexdir.portal.errors import french
from apexdir.portal.forms import ForgotForm, NewPasswordForm, SecurityCodeForm
from apexdir.portal.security import client_address, limit_anonymous, limited, no_referrer
from apexdir.workflows import auth, resetcode
from apexdir.workflows.guard import Origin

bp = Blueprint("motdepasse", __name__)

STEPS = [  # the guide's words (ch. 5)
    "Envoi code de sécurité",
    "Saisie du code de sécurité reçu",
    "Réinitialisation du mot de passe",
    "Confirmation",
]
CHANGE_IMAGE = "changer-image"
CAPTCHA_WRONG = (
    "Les chiffres saisis ne correspondent pas à l'image : recopiez ceux de la nouvelle image."
)


def _forgot_page(form: ForgotForm, status: int = 200) -> Any:
    r = rt()
    captcha.discard(r, session.pop("captcha", None))
    limit_anonymous("captcha")  # each challenge is a directory write
    challenge = captcha.new_challenge(r)
    session["captcha"] = challenge.id
    form.captcha.data = ""
    html = render_template("motdepasse/oublie.html", form=form, challenge=challenge, steps=STEPS)
    return html, status


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@limited("forgot")
def forgot() -> Any:
    form = ForgotForm()
    if form.is_submitted() and request.form.get("action") == CHANGE_IMAGE:
        # « Changer d'image » is a button of the form, so the identifier typed stays.
        return _forgot_page(form)
    if not form.validate_on_submit():
        return _forgot_page(form)
    r = rt()
    if not captcha.check(r, session.pop("captcha", None), form.captcha.data or ""):
        form.captcha.errors = [CAPTCHA_WRONG]
        return _forgot_page(form)
    identifier = auth.clean_identifier(form.identifiant.data or "") or ""
    try:
        origin = Origin(client_address(), device.device_for(identifier))
        outcome = auth.forgot(r, form.identifiant.data or "", captcha_ok=True, origin=origin)
    except (Conflict, Invalid) as exc:
        form.form_errors.append(french(exc))
        return _forgot_page(form)
    session["reset_for"] = identifier
    session["reset_message"] = outcome.message
    return redirect(url_for("motdepasse.code"))


@bp.route("/mot-de-passe-oublie/code", methods=["GET", "POST"])
@limited("reset")
def code() -> Any:
    identifier = session.get("reset_for")
    if identifier is None:
        return redirect(url_for("motdepasse.forgot"))
    form = SecurityCodeForm()
    if form.validate_on_submit():
        try:
            token = resetcode.redeem_sms_code(rt(), str(identifier), form.code.data or "")
        except AuthenticationFailed as exc:
            # Every refusal stays on this page, beside the code: a wrong one says how many
            # tries are left (the right code still works), the others that a new request
            # is needed (« Retour à l'étape 1 »).
            checks.place(form, exc)
        else:
            return _new_password_page(NewPasswordForm(formdata=None, jeton=token))
    form.code.data = ""
    return render_template(
        "motdepasse/code.html",
        form=form,
        steps=STEPS,
        identifier=identifier,
        minutes=rt().settings.policy.reset_validity_minutes,
    )


def _new_password_page(form: NewPasswordForm, action: str | None = None) -> Any:
    return render_template(
        "motdepasse/nouveau.html",
        form=form,
        steps=STEPS,
        action=action or url_for("motdepasse.nouveau"),
        rules=checks.password_rules(rt().settings.policy),
    )


@bp.post("/mot-de-passe-oublie/nouveau")
@limited("reset")
def nouveau() -> Any:
    identifier = session.get("reset_for")
    form = NewPasswordForm()
    if identifier is None or not form.jeton.data:
        return redirect(url_for("motdepasse.forgot"))
    if form.validate_on_submit():
        checks.check_new_password(form, rt().settings.policy, form.mot_de_passe, form.confirmation)
        if not checks.has_errors(form):
            try:
                auth.reset(
                    rt(),
                    str(identifier),
                    form.jeton.data,
                    form.mot_de_passe.data or "",
                    form.confirmation.data or "",
                )
            except AuthenticationFailed as exc:
                session.pop("reset_for", None)
                return render_template("motdepasse/lien.html", message=french(exc)), 400
            except Invalid as exc:
                checks.place(form, exc)
            else:
                return _done()
    return _new_password_page(form)


@bp.route("/reinitialisation/<token>", methods=["GET", "POST"])
@limited("reset")
def lien(token: str) -> Any:
    r = rt()
    if not auth.link_usable(r, token):
        return render_template("motdepasse/lien.html", message=auth.RESET_REFUSED), 404
    form = NewPasswordForm()
    action = url_for("motdepasse.lien", token=token)
    if form.validate_on_submit():
        checks.check_new_password(form, r.settings.policy, form.mot_de_passe, form.confirmation)
        if not checks.has_errors(form):
            try:
                auth.reset_with_link(
                    r, token, form.mot_de_passe.data or "", form.confirmation.data or ""
                )
            except AuthenticationFailed as exc:
                return render_template("motdepasse/lien.html", message=french(exc)), 400
            except Invalid as exc:
                checks.place(form, exc)
            else:
                return _done()
    return _new_password_page(form, action)


bp.after_request(no_referrer)


def _done() -> Any:
    session.pop("reset_for", None)
    session.pop("reset_message", None)
    session["reset_done"] = True
    return redirect(url_for("motdepasse.confirmation"))


@bp.get("/mot-de-passe-oublie/confirmation")
def confirmation() -> Any:
    if not session.pop("reset_done", False):
        return redirect(url_for("connexion.login"))
    return render_template("motdepasse/confirmation.html", steps=STEPS, message=auth.RESET_DONE)
