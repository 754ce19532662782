"""The provider's state in the directory, so that any node answers any step.

- a client is `apexOidcClientId=<CODE>,apexAppCode=<CODE>,ou=applications,…` (its secret
  only as a SHA-256); a federation's client (ProConnect) is `apexOidcClientId=<id>` under
  `ou=federation,ou=oidc,ou=system`, its apexAppCode the reserved `@federation`, its name
  in `description`; its id is lower case and an application's code upper case, so the id
  alone says where to look;
- a code is `cn=<SHA-256 of its value>` under `ou=codes` of `ou=oidc,ou=system`: the value
  itself is never stored;
- a code is spent by a compare-and-swap of its state (fresh → used): slapd applies it once,
  so two nodes redeeming one code concurrently issue one token; a used code is kept until
  the purge so that a replay revokes the token issued with it (RFC 6749 §4.1.2) — by ending
  the account's sessions, under which the token was issued;
- access tokens are stored nowhere: they are signed JWTs (`apexdir.oidc.tokens`); `ou=tokens`
  held them before, and the purge still empties it;
- the signing keys are `apexdir.oidc.keys`'s.

All of it is readable by apexdir's own account only (slapd.conf ACLs).
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from apexdir.directory.oidc_records import OidcRecords
from apexdir.models import Account
from apexdir.oidc.models import (
    FEDERATION_APP,
    AuthorizationCode,
    Client,
    Subject,
    digest,
    generation_digest,
)
from apexdir.runtime import Runtime

FEDERATION_ID = re.compile(r"^(?=.*[a-z])[a-z0-9][a-z0-9-]{0,63}$")
# A used code is kept this long after its expiry: a replay within it revokes the token.
REPLAY_WINDOW = timedelta(minutes=10)
# How long userinfo may use a client as read before (`cached_client`).
CLIENT_CACHE_SECONDS = 30.0
_CLIENTS: dict[tuple[str, ...], tuple[float, Client | None]] = {}


def _records(rt: Runtime) -> OidcRecords:
    return OidcRecords(rt.directory, rt.layout)


# ------------------------------------------------------------------ clients
def is_federation_id(client_id: str) -> bool:
    return bool(FEDERATION_ID.match(client_id))


def get_client(rt: Runtime, client_id: str) -> Client | None:
    """The client, or None for an id that names none (malformed ids included)."""
    if not client_id or len(client_id) > 64:
        return None
    dn = (
        rt.layout.federation_client_dn(client_id)
        if is_federation_id(client_id)
        else rt.layout.oidc_client_dn(client_id)
    )
    record = _records(rt).client(dn)
    return Client(**record) if record is not None else None


def cached_client(rt: Runtime, client_id: str) -> Client | None:
    """`get_client` as this process read it at most CLIENT_CACHE_SECONDS ago — for userinfo
    only, where the client is named by a token we signed: a client rotated or removed
    meanwhile lets its tokens do nothing their own 5 minutes did not already allow. The
    authorization and token endpoints read the client each time: a removed redirect
    address and a former secret stop working at once."""
    where = (rt.settings.ldap.base_dn, *rt.settings.ldap.uris, client_id)
    now = time.monotonic()
    found = _CLIENTS.get(where)
    if found is not None and now - found[0] < CLIENT_CACHE_SECONDS:
        return found[1]
    client = get_client(rt, client_id)
    if len(_CLIENTS) > 256:
        _CLIENTS.clear()
    _CLIENTS[where] = (now, client)
    return client


def federation_clients(rt: Runtime) -> list[Client]:
    found = (Client(**r) for r in _records(rt).federation_clients())
    return sorted(found, key=lambda c: c.client_id)


def put_federation_client(
    rt: Runtime,
    client_id: str,
    name: str,
    redirect_uris: list[str],
    post_logout_uris: list[str],
    signing_alg: str,
) -> tuple[Client, str, bool]:
    """Create or replace a federation's client; (client, secret shown once, rotated)."""
    secret = secrets.token_urlsafe(32)
    client = Client(
        client_id,
        FEDERATION_APP,
        redirect_uris,
        post_logout_uris,
        public=False,
        secret_hash=digest(secret),
        signing_alg=signing_alg,
        name=name,
    )
    values = {
        "name": name,
        "redirect_uris": redirect_uris,
        "post_logout_uris": post_logout_uris,
        "public": False,
        "secret_hash": client.secret_hash,
        "signing_alg": signing_alg,
    }
    ids = {"client_id": client_id, "app": FEDERATION_APP}
    rotated = _records(rt).put_client(rt.layout.federation_client_dn(client_id), ids, values)
    return client, secret, rotated


def clients(rt: Runtime) -> dict[str, Client]:
    """Every client, by application code."""
    return {c.app: c for c in (Client(**r) for r in _records(rt).clients())}


