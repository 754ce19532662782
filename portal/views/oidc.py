"""The OpenID Connect provider's endpoints (PORTAL.md, last section).

The login is the portal's own (password, then the mailed code): `/oidc/authorize` without a
fresh portal session keeps the authorization request's parameters in the session (no
secret: they came in the address) and sends the browser to `/connexion`; after the code,
`connexion.code` comes back here through `resume_url()`. A mistake that names no registered
client or redirect address is shown here, in French, never sent to an address nobody
registered. A federation's client (ProConnect) needs no application profile; the way back
to it and the logout are `oidc_exits`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.integrations.flask_oauth2 import current_token
from authlib.oauth2 import OAuth2Error
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from apexdir.errors import Unavailable
from apexdir.oidc import keys, store
from apexdir.oidc import provider as oidc_provider
from apexdir.oidc.claims import profiles_for
from apexdir.oidc.models import Client, Subject
from apexdir.portal.context import rt, state
from apexdir.portal.security import CSP
from apexdir.workflows import sessions

bp = Blueprint("oidc", __name__)

RESUME = "oidc_resume"
# A login started for an application and abandoned stops leading back to it after this.
RESUME_SECONDS = 15 * 60
NO_PROFILE = (
    "Accès non autorisé",
    "Votre compte ne dispose d'aucun profil pour cette application : vous ne pouvez pas vous "
    "y connecter. Demandez à l'administrateur ou au responsable de votre structure de vous "
    "habiliter à cette application.",
)
BAD_REQUEST = (
    "Demande de connexion invalide",
    "L'application n'a pas pu être reconnue ou son adresse de retour n'est pas enregistrée : "
    "la connexion ne peut pas continuer. Signalez-le à l'éditeur de l'application.",
)


def issuer() -> str:
    return state().settings.portal.base_url.rstrip("/")


def _server() -> Any:
    return current_app.extensions["oidc"][0]


def _page(
    title_text: tuple[str, str],
    status: int,
    back: str | None = None,
    application: str | None = None,
) -> Any:
    title, text = title_text
    html = render_template(
        "oidc/erreur.html", title=title, text=text, back=back, application=application
    )
    return html, status


def _unavailable_json() -> Response:
    response = jsonify(
        error="temporarily_unavailable",
        error_description="The directory is unavailable; try again shortly.",
    )
    response.status_code = 503
    response.headers["Retry-After"] = "30"
    return response


# ------------------------------------------------------------------ discovery and keys
@bp.get("/.well-known/openid-configuration")
def discovery() -> Any:
    base = issuer()
    return jsonify(oidc_provider.metadata(base, lambda name: base + url_for(name)))


@bp.get("/oidc/jwks")
def jwks() -> Any:
    try:
        return jsonify(keys.public_jwks(rt()))
    except Unavailable:
        return _unavailable_json()


# ------------------------------------------------------------------ authorization
def time_now() -> float:
    return state().clock().timestamp()


def _session_login_time() -> float | None:
    """When the portal session passed both steps, or None without such a session."""
    if not session.get("user") or session.get("pending"):
        return None
    return float(session.get("started", 0))


def _wants_login(started: float | None) -> bool:
    """Whether this request needs a new login: no session, prompt=login, or max_age."""
    if started is None:
        return True
    pending = session.pop(RESUME, None)
    # The login the user just went through was for this very request: it satisfies
    # prompt=login and max_age, whatever they say.
    fresh = (
        isinstance(pending, dict)
        and pending.get("query") == _query()
        and started >= float(pending.get("at", 0))
    )
    if fresh:
        return False
    if "login" in request.values.get("prompt", "").split():
        return True
    max_age = request.values.get("max_age", "")
    if max_age.isdigit():
        return time_now() - started > int(max_age)
    return False


def _query() -> str:
    """The authorization request's parameters, sent by GET or POST, as one query string."""
    return urlencode(list(request.values.items(multi=True)))


