"""The logged-in session seen from the page: the idle time-out warning's « Prolonger »
(a keep-alive the page's script calls) and the way back to the page asked for after a new
login (`next`, a local path only: never an open redirect)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, jsonify, request, session
from jinja2 import pass_context
from jinja2.runtime import Context

from apexdir.portal.context import state

bp = Blueprint("session", __name__)

WARNING_SECONDS = 120  # the warning comes this long before the idle time-out
# Pages that make no sense to come back to after logging in again.
NOT_BACK_TO = ("/connexion", "/deconnexion", "/session/", "/oidc/", "/static/")


def safe_next(value: str | None) -> str | None:
    """`value` when it is a path of this site ("/structure?page=2"), else None.

    Refused: anything with a scheme or a host (`https://evil`, `https:evil`), a
    protocol-relative address (`//evil`), backslashes (`/\\evil`, which browsers read as
    `//evil`), control characters and white space, and the login pages themselves."""
    if not value or len(value) > 512 or not value.startswith("/"):
        return None
    if value.startswith("//") or "\\" in value or not value.isprintable() or " " in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    if any(parts.path == p.rstrip("/") or parts.path.startswith(p) for p in NOT_BACK_TO):
        return None
    return value


def asked_path() -> str | None:
    """The page this request asked for, worth coming back to after a login (a GET)."""
    if request.method != "GET":
        return None
    path = request.full_path.rstrip("?") if request.query_string else request.path
    return safe_next(path)


@bp.post("/session/prolonger")
def prolonger() -> Any:
    """« Prolonger »: the request itself renewed the idle time-out (security's
    before_request); this says how long the session now has, or 401 once it is over —
    timed out, or ended elsewhere (logout, password change: the session generation)."""
    from apexdir.errors import NotFound
    from apexdir.portal.context import rt
    from apexdir.workflows import sessions
    from apexdir.workflows.accounts import account_or_none

    identifier = session.get("user")
    if not identifier or session.get("pending"):
        return jsonify(connecte=False), 401
    try:
        found = account_or_none(rt(), str(identifier))
    except NotFound:
        found = None
    if (
        found is None
        or found.status != "active"
        or not sessions.is_current(found, session.get("gen"))
    ):
        session.clear()
        return jsonify(connecte=False), 401
    return jsonify(connecte=True, inactivite=_idle_seconds())


def _idle_seconds() -> int:
    return int(state().settings.portal.session_idle_minutes) * 60


@pass_context
def _page_has_errors(context: Context) -> bool:
    """Whether the page answers a failed submit: a form of it holds errors, or an error
    message was flashed to it (titles start with « Erreur : »)."""
    from flask import get_flashed_messages

    for name in ("form", "password_form"):
        form = context.get(name)
        if hasattr(form, "form_errors") and (form.form_errors or any(f.errors for f in form)):
            return True
    if context.get("page_error"):
        return True
    return bool(get_flashed_messages(category_filter=["error"]))


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(
        idle_seconds=_idle_seconds,
        idle_warning_seconds=WARNING_SECONDS,
        page_has_errors=_page_has_errors,
    )
