"""« Suspendre » / « Réactiver » on an account's page (SPEC §10): the workflow decides
who may (the permission table) and what it does (slapd's lock, sessions, the mail); the
page only carries the optional « Motif » and says what happened, in French."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, url_for

from apexdir.portal.context import actor, rt
from apexdir.portal.forms import EmptyForm, SuspendForm
from apexdir.portal.security import login_required
from apexdir.portal.views.gestion import attempt
from apexdir.workflows import suspension

bp = Blueprint("suspension", __name__, url_prefix="/comptes")


@bp.post("/<identifier>/suspendre")
@login_required
def suspendre(identifier: str) -> Any:
    # No type check here: the workflow's permission table refuses (403) whoever may not.
    form = SuspendForm(prefix="suspendre")
    if form.validate_on_submit():
        attempt(
            lambda: suspension.suspend(
                rt(), actor(), identifier[:256], reason=form.motif.data or None
            ),
            lambda r: (
                f"Le compte {r.identifier} est suspendu : il ne peut plus se connecter, "
                "ni au portail ni aux applications. La personne est prévenue par mail."
            ),
        )
    else:
        attempt(lambda: _invalid(form), "")
    return redirect(url_for("comptes.detail", identifier=identifier[:256]))


@bp.post("/<identifier>/reactiver")
@login_required
def reactiver(identifier: str) -> Any:
    if EmptyForm().validate_on_submit():
        attempt(
            lambda: suspension.reactivate(rt(), actor(), identifier[:256]),
            lambda r: f"Le compte {r.identifier} est réactivé ; la personne est prévenue par mail.",
        )
    return redirect(url_for("comptes.detail", identifier=identifier[:256]))


def _invalid(form: SuspendForm) -> None:
    """A motif over the length bound (or a stale form): said as the workflow's refusals are."""
    from apexdir.errors import Invalid

    errors = form.motif.errors or ["le formulaire a expiré : rechargez la page"]
    raise Invalid(f"Motif de la suspension : {errors[0]}")
