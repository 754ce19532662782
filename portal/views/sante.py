"""`/sante`: liveness and readiness for the load balancer and the monitoring (issue 14).

JSON, no secret: whether this process answers, and whether the directory (a bind and a
read as apexdir's account) and the node's state store do. 503 when not ready, so a load
balancer takes the node out of rotation without a person reading anything.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, jsonify

from apexdir.errors import ApexError
from apexdir.portal.context import rt

bp = Blueprint("sante", __name__)


@bp.get("/sante/vivant")
def vivant() -> Any:
    return jsonify(status="ok")


@bp.get("/sante")
def sante() -> Any:
    r = rt()
    checks: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    try:
        r.directory.get(r.layout.people_dn, ["1.1"])
        checks["directory"] = {"ok": True, "ms": round((time.perf_counter() - start) * 1e3, 1)}
    except ApexError:
        checks["directory"] = {"ok": False}
    try:
        r.db.execute("SELECT 1").fetchone()
        checks["state"] = {"ok": True}
    except Exception:  # any failure of the store is "not ready", never a 500
        checks["state"] = {"ok": False}
    ready = all(c["ok"] for c in checks.values())
    return jsonify(status="ok" if ready else "unavailable", ready=ready, checks=checks), (
        200 if ready else 503
    )
