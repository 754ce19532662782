"""Headers, session time-outs, the login guard and the rate limits of anonymous requests."""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask, Response, abort, flash, g, redirect, request, session, url_for

from apexdir.portal.context import rt, state

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("apexdir.portal")

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SESSION_EXPIRED = "Votre session a expiré : veuillez vous reconnecter."
SESSION_ENDED = (
    "Votre session a pris fin (déconnexion ou changement de mot de passe) : veuillez vous "
    "reconnecter."
)
LOGIN_FIRST = "Veuillez vous connecter pour accéder à cette page."
KEPT_ACROSS_LOGIN = ("oidc_resume",)
USER_AGENT_MAX = 256  # kept in the history for 400 days: a browser's, not a novel


def register(app: Flask) -> None:
    app.before_request(_request_id)
    app.teardown_request(_forget_source)
    app.before_request(_session_timeouts)
    app.after_request(_headers)


def _request_id() -> None:
    """The request's id in every log line of it, and in the answer: a proxy's id is kept
    when it looks like one, else a new one."""
    from apexdir.logs import request_id, request_source

    given = request.headers.get("X-Request-Id", "")
    ok = 8 <= len(given) <= 64 and all(c.isalnum() or c in "-_." for c in given)
    g.request_id = given if ok else secrets.token_hex(8)
    request_id.set(g.request_id)
    # What the journal adds to the actions of this request (issue 21 item 8): set on every
    # request, so a worker thread never carries the previous request's source along.
    # A header is anyone's text: no control character reaches a CSV cell or a log line.
    header = request.headers.get("User-Agent", "")
    agent = "".join(c for c in header if c.isprintable())[:USER_AGENT_MAX]
    request_source.set({"address": client_address(), "user_agent": agent})


def _forget_source(_exc: BaseException | None = None) -> None:
    """The request is over: what the thread journals next (a test, a job) is not its."""
    from apexdir.logs import request_source

    request_source.set(None)


def _now() -> float:
    return state().clock().timestamp()


def _session_timeouts() -> Any:
    """Idle and absolute time-outs of a logged-in (or half logged-in) session."""
    if request.endpoint == "static" or not ({"user", "pending"} & session.keys()):
        return None
    portal = state().settings.portal
    now = _now()
    started = float(session.get("started", now))
    seen = float(session.get("seen", now))
    idle = timedelta(minutes=portal.session_idle_minutes).total_seconds()
    absolute = timedelta(hours=portal.session_max_hours).total_seconds()
    if now - seen > idle or now - started > absolute:
        session.clear()
        flash(SESSION_EXPIRED, "info")
        if request.method == "GET" and request.endpoint == "connexion.login":
            return None
        return redirect(_login_url())
    session["seen"] = now
    return None


def begin_session(**values: Any) -> None:
    """A new session: whatever the browser held before is dropped (no fixation), and a new
    CSRF token comes with it."""
    # An application's pending authorization request survives the login it is waiting
    # for (its parameters only, no secret: apexdir.portal.views.oidc).
    kept = {k: session[k] for k in KEPT_ACROSS_LOGIN if k in session}
    session.clear()
    now = _now()
    session.update(kept, **values, started=now, seen=now)
    session.permanent = True


def adopt_generation(identifier: str) -> None:
    """The session goes on under the account's current generation (after the login, or
    after the password change this very session made)."""
    from apexdir.workflows.accounts import account_or_none

    found = account_or_none(rt(), identifier)
    session["gen"] = found.session_generation if found else ""


def end_sessions() -> None:
    """« Se déconnecter »: this session and every copy of it, on every node, end; so do the
    account's other sessions (a logout is where a partner who fears a copied cookie goes)."""
    from apexdir.errors import ApexError
    from apexdir.workflows import sessions
    from apexdir.workflows.accounts import account_or_none

    identifier = session.get("user") or session.get("pending")
    session.clear()
    if not identifier:
        return
    try:
        found = account_or_none(rt(), str(identifier))
        if found is not None:
            sessions.end_all(rt(), found)
    except ApexError:
        # The directory is down: the cookie is cleared; copies end with their time-outs.
        log.warning("logout: could not end the sessions of %s", identifier)


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from apexdir.errors import NotFound
        from apexdir.workflows import sessions
        from apexdir.workflows.accounts import account_or_none

        identifier = session.get("user")
        if not identifier:
            flash(LOGIN_FIRST, "info")
            return redirect(_login_url())
        try:
            found = account_or_none(rt(), str(identifier))
        except NotFound:
            found = None
        if found is None or found.status != "active":
            session.clear()
            flash(LOGIN_FIRST, "info")
            return redirect(url_for("connexion.login"))
        if not sessions.is_current(found, session.get("gen")):
            session.clear()
            flash(SESSION_ENDED, "info")
            return redirect(url_for("connexion.login"))
        g.account = found
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _login_url() -> str:
    """The login page, told to come back to the page asked for (a local path only)."""
    from apexdir.portal.views.session import asked_path

    return url_for("connexion.login", next=asked_path())


def client_address() -> str:
    """The client's address: the peer's, or the one the configured number of trusted
    proxies reported (`[portal] trusted_proxies`, applied by ProxyFix; 0: headers ignored)."""
    return request.remote_addr or "unknown"


def limit_anonymous(kind: str) -> None:
    """Count one anonymous request against its client's budget (the address, an IPv6
    client by its /64), shared by every worker process of the node through the state
    store; 429 past it. There is no node-wide ceiling: eleven addresses could fill it and
    lock everyone out (issue 18); guessing is slowed by `apexdir.workflows.guard`."""
    from apexdir.rules.throttle import source_key
    from apexdir.state import ratelimit

    portal = state().settings.portal
    limit = ratelimit.Limit(
        f"portal:client:{source_key(client_address())}",
        portal.rate_per_client_per_minute,
        timedelta(minutes=1),
    )
    if not ratelimit.allow(rt().db, [limit], state().clock()):
        abort(429)


def _costly() -> bool:
    """Whether a POST can cost the directory anything: a form with something typed in it
    (an empty or half-empty form is refused by its own validation, at no cost)."""
    return any(value.strip() for name, value in request.form.items() if name != "csrf_token")


def limited(kind: str) -> Callable[[F], F]:
    """Rate-limit the POSTs of an anonymous view that can cost work."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.method == "POST" and _costly():
                limit_anonymous(kind)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _headers(response: Response) -> Response:
    headers = response.headers
    if "request_id" in g:
        headers["X-Request-Id"] = g.request_id
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    return response


def no_referrer(response: Response) -> Response:
    """For pages whose path carries a token: the token never leaves in a Referer header."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
