"""The partner changes his own password: bound as himself, with the current one.

Every password change (this one, and a reset) ends the account's sessions everywhere and
tells the owner by mail, who may not be the one who changed it (SPEC §7).
"""

from __future__ import annotations

from apexdir.directory import ppolicy
from apexdir.errors import AuthenticationFailed
from apexdir.models import Account
from apexdir.rules.wording import locked_message, paris_date_time
from apexdir.runtime import Runtime
from apexdir.workflows import sessions
from apexdir.workflows.actors import history_of
from apexdir.workflows.auth.anonymous import decoy_bind, find
from apexdir.workflows.notify import queue_mail
from apexdir.workflows.password_policy import enforce_policy

CHANGE_DONE = "Votre mot de passe a été modifié."


def change(rt: Runtime, identifier: str, current: str, new: str, confirmation: str) -> Account:
    """The partner changes his own password: bound as himself, with the current one; the
    account (the edges say `CHANGE_DONE`)."""
    enforce_policy(rt, new, confirmation)
    account = find(rt, identifier)
    if account is None:
        decoy_bind(rt, current)
        raise AuthenticationFailed(code="login.invalid", reason="invalid")
    try:
        refusal = ppolicy.change_password(
            rt.settings.ldap,
            as_dn=account.dn,
            as_password=current,
            target_dn=account.dn,
            new_password=new,
            old_password=current,
        )
    except AuthenticationFailed as exc:
        raise _refused(rt, account, exc) from None
    if refusal is not None:
        ppolicy.raise_for_refusal(refusal, rt.settings.policy.password_history)
    sessions.end_all(rt, account)  # the portal renews the session that made the change
    notify_change(rt, account)
    rt.journal.record("auth.password-change", account.identifier, actor=account.identifier,
                      operator=rt.operator, **history_of(account))  # fmt: skip
    return account


def _refused(rt: Runtime, account: Account, exc: AuthenticationFailed) -> AuthenticationFailed:
    """slapd refused the bind with the current password: what the partner is told."""
    if exc.reason == "locked":
        minutes = rt.settings.policy.lockout_minutes
        return AuthenticationFailed(
            locked_message(account.locked_at, rt.clock(), minutes), reason="locked"
        )
    if exc.reason == "expired":
        return AuthenticationFailed(code="login.expired", reason="expired")
    return AuthenticationFailed(code="login.invalid", reason=exc.reason)


def notify_change(rt: Runtime, account: Account) -> None:
    """The personal-data confirmation (SPEC §7): tells the owner, who may not be the one who
    changed it."""
    queue_mail(
        rt,
        "personal_data",
        [account.mail],
        **paris_date_time(rt.clock()),
        identifiant=account.identifier,
    )
