"""The ways out of the provider: back to a federation from its login page (« Revenir à
ProConnect »), and the RP-initiated logout. Their views join the provider's blueprint
(`oidc.…` endpoints), which `oidc.register` wires."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import redirect, render_template, request, session, url_for

from apexdir.oidc import keys, store
from apexdir.portal.context import rt
from apexdir.portal.security import end_sessions
from apexdir.portal.views.oidc import RESUME, RESUME_SECONDS, _page, bp, issuer, time_now

BAD_LOGOUT = (
    "Adresse de retour inconnue",
    "L'adresse de retour demandée par l'application n'est pas enregistrée. Vous avez été "
    "déconnecté de Mon espace APEX Partenaires.",
)


# ------------------------------------------------------------------ back to a federation
def _pending_back() -> dict[str, Any] | None:
    pending = session.get(RESUME)
    if not isinstance(pending, dict) or time_now() - float(pending.get("at", 0)) > RESUME_SECONDS:
        return None
    found = pending.get("back")
    return found if isinstance(found, dict) and found.get("url") else None


@bp.get("/oidc/retour")
def back() -> Any:
    """« Revenir à <federation> »: the pending login is dropped and the browser goes back
    to the federation's redirect address with `access_denied` and its `state`, where the
    partner may choose another identity provider."""
    found = _pending_back()
    session.pop(RESUME, None)
    if found is None:
        return redirect(url_for("connexion.login"))
    return redirect(str(found["url"]))


def way_back() -> dict[str, Any]:
    """Template context: `oidc_back` (its `name` and `url`) while a federation's login is
    pending, for the login page's « Revenir à … » link."""
    found = _pending_back()
    if found is None:
        return {"oidc_back": None}
    return {"oidc_back": {"name": str(found.get("name") or ""), "url": url_for("oidc.back")}}


# ------------------------------------------------------------------ logout
@bp.route("/oidc/logout", methods=["GET", "POST"])
def logout() -> Any:
    """RP-initiated logout 1.0: the portal session ends, and with it every session of the
    account on every node (`end_sessions` replaces its generation in the directory); the
    browser goes back, with the `state`, to a post_logout_redirect_uri registered for the
    client (named by client_id or by the id_token_hint's audience), never elsewhere."""
    values = request.values
    target = values.get("post_logout_redirect_uri")
    client_id = values.get("client_id") or _hint_audience(values.get("id_token_hint"))
    end_sessions()
    if not target:
        return render_template("oidc/deconnexion.html")
    client = store.get_client(rt(), client_id) if client_id else None
    if client is None or target not in client.post_logout_uris:
        return _page(BAD_LOGOUT, 400)
    if values.get("state"):
        sep = "&" if urlsplit(target).query else "?"
        target += sep + urlencode({"state": values["state"]})
    return redirect(target)


def _hint_audience(hint: str | None) -> str | None:
    """The client an ID token we signed was for, with either family of keys (its expiry
    does not matter here)."""
    if not hint or len(hint) > 8192:
        return None
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    try:
        keyset = KeySet.import_key_set(keys.public_jwks(rt()))
        decoded = jwt.decode(hint, keyset, algorithms=list(keys.ALGORITHMS))
    except (JoseError, ValueError):
        return None
    if decoded.claims.get("iss") != issuer():
        return None
    aud = decoded.claims.get("aud")
    aud = aud[0] if isinstance(aud, list) and len(aud) == 1 else aud
    return aud if isinstance(aud, str) else None
