"""« Historique » (issue 21 item 8, PORTAL.md): who did what to whom, when — an
administrateur his structure's, a responsable his service's; a collaborateur is refused
(403, by the permission table). Filters as a GET form, pages by cursor, a CSV download."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, render_template, request

from apexdir.errors import Invalid
from apexdir.models import Event
from apexdir.portal.context import account, actor, rt
from apexdir.portal.forms import HistoryFilterForm
from apexdir.portal.security import login_required
from apexdir.rules import history as h
from apexdir.workflows import history

bp = Blueprint("historique", __name__)

ACTIONS = [("", "Toutes les actions"), *sorted(h.LABELS.items(), key=lambda item: item[1])]
CSV_COLUMNS = ["Date", "Qui", "Action", "Concerne", "Adresse source", "Navigateur"]
# A cell that starts like a formula is run by a spreadsheet (CSV injection): quoted.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _form() -> tuple[HistoryFilterForm, h.Criteria]:
    """The filters of the query string, and the criteria they give (none when invalid:
    the errors are shown above the whole history)."""
    form = HistoryFilterForm(request.args)
    form.action.choices = ACTIONS
    if not form.validate():
        return form, h.Criteria()
    since, until = h.day_bounds(form.du.data, form.au.data)
    try:
        criteria = h.Criteria(
            since=since,
            until=until,
            account=(form.compte.data or "").strip().lower() or None,
            action=form.action.data or None,
        )
    except Invalid as exc:
        form.au.errors = [str(exc)]
        return form, h.Criteria()
    return form, criteria


def _row(event: Event) -> dict[str, str]:
    address, agent = h.source(event.details)
    return {
        "date": h.paris(event.at),
        "iso": event.at.isoformat(),
        "qui": h.who(event.action, event.actor, event.target, agent_names=False),
        "quoi": h.what(event.action, event.details),
        "concerne": h.whom(event.action, event.target, event.details),
        "adresse": address,
        "navigateur": agent,
    }


def _filters() -> dict[str, str]:
    """The query string's filters, carried by the pagination links and the download."""
    return {k: v for k, v in request.args.items() if k in ("du", "au", "compte", "action") and v}


@bp.get("/structure/historique")
@login_required
def liste() -> Any:
    me, who = account(), actor()
    history.reach(who)  # refused (403) before anything is read
    form, criteria = _form()
    try:
        page = history.page(
            rt(),
            who,
            criteria,
            older_than=request.args.get("avant") or None,
            newer_than=request.args.get("apres") or None,
        )
    except Invalid:  # a cursor edited by hand: the first page
        page = history.page(rt(), who, criteria)
    return render_template(
        "historique/liste.html",
        me=me,
        form=form,
        rows=[_row(e) for e in page.events],
        older=page.older,
        newer=page.newer,
        filters=_filters(),
        service_only=who.service is not None and me.type == "responsable",
    )


@bp.get("/structure/historique.csv")
@login_required
def export() -> Any:
    me, who = account(), actor()
    history.reach(who)
    _, criteria = _form()
    events, _cut = history.events(rt(), who, criteria)
    out = io.StringIO()
    # The BOM tells Excel the file is UTF-8; the semicolon is its separator in French.
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for event in events:
        row = _row(event)
        cells = [row["date"], row["qui"], row["quoi"], row["concerne"], row["adresse"],
                 row["navigateur"]]  # fmt: skip
        writer.writerow([_cell(c) for c in cells])
    stamp = rt().clock().astimezone(h.PARIS).strftime("%Y%m%d")
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="historique-{me.siret}-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(FORMULA_START) else text
