"""Login (guide ch. 3): identifier + password, then the 6-digit code mailed; logout."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for

from apexdir.errors import AuthenticationFailed
from apexdir.portal import device
from apexdir.portal.context import rt
from apexdir.portal.errors import french
from apexdir.portal.forms import CodeForm, EmptyForm, LoginForm
from apexdir.portal.security import (
    adopt_generation,
    begin_session,
    client_address,
    end_sessions,
    limited,
)
from apexdir.portal.views import oidc
from apexdir.portal.views.session import safe_next
from apexdir.workflows import auth
from apexdir.workflows.guard import Origin

bp = Blueprint("connexion", __name__)

CODE_GONE = ("no_code", "expired", "exhausted")


@bp.get("/")
def index() -> Any:
    if session.get("user"):
        return redirect(url_for("espace.accueil"))
    return login()


def _next() -> str | None:
    """The page to come back to after the login (a local path, else nothing)."""
    return safe_next(request.args.get("next"))


@bp.route("/connexion", methods=["GET", "POST"])
@limited("login")
def login() -> Any:
    form = LoginForm()
    expired = False
    status = 200
    if form.validate_on_submit():
        typed = form.identifiant.data or ""
        origin = Origin(client_address(), device.device_for(auth.clean_identifier(typed)))
        try:
            outcome = auth.login(rt(), typed, form.mot_de_passe.data or "", origin=origin)
        except AuthenticationFailed as exc:
            expired = exc.reason == "expired"
            status = 429 if exc.reason == "throttled" else 200
            form.form_errors.append(french(exc))
        else:
            begin_session(pending=outcome["identifier"])
            for warning in outcome["warnings"]:
                flash(warning, "warning")
            flash(outcome["message"], "info")
            return redirect(url_for("connexion.code", next=_next()))
    return render_template(
        "connexion/login.html",
        form=form,
        expired=expired,
        next=_next(),
        application=oidc.pending_application(),
    ), status


@bp.route("/connexion/code", methods=["GET", "POST"])
@limited("code")
def code() -> Any:
    pending = session.get("pending")
    if not pending:
        return redirect(url_for("connexion.login"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            outcome = auth.verify(rt(), str(pending), form.code.data or "")
        except AuthenticationFailed as exc:
            if exc.reason in CODE_GONE:
                session.pop("pending", None)
                flash(french(exc), "error")
                return redirect(url_for("connexion.login"))
            form.code.errors = [french(exc)]
        else:
            device.remember(outcome.identifier)
            begin_session(
                user=outcome.identifier,
                type=outcome.type,
                last_login=outcome.last_login_text,
            )
            adopt_generation(outcome.identifier)
            # Back to the application whose login this was (OpenID Connect), if any, else
            # to the page asked for before the login.
            return redirect(oidc.resume_url() or _next() or url_for("espace.accueil"))
    return render_template(
        "connexion/code.html",
        form=form,
        resend_form=EmptyForm(),
        code_minutes=rt().settings.policy.login_code_minutes,
        next=_next(),
        application=oidc.pending_application(),
    )


@bp.post("/deconnexion")
def logout() -> Any:
    form = EmptyForm()
    if form.validate_on_submit():
        end_sessions()
        flash("Vous êtes déconnecté.", "success")
    return redirect(url_for("connexion.login"))


@bp.post("/connexion/code/renvoyer")
@limited("code")
def resend() -> Any:
    """« Renvoyer le code »: a new code mailed for the login in progress."""
    pending = session.get("pending")
    form = EmptyForm()
    if not pending or not form.validate_on_submit():
        return redirect(url_for("connexion.login"))
    try:
        told = auth.resend_code(rt(), str(pending))
    except AuthenticationFailed as exc:
        flash(french(exc), "error")
    else:
        flash(told, "info")
    return redirect(url_for("connexion.code", next=_next()))
