"""Mail addresses and mobile numbers of accounts (SPEC §2, §7). Refusals carry a code of
the message catalogue (`apexdir.messages`) and their field, "mail" or "mobile"."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from apexdir.errors import Invalid

if TYPE_CHECKING:
    from phonenumbers import PhoneNumber

# phonenumbers is imported by the functions that parse or format a number, not here: its
# metadata takes ≈ 20 ms to load, which every command importing this module for
# `validate_mail` alone would pay (`apexdir account show`; tests/cli/test_startup.py).

MAX_MAIL_LENGTH = 254  # RFC 5321: longest path an SMTP server must accept
MAX_LOCAL_LENGTH = 64
MAX_LABEL_LENGTH = 63

DEFAULT_REGION = "FR"
# Overseas departments and collectivities dial their mobiles nationally as 06… / 07… like
# the mainland, but under their own country code (+262, +590…): a "0692 12 34 56" typed by
# a partner in La Réunion is not a metropolitan number.
OVERSEAS_REGIONS = ("RE", "YT", "GP", "MQ", "GF", "PM", "BL", "MF")
_FRENCH_REGIONS = frozenset({DEFAULT_REGION, *OVERSEAS_REGIONS})

# Characters that RFC 5322 allows only quoted; a pragmatic check refuses them outright
# rather than accept addresses that half of the mail chain would mangle.
_LOCAL_FORBIDDEN = re.compile(r'[\s\x00-\x1f\x7f<>()\[\]\\,;:"@]')
# The directory stores `mail` as an IA5String (ASCII): slapd refuses any other character, so
# an internationalised domain must be given in its ASCII form (xn--…), and a non-ASCII local
# part (RFC 6531) cannot be stored at all.
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")


def _bad_mail(code: str, value: str | None = None) -> Invalid:
    return Invalid(code=code, params={} if value is None else {"value": value}, field="mail")


def _bad_mobile(code: str, value: str | None = None) -> Invalid:
    return Invalid(code=code, params={} if value is None else {"value": value}, field="mobile")


def validate_mail(value: str) -> str:
    """The address with its domain in lower case, or `Invalid`.

    Pragmatic, not RFC 5322: one "@", a non-empty local part, a domain of at least two
    labels, ASCII only (the directory's IA5String), no whitespace nor control characters, at
    most 254 characters. The local part keeps its case: only the domain is case-insensitive
    by standard.
    """
    address = value.strip()
    if not address:
        raise _bad_mail("mail.empty")
    if address.count("@") != 1:
        raise _bad_mail("mail.one_at", address)
    if len(address) > MAX_MAIL_LENGTH:
        raise Invalid(
            code="mail.too_long",
            params={"max": MAX_MAIL_LENGTH, "length": len(address)},
            field="mail",
        )
    local, domain = address.split("@")
    if not local:
        raise _bad_mail("mail.no_local", address)
    if not local.isascii():
        raise _bad_mail("mail.local_not_ascii", address)
    if not domain.isascii():
        raise _bad_mail("mail.domain_not_ascii", address)
    if len(local) > MAX_LOCAL_LENGTH or _LOCAL_FORBIDDEN.search(local):
        raise _bad_mail("mail.local_invalid", address)
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise _bad_mail("mail.dots", address)
    labels = domain.split(".")
    if len(labels) < 2 or not all(
        len(label) <= MAX_LABEL_LENGTH and _LABEL.fullmatch(label) for label in labels
    ):
        raise _bad_mail("mail.domain_invalid", address)
    return f"{local}@{domain.lower()}"


@cache
def _mobile_types() -> frozenset[int]:
    from phonenumbers import PhoneNumberType

    return frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


def _parse(value: str, region: str) -> PhoneNumber | None:
    import phonenumbers

    try:
        return phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None


def _is_mobile(number: PhoneNumber | None) -> bool:
    import phonenumbers

    return (
        number is not None
        and phonenumbers.is_valid_number(number)
        and phonenumbers.number_type(number) in _mobile_types()
    )


def normalize_mobile(value: str) -> str:
    """A mobile number in E.164 ("+33612345678"), or `Invalid`.

    National numbers are read as French (then as overseas French when the mainland reading
    is not a mobile); numbers in international form are accepted from any country, as long
    as they are mobiles: the number exists to receive SMS codes.
    """
    if _is_french_e164_mobile(value):
        return value  # its E.164 form is itself
    return _normalized(value)


def _is_french_e164_mobile(value: str) -> bool:
    """Whether `value` is already a French mobile in E.164, as apexdir stores them (bulk
    files hold little else): it skips the parse and the repeated checks, ≈ 90 µs a number.
    What phonenumbers.parse(value, "FR") gives: after a country code, a number that does not
    start with 0 has no national prefix to strip; +33 is France's alone, so is_valid_number
    is number_type's test against FR's ranges: one type lookup."""
    digits = value[3:]
    if not (
        len(value) == 12
        and value.startswith("+33")
        and digits[0] != "0"
        and digits.isascii()
        and digits.isdigit()
    ):
        return False
    import phonenumbers

    return phonenumbers.number_type(phonenumbers.PhoneNumber(33, int(digits))) in _mobile_types()


def _normalized(value: str) -> str:
    """`normalize_mobile` by phonenumbers' parse, whatever the form."""
    import phonenumbers

    text = value.strip()
    if not text:
        raise _bad_mobile("mobile.empty")
    number = _parse(text, DEFAULT_REGION)
    if number is None:
        raise _bad_mobile("mobile.not_a_number", text)
    if not _is_mobile(number) and not text.startswith(("+", "00")):
        for region in OVERSEAS_REGIONS:
            overseas = _parse(text, region)
            if overseas is not None and _is_mobile(overseas):
                number = overseas
                break
    if not phonenumbers.is_valid_number(number):
        raise _bad_mobile("mobile.invalid", text)
    if not _is_mobile(number):
        raise _bad_mobile("mobile.not_mobile", text)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_mobile(e164: str | None) -> str:
    """A stored number (E.164, "+33612345678") as a partner writes it ("06 12 34 56 78");
    anything that does not parse is shown as it is."""
    if not e164:
        return ""
    number = _parse(e164, DEFAULT_REGION)
    if number is None:
        return e164
    import phonenumbers

    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def mask_mobile(e164: str) -> str:
    """The number as shown on the reset screen: "06-XX-XX-32-34" (SPEC §7).

    French numbers, overseas included, keep their first two and last four national digits,
    in pairs; other countries show "+<code> " then X for all but the last four digits.
    """
    import phonenumbers

    number = _parse(e164, DEFAULT_REGION)
    if number is None or not phonenumbers.is_valid_number(number):
        raise _bad_mobile("mobile.unmaskable")
    significant = phonenumbers.national_significant_number(number)
    region = phonenumbers.region_code_for_number(number)
    if region in _FRENCH_REGIONS and len(significant) == 9:
        national = "0" + significant
        return f"{national[:2]}-XX-XX-{national[6:8]}-{national[8:]}"
    hidden = "X" * (len(significant) - 4)
    return f"+{number.country_code} {hidden}{significant[-4:]}"
