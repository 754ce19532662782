"""Forgotten password (SPEC §7): a reset code by SMS, or a reset link by mail, then the reset.

The anonymous request is answered at once with the same text for every identifier; the
outbox job sends the code or the link (`process_reset_request`). The SMS code's own page
is `apexdir.workflows.resetcode`; a mailed link's public half seals the account's
entryUUID, so the portal finds the account from the link alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from apexdir import messages
from apexdir.directory import onetime as store
from apexdir.directory import ppolicy
from apexdir.errors import AuthenticationFailed, Conflict, Invalid
from apexdir.models import Account, AccountStatus
from apexdir.rules import onetime
from apexdir.rules.contact import mask_mobile
from apexdir.rules.identifiers import clean_identifier
from apexdir.rules.permissions import Actor, ActorType
from apexdir.runtime import Runtime
from apexdir.state import ratelimit, resetqueue
from apexdir.workflows import guard, sessions, tokens
from apexdir.workflows.actors import history_of
from apexdir.workflows.auth.anonymous import account_named, spend_try
from apexdir.workflows.auth.passwords import notify_change
from apexdir.workflows.notify import link, queue_mail, queue_sms, token_from
from apexdir.workflows.password_policy import enforce_policy

RESET_PATH = "reinitialisation"
FORGOT_ANSWER = (
    "Si cet identifiant correspond à un compte actif, un code de sécurité a été envoyé par SMS "
    "au numéro de mobile enregistré ou, à défaut, un lien de réinitialisation par mail. "
    "Le code ou le lien est valable {minutes} minutes."
)
RESET_REFUSED = messages.text("reset.refused")
RESET_DONE = "Le mot de passe a été réinitialisé."
RATE_LIMITED = "Trop de demandes de réinitialisation : réessayez plus tard."
SMS_TEXT = "APEX Partenaires : votre code de sécurité est {code} (valable {minutes} minutes)."


@dataclass(frozen=True)
class ResetAnswer:
    """What `forgot` answers: the same `message` for every identifier; for an agent helping
    by phone, the `channel` used ("sms" or "mail") and the `masked_mobile` it went to."""

    message: str
    channel: str | None = None
    masked_mobile: str | None = None


def forgot(
    rt: Runtime,
    identifier: str,
    *,
    captcha_ok: bool,
    actor: Actor | None = None,
    origin: guard.Origin | None = None,
) -> ResetAnswer:
    """Send a reset code by SMS (mobile known) or a reset link by mail (SPEC §7).

    `captcha_ok` is the verdict of the front end's captcha: nothing happens without it.
    The answer is the same for every identifier, and so is the work: an anonymous request
    is one row in the state store (`resetqueue`), which the outbox job turns into the SMS
    or the mail (`process_reset_request`), so the answer's time tells nothing either. An
    agent (`actor`) helping by phone is answered at once with the channel and the masked
    number.
    """
    if not captcha_ok:
        raise Invalid(code="captcha.refused", field="captcha")
    policy = rt.settings.policy
    now = rt.clock()
    # Anything that cannot be an identifier shares one key: it never reaches an account, and
    # endless junk variants must not each get a fresh budget.
    key = clean_identifier(identifier) or "-invalid-"
    # Counted per typed identifier, known or not, so that the limit itself reveals nothing;
    # from the portal, per address or known browser too (`guard.reset_limits`).
    limits = [
        *guard.reset_limits(rt, origin, key),
        ratelimit.Limit("reset:all", policy.reset_rate_global_per_minute, timedelta(minutes=1)),
    ]
    if not ratelimit.allow(rt.db, limits, now):
        raise Conflict(RATE_LIMITED)
    minutes = policy.reset_validity_minutes
    message = FORGOT_ANSWER.format(minutes=minutes)
    if actor is None or actor.type != ActorType.AGENT:
        from apexdir.workflows.resetcode import requested

        requested(rt, key, now)  # a new series of tries, whatever the identifier
        resetqueue.enqueue(rt.db, key, now)
        return ResetAnswer(message)
    channel, account = _send_reset(rt, identifier, now)
    if account is None:
        return ResetAnswer(message)
    masked = mask_mobile(account.mobile) if account.mobile else None
    return ResetAnswer(message, channel, masked)


def process_reset_request(
    rt: Runtime, identifier: str, requested_at: datetime | None = None
) -> str | None:
    """The outbox job's half of an anonymous `forgot`: the channel used, None when the
    identifier names no active account (nothing is sent, nothing told). The code or link
    is valid from the request, not from the job's pass."""
    channel, _ = _send_reset(rt, identifier, requested_at or rt.clock())
    return channel


