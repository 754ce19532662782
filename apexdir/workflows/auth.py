"""Login with a mailed code, forgotten password, reset and change (SPEC §4, §7).

- The password is always checked by slapd (a bind), never by comparing hashes here; what
  ppolicy decided (expired, locked, grace logins, expiring soon) reaches the user in French.
- Codes and links are single use, short-lived and stored only as records of their hashes on
  the account entry (`apexdir.rules.onetime`), so every node sees them.
- Every answer to a code or link spends a try *before* it is judged (compare-and-swap on
  the entry): parallel guesses get no more tries than sequential ones.
- Anonymous steps (login, verify, forgot, reset) answer an unknown identifier exactly as a
  known one with a wrong secret: same text, same exit code, and the same work, hence about
  the same time (issue 12; `python -m benchmarks.timing` measures it). An unknown
  identifier's steps run against a decoy entry (`cn=decoy,ou=system`, made by `apexdir
  init`): the same reads, and a real bind with the typed password, so slapd hashes it and
  records the failure as it does for a partner's account. `forgot` answers after one row in
  the state store, whatever the identifier; the outbox job looks it up and sends the SMS or
  the mail (`process_reset_request`). One exception, by design: "locked" is told even for a
  wrong password, since ppolicy refuses a locked account before checking; it takes 5
  failures on an existing account to see it.

Forgotten password and enumeration. SPEC §7 shows the mobile masked (06-XX-XX-32-34) after
the request, and also wants the same answer whether the identifier exists or not: showing a
number proves that the account exists and has a mobile. The anonymous answer is therefore
always the same generic text. The masked number is shown only where it reveals nothing the
requester may not already see: to a DGFiP agent helping a partner (`actor` given and an
agent: agents read the whole number with `account show`).

Captcha. The portal passes its captcha verdict: `forgot(…, captcha_ok=…)`
refuses to act on False. The CLI passes True: it runs on an operator's host, not on the
Internet.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apexdir import messages
from apexdir.clock import to_generalized_time
from apexdir.directory import filters as f
from apexdir.directory import mapping as m
from apexdir.directory import ppolicy
from apexdir.directory.provision import decoy_dn
from apexdir.errors import ApexError, AuthenticationFailed, Conflict, Invalid
from apexdir.models import Account
from apexdir.rules import onetime
from apexdir.rules.contact import mask_mobile
from apexdir.rules.passwords import enforce_password
from apexdir.rules.permissions import Actor, ActorType
from apexdir.rules.structure_life import ACCOUNT_CLOSED
from apexdir.runtime import Runtime
from apexdir.state import ratelimit, resetqueue
from apexdir.workflows import guard, sessions, structure_life, tokens
from apexdir.workflows.accounts import account_or_none
from apexdir.workflows.actors import history_of
from apexdir.workflows.notify import link, queue_mail, queue_sms, token_from

PARIS = ZoneInfo("Europe/Paris")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
RESET_PATH = "reinitialisation"
MAX_IDENTIFIER = 128
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CAS_ROUNDS = 8  # compare-and-swap retries under contention before refusing

INVALID_CREDENTIALS = messages.text("login.invalid")
EXPIRED = messages.text("login.expired")
INACTIVE = messages.text("login.inactive")
SUSPENDED = messages.text("login.suspended")
RESTRICTED = messages.text("login.restricted")
CODE_SENT = "Un code de vérification vous a été envoyé par mail ; il est valable {minutes} minutes."
CODE_NONE = messages.text("login.code_none")
CODE_EXPIRED = messages.text("login.code_expired")
FORGOT_ANSWER = (
    "Si cet identifiant correspond à un compte actif, un code de sécurité a été envoyé par SMS "
    "au numéro de mobile enregistré ou, à défaut, un lien de réinitialisation par mail. "
    "Le code ou le lien est valable {minutes} minutes."
)
RESET_REFUSED = messages.text("reset.refused")
RESET_DONE = "Le mot de passe a été réinitialisé."
CODES_PAUSED = messages.text("login.codes_paused")
CHANGE_DONE = "Votre mot de passe a été modifié."
THROTTLED = messages.CATALOGUE["login.throttled"]  # {wait}
RATE_LIMITED = "Trop de demandes de réinitialisation : réessayez plus tard."
CAPTCHA_REFUSED = messages.text("captcha.refused")
SMS_TEXT = "APEX Partenaires : votre code de sécurité est {code} (valable {minutes} minutes)."


# ---------------------------------------------------------------------- pure helpers
def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count > 1 else ''}"


def format_last_login(moment: datetime | None) -> str:
    """The text SPEC §7 shows, e.g. "Dernière connexion le 29 février 2024 à 14:07" (Paris)."""
    if moment is None:
        return "Première connexion"
    local = moment.astimezone(PARIS)
    day = "1er" if local.day == 1 else str(local.day)
    return f"Dernière connexion le {day} {MONTHS[local.month - 1]} {local.year} à {local:%H:%M}"


def days_left(seconds: int) -> int:
    """Whole days, rounded up: 14 days and 3 hours left is "dans 15 jours"."""
    return -(-seconds // 86400)


def expiry_warning(seconds: int) -> str:
    if seconds < 86400:
        return "Votre mot de passe expire dans moins de 24 heures : changez-le dès maintenant."
    days = days_left(seconds)
    return f"Votre mot de passe expire dans {plural(days, 'jour')} : pensez à le changer."


def locked_message(locked_at: datetime | None, now: datetime, minutes: int) -> str:
    left = minutes
    if locked_at is not None:
        remaining = (locked_at + timedelta(minutes=minutes) - now).total_seconds()
        left = max(1, min(minutes, -(-int(remaining) // 60)))
    return messages.text("login.locked", {"wait": plural(left, "minute")})


def clean_identifier(value: str) -> str | None:
    """The identifier as stored, or None when it cannot be one (never looked up).

    Identifiers are ASCII by construction (SPEC §3). NFKC and case folding come first, so
    that look-alikes slapd would match as the same uid ("ｃathy.noel-px" in fullwidth
    letters) are the same key for the rate limits too; what is still not ASCII after that
    is unknown, silently.
    """
    text = unicodedata.normalize("NFKC", value).strip().casefold()
    if not text or len(text) > MAX_IDENTIFIER or not text.isascii():
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return None
    return text


def _find(rt: Runtime, identifier: str) -> Account | None:
    """The account an anonymous step names; for an unknown identifier, None after the same
    directory work: reading a partner's account is a read of its entry, mapped, then one
    more request (the names of his structure's services); the unknown one's read finds
    nothing, and the decoy's entry is read and mapped instead."""
    account = _account(rt, identifier)
    if account is None:
        decoy = decoy_dn(rt.layout)
        # A subtree search, like the services' one, that returns an entry read and mapped
        # like an account's (the payload and the parsing count too).
        for entry in rt.directory.search(decoy, "(objectClass=*)", m.ACCOUNT_ATTRS):
            m.account_from(entry)
    return account


def _decoy_bind(rt: Runtime, password: str) -> None:
    """What a wrong password costs, spent for an unknown identifier: a bind that slapd
    checks (the hash) and refuses (the failure recorded, a durable write), on the decoy,
    whose policy never locks it."""
    ppolicy.authenticate(rt.settings.ldap, decoy_dn(rt.layout), password)


# ---------------------------------------------------------------------- directory helpers
def _account(rt: Runtime, identifier: str) -> Account | None:
    clean = clean_identifier(identifier)
    if clean is None:
        return None
    return account_or_none(rt, clean)


def _read(rt: Runtime, dn: str, attribute: str) -> str | None:
    entry = rt.directory.get(dn, [attribute])
    value = entry.get(attribute) if entry else None
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value) if value is not None else None


