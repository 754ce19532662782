"""« Revue des habilitations » (issue 21 item 10): once a year an administrateur confirms or
withdraws, account by account, the habilitations of his structure's responsables and
collaborateurs. One form, one radio group per habilitation (« Confirmer » / « Retirer »),
one submit; a withdrawal is the same as on an account's page (the holder is mailed).
Responsables and collaborateurs are refused (403, by the permission table)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from apexdir.errors import Conflict, Invalid
from apexdir.messages import text
from apexdir.portal.context import account, actor, rt
from apexdir.portal.errors import french
from apexdir.portal.forms import EmptyForm
from apexdir.portal.security import login_required
from apexdir.portal.views.gestion import app_names, profile_label
from apexdir.rules import history as h
from apexdir.rules import review as r
from apexdir.workflows import review

bp = Blueprint("revue", __name__)

TYPES = {"responsable": "Responsable", "collaborateur": "Collaborateur"}


def field_name(identifier: str, key: str) -> str:
    """The radio group of one habilitation (parsed back by `rules.review.parse_choices`)."""
    return f"d:{identifier}|{key}"


@bp.get("/structure/revue")
@login_required
def page() -> Any:
    me, who = account(), actor()
    sheet = review.sheet(rt(), who)  # refused (403) before anything is shown
    names = app_names()
    return render_template(
        "revue/revue.html",
        me=me,
        sheet=sheet,
        form=EmptyForm(),
        deadline=h.paris(sheet.deadline).split(" à ")[0] if sheet else "",
        types=TYPES,
        field_name=field_name,
        label=lambda k: profile_label(k, names),
    )


@bp.post("/structure/revue")
@login_required
def submit() -> Any:
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    who = actor()
    try:
        choices = r.parse_choices(request.form.items())
        outcome = review.decide(rt(), who, choices)
    except (Invalid, Conflict) as exc:
        flash(french(exc), "error")
        return redirect(url_for("revue.page"))
    flash(text("review.saved", {"confirmed": outcome.confirmed,
                                "withdrawn": outcome.withdrawn}), "success")  # fmt: skip
    if outcome.completed:
        flash(text("review.completed"), "success")
    return redirect(url_for("revue.page"))
