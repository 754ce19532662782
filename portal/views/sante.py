"""`/sante`: liveness and readiness for the load balancer and the monitoring (issues 14, 23).

JSON, no secret: whether this process answers, and whether the directory (a read as
apexdir's account), the node's state store, the SMTP relay and the SMS gateway do. Answered
within a second whatever they do (`apexdir.readiness`: each check runs in a thread of its
own and one still running at the deadline counts as failed). 503 when the directory or
the state store is not there, so a load balancer takes the node out of rotation; 200
`degraded` when only mails or texts cannot leave (they wait in the spool).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from apexdir.portal.context import state

bp = Blueprint("sante", __name__)


@bp.get("/sante/vivant")
def vivant() -> Any:
    return jsonify(status="ok")


@bp.get("/sante")
def sante() -> Any:
    report = state().readiness().report()
    body = jsonify(status=report.status, ready=report.ready, checks=report.checks)
    return body, 200 if report.ready else 503
