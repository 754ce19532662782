"""What an application learns of an account (PORTAL.md): never a phone number."""

from __future__ import annotations

from typing import Any

from apexdir.models import Account


def profiles_for(account: Account, app: str) -> list[str]:
    """The profile names the account holds for `app` only (habilitations are "APP/PROFILE")."""
    prefix = f"{app.upper()}/"
    return sorted(h[len(prefix) :] for h in account.habilitations if h.upper().startswith(prefix))


def claims(account: Account, sub: str, app: str, scope: str) -> dict[str, Any]:
    """Standard claims by scope (`profile`, `email`); APEX's own claims with `openid` alone,
    since an application needs the type, the structure and the profiles to let anyone in."""
    scopes = set(scope.split())
    out: dict[str, Any] = {
        "sub": sub,
        "apex_type": account.type,
        "apex_siret": account.siret,
        "apex_profiles": profiles_for(account, app),
    }
    if "profile" in scopes:
        out.update(
            preferred_username=account.identifier,
            name=f"{account.first_name} {account.last_name}".strip(),
            given_name=account.first_name,
            family_name=account.last_name,
        )
    if "email" in scopes:
        out["email"] = account.mail
    return out
