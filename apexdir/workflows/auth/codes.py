"""The login's second step: the 6-digit code mailed after the password, and its caps.

A code is single use, valid `login_code_minutes`, judged at most `login_code_attempts`
times (a try spent before it is judged: `apexdir.directory.onetime`). Whoever holds the
password could ask code after code: the codes issued per window and the wrong codes per
day are capped, per node, like the reset limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from apexdir import messages
from apexdir.directory import onetime as store
from apexdir.errors import AuthenticationFailed
from apexdir.models import Account, AccountStatus, AccountType
from apexdir.rules import onetime
from apexdir.rules.wording import format_last_login, plural
from apexdir.runtime import Runtime
from apexdir.state import ratelimit
from apexdir.workflows.auth.anonymous import account_named, spend_try
from apexdir.workflows.notify import queue_mail

CODE_SENT = "Un code de vérification vous a été envoyé par mail ; il est valable {minutes} minutes."
CODE_NONE = messages.text("login.code_none")
CODE_EXPIRED = messages.text("login.code_expired")


def issue(rt: Runtime, account: Account, previous: str) -> None:
    """A new 6-digit code on the entry, mailed; replacing the value voids any older one.
    `previous` is the last login before this one (kept in the record for `verify`)."""
    policy = rt.settings.policy
    code = onetime.new_code()
    record = onetime.issue(
        "login",
        code,
        key=rt.settings.ldap.secrets_key(),
        now=rt.clock(),
        validity=timedelta(minutes=policy.login_code_minutes),
        tries=policy.login_code_attempts,
        extra=previous,
    )
    store.store(rt.directory, account.dn, store.LOGIN_CODE, record)
    # The newest code only, and only while it is valid (issue 23).
    queue_mail(rt, "code", [account.mail], code=code, topic=f"login:{account.identifier}",
               valid_until=rt.clock() + timedelta(minutes=policy.login_code_minutes))  # fmt: skip


@dataclass(frozen=True)
class Verified:
    """A login completed by its mailed code: who, of which type, and the login before this
    one (`last_login_text`: how the pages say it)."""

    identifier: str
    type: AccountType
    last_login: datetime | None
    last_login_text: str


def resend_code(rt: Runtime, identifier: str) -> str:
    """« Renvoyer le code »: a new code for a login whose password was accepted (the
    portal's pending session vouches for it), under the same caps as a login. What the
    person is told."""
    account = account_named(rt, identifier)
    if account is None or account.status != AccountStatus.ACTIVE:
        raise AuthenticationFailed(code="login.code_none", reason="no_code")
    current = onetime.parse(store.read(rt.directory, account.dn, store.LOGIN_CODE))
    previous = current.extra if current is not None and current.kind == "login" else "-"
    check_caps(rt, account)
    issue(rt, account, previous)
    rt.journal.record("auth.code-resent", account.identifier, actor=account.identifier,
                      operator=rt.operator)  # fmt: skip
    return CODE_SENT.format(minutes=rt.settings.policy.login_code_minutes)


def verify(rt: Runtime, identifier: str, code: str) -> Verified:
    """Redeem the mailed code: the account's type and its previous login."""
    account, record = spend_try(
        rt, identifier, store.LOGIN_CODE, ("login",), "login.code_none", "no_code"
    )
    verdict = onetime.check(
        record, onetime.normalize_code(code), rt.clock(), key=rt.settings.ldap.secrets_key()
    )
    if verdict is onetime.Verdict.EXPIRED:
        store.consume(rt.directory, account.dn, store.LOGIN_CODE, record)
        raise AuthenticationFailed(code="login.code_expired", reason="expired")
    if verdict is onetime.Verdict.WRONG:
        raise _wrong(rt, account, record)
    if verdict is not onetime.Verdict.OK or not store.consume(
        rt.directory, account.dn, store.LOGIN_CODE, record
    ):
        raise AuthenticationFailed(code="login.code_none", reason="no_code")
    # A redeemed code is no longer one that someone may be misusing: only codes left
    # unredeemed count towards the pause (a fourth login in a quarter hour is ordinary).
    ratelimit.forgive(rt.db, _codes_issued(rt, account).key)
    rt.journal.record("auth.verified", account.identifier, actor=account.identifier,
                      operator=rt.operator)  # fmt: skip
    last = record.extra_time
    return Verified(account.identifier, account.type, last, format_last_login(last))


def _wrong(rt: Runtime, account: Account, record: onetime.Record) -> AuthenticationFailed:
    """What a wrong code is told: the tries left, or the pause after too many today."""
    if not ratelimit.allow(rt.db, [_wrong_codes(rt, account)], rt.clock()):
        # Too many wrong codes today: the pending code goes too, and logins pause.
        store.consume(rt.directory, account.dn, store.LOGIN_CODE, record)
        _notify_capped(rt, account, "wrong")
        return AuthenticationFailed(code="login.codes_paused", reason="codes_capped")
    left = record.tries - 1
    rt.journal.record("auth.code-refused", account.identifier, actor=account.identifier,
                      operator=rt.operator, details={"tries_left": left})  # fmt: skip
    if left <= 0:
        attempts = rt.settings.policy.login_code_attempts
        return AuthenticationFailed(
            code="login.code_exhausted",
            params={"essais": plural(attempts, "essai")},
            field="code",
            reason="exhausted",
        )
    return AuthenticationFailed(
        code="login.code_wrong",
        params={"essais": plural(left, "essai")},
        field="code",
        reason="wrong",
    )


def _codes_issued(rt: Runtime, account: Account) -> ratelimit.Limit:
    policy = rt.settings.policy
    return ratelimit.Limit(f"login-code:issued:{account.identifier}",
                           policy.login_codes_per_window,
                           timedelta(minutes=policy.login_code_window_minutes))  # fmt: skip


def _wrong_codes(rt: Runtime, account: Account) -> ratelimit.Limit:
    policy = rt.settings.policy
    return ratelimit.Limit(f"login-code:wrong:{account.identifier}",
                           policy.login_code_wrong_per_day, timedelta(days=1))  # fmt: skip


def check_caps(rt: Runtime, account: Account) -> None:
    """Five tries per code, but whoever holds the password could ask code after code: cap
    the codes issued per window and the wrong codes per day (counted per node, like the
    reset limits). Only someone who typed the right password reaches this answer."""
    now = rt.clock()
    if ratelimit.reached(rt.db, _wrong_codes(rt, account), now):
        _notify_capped(rt, account, "wrong")
        raise AuthenticationFailed(code="login.codes_paused", reason="codes_capped")
    if not ratelimit.allow(rt.db, [_codes_issued(rt, account)], now):
        _notify_capped(rt, account, "issued")
        raise AuthenticationFailed(code="login.codes_paused", reason="codes_capped")


def _notify_capped(rt: Runtime, account: Account, cap: str) -> None:
    """The owner learns it once a day; the journal every time."""
    rt.journal.record("auth.codes-capped", account.identifier, actor=None,
                      operator=rt.operator, details={"cap": cap})  # fmt: skip
    once = ratelimit.Limit(f"login-code:told:{account.identifier}", 1, timedelta(days=1))
    if ratelimit.allow(rt.db, [once], rt.clock()):
        queue_mail(rt, "login_codes_capped", [account.mail], identifiant=account.identifier)
