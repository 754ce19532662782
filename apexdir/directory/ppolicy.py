"""Binds and password changes that report what slapd's password policy decided.

A bind asks for the password-policy control (draft-behera-ldap-password-policy) and decodes
the response (ldap3 hands over the raw BER value; pyasn1 reads it), so that "expired",
"locked" or "N grace logins left" reach the user instead of a flat "invalid credentials".
Password changes go through the password-modify extended operation (RFC 3062) with the same
control, so that a refusal by ppolicy (history, quality, length) carries its real reason.

Connections are kept open and re-bound (`bindpool.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ldap3
from pyasn1.codec.ber import decoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import namedtype, tag, univ

from apexdir.config import LdapSettings
from apexdir.directory.bindpool import pool_for, with_retry  # noqa: F401 (callers')
from apexdir.errors import AuthenticationFailed, PolicyViolation, Unavailable

PPOLICY_OID = "1.3.6.1.4.1.42.2.27.8.5.1"

# ---------------------------------------------------------------- the control (ASN.1)
#   PasswordPolicyResponseValue ::= SEQUENCE {
#       warning [0] CHOICE {
#           timeBeforeExpiration [0] INTEGER (0 .. maxInt),
#           graceAuthNsRemaining [1] INTEGER (0 .. maxInt) } OPTIONAL,
#       error   [1] ENUMERATED { … } OPTIONAL }


def _context(number: int, *, constructed: bool = False) -> tag.Tag:
    form = tag.tagFormatConstructed if constructed else tag.tagFormatSimple
    return tag.Tag(tag.tagClassContext, form, number)


class _Warning(univ.Choice):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType(
            "timeBeforeExpiration",
            univ.Integer().subtype(implicitTag=_context(0)),
        ),
        namedtype.NamedType(
            "graceAuthNsRemaining",
            univ.Integer().subtype(implicitTag=_context(1)),
        ),
    )


class _ResponseValue(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.OptionalNamedType(
            "warning",
            _Warning().subtype(explicitTag=_context(0, constructed=True)),
        ),
        namedtype.OptionalNamedType(
            "error",
            univ.Enumerated().subtype(implicitTag=_context(1)),
        ),
    )


# The error values of the draft, named as apexdir reports them.
ERRORS = {
    0: "expired",  # passwordExpired
    1: "locked",  # accountLocked
    2: "change_after_reset",  # changeAfterReset
    3: "change_not_allowed",  # passwordModNotAllowed
    4: "old_password_required",  # mustSupplyOldPassword
    5: "quality",  # insufficientPasswordQuality
    6: "too_short",  # passwordTooShort
    7: "too_young",  # passwordTooYoung
    8: "in_history",  # passwordInHistory
    9: "too_long",  # passwordTooLong
}


@dataclass(frozen=True)
class PolicyResponse:
    """The decoded control: at most one warning and at most one error."""

    seconds_before_expiration: int | None = None
    grace_remaining: int | None = None
    error: str | None = None


def decode_response(value: bytes | None) -> PolicyResponse:
    """Decode the BER value of a password-policy response control (pure)."""
    if not value:
        return PolicyResponse()
    try:
        decoded, _ = decoder.decode(value, asn1Spec=_ResponseValue())
    except PyAsn1Error:
        return PolicyResponse()
    seconds = grace = None
    warning = decoded.getComponentByName("warning")
    if warning.isValue:
        choice = warning.getName()
        number = int(warning.getComponent())
        if choice == "timeBeforeExpiration":
            seconds = number
        elif choice == "graceAuthNsRemaining":
            grace = number
    error = None
    code = decoded.getComponentByName("error")
    if code.isValue:
        error = ERRORS.get(int(code), f"error_{int(code)}")
    return PolicyResponse(seconds, grace, error)


def _response_of(result: dict[str, Any] | None) -> PolicyResponse:
    controls = (result or {}).get("controls") or {}
    return decode_response((controls.get(PPOLICY_OID) or {}).get("value"))


# ---------------------------------------------------------------- outcomes
@dataclass(frozen=True)
class BindOutcome:
    """What a bind decided. `reason` is one of: ok, expiring (warning sent), grace (an
    expired password let in on a grace login), change_after_reset, invalid, locked, expired."""

    ok: bool
    reason: str
    seconds_before_expiration: int | None = None
    grace_remaining: int | None = None


def outcome_of(result_code: int, response: PolicyResponse) -> BindOutcome:
    """The outcome of a bind from its result code and decoded control (pure)."""
    if result_code == 0:
        if response.error == "change_after_reset":
            reason = "change_after_reset"
        elif response.grace_remaining is not None:
            reason = "grace"
        elif response.seconds_before_expiration is not None:
            reason = "expiring"
        else:
            reason = "ok"
        return BindOutcome(True, reason, response.seconds_before_expiration,
                           response.grace_remaining)  # fmt: skip
    if response.error in ("locked", "expired"):
        return BindOutcome(False, response.error)
    return BindOutcome(False, "invalid")


# busy, unavailable, other, no answer: the server's trouble, not a verdict on the password
_SERVER_TROUBLE = (51, 52, 80, -1)


def _bind(conn: ldap3.Connection, dn: str, password: str) -> tuple[int, PolicyResponse]:
    conn.user, conn.password = dn, password
    conn.bind(read_server_info=False, controls=[(PPOLICY_OID, False, None)])
    result = conn.result or {}
    return int(result.get("result", -1)), _response_of(result)


def authenticate(settings: LdapSettings, dn: str, password: str) -> BindOutcome:
    """Bind as `dn` with `password`; slapd checks the password and applies ppolicy.

    An empty password is refused here: LDAP treats a simple bind without password as an
    anonymous bind that *succeeds* (RFC 4513 §5.1.2).
    """
    if not password:
        return BindOutcome(False, "invalid")

    def run(conn: ldap3.Connection) -> BindOutcome:
        code, response = _bind(conn, dn, password)
        if code in _SERVER_TROUBLE:
            result = conn.result or {}
            raise Unavailable(
                f"directory cannot check the bind of {dn}: {result.get('description')} "
                f"{result.get('message') or ''}".strip()
            )
        # Any other refusal (49 invalidCredentials, ppolicy's included) is the user's.
        return outcome_of(code, response)

    outcome: BindOutcome = with_retry(settings, f"bind as {dn}", run)
    return outcome


# ---------------------------------------------------------------- password changes
@dataclass(frozen=True)
class ChangeRefusal:
    """Why slapd refused a password change: ppolicy's error and slapd's own text."""

    error: str | None
    text: str


def change_password(
    settings: LdapSettings,
    *,
    as_dn: str,
    as_password: str,
    target_dn: str,
    new_password: str,
    old_password: str | None = None,
) -> ChangeRefusal | None:
    """Password-modify (RFC 3062) of `target_dn`, bound as `as_dn`; None when applied.

    slapd hashes the new password and ppolicy checks it (check module, history, length). A
    bind failure of `as_dn` raises `AuthenticationFailed` with the ppolicy reason.
    """

    if not as_password:  # an empty password would make an anonymous bind (RFC 4513)
        raise AuthenticationFailed("bind refused", reason="invalid")

    def run(conn: ldap3.Connection) -> ChangeRefusal | None:
        code, response = _bind(conn, as_dn, as_password)
        if code != 0:
            outcome = outcome_of(code, response)
            raise AuthenticationFailed("bind refused", reason=outcome.reason)
        conn.extend.standard.modify_password(
            user=target_dn,
            old_password=old_password,
            new_password=new_password,
            controls=[(PPOLICY_OID, False, None)],
        )
        result = conn.result or {}
        if result.get("result") == 0:
            return None
        if result.get("result") in (19, 50, 53):  # constraint, insufficient access, unwilling
            refusal = _response_of(result)
            return ChangeRefusal(refusal.error, str(result.get("message") or "").strip())
        raise Unavailable(
            f"directory error (password change of {target_dn}): {result.get('description')} "
            f"{result.get('message') or ''}".strip()
        )

    refusal: ChangeRefusal | None = with_retry(settings, f"password change of {target_dn}", run)
    return refusal


def raise_for_refusal(refusal: ChangeRefusal, history: int) -> None:
    """A slapd refusal as the French message a partner reads (`PolicyViolation`)."""
    if refusal.error == "in_history":
        details = [f"Le mot de passe doit être différent des {history} précédents"]
    elif refusal.error == "too_short":
        details = ["Le mot de passe est trop court"]
    elif refusal.error == "too_young":
        details = ["Le mot de passe a été changé trop récemment"]
    elif refusal.error == "quality" and refusal.text.startswith("Le mot de passe"):
        # The check module's own messages, already in French, one per unmet rule.
        details = [part.strip() for part in refusal.text.split(";") if part.strip()]
    elif refusal.error in ("change_not_allowed", "old_password_required"):
        details = ["Le changement de mot de passe n'est pas autorisé pour ce compte"]
    else:
        details = ["Le mot de passe ne respecte pas la politique de l'annuaire"]
    raise PolicyViolation(code="password.refused", field="password", details=details)