def _parsable() -> bool:
    """Whether the parameters that name the client and its address are what a registered
    client can send: visible ASCII only (RFC 3986 addresses hold no space, control or
    non-ASCII character). Authlib quotes them in its error descriptions, whose own rule
    (RFC 6749 §5.2) then fails with a ValueError: a 500 and a traceback per request."""
    return all(
        value.isascii() and value.isprintable() and " " not in value
        for name in ("client_id", "redirect_uri", "response_type")
        for value in request.values.getlist(name)
    )


@bp.route("/oidc/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    if not _parsable():
        return _page(BAD_REQUEST, 400)
    server = _server()
    started = _session_login_time()
    relogin = _wants_login(started)
    try:
        # Authlib answers prompt=none itself when told there is no user (login_required).
        grant = server.get_consent_grant(end_user=None if relogin else True)
    except OAuth2Error as error:
        if error.redirect_uri:
            return server.handle_error_response(None, error)
        return _page(BAD_REQUEST, 400)
    except ValueError:
        # Another parameter Authlib could not put into its error (the same rule as above):
        # nothing registered to send it back to, so the French page.
        return _page(BAD_REQUEST, 400)
    client: Client = grant.client
    prompts = request.values.get("prompt", "").split()
    invalid = _invalid_request(grant, prompts)
    if invalid is not None:
        return redirect(invalid)
    subject = None if relogin or started is None else _current_subject(client, started)
    if subject is None:
        if "none" in prompts:
            return redirect(_refusal(grant, "login_required", "The user must log in."))
        return _to_login(grant)
    if not client.federation and not profiles_for(subject.account, client.app):
        back = _refusal(grant, "access_denied", "The account holds no profile of this application.")
        if "none" in prompts:  # no page may be shown: straight back to the application
            return redirect(back)
        return _page(NO_PROFILE, 403, back, application=_application_name(client.app))
    return server.create_authorization_response(grant=grant, grant_user=subject)


def _refusal(grant: Any, error: str, description: str) -> str:
    """The client's redirect URI carrying an OAuth error (and the request's state)."""
    redirect_uri: str = grant.redirect_uri
    params = {"error": error, "error_description": description}
    if grant.request.payload.state:
        params["state"] = grant.request.payload.state
    sep = "&" if urlsplit(redirect_uri).query else "?"
    return redirect_uri + sep + urlencode(params)


def _invalid_request(grant: Any, prompts: list[str]) -> str | None:
    """The refusal of a request Authlib let through but the portal does not serve, or None."""
    client: Client = grant.client
    payload = grant.request.payload
    max_age = request.values.get("max_age")
    if max_age is not None and not max_age.isdigit():
        return _refusal(grant, "invalid_request", "Invalid 'max_age' parameter.")
    if "none" in prompts and len(prompts) > 1:
        return _refusal(grant, "invalid_request", "Invalid 'prompt' parameter.")
    if client.public and not payload.data.get("code_challenge"):
        # Said now rather than at the token endpoint, after the user logged in for nothing.
        return _refusal(grant, "invalid_request", "A public client must use PKCE (S256).")
    if "openid" not in (payload.scope or "").split():
        return _refusal(grant, "invalid_scope", "The 'openid' scope is required.")
    return None


def _current_subject(client: Client, started: float) -> Subject | None:
    """The session's account as the client's subject, or None (and the session cleared)."""
    subject = store.subject(rt(), str(session["user"]), client.app, int(started))
    if subject is not None and not sessions.is_current(subject.account, session.get("gen")):
        subject = None  # the session was ended (logout, password change) on some node
    if subject is None:
        # Locked, expired or deleted since the session began: no token, a new login.
        session.clear()
    return subject


def _to_login(grant: Any) -> Any:
    """To the login page, the authorization request kept to resume after it."""
    client: Client = grant.client
    session[RESUME] = {
        "query": _query(),
        "at": time_now(),
        "redirect_uri": grant.redirect_uri,
        # Named on the login and code pages (« Connexion à … »): no second lookup.
        # A federation is named by its client's name (« Connexion à ProConnect »).
        "application": client.name if client.federation else _application_name(client.app),
    }
    if client.federation:
        # « Revenir à <federation> » on the login page: the partner may choose another
        # identity provider there (the address was checked against the client).
        session[RESUME]["back"] = {
            "name": client.name,
            "url": _refusal(
                grant, "access_denied", "The user went back to choose another provider."
            ),
        }
    return redirect(url_for("connexion.login"))


def _application_name(code: str) -> str | None:
    from apexdir.workflows.catalogue import application_name

    return application_name(rt(), code)


def pending_application() -> str | None:
    """The name of the application whose login is under way (OpenID Connect), if any."""
    pending = session.get(RESUME)
    if not isinstance(pending, dict) or time_now() - float(pending.get("at", 0)) > RESUME_SECONDS:
        return None
    name = pending.get("application")
    return str(name) if name else None


def resume_url() -> str | None:
    """Where `connexion.code` sends the user after the code: back to the pending
    authorization request, if one is pending (the address is the provider's own)."""
    pending = session.get(RESUME)
    if not isinstance(pending, dict) or time_now() - float(pending.get("at", 0)) > RESUME_SECONDS:
        session.pop(RESUME, None)
        return None
    return url_for("oidc.authorize") + "?" + str(pending.get("query", ""))


# ------------------------------------------------------------------ token and userinfo
@bp.post("/oidc/token")
def token() -> Any:
    try:
        response = _server().create_token_response()
    except Unavailable:
        return _unavailable_json()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.route("/oidc/userinfo", methods=["GET", "POST"])
def userinfo() -> Any:
    """The claims of a valid access token's account; never cached (they are personal
    data), and a missing or invalid token is told the RFC 6750 way (§3: 401 with the
    challenge), whatever Authlib's own error answer would hold."""
    protector = current_app.extensions["oidc"][1]
    try:
        protector.acquire_token(["openid"])
        response = _userinfo()
    except OAuth2Error as error:
        response = _invalid_token(str(error.description or "The access token is not valid."))
    except Unavailable:
        response = _unavailable_json()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _invalid_token(description: str) -> Response:
    response = jsonify(error="invalid_token", error_description=description)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="APEX Partenaires", error="invalid_token"'
    return response


def _userinfo() -> Response:
    r = rt()
    # The token was verified without a lookup (a signed JWT); the account it names is
    # read, so that a suspended, deleted or logged-out account's token answers 401.
    client = store.cached_client(r, current_token.client_id)
    found = store.token_subject(r, current_token.data, client.app) if client else None
    if client is None or found is None:
        return _invalid_token("The account cannot log in.")
    values = oidc_provider.user_claims(found, current_token.get_scope())
    if not client.federation:
        return jsonify(values)
    signed = oidc_provider.signed_userinfo(r, client, issuer(), values)
    return Response(signed, mimetype="application/jwt")


# ------------------------------------------------------------------ wiring
def _form_action(response: Response) -> Response:
    """The login forms' submission ends at the application's redirect address (through
    redirects): browsers check that against the form page's `form-action`, so while an
    authorization is pending its redirect address (already checked against the client)
    is allowed there."""
    pending = session.get(RESUME)
    if (
        request.endpoint in ("connexion.login", "connexion.code")
        and isinstance(pending, dict)
        and pending.get("redirect_uri")
    ):
        parts = urlsplit(str(pending["redirect_uri"]))
        origin = f"{parts.scheme}://{parts.netloc}"
        response.headers["Content-Security-Policy"] = CSP.replace(
            "form-action 'self'", f"form-action 'self' {origin}"
        )
    return response


def register(app: Flask) -> None:
    """The blueprint, Authlib's server and the CSRF exemptions of the protocol endpoints
    (a relying party's requests carry no form token of ours: the POST form of an
    authorization request, the back channel, the logout)."""
    from apexdir.portal.views import oidc_exits  # its views join `bp` as it loads

    app.extensions["oidc"] = oidc_provider.build(app, lambda: state().runtime(), _issuer_of(app))
    app.register_blueprint(bp)
    csrf = app.extensions["csrf"]
    for view in (authorize, token, userinfo, oidc_exits.logout):
        csrf.exempt(view)
    app.after_request(_form_action)
    app.context_processor(oidc_exits.way_back)


def _issuer_of(app: Flask) -> str:
    return str(app.extensions["apexdir"].settings.portal.base_url).rstrip("/")