def _swap(rt: Runtime, dn: str, attribute: str, old: str | None, new: str | None) -> bool:
    """Compare-and-swap of a single-valued attribute in one LDAP modify: deleting the exact
    old value fails if another request changed it meanwhile, and adding to a single-valued
    attribute fails if one is already there."""
    ops: list[tuple[str, list[Any]]] = []
    if old is not None:
        ops.append(("delete", [old]))
    if new is not None:
        ops.append(("add", [new]))
    if not ops:
        return True
    try:
        rt.directory.modify(dn, {attribute: ops})
    except ApexError:
        return False
    return True


DECOY_TRY_ATTRIBUTE = "title"  # a value of the decoy's rewritten by each try it stands in for


def _decoy_try(rt: Runtime) -> None:
    """The write a try costs on a pending record, spent on the decoy when there is no
    record to spend it on (unknown identifier, or no pending code): without it a wrong
    code answered faster where no record existed (issue 18 item 6)."""
    rt.directory.replace(decoy_dn(rt.layout), **{DECOY_TRY_ATTRIBUTE: secrets.token_hex(16)})


def _take_try(rt: Runtime, dn: str, attribute: str) -> onetime.Record | None:
    """Spend one try of the pending record *before* the answer is judged, and return the
    record as it was: however many requests race, a record is judged at most `tries` times
    (a failed swap means another request took a try first: read again).

    A mailed link's record is returned untouched: its secret has 256 bits, so tries add
    nothing against guessing, and a try spent by whoever saw the link's public half would
    void the owner's link (issue 18 item 7). It stays single use (`_consume`)."""
    for _ in range(CAS_ROUNDS):
        stored = _read(rt, dn, attribute)
        record = onetime.parse(stored)
        if record is None:
            return None
        if record.kind == "mail":
            return record
        left = onetime.after_failure(record)
        if _swap(rt, dn, attribute, stored, left.format() if left else None):
            return record
    return None  # endless contention: refuse rather than judge uncounted