def _send_reset(rt: Runtime, identifier: str, now: datetime) -> tuple[str | None, Account | None]:
    """Store a reset code (mobile known) or link record on the account and queue the SMS
    or the mail; (None, None) for an identifier that names no active account."""
    account = account_named(rt, identifier)
    if account is None or account.status != AccountStatus.ACTIVE:
        return None, None
    channel = _send_code(rt, account, now) if account.mobile else _send_link(rt, account, now)
    rt.journal.record(
        "auth.reset-requested",
        account.identifier,
        actor=None,
        operator=rt.operator,
        details={"channel": channel},
    )
    return channel, account


def _send_code(rt: Runtime, account: Account, now: datetime) -> str:
    """A reset code on the entry, sent by SMS to the account's mobile."""
    assert account.mobile is not None
    policy = rt.settings.policy
    validity = timedelta(minutes=policy.reset_validity_minutes)
    code = onetime.new_code()
    record = onetime.issue(
        "sms", code, key=rt.settings.ldap.secrets_key(), now=now, validity=validity,
        tries=policy.login_code_attempts,
    )  # fmt: skip
    store.store(rt.directory, account.dn, store.RESET_SECRET, record)
    queue_sms(
        rt, account.mobile, SMS_TEXT.format(code=code, minutes=policy.reset_validity_minutes),
        topic=f"reset:{account.identifier}", valid_until=now + validity,
    )  # fmt: skip
    return "sms"


def _send_link(rt: Runtime, account: Account, now: datetime) -> str:
    """A reset link's record on the entry, the link mailed.

    The link's public half is the account's entryUUID sealed under the secrets key (a new
    handle for every link): the portal finds the account from the link alone, the
    identifier never appears in a URL (proxies log them), and the handle is not the OIDC
    `sub` that every relying party knows (issue 18 item 7)."""
    policy = rt.settings.policy
    validity = timedelta(minutes=policy.reset_validity_minutes)
    ident, secret = _link_handle(rt, account.dn), tokens.new_secret()
    record = onetime.issue(
        "mail",
        secret,
        key=rt.settings.ldap.secrets_key(),
        now=now,
        validity=validity,
        tries=policy.login_code_attempts,
        ident=ident,
    )
    store.store(rt.directory, account.dn, store.RESET_SECRET, record)
    queue_mail(rt, "reset", [account.mail], lien=link(rt, RESET_PATH, f"{ident}.{secret}"),
               topic=f"reset:{account.identifier}", valid_until=now + validity)  # fmt: skip
    return "mail"


def _link_handle(rt: Runtime, dn: str) -> str:
    raw = store.entry_uuid(rt.directory, dn)
    if raw is None:
        return tokens.new_secret(16)  # names no account: the link cannot be used
    return tokens.seal(rt.settings.ldap.secrets_key(), raw)


def _by_link(rt: Runtime, token: str) -> Account | None:
    """The account a mailed reset link was made for (its public half seals the entryUUID)."""
    ident, _ = tokens.split(token_from(token))
    raw = tokens.unseal(rt.settings.ldap.secrets_key(), ident, 16) if ident else None
    if raw is None:
        return None
    uid = store.uid_by_uuid(rt.directory, rt.layout, raw)
    return account_named(rt, uid) if uid is not None else None


