"""SIRET of a structure: 14 digits with a Luhn key, La Poste's own rule aside (SPEC §2)."""

from __future__ import annotations

import re

from apexdir.errors import Invalid

LENGTH = 14
SIREN_LENGTH = 9  # the SIREN (the legal person) is the first nine digits

# Operators paste SIRETs as printed ("732 829 320 00074"), often with the non-breaking or
# narrow non-breaking spaces of French typography; \s covers them all.
_WHITESPACE = re.compile(r"\s+")
_DIGITS = re.compile(r"[0-9]+")


def _bad(code: str, **params: object) -> Invalid:
    return Invalid(code=code, params=params, field="siret")


def validate_siret(value: str) -> str:
    """The SIRET as 14 digits, or `Invalid` saying what is wrong with it.

    Format and length are checked here so that the message is precise; the checksum, with
    the exception for La Poste (SIREN 356000000), is python-stdnum's.
    """
    number = _WHITESPACE.sub("", value)
    if not number:
        raise _bad("siret.empty")
    # ASCII digits only: str.isdigit() would accept "٣" or "²", which stdnum then rejects
    # with a less helpful message.
    if not _DIGITS.fullmatch(number):
        raise _bad("siret.not_digits", value=value.strip())
    if len(number) != LENGTH:
        raise _bad("siret.length", value=number, length=len(number))
    # Zeros pass the Luhn key (their sum is 0) but no INSEE number is made of them: a SIREN
    # of nine zeros is a placeholder typed to get past a form, not a legal person.
    if number[:SIREN_LENGTH] == "0" * SIREN_LENGTH:
        raise _bad("siret.zeros", value=number)
    # Imported here: python-stdnum loads pydoc and more (≈ 4 ms), which the commands that
    # import this module without checking a SIRET (`apexdir account show`) need not pay.
    from stdnum.exceptions import ValidationError
    from stdnum.fr import siret as stdnum_siret

    try:
        return stdnum_siret.validate(number)
    except ValidationError:
        raise _bad("siret.checksum", value=number) from None