def _spend_try(
    rt: Runtime,
    identifier: str,
    attribute: str,
    kinds: tuple[str, ...],
    refusal: str,
    reason: str,
) -> tuple[Account, onetime.Record]:
    """The pending record of an active account, one try spent before it is judged; an
    unknown or inactive identifier spends the same read on the decoy, then gets the same
    refusal as an account with no such record."""
    # `refusal` is a catalogue code (migrated messages) or still a ready message.
    code, text = (refusal, None) if refusal in messages.CATALOGUE else (None, refusal)
    account = _find(rt, identifier)
    if account is None or account.status != "active":
        _read(rt, decoy_dn(rt.layout), attribute)  # the read a known one costs…
        _decoy_try(rt)  # … and the write
        raise AuthenticationFailed(text, code=code, reason=reason)
    record = _take_try(rt, account.dn, attribute)
    if record is None:
        _decoy_try(rt)
    if record is None or record.kind not in kinds:
        raise AuthenticationFailed(text, code=code, reason=reason)
    return account, record


def _consume(rt: Runtime, dn: str, attribute: str, record: onetime.Record) -> bool:
    """Remove a redeemed record (known by its salt); False when another request redeemed
    or replaced it first — single use wins over a race."""
    if record.kind != "mail" and record.tries <= 1:
        return True  # our try was its last: `_take_try` removed it already
    for _ in range(CAS_ROUNDS):
        stored = _read(rt, dn, attribute)
        current = onetime.parse(stored)
        if current is None or current.salt != record.salt:
            return False
        if _swap(rt, dn, attribute, stored, None):
            return True
    return False