def link_usable(rt: Runtime, token: str) -> bool:
    """Whether a mailed reset link may still be used (for the page that shows its form):
    it names an account with a pending link of that name, not expired. The secret is not
    judged here: that spends a try, when the new password is sent."""
    account = _by_link(rt, token)
    if account is None or account.status != AccountStatus.ACTIVE:
        return False
    record = onetime.parse(store.read(rt.directory, account.dn, store.RESET_SECRET))
    ident, _ = tokens.split(token_from(token))
    return (
        record is not None
        and record.kind == "mail"
        and record.ident == ident
        and record.tries > 0
        and rt.clock() < record.expires_at
    )


def reset_with_link(rt: Runtime, token: str, new: str, confirmation: str) -> Account:
    """`reset` for the mailed link alone (the portal's /reinitialisation/<token>)."""
    enforce_policy(rt, new, confirmation)
    account = _by_link(rt, token)
    if account is None:
        raise AuthenticationFailed(code="reset.refused", reason="no_secret")
    return reset(rt, account.identifier, token, new, confirmation)


def _secret_of(record: onetime.Record, code_or_token: str) -> str | None:
    if record.kind == "sms":
        return onetime.normalize_code(code_or_token)
    ident, secret = tokens.split(token_from(code_or_token))
    return secret if ident == record.ident else None


def reset(rt: Runtime, identifier: str, code_or_token: str, new: str, confirmation: str) -> Account:
    """Redeem the SMS code or the mailed link and set the new password; the account whose
    password it is (the edges say `RESET_DONE`).

    SPEC §4 is checked first, before the secret: a refused password costs no try. Then one
    try is spent and the secret judged; a right one is spent at once (single use even under
    a race) and slapd applies the change as apexdir's account (module, history). Should
    slapd refuse, the secret is put back with the tries it has left, so that another
    password can be chosen with the same code. Every failure to redeem gives the same
    answer, known identifier or not.
    """
    enforce_policy(rt, new, confirmation)
    account, record = _redeem(rt, identifier, code_or_token)
    ldap = rt.settings.ldap
    refusal = ppolicy.change_password(ldap, as_dn=ldap.bind_dn, as_password=ldap.password(),
                                      target_dn=account.dn, new_password=new)  # fmt: skip
    if refusal is not None:
        store.put_back(rt.directory, account.dn, store.RESET_SECRET, record)
        ppolicy.raise_for_refusal(refusal, rt.settings.policy.password_history)
    sessions.end_all(rt, account)  # whoever knew the old password is logged out everywhere
    notify_change(rt, account)
    rt.journal.record("auth.password-reset", account.identifier, actor=None, operator=rt.operator,
                      details={"channel": record.kind}, **history_of(account))  # fmt: skip
    return account


def _redeem(rt: Runtime, identifier: str, code_or_token: str) -> tuple[Account, onetime.Record]:
    """One try spent, the secret judged and, when right, spent (single use); or refused."""
    account, record = spend_try(
        rt, identifier, store.RESET_SECRET, ("sms", "mail"), "reset.refused", "no_secret"
    )
    # A link whose public half names another record is judged too (digest of ""): a try.
    verdict = onetime.check(record, _secret_of(record, code_or_token) or "", rt.clock(),
                            key=rt.settings.ldap.secrets_key())  # fmt: skip
    if verdict is onetime.Verdict.EXPIRED:
        store.consume(rt.directory, account.dn, store.RESET_SECRET, record)
    if verdict is not onetime.Verdict.OK or not store.consume(
        rt.directory, account.dn, store.RESET_SECRET, record
    ):
        rt.journal.record("auth.reset-refused", account.identifier, actor=None,
                          operator=rt.operator, details={"verdict": verdict.value})  # fmt: skip
        raise AuthenticationFailed(code="reset.refused", reason=verdict.value)
    return account, record
