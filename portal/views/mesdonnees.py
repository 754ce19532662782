"""« Télécharger mes données » (RGPD articles 15 and 20): the logged-in partner's own data as
a JSON file, the document `apexdir me export` prints (`apexdir.workflows.mydata`)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response

from apexdir.portal.context import account, actor, rt
from apexdir.portal.security import login_required
from apexdir.workflows import mydata

bp = Blueprint("mesdonnees", __name__)


@bp.get("/donnees-personnelles/telecharger")
@login_required
def telecharger() -> Any:
    """A download, never a page: an attachment that no cache keeps (it holds the mobile)."""
    me = account()
    document = mydata.export(rt(), actor(), me.identifier)
    body = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": (
                f'attachment; filename="donnees-personnelles-{me.identifier}.json"'
            ),
            "Cache-Control": "no-store",
        },
    )
