"""The login's first step: the password, checked by slapd (a bind), then a mailed code.

What ppolicy decided (expired, locked, grace logins, expiring soon) reaches the user in
French. A locked, suspended or closed account answers as a wrong password does, so that
five tries tell nobody which identifiers exist; the owner of a locked account learns it by
mail, once per lock.
"""

from __future__ import annotations

from typing import Any

from apexdir.clock import to_generalized_time
from apexdir.directory import notices, ppolicy
from apexdir.errors import AuthenticationFailed
from apexdir.models import Account, AccountStatus
from apexdir.rules.identifiers import clean_identifier
from apexdir.rules.wording import days_left, expiry_warning, grace_warning, wait_text
from apexdir.runtime import Runtime
from apexdir.workflows import guard, structure_life
from apexdir.workflows.actors import history_of
from apexdir.workflows.auth import codes
from apexdir.workflows.auth.anonymous import decoy_bind, find
from apexdir.workflows.notify import queue_mail


def login(
    rt: Runtime, identifier: str, password: str, *, origin: guard.Origin | None = None
) -> dict[str, Any]:
    """Check the password with slapd, then mail a 6-digit code (valid, single use).

    `origin` (the portal's client address and proven device) puts the attempt under the
    login guard: a series of failures waits before it is judged, before any directory
    request, whatever the identifier (`apexdir.workflows.guard`). The CLI, run by an
    operator, passes none."""
    key = clean_identifier(identifier) or "-invalid-"
    if origin is not None:
        left = guard.wait_before(rt, origin, key)
        if left:
            raise AuthenticationFailed(
                code="login.throttled", params={"wait": wait_text(left)}, reason="throttled"
            )
    try:
        outcome = _login(rt, identifier, password)
    except AuthenticationFailed as exc:
        if origin is not None and exc.reason in ("invalid", "locked"):
            guard.failed(rt, origin, key)
        raise
    if origin is not None:
        guard.succeeded(rt, origin, key)
    return outcome


def _login(rt: Runtime, identifier: str, password: str) -> dict[str, Any]:
    account = find(rt, identifier)
    if account is None:
        # Not journaled: a known account's refusal is one local row (≈ 0.1 ms, within the
        # noise), and junk typed by anyone is not worth keeping.
        decoy_bind(rt, password)
        raise AuthenticationFailed(code="login.invalid", reason="invalid")
    if account.status == AccountStatus.STRUCTURE_CLOSED:
        _refuse_closed(rt, account, password)
    # lastbind moves authTimestamp at this very bind: keep the previous one for `verify`.
    previous = account.last_login
    outcome = ppolicy.authenticate(rt.settings.ldap, account.dn, password)
    if not outcome.ok:
        _refuse(rt, account, password, outcome)
    if outcome.reason == "change_after_reset":
        raise AuthenticationFailed(code="login.restricted", reason="change_after_reset")
    if account.status != AccountStatus.ACTIVE:
        # Only with the right password (slapd's lock missing: a restore, a hand edit).
        suspended = account.status == AccountStatus.SUSPENDED
        code = "login.suspended" if suspended else "login.inactive"
        raise AuthenticationFailed(code=code, reason="inactive")

    codes.check_caps(rt, account)
    codes.issue(rt, account, to_generalized_time(previous) if previous else "-")
    rt.journal.record(
        "auth.login",
        account.identifier,
        actor=account.identifier,
        operator=rt.operator,
        details={"reason": outcome.reason},
    )
    return _accepted(rt, account, outcome)


