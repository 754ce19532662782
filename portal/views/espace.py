"""The logged-in partner's space: home page (guide ch. 3), applications, consultation of
the structure (ch. 6) and personal data (ch. 7)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, session, url_for

from apexdir.errors import ApexError, AuthenticationFailed, Invalid, NotFound
from apexdir.portal import checks
from apexdir.portal.context import account, actor, rt
from apexdir.portal.errors import french
from apexdir.portal.forms import EmptyForm, PasswordChangeForm, PersonalDataForm
from apexdir.portal.security import adopt_generation, login_required
from apexdir.rules.contact import display_mobile, normalize_mobile
from apexdir.rules.urls import web_address
from apexdir.workflows import accounts, auth, review, structures
from apexdir.workflows.catalogue import list_applications as applications_catalogue

bp = Blueprint("espace", __name__)

TYPES = {
    "administrateur": "Administrateur",
    "responsable": "Responsable",
    "collaborateur": "Collaborateur",
}
ACCOUNTS_MENU = {
    "administrateur": "Gestion des comptes responsables et collaborateurs",
    "responsable": "Gestion des comptes collaborateurs",
    "collaborateur": "Consultation des comptes et services de ma structure",
}
STEPS = ["Saisie des modifications", "Récapitulatif", "Confirmation"]
FIELDS = (
    ("nom", "last_name", "Nom"),
    ("prenom", "first_name", "Prénom"),
    ("mail", "mail", "Adresse mail"),
    ("mobile", "mobile", "N° de téléphone mobile"),
)


def partner_menu(account_type: str | None) -> list[tuple[str, str]]:
    """The partner's menu in the guide's words (ch. 3, 6, 7): the side menu, and the header's
    « Menu » on small screens. Only what the account's type may open."""
    items = [("espace.accueil", "Accueil"), ("espace.applications", "Accès aux applications")]
    if account_type in ("administrateur", "responsable"):
        items.append(("comptes.liste", ACCOUNTS_MENU[account_type]))
    if account_type == "administrateur":
        items.append(("services.liste", "Gestion des services"))
    items.append(("espace.structure", "Consultation des comptes et services de la structure"))
    if account_type in ("administrateur", "responsable"):
        items.append(("historique.liste", "Historique"))
    if account_type == "administrateur" and review_open():
        items.append(("revue.page", "Revue des habilitations"))
    items.append(("espace.donnees", "Gestion des données personnelles"))
    return items


def review_open() -> bool:
    """Whether the logged-in administrateur's structure has a review open (issue 21 item
    10): one indexed search, once per request (the side menu and the header's menu)."""
    if "account" not in g:  # a page outside login_required (an error page): no lookup
        return False
    if "apex_review_open" not in g:
        try:
            g.apex_review_open = review.is_open(rt(), actor())
        except ApexError:  # the menu never breaks a page
            g.apex_review_open = False
    return bool(g.apex_review_open)


@bp.app_context_processor
def _menu() -> dict[str, Any]:
    return {"account_types": TYPES, "accounts_menu": ACCOUNTS_MENU}


@bp.record_once
def _globals(setup: Any) -> None:
    # A global, not a context value: the sidemenu macro is imported without the context.
    setup.app.jinja_env.globals["partner_menu"] = partner_menu


@bp.get("/accueil")
@login_required
def accueil() -> Any:
    me = account()
    return render_template(
        "espace/accueil.html",
        me=me,
        last_login=session.get("last_login"),
        review_open=me.type == "administrateur" and review_open(),
    )


def _applications_of(habilitations: list[str]) -> list[dict[str, Any]]:
    catalogue = {app.code: app for app in applications_catalogue(rt())}
    names = {code: app.name for code, app in catalogue.items()}
    grouped: dict[str, list[str]] = {}
    for key in habilitations:
        app, _, profile = key.partition("/")
        grouped.setdefault(app, []).append(profile)
    return [
        {
            "code": code,
            "name": names.get(code, code),
            "profiles": sorted(profiles),
            "url": _safe_url(catalogue[code].url) if code in catalogue else None,
        }
        for code, profiles in sorted(grouped.items(), key=lambda kv: names.get(kv[0], kv[0]))
    ]


def _safe_url(url: str | None) -> str | None:
    """The catalogue's address, judged again: the directory may have been edited by hand,
    and a link must never carry a script."""
    try:
        return web_address(url) if url else None
    except Invalid:
        return None


@bp.get("/applications")
@login_required
def applications() -> Any:
    me = account()
    return render_template(
        "espace/applications.html", me=me, applications=_applications_of(me.habilitations)
    )


@bp.get("/structure")
@login_required
def structure() -> Any:
    me = account()
    data = structures.show_structure(rt(), actor(), me.siret)
    return render_template("espace/structure.html", me=me, structure=data)


@bp.get("/structure/comptes/<identifier>")
@login_required
def compte(identifier: str) -> Any:
    me = account()
    try:
        shown = accounts.show_account(rt(), actor(), identifier)
    except (NotFound, Invalid):
        abort(404)
    structure = structures.structure(rt(), actor(), me.siret)
    detail = shown.account.public()  # never a phone number on this page, whoever looks
    return render_template(
        "espace/compte.html",
        me=me,
        detail=detail,
        structure=structure,
        applications=_applications_of(detail["habilitations"]),
    )


