"""What an identity federation (ProConnect) learns of a partner, and the level it is told.

ProConnect asks its identity providers for scopes named after the claims they release
(docs/proconnect.md). Each scope releases its claim when the directory holds it, and
nothing else: no application profile, no account type, never the mobile (`phone` is
accepted and never answered: a partner's mobile is shown to nobody but him and the agents).
Pure functions: the caller reads the account (and its service's name) first.
"""

from __future__ import annotations

import json
from typing import Any

from apexdir.models import Account
from apexdir.oidc.models import ACR

# eIDAS « faible »: the only level ProConnect accepts from its identity providers, and the
# one a password plus a mailed code reaches.
EIDAS1 = "eidas1"
# The claims released, by the scope that releases each (the ones not named here — phone,
# belonging_population, chorusdt — release nothing).
RELEASED = ("given_name", "usual_name", "email", "uid", "siret", "siren", "organizational_unit")


def claims(account: Account, sub: str, scope: str) -> dict[str, Any]:
    """The claims of `scope`. `uid` is the entryUUID, like `sub`: stable for the account's
    whole life, ASCII, and unlike the identifier it neither changes with a rename nor
    hands half of the partner's credentials (and his name) to every service behind the
    federation."""
    scopes = set(scope.split())
    values: dict[str, str | None] = {
        "given_name": account.first_name,
        "usual_name": account.last_name,
        "email": account.mail,
        "uid": sub,
        "siret": account.siret,
        "siren": account.siret[:9] if len(account.siret) == 14 else None,
        "organizational_unit": account.service,
    }
    out: dict[str, Any] = {"sub": sub}
    out.update({name: values[name] for name in RELEASED if name in scopes and values[name]})
    return out


def _asked_in_claims(raw: str | None) -> set[str]:
    """The acr values the `claims` request parameter (OpenID Connect Core §5.5.1.1) asks
    for the ID token; a parameter that is not that JSON asks for nothing."""
    if not raw:
        return set()
    try:
        parsed = json.loads(raw)
        acr = parsed["id_token"]["acr"]
    except (ValueError, TypeError, KeyError):
        return set()
    if not isinstance(acr, dict):
        return set()
    asked = set()
    if isinstance(acr.get("value"), str):
        asked.add(acr["value"])
    if isinstance(acr.get("values"), list):
        asked.update(v for v in acr["values"] if isinstance(v, str))
    return asked


def acr_for(data: dict[str, Any], federation: bool) -> str:
    """The ID token's `acr`: `eidas1` when the request asks for it (`acr_values` or
    `claims`) or comes from a federation (ProConnect refuses any other value, and asks no
    other); otherwise the multi-factor profile applications have always been told."""
    asked = set(str(data.get("acr_values") or "").split()) | _asked_in_claims(data.get("claims"))
    return EIDAS1 if federation or EIDAS1 in asked else ACR
