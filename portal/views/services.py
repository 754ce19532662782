"""Services of the structure (administrateur, seeds' table of functions): create, rename,
merge (with a récapitulatif of the accounts moved), delete."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from apexdir.models import Account, Service
from apexdir.portal.context import account, actor, rt
from apexdir.portal.forms import EmptyForm, MergeForm, ServiceForm
from apexdir.portal.security import login_required
from apexdir.portal.views.gestion import attempt, service_or_404, services_of
from apexdir.rules.permissions import Action, require
from apexdir.workflows import services as workflow
from apexdir.workflows.structures import show_structure, structure_target

bp = Blueprint("services", __name__, url_prefix="/services")


def _guard() -> str:
    """The structure whose services the actor manages; 403 for anyone else."""
    siret = account().siret
    require(actor(), Action.SERVICE_MANAGE, structure_target(siret))
    return siret


@bp.route("", methods=["GET", "POST"])
@login_required
def liste() -> Any:
    siret = _guard()
    form = ServiceForm()
    if form.validate_on_submit():
        name = (form.nom.data or "").strip()
        done = attempt(
            lambda: workflow.create_service(rt(), actor(), siret, name),
            f"Le service « {name} » a été créé.",
        )
        if done:
            return redirect(url_for("services.liste"))
    data = show_structure(rt(), actor(), siret)
    rows = [
        {
            "id": s.service.id,
            "name": s.name,
            "responsables": len(s.responsables),
            "collaborateurs": len(s.collaborateurs),
        }
        for s in data.services
    ]
    return render_template("services/liste.html", me=account(), form=form, rows=rows)


def _members(service: Service) -> list[Account]:
    return workflow.members(rt(), actor(), service)


@bp.route("/<service_id>", methods=["GET", "POST"])
@login_required
def detail(service_id: str) -> Any:
    siret = _guard()
    service = service_or_404(siret, service_id)
    form = ServiceForm(prefix="renommer")
    if form.validate_on_submit():
        new = (form.nom.data or "").strip()
        done = attempt(
            lambda: workflow.rename_service(rt(), actor(), siret, service.name, new),
            f"Le service « {service.name} » s'appelle désormais « {new} ».",
        )
        if done:
            return redirect(url_for("services.detail", service_id=service_id))
    elif not form.is_submitted():
        form.nom.data = service.name
    merge = MergeForm(prefix="fusion", formdata=None)
    merge.cible.choices = [(s.id, s.name) for s in services_of(siret) if s.id != service.id]
    return render_template(
        "services/detail.html",
        me=account(),
        service=service,
        form=form,
        merge=merge,
        members=_members(service),
    )


@bp.route("/<service_id>/fusionner", methods=["GET", "POST"])
@login_required
def fusionner(service_id: str) -> Any:
    siret = _guard()
    source = service_or_404(siret, service_id)
    target_id = request.values.get("fusion-cible") or request.values.get("cible") or ""
    target = service_or_404(siret, target_id)
    form = EmptyForm()
    if form.validate_on_submit():
        done = attempt(
            lambda: workflow.merge_services(rt(), actor(), siret, source.name, target.name),
            lambda r: (
                f"Le service « {r.source} » a été fusionné dans « {r.target} » : "
                f"{r.moved} compte(s) et {r.requests_moved} demande(s) déplacé(s)."
            ),
        )
        if done:
            return redirect(url_for("services.liste"))
        return redirect(url_for("services.detail", service_id=service_id))
    return render_template(
        "services/fusion.html",
        me=account(),
        source=source,
        target=target,
        form=form,
        members=_members(source),
    )


@bp.route("/<service_id>/supprimer", methods=["GET", "POST"])
@login_required
def supprimer(service_id: str) -> Any:
    siret = _guard()
    service = service_or_404(siret, service_id)
    form = EmptyForm()
    if form.validate_on_submit():
        done = attempt(
            lambda: workflow.delete_service(rt(), actor(), siret, service.name),
            f"Le service « {service.name} » a été supprimé.",
        )
        if done:
            return redirect(url_for("services.liste"))
        return redirect(url_for("services.detail", service_id=service_id))
    _, requests = workflow.deletion_blockers(rt(), service)
    return render_template(
        "services/suppression.html",
        me=account(),
        service=service,
        form=form,
        members=_members(service),
        requests=requests,
    )