# ---------------------------------------------------------------------- personal data
REAUTH_SECONDS = 300  # a login (or a password typed) this recent proves the person


def _now() -> float:
    return rt().clock().timestamp()


def _reauth_due() -> bool:
    """Whether the password must be typed again to change the mail or the mobile."""
    proven = max(float(session.get("started", 0)), float(session.get("reauth", 0)))
    return _now() - proven > REAUTH_SECONDS


def _needs_reauth(changes: dict[str, str]) -> bool:
    return bool({"mail", "mobile"} & changes.keys()) and _reauth_due()


def _password_form() -> PasswordChangeForm:
    return PasswordChangeForm(prefix="mdp")


@bp.route("/donnees-personnelles", methods=["GET", "POST"])
@login_required
def donnees() -> Any:
    me = account()
    form = PersonalDataForm(prefix="donnees")
    if not form.is_submitted():
        form.nom.data, form.prenom.data = me.last_name, me.first_name
        form.mail.data, form.mobile.data = me.mail, display_mobile(me.mobile)
    else:
        valid = form.validate_on_submit()
        checks.check_mail(form.mail)
        checks.check_mobile(form.mobile)
        if valid and not checks.has_errors(form):
            current = {
                "last_name": me.last_name,
                "first_name": me.first_name,
                "mail": me.mail,
                "mobile": me.mobile or "",
            }
            typed = {key: (getattr(form, name).data or "").strip() for name, key, _ in FIELDS}
            if typed["mobile"]:  # checked above: compared as stored, whatever the spacing
                typed["mobile"] = normalize_mobile(typed["mobile"])
            changes = {key: value for key, value in typed.items() if value != current[key]}
            if not changes:
                form.form_errors.append("Aucune modification n'a été saisie.")
            elif _needs_reauth(changes):
                try:
                    auth.confirm_password(rt(), me.identifier, form.actuel.data or "")
                except AuthenticationFailed as exc:
                    form.actuel.errors = [french(exc)]
                else:
                    session["reauth"] = _now()
            if changes and not form.actuel.errors and not checks.has_errors(form):
                session["donnees"] = changes
                return redirect(url_for("espace.donnees_recapitulatif"))
    return render_template(
        "espace/donnees.html",
        me=me,
        form=form,
        reauth=_reauth_due(),
        password_form=_password_form(),
        steps=STEPS,
        rules=checks.password_rules(rt().settings.policy),
    )


@bp.route("/donnees-personnelles/recapitulatif", methods=["GET", "POST"])
@login_required
def donnees_recapitulatif() -> Any:
    me = account()
    changes = session.get("donnees")
    if not changes:
        return redirect(url_for("espace.donnees"))
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            accounts.update_personal_data(rt(), actor(), me.identifier, **changes)
        except Invalid as exc:
            session.pop("donnees", None)
            flash(french(exc), "error")
            return redirect(url_for("espace.donnees"))
        session.pop("donnees", None)
        session["donnees_faites"] = True
        return redirect(url_for("espace.donnees_confirmation"))
    rows = [
        (label, getattr(me, key) or "", changes[key]) for _, key, label in FIELDS if key in changes
    ]
    return render_template(
        "espace/donnees_recapitulatif.html", me=me, form=form, rows=rows, steps=STEPS
    )


@bp.get("/donnees-personnelles/confirmation")
@login_required
def donnees_confirmation() -> Any:
    if not session.pop("donnees_faites", False):
        return redirect(url_for("espace.donnees"))
    return render_template(
        "espace/donnees_confirmation.html",
        me=account(),
        steps=STEPS,
        message=accounts.PERSONAL_DATA_MESSAGE,
    )


@bp.post("/donnees-personnelles/mot-de-passe")
@login_required
def mot_de_passe() -> Any:
    me = account()
    form = _password_form()
    if form.validate_on_submit():
        checks.check_new_password(form, rt().settings.policy, form.mot_de_passe, form.confirmation)
        if not checks.has_errors(form):
            try:
                auth.change(
                    rt(),
                    me.identifier,
                    form.actuel.data or "",
                    form.mot_de_passe.data or "",
                    form.confirmation.data or "",
                )
            except AuthenticationFailed as exc:
                form.actuel.errors = [french(exc)]
            except Invalid as exc:
                checks.place(form, exc)
            else:
                adopt_generation(me.identifier)  # the account's other sessions ended
                flash(auth.CHANGE_DONE, "success")
                return redirect(url_for("espace.donnees"))
    data_form = PersonalDataForm(prefix="donnees", formdata=None)
    data_form.nom.data, data_form.prenom.data = me.last_name, me.first_name
    data_form.mail.data, data_form.mobile.data = me.mail, display_mobile(me.mobile)
    return render_template(
        "espace/donnees.html",
        me=me,
        form=data_form,
        reauth=_reauth_due(),
        password_form=form,
        steps=STEPS,
        rules=checks.password_rules(rt().settings.policy),
    )
