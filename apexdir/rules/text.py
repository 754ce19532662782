"""Text the directory stores: what its LDAP syntaxes and the schema's bounds accept.

slapd refuses a DirectoryString that is empty or not UTF-8, an IA5String that is not ASCII
(`mail`: rules.contact checks it), a GeneralizedTime that is not one, and several values of a
SINGLE-VALUE attribute. OpenLDAP does not enforce the `{N}` bounds of a schema
(schema/apex.schema, core.schema), but they are the contract other readers of the directory
rely on. These rules refuse all of that before anything is written: a bulk file is then
refused whole instead of half loaded. Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from apexdir.errors import Invalid

# Cc: C0/C1 controls; Cs: lone surrogates, what undecodable bytes become in Python, which no
# LDAP value (UTF-8) can carry.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cs"})
# RFC 4517 §3.3.13 as slapd writes it and reads it back: seconds, optional fraction, UTC.
_GENERALIZED_TIME = re.compile(r"(\d{14})(?:[.,]\d{1,6})?Z")


def control_character(value: str) -> str | None:
    """The first control character or lone surrogate of `value`, as U+XXXX, or None."""
    if value.isprintable():  # C-fast, and true of nearly every value: a bulk file has millions
        return None
    for char in value:
        if unicodedata.category(char) in _CONTROL_CATEGORIES:
            return f"U+{ord(char):04X}"
    return None


def directory_string(label: str, value: str, *, max_length: int | None = None) -> str:
    """A DirectoryString value (UTF-8, not empty) within the schema's bound, or `Invalid`."""
    if not value.strip():
        raise Invalid(f"{label} : valeur vide, refusée par l'annuaire")
    bad = control_character(value)
    if bad:
        raise Invalid(f"{label} : caractère de contrôle ou invalide ({bad})")
    if max_length is not None and len(value) > max_length:
        raise Invalid(f"{label} : {max_length} caractères au plus ({len(value)})")
    return value


# A name is shown to people (pages, mails) and handed raw to programs (OIDC claims, LDAP
# readers). Cf characters are invisible there and change what is shown: U+202E displays
# "\u202eyhtaC" as « Cathy », zero-width spaces and joiners make two names look alike.
# "<" and ">" would be markup to any reader that does not escape; no name needs them.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
_MARKUP_BRACKETS = frozenset("<>")


def display_name(label: str, value: str, *, max_length: int, field: str | None = None) -> str:
    """A nom, prénom, service or structure name: whitespace folded, 1 to `max_length`
    characters, no control nor invisible format character, no "<" nor ">"; or `Invalid`
    (a catalogue code, `label` in its params, `field` the input it concerns) naming the
    character."""
    text = " ".join(value.split())

    def refused(code: str, **params: object) -> Invalid:
        return Invalid(code=code, params={"label": label, **params}, field=field)

    if not text:
        raise refused("text.required")
    if len(text) > max_length:
        raise refused("text.too_long", max=max_length, length=len(text))
    if not text.isprintable():  # C-fast: true of nearly every name
        for char in text:
            if unicodedata.category(char) in _HIDDEN_CATEGORIES:
                raise refused("text.hidden_char", char=f"U+{ord(char):04X}")
    if not _MARKUP_BRACKETS.isdisjoint(text):
        raise refused("text.brackets")
    return text


def generalized_time(label: str, value: str) -> str:
    """A GeneralizedTime in UTC (e.g. 20260115090000Z), or `Invalid`."""
    if _is_plain_time(value):
        return value
    return _parsed_time(label, value)


def _is_plain_time(value: str) -> bool:
    """Whether `value` is "20260115090000Z" (ASCII, no fraction) and a real moment: the
    fixed fields checked by the calendar strptime uses (datetime refuses the same days and
    hours), without strptime's cost — bulk files hold one per account."""
    if not (len(value) == 15 and value[14] == "Z" and value.isascii() and value[:14].isdigit()):
        return False
    try:
        datetime(
            int(value[:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12]),
            int(value[12:14]),
        )
    except ValueError:
        return False  # the full rule words the error
    return True


def _parsed_time(label: str, value: str) -> str:
    """`generalized_time` by its pattern and strptime, whatever the form."""
    found = _GENERALIZED_TIME.fullmatch(value.strip())
    try:
        if found is None:
            raise ValueError(value)
        datetime.strptime(found.group(1), "%Y%m%d%H%M%S")
    except ValueError:
        raise Invalid(
            f"{label} : « {value} » n'est pas une date de l'annuaire (AAAAMMJJhhmmssZ)"
        ) from None
    return value.strip()


def single_value(label: str, values: list[str]) -> str:
    """The one value of a SINGLE-VALUE attribute, or `Invalid` when there are several."""
    if len(values) != 1:
        raise Invalid(f"{label} : une seule valeur permise ({len(values)} données)")
    return values[0]
