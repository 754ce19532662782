"""SIRET validation (SPEC §2)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apexdir.errors import Invalid
from apexdir.rules.siret import validate_siret

LA_POSTE = "356000000"


def luhn_valid(digits: str) -> bool:
    """Independent Luhn check, so the tests do not only restate stdnum."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("73282932000074", "73282932000074"),
        ("732 829 320 00074", "73282932000074"),
        ("  73282932000074\n", "73282932000074"),
        ("732\u00a0829\u00a0320\u00a000074", "73282932000074"),
        ("732\u202f829\u202f320\u202f00074", "73282932000074"),
    ],
)
def test_valid_siret_is_returned_as_14_digits(value: str, expected: str) -> None:
    """Spaces of any kind are removed; the digits are returned."""
    assert validate_siret(value) == expected


@pytest.mark.parametrize(
    "value",
    ["35600000000048", "35600000049837", "35600000010000", "356 000 000 00001"],
)
def test_la_poste_sirets_are_accepted(value: str) -> None:
    """La Poste's establishments are not Luhn-valid; their digit sum is a multiple of 5."""
    number = value.replace(" ", "")
    assert validate_siret(value) == number
    if number != "35600000000048":
        assert not luhn_valid(number)


def test_la_poste_siret_with_a_bad_digit_sum_is_refused() -> None:
    """The La Poste exception is not a free pass."""
    with pytest.raises(Invalid) as caught:
        validate_siret("35600000049838")
    assert str(caught.value) == (
        "SIRET invalide : la clé de contrôle de 35600000049838 est incorrecte ; "
        "vérifiez les chiffres saisis."
    )


def test_bad_checksum_message() -> None:
    """One wrong digit is reported as a wrong key, naming the number."""
    with pytest.raises(Invalid) as caught:
        validate_siret("73282932000079")
    assert str(caught.value) == (
        "SIRET invalide : la clé de contrôle de 73282932000079 est incorrecte ; "
        "vérifiez les chiffres saisis."
    )


def test_siren_part_must_be_valid_too() -> None:
    """A 14-digit Luhn-valid number whose SIREN part is not Luhn-valid is refused."""
    number = "10000000000008"
    assert luhn_valid(number)
    assert not luhn_valid(number[:9])
    with pytest.raises(Invalid, match="clé de contrôle"):
        validate_siret(number)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("7328293200007", "SIRET invalide : 7328293200007 compte 13 chiffres au lieu de 14"),
        ("732829320000744", "SIRET invalide : 732829320000744 compte 15 chiffres au lieu de 14"),
        ("732829320", "SIRET invalide : 732829320 compte 9 chiffres au lieu de 14"),
        ("", "SIRET invalide : la valeur est vide"),
        ("   ", "SIRET invalide : la valeur est vide"),
        (
            "7328293200007A",
            "SIRET invalide : « 7328293200007A » ne doit contenir que des chiffres",
        ),
        (
            "732.829.320.00074",
            "SIRET invalide : « 732.829.320.00074 » ne doit contenir que des chiffres",
        ),
        (
            "732829320-00074",
            "SIRET invalide : « 732829320-00074 » ne doit contenir que des chiffres",
        ),
        (
            "٧٣٢٨٢٩٣٢٠٠٠٠٧٤",
            "SIRET invalide : « ٧٣٢٨٢٩٣٢٠٠٠٠٧٤ » ne doit contenir que des chiffres",
        ),
    ],
)
def test_invalid_sirets_say_why(value: str, message: str) -> None:
    """Empty, non-digit and wrong-length values each get their own message, then what to
    type; the error names its field."""
    with pytest.raises(Invalid) as caught:
        validate_siret(value)
    hint = "Saisissez les 14 chiffres du SIRET, par exemple 732 829 320 00074."
    assert str(caught.value) == f"{message}. {hint}"
    assert caught.value.field == "siret"


@given(st.text(alphabet="0123456789", min_size=13, max_size=13))
def test_exactly_one_key_digit_completes_any_13_digits(prefix: str) -> None:
    """Outside La Poste, 1 of the 10 possible last digits is valid (Luhn), given a valid SIREN
    (other than nine zeros, refused whatever follows)."""
    if prefix.startswith(LA_POSTE) or not luhn_valid(prefix[:9]) or prefix[:9] == "0" * 9:
        return
    valid = []
    for digit in "0123456789":
        with contextlib.suppress(Invalid):
            valid.append(validate_siret(prefix + digit))
    assert len(valid) == 1
    assert luhn_valid(valid[0])


@pytest.mark.parametrize("value", ["00000000000000", "000 000 000 00000", "00000000000018"])
def test_siren_made_of_zeros_is_refused(value: str) -> None:
    """Zeros pass the Luhn key (their sum is 0): a SIREN of nine zeros is refused anyway."""
    assert luhn_valid(value.replace(" ", ""))
    with pytest.raises(Invalid, match="SIREN composé de zéros"):
        validate_siret(value)


@given(st.text(alphabet="0123456789", min_size=5, max_size=5))
def test_la_poste_rule_is_the_digit_sum(tail: str) -> None:
    """Any La Poste SIRET is accepted exactly when its digit sum is a multiple of 5."""
    number = LA_POSTE + tail
    accepted = True
    try:
        validate_siret(number)
    except Invalid:
        accepted = False
    expected = number == "35600000000048" or sum(map(int, number)) % 5 == 0
    assert accepted == expected