# ---------------------------------------------------------------------- login
def wait_text(seconds: int) -> str:
    if seconds < 60:
        return plural(seconds, "seconde")
    return plural(-(-seconds // 60), "minute")


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
    policy = rt.settings.policy
    account = _find(rt, identifier)
    if account is None:
        # Not journaled: a known account's refusal is one local row (≈ 0.1 ms, within the
        # noise), and junk typed by anyone is not worth keeping.
        _decoy_bind(rt, password)
        raise AuthenticationFailed(code="login.invalid", reason="invalid")
    if account.status == ACCOUNT_CLOSED:
        _refuse_closed(rt, account, password)
    # lastbind moves authTimestamp at this very bind: keep the previous one for `verify`.
    previous = account.last_login
    outcome = ppolicy.authenticate(rt.settings.ldap, account.dn, password)
    if not outcome.ok and outcome.reason == "locked":
        # slapd refuses a locked account before it checks the password: without the hash
        # it answers ≈ 5× faster than an unknown identifier's decoy bind (a timing oracle,
        # issue 18). The decoy's bind spends what the check would have.
        _decoy_bind(rt, password)
    # A suspended account is locked in slapd for good (ppolicy's administrative lock): slapd
    # refuses it before the password, so the answer is a wrong password's — whoever types
    # it learns no more than of an unknown identifier — and no lockout mail goes out.
    suspended = not outcome.ok and outcome.reason == "locked" and account.status != "active"
    if not outcome.ok:
        rt.journal.record(
            "auth.login-refused",
            account.identifier,
            actor=account.identifier,
            operator=rt.operator,
            details={"reason": "suspended" if suspended else outcome.reason},
        )
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
    if outcome.reason == "change_after_reset":
        raise AuthenticationFailed(code="login.restricted", reason="change_after_reset")
    if account.status != "active":
        # Only with the right password (slapd's lock missing: a restore, a hand edit).
        code = "login.suspended" if account.status == "suspended" else "login.inactive"
        raise AuthenticationFailed(code=code, reason="inactive")

    _check_code_caps(rt, account)
    _issue_login_code(rt, account, to_generalized_time(previous) if previous else "-")
    rt.journal.record(
        "auth.login",
        account.identifier,
        actor=account.identifier,
        operator=rt.operator,
        details={"reason": outcome.reason},
    )
    warnings: list[str] = []
    if outcome.reason == "grace" and outcome.grace_remaining is not None:
        warnings.append(
            "Votre mot de passe a expiré : il vous reste "
            f"{plural(outcome.grace_remaining, 'connexion')} pour le changer."
        )
    if outcome.seconds_before_expiration is not None:
        warnings.append(expiry_warning(outcome.seconds_before_expiration))
    return {
        "identifier": account.identifier,
        "message": CODE_SENT.format(minutes=policy.login_code_minutes),
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
    rt.journal.record("auth.login-refused", account.identifier, actor=account.identifier,
                      operator=rt.operator, details={"reason": ACCOUNT_CLOSED})  # fmt: skip
    if right:
        raise AuthenticationFailed(code="login.structure_closed", reason="structure_closed")
    raise AuthenticationFailed(code="login.invalid", reason="invalid")


def _issue_login_code(rt: Runtime, account: Account, previous: str) -> None:
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
    rt.directory.replace(account.dn, apexLoginCode=record.format())
    # The newest code only, and only while it is valid (issue 23).
    queue_mail(rt, "code", [account.mail], code=code, topic=f"login:{account.identifier}",
               valid_until=rt.clock() + timedelta(minutes=policy.login_code_minutes))  # fmt: skip


def resend_code(rt: Runtime, identifier: str) -> dict[str, Any]:
    """« Renvoyer le code »: a new code for a login whose password was accepted (the
    portal's pending session vouches for it), under the same caps as a login."""
    account = _account(rt, identifier)
    if account is None or account.status != "active":
        raise AuthenticationFailed(code="login.code_none", reason="no_code")
    current = onetime.parse(_read(rt, account.dn, "apexLoginCode"))
    previous = current.extra if current is not None and current.kind == "login" else "-"
    _check_code_caps(rt, account)
    _issue_login_code(rt, account, previous)
    rt.journal.record("auth.code-resent", account.identifier, actor=account.identifier,
                      operator=rt.operator)  # fmt: skip
    return {"message": CODE_SENT.format(minutes=rt.settings.policy.login_code_minutes)}


def verify(rt: Runtime, identifier: str, code: str) -> dict[str, Any]:
    """Redeem the mailed code: the account's type and its previous login."""
    policy = rt.settings.policy
    account, record = _spend_try(
        rt, identifier, "apexLoginCode", ("login",), "login.code_none", "no_code"
    )
    verdict = onetime.check(
        record, onetime.normalize_code(code), rt.clock(), key=rt.settings.ldap.secrets_key()
    )
    if verdict is onetime.Verdict.EXPIRED:
        _consume(rt, account.dn, "apexLoginCode", record)
        raise AuthenticationFailed(code="login.code_expired", reason="expired")
    if verdict is onetime.Verdict.WRONG:
        if not ratelimit.allow(rt.db, [_wrong_codes(rt, account)], rt.clock()):
            # Too many wrong codes today: the pending code goes too, and logins pause.
            _consume(rt, account.dn, "apexLoginCode", record)
            _notify_codes_capped(rt, account, "wrong")
            raise AuthenticationFailed(code="login.codes_paused", reason="codes_capped")
        left = record.tries - 1
        rt.journal.record("auth.code-refused", account.identifier, actor=account.identifier,
                          operator=rt.operator, details={"tries_left": left})  # fmt: skip
        if left <= 0:
            raise AuthenticationFailed(
                code="login.code_exhausted",
                params={"essais": plural(policy.login_code_attempts, "essai")},
                field="code",
                reason="exhausted",
            )
        raise AuthenticationFailed(
            code="login.code_wrong",
            params={"essais": plural(left, "essai")},
            field="code",
            reason="wrong",
        )
    if verdict is not onetime.Verdict.OK or not _consume(rt, account.dn, "apexLoginCode", record):
        raise AuthenticationFailed(code="login.code_none", reason="no_code")
    # A redeemed code is no longer one that someone may be misusing: only codes left
    # unredeemed count towards the pause (a fourth login in a quarter hour is ordinary).
    ratelimit.forgive(rt.db, _codes_issued(rt, account).key)
    rt.journal.record("auth.verified", account.identifier, actor=account.identifier,
                      operator=rt.operator)  # fmt: skip
    last = record.extra_time
    return {
        "identifier": account.identifier,
        "type": account.type,
        "last_login": last.isoformat() if last else None,
        "last_login_text": format_last_login(last),
    }


def _codes_issued(rt: Runtime, account: Account) -> ratelimit.Limit:
    policy = rt.settings.policy
    return ratelimit.Limit(f"login-code:issued:{account.identifier}",
                           policy.login_codes_per_window,
                           timedelta(minutes=policy.login_code_window_minutes))  # fmt: skip


def _wrong_codes(rt: Runtime, account: Account) -> ratelimit.Limit:
    policy = rt.settings.policy
    return ratelimit.Limit(f"login-code:wrong:{account.identifier}",
                           policy.login_code_wrong_per_day, timedelta(days=1))  # fmt: skip


def _check_code_caps(rt: Runtime, account: Account) -> None:
    """Five tries per code, but whoever holds the password could ask code after code: cap
    the codes issued per window and the wrong codes per day (counted per node, like the
    reset limits). Only someone who typed the right password reaches this answer."""
    now = rt.clock()
    if ratelimit.reached(rt.db, _wrong_codes(rt, account), now):
        _notify_codes_capped(rt, account, "wrong")
        raise AuthenticationFailed(code="login.codes_paused", reason="codes_capped")
    if not ratelimit.allow(rt.db, [_codes_issued(rt, account)], now):
        _notify_codes_capped(rt, account, "issued")
        raise AuthenticationFailed(code="login.codes_paused", reason="codes_capped")


def _notify_codes_capped(rt: Runtime, account: Account, cap: str) -> None:
    """The owner learns it once a day; the journal every time."""
    rt.journal.record("auth.codes-capped", account.identifier, actor=None,
                      operator=rt.operator, details={"cap": cap})  # fmt: skip
    once = ratelimit.Limit(f"login-code:told:{account.identifier}", 1, timedelta(days=1))
    if ratelimit.allow(rt.db, [once], rt.clock()):
        queue_mail(rt, "login_codes_capped", [account.mail], identifiant=account.identifier)


# ---------------------------------------------------------------------- forgotten password
def forgot(
    rt: Runtime,
    identifier: str,
    *,
    captcha_ok: bool,
    actor: Actor | None = None,
    origin: guard.Origin | None = None,
) -> dict[str, Any]:
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
    answer: dict[str, Any] = {"message": FORGOT_ANSWER.format(minutes=minutes)}
    if actor is None or actor.type != ActorType.AGENT:
        from apexdir.workflows.resetcode import requested

        requested(rt, key, now)  # a new series of tries, whatever the identifier
        resetqueue.enqueue(rt.db, key, now)
        return answer
    channel, account = _send_reset(rt, identifier, now)
    if account is not None:
        answer["channel"] = channel
        if account.mobile:
            answer["masked_mobile"] = mask_mobile(account.mobile)
    return answer


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
    policy = rt.settings.policy
    account = _account(rt, identifier)
    if account is None or account.status != "active":
        return None, None
    validity = timedelta(minutes=policy.reset_validity_minutes)
    if account.mobile:
        code = onetime.new_code()
        record = onetime.issue(
            "sms", code, key=rt.settings.ldap.secrets_key(), now=now, validity=validity,
            tries=policy.login_code_attempts,
        )  # fmt: skip
        rt.directory.replace(account.dn, apexResetSecret=record.format())
        queue_sms(
            rt, account.mobile, SMS_TEXT.format(code=code, minutes=policy.reset_validity_minutes),
            topic=f"reset:{account.identifier}", valid_until=now + validity,
        )  # fmt: skip
        channel = "sms"
    else:
        # The link's public half is the account's entryUUID sealed under the secrets key
        # (a new handle for every link): the portal finds the account from the link alone,
        # the identifier never appears in a URL (proxies log them), and the handle is not
        # the OIDC `sub` that every relying party knows (issue 18 item 7).
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
        rt.directory.replace(account.dn, apexResetSecret=record.format())
        queue_mail(rt, "reset", [account.mail], lien=link(rt, RESET_PATH, f"{ident}.{secret}"),
                   topic=f"reset:{account.identifier}", valid_until=now + validity)  # fmt: skip
        channel = "mail"
    rt.journal.record(
        "auth.reset-requested",
        account.identifier,
        actor=None,
        operator=rt.operator,
        details={"channel": channel},
    )
    return channel, account


def _link_handle(rt: Runtime, dn: str) -> str:
    value = _read(rt, dn, "entryUUID") or ""
    if not UUID.fullmatch(value):
        return tokens.new_secret(16)  # names no account: the link cannot be used
    return tokens.seal(rt.settings.ldap.secrets_key(), uuid.UUID(value).bytes)


def _by_link(rt: Runtime, token: str) -> Account | None:
    """The account a mailed reset link was made for (its public half seals the entryUUID)."""
    ident, _ = tokens.split(token_from(token))
    raw = tokens.unseal(rt.settings.ldap.secrets_key(), ident, 16) if ident else None
    if raw is None:
        return None
    found = rt.directory.search(
        rt.layout.people_dn, f.eq("entryUUID", str(uuid.UUID(bytes=raw))), ["uid"]
    )
    if len(found) != 1:
        return None
    uid = found[0].get("uid")
    return _account(rt, str(uid[0] if isinstance(uid, list) else uid))


def link_usable(rt: Runtime, token: str) -> bool:
    """Whether a mailed reset link may still be used (for the page that shows its form):
    it names an account with a pending link of that name, not expired. The secret is not
    judged here: that spends a try, when the new password is sent."""
    account = _by_link(rt, token)
    if account is None or account.status != "active":
        return False
    record = onetime.parse(_read(rt, account.dn, "apexResetSecret"))
    ident, _ = tokens.split(token_from(token))
    return (
        record is not None
        and record.kind == "mail"
        and record.ident == ident
        and record.tries > 0
        and rt.clock() < record.expires_at
    )


def reset_with_link(rt: Runtime, token: str, new: str, confirmation: str) -> dict[str, Any]:
    """`reset` for the mailed link alone (the portal's /reinitialisation/<token>)."""
    policy = rt.settings.policy
    enforce_password(new, confirmation, min_length=policy.password_min_length,
                     max_length=policy.password_max_length)  # fmt: skip
    account = _by_link(rt, token)
    if account is None:
        raise AuthenticationFailed(code="reset.refused", reason="no_secret")
    return reset(rt, account.identifier, token, new, confirmation)


def _secret_of(record: onetime.Record, code_or_token: str) -> str | None:
    if record.kind == "sms":
        return onetime.normalize_code(code_or_token)
    ident, secret = tokens.split(token_from(code_or_token))
    return secret if ident == record.ident else None


def reset(
    rt: Runtime, identifier: str, code_or_token: str, new: str, confirmation: str
) -> dict[str, Any]:
    """Redeem the SMS code or the mailed link and set the new password.

    SPEC §4 is checked first, before the secret: a refused password costs no try. Then one
    try is spent and the secret judged; a right one is spent at once (single use even under
    a race) and slapd applies the change as apexdir's account (module, history). Should
    slapd refuse, the secret is put back with the tries it has left, so that another
    password can be chosen with the same code. Every failure to redeem gives the same
    answer, known identifier or not.
    """
    policy = rt.settings.policy
    enforce_password(new, confirmation, min_length=policy.password_min_length,
                     max_length=policy.password_max_length)  # fmt: skip
    account, record = _spend_try(
        rt, identifier, "apexResetSecret", ("sms", "mail"), "reset.refused", "no_secret"
    )
    # A link whose public half names another record is judged too (digest of ""): a try.
    verdict = onetime.check(record, _secret_of(record, code_or_token) or "", rt.clock(),
                            key=rt.settings.ldap.secrets_key())  # fmt: skip
    if verdict is onetime.Verdict.EXPIRED:
        _consume(rt, account.dn, "apexResetSecret", record)
    if verdict is not onetime.Verdict.OK or not _consume(rt, account.dn, "apexResetSecret", record):
        rt.journal.record("auth.reset-refused", account.identifier, actor=None,
                          operator=rt.operator, details={"verdict": verdict.value})  # fmt: skip
        raise AuthenticationFailed(code="reset.refused", reason=verdict.value)
    ldap = rt.settings.ldap
    refusal = ppolicy.change_password(ldap, as_dn=ldap.bind_dn, as_password=ldap.password(),
                                      target_dn=account.dn, new_password=new)  # fmt: skip
    if refusal is not None:
        left = onetime.after_failure(record)
        if left is not None:  # unless a newer request put a fresh secret there meanwhile
            _swap(rt, account.dn, "apexResetSecret", None, left.format())
        ppolicy.raise_for_refusal(refusal, policy.password_history)
    sessions.end_all(rt, account)  # whoever knew the old password is logged out everywhere
    _notify_change(rt, account)
    rt.journal.record("auth.password-reset", account.identifier, actor=None, operator=rt.operator,
                      details={"channel": record.kind}, **history_of(account))  # fmt: skip
    return {"identifier": account.identifier, "message": RESET_DONE}


# ---------------------------------------------------------------------- change
def change(
    rt: Runtime, identifier: str, current: str, new: str, confirmation: str
) -> dict[str, Any]:
    """The partner changes his own password: bound as himself, with the current one."""
    policy = rt.settings.policy
    enforce_password(
        new,
        confirmation,
        min_length=policy.password_min_length,
        max_length=policy.password_max_length,
    )
    account = _find(rt, identifier)
    if account is None:
        _decoy_bind(rt, current)
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
        if exc.reason == "locked":
            raise AuthenticationFailed(
                locked_message(account.locked_at, rt.clock(), policy.lockout_minutes),
                reason="locked",
            ) from None
        if exc.reason == "expired":
            raise AuthenticationFailed(code="login.expired", reason="expired") from None
        raise AuthenticationFailed(code="login.invalid", reason=exc.reason) from None
    if refusal is not None:
        ppolicy.raise_for_refusal(refusal, policy.password_history)
    sessions.end_all(rt, account)  # the portal renews the session that made the change
    _notify_change(rt, account)
    rt.journal.record("auth.password-change", account.identifier, actor=account.identifier,
                      operator=rt.operator, **history_of(account))  # fmt: skip
    return {"identifier": account.identifier, "message": CHANGE_DONE}


REAUTH_REFUSED = messages.text("reauth.refused")
REAUTH_MISSING = messages.text("reauth.missing")


def confirm_password(rt: Runtime, identifier: str, password: str) -> None:
    """A logged-in partner proves he still knows his password before changing where codes
    are sent (issue 18 item 1): slapd checks it, as at login."""
    if not password:
        raise AuthenticationFailed(code="reauth.missing", reason="missing")
    account = _find(rt, identifier)
    if account is None or not ppolicy.authenticate(rt.settings.ldap, account.dn, password).ok:
        raise AuthenticationFailed(code="reauth.refused", reason="invalid")


def _notify_lock(rt: Runtime, account: Account) -> None:
    """Mail the owner of a locked account, once per lock: the lock's time is marked on the
    entry first (a value added succeeds once, even for logins racing on several nodes)."""
    entry = rt.directory.get(account.dn, ["apexNotice", "pwdAccountLockedTime"])
    locked = entry.get("pwdAccountLockedTime") if entry else None
    stamp = to_generalized_time(locked) if isinstance(locked, datetime) else str(locked or "-")
    notice = f"locked:{stamp}"
    old = [
        str(n) for n in (entry.all("apexNotice") if entry else []) if str(n).startswith("locked:")
    ]
    if notice in old:
        return
    changes: dict[str, list[tuple[str, list[Any]]]] = {"apexNotice": [("add", [notice])]}
    if old:
        changes["apexNotice"].insert(0, ("delete", old))
    try:
        rt.directory.modify(account.dn, changes)
    except ApexError:
        return  # another login marked it first: that one mails
    policy = rt.settings.policy
    queue_mail(rt, "account_locked", [account.mail], identifiant=account.identifier,
               minutes=policy.lockout_minutes)  # fmt: skip
    rt.journal.record("auth.locked", account.identifier, actor=None, operator=rt.operator,
                      **history_of(account))  # fmt: skip


def _notify_change(rt: Runtime, account: Account) -> None:
    """The personal-data confirmation (SPEC §7): tells the owner, who may not be the one who
    changed it."""
    now = rt.clock().astimezone(PARIS)
    queue_mail(
        rt,
        "personal_data",
        [account.mail],
        date=now.strftime("%d/%m/%Y"),
        heure=now.strftime("%H:%M:%S"),
        identifiant=account.identifier,
    )
