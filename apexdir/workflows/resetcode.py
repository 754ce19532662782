"""The forgotten password's code step (« Valider le code de sécurité saisi », guide ch. 5).

A wrong code says how many tries are left and keeps the person on the code page: the right
code still works until its tries or its validity run out (issue 19 item 7). Each answer is
distinct — « Code incorrect : il vous reste N essais », « vous n'avez plus d'essai »,
« Code expiré » — and none may tell whether the identifier exists: the code page is
reached by every identifier typed, and an account without a mobile has no code either
(its link was mailed). So an identifier without a pending SMS code gets the same series a
known account gets for wrong codes, counted in the state store under the typed identifier
since its last request (`requested`): N tries counted down, then « plus d'essai », then the
refusal of a code that no longer exists; past the code's validity, « Code expiré » once.
The directory work is already the same either way (`auth.anonymous.spend_try` and the decoy).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apexdir.directory import onetime as store
from apexdir.errors import AuthenticationFailed
from apexdir.rules import onetime
from apexdir.rules.identifiers import clean_identifier
from apexdir.rules.wording import plural
from apexdir.runtime import Runtime
from apexdir.state import ratelimit
from apexdir.workflows import tokens
from apexdir.workflows.auth.anonymous import spend_try

# Longer than any code's validity, within the rate limits' retention (events older are gone).
SERIES = timedelta(hours=12)


def _keys(key: str) -> tuple[str, str]:
    return f"reset-code:asked:{key}", f"reset-code:tries:{key}"


def requested(rt: Runtime, key: str, now: datetime) -> None:
    """A forgotten-password request for the typed identifier `key` (known or not): a new
    series of tries starts, as a new SMS code starts with all its tries."""
    asked, tries = _keys(key)
    ratelimit.clear(rt.db, tries)
    ratelimit.record(rt.db, [asked], now)


def wrong_code(left: int) -> AuthenticationFailed:
    """A wrong code with `left` tries still to go (none: the code is void)."""
    if left <= 0:
        return AuthenticationFailed(code="reset.code_exhausted", field="code", reason="exhausted")
    return AuthenticationFailed(
        code="reset.code_wrong",
        params={"essais": plural(left, "essai")},
        field="code",
        reason="wrong",
    )


def expired_code() -> AuthenticationFailed:
    return AuthenticationFailed(code="reset.code_expired", field="code", reason="expired")


def no_code() -> AuthenticationFailed:
    return AuthenticationFailed(code="reset.refused", field="code", reason="no_secret")


def _simulated(rt: Runtime, key: str, now: datetime) -> AuthenticationFailed:
    """What a known account with a pending code would be told after this wrong try, for an
    identifier that has none: the tries counted since its last request."""
    asked, tries = _keys(key)
    policy = rt.settings.policy
    last = ratelimit.usage(rt.db, asked, SERIES, now).last
    if last is None:
        return no_code()
    if now >= last + timedelta(minutes=policy.reset_validity_minutes):
        ratelimit.clear(rt.db, asked)  # a known account's expired code is removed once told
        return expired_code()
    used = ratelimit.usage(rt.db, tries, SERIES, now).count
    left = policy.login_code_attempts - used
    return wrong_code(left) if left >= 0 else no_code()


def redeem_sms_code(rt: Runtime, identifier: str, code: str) -> str:
    """Judge the SMS code (one try) and, when right, swap it for a single-use token of the
    same kind as a mailed link, which the next page's form carries to `auth.reset` with the
    new password. A refusal is an `AuthenticationFailed` whose `reason` is "wrong" (tries
    left: stay on the code page), "exhausted", "expired" or "no_secret" (a new request
    is needed), and whose `field` is "code"."""
    policy = rt.settings.policy
    now = rt.clock()
    key = clean_identifier(identifier) or "-invalid-"
    # Counted for every identifier, so that a known one costs the same state-store write.
    ratelimit.record(rt.db, [_keys(key)[1]], now)
    try:
        account, record = spend_try(
            rt, identifier, store.RESET_SECRET, ("sms",), "reset.refused", "no_secret"
        )
    except AuthenticationFailed:
        raise _simulated(rt, key, now) from None
    secrets_key = rt.settings.ldap.secrets_key()
    verdict = onetime.check(record, onetime.normalize_code(code), now, key=secrets_key)
    left = onetime.after_failure(record)
    if verdict is onetime.Verdict.OK:
        ident, secret = tokens.new_secret(6), tokens.new_secret()
        fresh = onetime.issue("mail", secret, key=secrets_key, now=now, ident=ident,
                              validity=timedelta(minutes=policy.reset_validity_minutes),
                              tries=policy.login_code_attempts)  # fmt: skip
        if store.swap(rt.directory, account.dn, store.RESET_SECRET,
                      left.format() if left else None, fresh.format()):  # fmt: skip
            return f"{ident}.{secret}"
    elif verdict is onetime.Verdict.EXPIRED:
        store.consume(rt.directory, account.dn, store.RESET_SECRET, record)
        ratelimit.clear(rt.db, _keys(key)[0])  # told once, as `_simulated` does
    rt.journal.record("auth.reset-refused", account.identifier, actor=None,
                      operator=rt.operator, details={"verdict": verdict.value})  # fmt: skip
    if verdict is onetime.Verdict.WRONG:
        raise wrong_code(left.tries if left else 0)
    if verdict is onetime.Verdict.EXPIRED:
        raise expired_code()
    raise no_code()
