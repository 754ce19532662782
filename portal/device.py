"""The device cookie: proof that this browser completed a login (password and code) into
an identifier before (OWASP « device cookies »). A login attempt that carries it for the
identifier typed is counted in that device's own series by the login guard, out of reach
of a stranger's failures (`apexdir.workflows.guard`). It grants nothing else.

Signed with the portal's key (every node verifies it); it holds a random device id and
the identifiers it logged into, no secret.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Response, after_this_request, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "apex_appareil"
SALT = "apexdir.portal.device"
MAX_IDENTIFIERS = 5  # a shared office computer: its latest users
MAX_AGE = 400 * 86400


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)  # type: ignore[arg-type]


def _read() -> dict[str, Any] | None:
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 2048:
        return None
    try:
        value = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("d"), str):
        return None
    ids = value.get("i")
    value["i"] = [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
    return value


def device_for(identifier: str | None) -> str | None:
    """This browser's device id when it logged into `identifier` before, else None."""
    value = _read()
    if value is None or not identifier or identifier not in value["i"]:
        return None
    return str(value["d"])


def remember(identifier: str) -> None:
    """After a completed login: this browser is one of `identifier`'s devices."""
    value = _read() or {"d": secrets.token_urlsafe(16), "i": []}
    ids = [i for i in value["i"] if i != identifier][-(MAX_IDENTIFIERS - 1) :]
    token = _serializer().dumps({"d": value["d"], "i": [*ids, identifier]})
    secure = bool(current_app.config.get("SESSION_COOKIE_SECURE"))

    @after_this_request
    def _set(response: Response) -> Response:
        response.set_cookie(COOKIE, token, max_age=MAX_AGE, secure=secure, httponly=True,
                            samesite="Lax")  # fmt: skip
        return response
