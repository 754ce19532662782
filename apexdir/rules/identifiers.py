"""Login identifiers: `prenom.nom-px`, built from the names (SPEC §3).

The identifier is computed once, when a creation is accepted, and never changes afterwards:
applications store it. Everything here is pure; the caller looks up the identifiers already
in use with ONE directory search and passes them in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from unidecode import unidecode

from apexdir.errors import Invalid

SUFFIX = "-px"
SEPARATOR = "."
FIRST_COLLISION_NUMBER = 2
MAX_LENGTH = 256  # uid is a DirectoryString{256} (core.schema)
# Room left for the suffix and a collision number of up to six digits.
MAX_STEM_LENGTH = MAX_LENGTH - len(SUFFIX) - 6

# Removed rather than turned into a hyphen: "d'Alembert" is "dalembert", not "d-alembert".
# They go before transliteration because unidecode maps the typographic ones to "'" and
# other characters of foreign scripts could map onto them too.
_APOSTROPHES = str.maketrans("", "", "'\u2019\u02bc\u2018`")
_WHITESPACE = re.compile(r"\s+")
_NOT_ALLOWED = re.compile(r"[^a-z0-9-]")
_HYPHENS = re.compile(r"-{2,}")
_PART = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_IDENTIFIER = re.compile(rf"{_PART}\.{_PART}{re.escape(SUFFIX)}")


# The error's field (the person's name it concerns) and the label its message starts with.
_FIELDS = {"nom": ("last_name", "Nom"), "prénom": ("first_name", "Prénom")}


def normalize_part(value: str, *, field: str = "nom") -> str:
    """One half of the stem, under the rules of SPEC §3.

    `field` ("nom" or "prénom") names the input in the error raised when nothing usable is
    left.
    """
    name, label = _FIELDS.get(field, (None, field.capitalize()))
    text = value.translate(_APOSTROPHES)
    text = unidecode(text).lower()
    # After transliteration, so that the spaces unidecode puts between the syllables of a
    # non-Latin script ("北京" → "Bei Jing ") separate words like typed spaces do.
    text = _WHITESPACE.sub("-", text)
    text = _NOT_ALLOWED.sub("", text)
    text = _HYPHENS.sub("-", text).strip("-")
    if not value.strip():
        raise Invalid(code="identifier.empty", params={"label": label}, field=name)
    if not text:
        raise Invalid(
            code="identifier.no_letter",
            params={"label": label, "value": value.strip()},
            field=name,
        )
    return text


def base_identifier(first_name: str, last_name: str) -> str:
    """The stem without number nor suffix, e.g. "marie.martin" for Marie Martin."""
    first = normalize_part(first_name, field="prénom")
    last = normalize_part(last_name, field="nom")
    stem = f"{first}{SEPARATOR}{last}"
    # Transliteration multiplies the length (each "北" gives "bei-"): the directory's bound
    # on uid is checked on the result, not on the names.
    if len(stem) > MAX_STEM_LENGTH:
        raise Invalid(
            code="identifier.too_long",
            params={"length": len(stem), "max": MAX_STEM_LENGTH},
            field="last_name",
        )
    return stem


def candidates_pattern(stem: str) -> tuple[str, str]:
    """The (prefix, suffix) of every identifier that could collide with `stem`.

    The directory layer searches `(uid=<prefix>*<suffix>)`, escaping both halves, and passes
    every value found to `identifier`. The pattern also matches unrelated identifiers
    ("marie.martine-px"); `identifier` ignores them.
    """
    return stem, SUFFIX


def numbered(stem: str, number: int) -> str:
    """The identifier of the `number`-th holder of `stem`: 1 is the plain form."""
    if number < 1:
        raise ValueError(f"collision numbers start at 1, got {number}")
    return f"{stem}{SUFFIX}" if number == 1 else f"{stem}{number}{SUFFIX}"


def identifier(first_name: str, last_name: str, taken: Iterable[str] = ()) -> str:
    """The first free identifier for these names: `stem-px`, then `stem2-px`, `stem3-px`…

    `taken` holds the identifiers already issued (at least those matching
    `candidates_pattern`): the accounts' and the deleted accounts' (their tombstones), since
    an identifier is never issued twice — applications that key on it would mix two people
    (SPEC §10).
    """
    stem = base_identifier(first_name, last_name)
    # uid matching is case-insensitive in LDAP: a v1 "Marie.Martin-px" blocks ours.
    used = {value.lower() for value in taken}
    candidate = numbered(stem, 1)
    number = FIRST_COLLISION_NUMBER
    while candidate in used:
        candidate = numbered(stem, number)
        number += 1
    return candidate


def is_valid_identifier(value: str) -> bool:
    """Whether `value` has the shape of an identifier of SPEC §3 (`part.part[N]-px`).

    Used to decide whether an identifier inherited from APEX v1 can be kept as is. The
    optional collision number is part of the last name's characters and needs no own rule.
    """
    return len(value) <= MAX_LENGTH and _IDENTIFIER.fullmatch(value) is not None


# What a person may type where an identifier is asked for (login, forgotten password).
MAX_TYPED = 128


def clean_identifier(value: str) -> str | None:
    """The identifier as stored, or None when it cannot be one (never looked up).

    Identifiers are ASCII by construction (SPEC §3). NFKC and case folding come first, so
    that look-alikes slapd would match as the same uid ("ｃathy.noel-px" in fullwidth
    letters) are the same key for the rate limits too; what is still not ASCII after that
    is unknown, silently.
    """
    text = unicodedata.normalize("NFKC", value).strip().casefold()
    if not text or len(text) > MAX_TYPED or not text.isascii():
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return None
    return text