def put_client(
    rt: Runtime,
    app: str,
    redirect_uris: list[str],
    post_logout_uris: list[str],
    *,
    public: bool,
) -> tuple[Client, str | None, bool]:
    """Create or replace the client of `app`; (client, secret shown once, rotated)."""
    secret = None if public else secrets.token_urlsafe(32)
    client = Client(
        app, app, redirect_uris, post_logout_uris, public, digest(secret) if secret else None
    )
    values = {
        "redirect_uris": redirect_uris,
        "post_logout_uris": post_logout_uris,
        "public": public,
        "secret_hash": client.secret_hash,
    }
    ids = {"client_id": app, "app": app}
    rotated = _records(rt).put_client(rt.layout.oidc_client_dn(app), ids, values)
    return client, secret, rotated


# ------------------------------------------------------------------ codes and tokens
def save_code(rt: Runtime, code: str, data: dict[str, Any]) -> None:
    _records(rt).add_code(digest(code), data, data["expires_at"])


def get_code(rt: Runtime, code: str) -> AuthorizationCode | None:
    if not code or len(code) > 128:
        return None
    key = digest(code)
    found = _records(rt).code(key)
    return AuthorizationCode(key, *found) if found is not None else None


def spend_code(rt: Runtime, code: AuthorizationCode) -> bool:
    """Mark the code used; False when another request spent it first."""
    if not _records(rt).spend_code(code.digest):
        return False
    code.state = "used"
    return True


def revoke_issued(rt: Runtime, code: AuthorizationCode) -> bool:
    """A used code came back (RFC 6749 §4.1.2): its token is revoked by ending the
    account's sessions (a token is good only under the session generation it was issued
    under), as `workflows.sessions.end_all` does — if the account is still under the
    code's generation: a later login's sessions are left alone."""
    identifier, issued_under = code.data.get("identifier"), code.data.get("sgen")
    if not identifier or not issued_under:
        return False
    records = _records(rt)
    current = records.session_generation(str(identifier))
    if current is None or generation_digest(current) != issued_under:
        return False
    records.renew_sessions(str(identifier), secrets.token_hex(12))
    return True


def purge(rt: Runtime, now: datetime, limit: int = 1000) -> dict[str, int]:
    """Delete codes past their expiry and the replay window, and the tokens stored before
    access tokens were signed JWTs (`ou=tokens`, empty since)."""
    records = _records(rt)
    return {
        "oidc_codes_purged": records.purge_grants(
            rt.layout.oidc_codes_dn, now - REPLAY_WINDOW, limit
        ),
        "oidc_tokens_purged": records.purge_grants(rt.layout.oidc_tokens_dn, now, limit),
    }


# ------------------------------------------------------------------ accounts
def subject(rt: Runtime, identifier: str, app: str, auth_time: int) -> Subject | None:
    """The account if it may be handed to an application now (`_eligible`)."""
    return _eligible(rt, _records(rt).account(identifier), app, auth_time)


def _eligible(
    rt: Runtime, found: tuple[Account, str] | None, app: str, auth_time: int
) -> Subject | None:
    """The account if it may be handed to an application now: it exists (the same one: its
    entryUUID is the `sub`), is active, not locked, and its password has not expired.
    Whether it holds a profile of `app` is the caller's question (a different refusal);
    a federation's client (`app` is FEDERATION_APP) needs none, and is told the name of
    the account's service (`organizational_unit`)."""
    if found is None:
        return None
    account, uuid = found
    # Every client, application or federation, passes here: a suspended account (its
    # status, slapd's administrative lock) and a closed structure's accounts (status
    # `structure-closed`, the same lock) are refused.
    if account.status != "active" or account.locked_at or account.locked_by_administrator:
        return None
    max_age = rt.settings.policy.password_max_age_days
    changed = account.password_changed_at
    if max_age and changed is not None and rt.clock() >= changed + timedelta(days=max_age):
        return None
    if app == FEDERATION_APP and account.service_dn:
        account.service = _records(rt).service_name(account.service_dn)
    return Subject(account, uuid, app, auth_time)


def _same_generation(found: Subject | None, issued_under: object) -> Subject | None:
    """`found`, unless its sessions ended since a code or token was issued under
    `issued_under` (a generation's digest; codes made before it was recorded have none)."""
    if found is None or issued_under is None:
        return found
    current = generation_digest(found.account.session_generation)
    return found if current == issued_under else None


def still_subject(rt: Runtime, data: dict[str, Any], app: str) -> Subject | None:
    """The subject a code names, if still eligible, still the same account, and its
    sessions not ended since (logout, password change, suspension)."""
    found = subject(rt, str(data["identifier"]), app, int(data.get("auth_time") or 0))
    if found is None or found.sub != data["sub"]:
        return None
    return _same_generation(found, data.get("sgen"))


def token_subject(rt: Runtime, claims: dict[str, Any], app: str) -> Subject | None:
    """The subject of a verified access token (`tokens.verify`): the account whose
    entryUUID is its `sub` — a token names no identifier, which its scope may not release
    to the application — if still eligible and still under the token's generation."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 64:
        return None
    found = _records(rt).account_by_uuid(sub)
    subject = _eligible(rt, found, app, int(claims.get("auth_time") or 0))
    return _same_generation(subject, claims.get("apex_sgen") or "")