def _refuse(rt: Runtime, account: Account, password: str, outcome: ppolicy.BindOutcome) -> None:
    """slapd refused the bind: journal it and raise what the person is told."""
    if outcome.reason == "locked":
        # slapd refuses a locked account before it checks the password: without the hash
        # it answers ≈ 5× faster than an unknown identifier's decoy bind (a timing oracle,
        # issue 18). The decoy's bind spends what the check would have.
        decoy_bind(rt, password)
    # A suspended account is locked in slapd for good (ppolicy's administrative lock): slapd
    # refuses it before the password, so the answer is a wrong password's — whoever types
    # it learns no more than of an unknown identifier — and no lockout mail goes out.
    suspended = outcome.reason == "locked" and account.status != AccountStatus.ACTIVE
    _journal_refusal(rt, account, "suspended" if suspended else outcome.reason)
    if suspended:
        raise AuthenticationFailed(code="login.invalid", reason="invalid")
    if outcome.reason == "locked":
        # Told to the owner only, by mail: the anonymous answer is a wrong password's, or
        # five tries would tell anyone which identifiers exist.
        _notify_lock(rt, account)
        raise AuthenticationFailed(code="login.invalid", reason="locked")
    if outcome.reason == "expired":
        raise AuthenticationFailed(code="login.expired", reason="expired")
    raise AuthenticationFailed(code="login.invalid", reason="invalid")


def _journal_refusal(rt: Runtime, account: Account, reason: str) -> None:
    rt.journal.record("auth.login-refused", account.identifier, actor=account.identifier,
                      operator=rt.operator, details={"reason": reason})  # fmt: skip


def _accepted(rt: Runtime, account: Account, outcome: ppolicy.BindOutcome) -> dict[str, Any]:
    """The answer to an accepted password: the code is on its way, ppolicy's warnings."""
    warnings: list[str] = []
    if outcome.reason == "grace" and outcome.grace_remaining is not None:
        warnings.append(grace_warning(outcome.grace_remaining))
    if outcome.seconds_before_expiration is not None:
        warnings.append(expiry_warning(outcome.seconds_before_expiration))
    return {
        "identifier": account.identifier,
        "message": codes.CODE_SENT.format(minutes=rt.settings.policy.login_code_minutes),
        "warnings": warnings,
        "password_expires_in_days": (
            days_left(outcome.seconds_before_expiration)
            if outcome.seconds_before_expiration is not None
            else None
        ),
        "grace_logins_left": outcome.grace_remaining,
    }


def _refuse_closed(rt: Runtime, account: Account, password: str) -> None:
    """An account of a closed structure: slapd's administrative lock refuses it before the
    password, so the hash is checked here, at a bind's cost. The right password is told why
    (SPEC §10); a wrong one gets the answer of an unknown identifier."""
    right = structure_life.password_matches(rt, account, password)
    _journal_refusal(rt, account, AccountStatus.STRUCTURE_CLOSED)
    if right:
        raise AuthenticationFailed(code="login.structure_closed", reason="structure_closed")
    raise AuthenticationFailed(code="login.invalid", reason="invalid")


def confirm_password(rt: Runtime, identifier: str, password: str) -> None:
    """A logged-in partner proves he still knows his password before changing where codes
    are sent (issue 18 item 1): slapd checks it, as at login."""
    if not password:
        raise AuthenticationFailed(code="reauth.missing", reason="missing")
    account = find(rt, identifier)
    if account is None or not ppolicy.authenticate(rt.settings.ldap, account.dn, password).ok:
        raise AuthenticationFailed(code="reauth.refused", reason="invalid")


def _notify_lock(rt: Runtime, account: Account) -> None:
    """Mail the owner of a locked account, once per lock: the lock's time is marked on the
    entry first (a value added succeeds once, even for logins racing on several nodes)."""
    state = notices.lock_state(rt.directory, account.dn)
    notice = f"locked:{state.locked_at or '-'}"
    old = [n for n in state.notices if n.startswith("locked:")]
    if notice in old:
        return
    if not notices.replacing(account.dn, old, notice).apply(rt.directory):
        return  # another login marked it first: that one mails
    policy = rt.settings.policy
    queue_mail(rt, "account_locked", [account.mail], identifiant=account.identifier,
               minutes=policy.lockout_minutes)  # fmt: skip
    rt.journal.record("auth.locked", account.identifier, actor=None, operator=rt.operator,
                      **history_of(account))  # fmt: skip
