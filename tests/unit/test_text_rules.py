"""What the directory's syntaxes accept, and the rules' bounds against the schema's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apexdir.bulk.validate import APP_NAME_LENGTH, PASSED_ON_RULES, SERVICE_ID_LENGTH
from apexdir.errors import Invalid
from apexdir.resources import schema_dir
from apexdir.rules import identifiers
from apexdir.rules.contact import MAX_MAIL_LENGTH
from apexdir.rules.refusal import MAX_LENGTH as REASON_LENGTH
from apexdir.rules.text import (
    control_character,
    directory_string,
    generalized_time,
    single_value,
)
from apexdir.workflows.structures import TEXT_LIMITS

CORE = Path("/etc/ldap/schema")


def _bounds(text: str) -> dict[str, int | None]:
    """{attribute name: N of its SYNTAX …{N}, or None} for each attributetype of a schema."""
    out: dict[str, int | None] = {}
    for block in re.findall(r"^attributetype\s*\((.*?)\)\s*$", text, re.M | re.S):
        names = re.search(r"NAME\s+(?:\(\s*'([^']+)'|'([^']+)')", block)
        syntax = re.search(r"SYNTAX\s+[\d.]+(?:\{(\d+)\})?", block)
        if names:
            name = names.group(1) or names.group(2)
            out[name] = int(syntax.group(1)) if syntax and syntax.group(1) else None
    return out


@pytest.fixture(scope="module")
def schema() -> dict[str, int | None]:
    bounds = _bounds((schema_dir() / "apex.schema").read_text(encoding="utf-8"))
    core = CORE / "core.schema"
    if core.exists():  # Debian's slapd ships it; the test suite runs on it
        bounds |= _bounds(core.read_text(encoding="utf-8"))
    return bounds


def test_rules_stay_within_the_schema_bounds(schema: dict[str, int | None]) -> None:
    """A rule that accepts more than the schema declares lets through what other readers of
    the directory may refuse: each bound of the rules is checked against the schema."""
    checks = {
        "apexReason": REASON_LENGTH,
        "apexServiceId": SERVICE_ID_LENGTH,
        "apexTradeName": TEXT_LIMITS["trade_name"],
        "apexStreet2": TEXT_LIMITS["street2"],
        "apexCountry": TEXT_LIMITS["country"],
        **{attr: bound for attr, (_, bound, _) in PASSED_ON_RULES.items() if bound},
    }
    if "street" in schema:
        checks |= {
            "street": TEXT_LIMITS["street"],
            "postalCode": TEXT_LIMITS["postal_code"],
            "mail": MAX_MAIL_LENGTH,
        }
    for attr, bound in checks.items():
        if attr not in schema:
            continue  # inetorgperson's displayName: no bound
        declared = schema[attr]
        assert declared is None or bound <= declared, (attr, bound, declared)
    assert identifiers.MAX_LENGTH <= 256  # uid: DirectoryString{256} (core/cosine)
    assert APP_NAME_LENGTH <= 32768  # cn: name{32768}


@pytest.mark.parametrize(
    ("value", "found"),
    [("Martin", None), ("a\tb", "U+0009"), ("a\x7fb", "U+007F"), ("a\x9bb", "U+009B"),
     ("a\udcffb", "U+DCFF"), ("Zoë 北京 \u00a0", None)],
)  # fmt: skip
def test_control_character(value: str, found: str | None) -> None:
    assert control_character(value) == found


def test_directory_string() -> None:
    assert directory_string("cn", " Zoë ") == " Zoë "
    for value, message in (
        ("", "valeur vide"),
        ("   ", "valeur vide"),
        ("a\x00b", "U+0000"),
        ("a\udc80", "U+DC80"),
        ("x" * 65, "64 caractères au plus (65)"),
    ):
        with pytest.raises(Invalid, match=re.escape(message)):
            directory_string("apexServiceId", value, max_length=64)


@pytest.mark.parametrize("value", ["20260115090000Z", "20260115090000.123Z", "20240229235959Z"])
def test_generalized_times(value: str) -> None:
    assert generalized_time("apexRequestedAt", value) == value


@pytest.mark.parametrize(
    "value", ["hier", "", "20260115090000", "20261315090000Z", "20230229000000Z", "2026-01-15"]
)
def test_not_generalized_times(value: str) -> None:
    with pytest.raises(Invalid, match="n'est pas une date de l'annuaire"):
        generalized_time("apexRequestedAt", value)


def test_single_value() -> None:
    assert single_value("displayName", ["x"]) == "x"
    with pytest.raises(Invalid, match="une seule valeur permise"):
        single_value("displayName", ["x", "y"])


def test_identifiers_stay_within_uid_bound() -> None:
    """uid is a DirectoryString{256}: a longer identifier is not one, and names whose
    transliteration would exceed it are refused with a French message."""
    assert identifiers.is_valid_identifier("a" * 120 + "." + "b" * 120 + "-px")
    assert not identifiers.is_valid_identifier("a" * 150 + "." + "b" * 150 + "-px")
    with pytest.raises(Invalid, match=r"identifiant de \d+ caractères"):
        identifiers.base_identifier("北" * 40, "京" * 40)  # each gives four characters
