"""Identifier rules of SPEC §3."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apexdir.errors import Invalid
from apexdir.rules.identifiers import (
    base_identifier,
    candidates_pattern,
    identifier,
    is_valid_identifier,
    normalize_part,
    numbered,
)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Marie", "Martin", "marie.martin-px"),
        ("Cathy", "Noël", "cathy.noel-px"),
        ("Sylvie", "d'Alembert", "sylvie.dalembert-px"),
        ("Benjamin", "Petit-Silva", "benjamin.petit-silva-px"),
        ("Michel", "de la Bruyère", "michel.de-la-bruyere-px"),
    ],
)
def test_examples_of_the_guide(first: str, last: str, expected: str) -> None:
    """The five examples of the user guide hold exactly."""
    assert identifier(first, last, []) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Œdipe", "oedipe"),
        ("Lætitia", "laetitia"),
        ("Strauß", "strauss"),
        ("Søren", "soren"),
        ("Łukasz", "lukasz"),
        ("ÉLODIE", "elodie"),
        ("Jean-François", "jean-francois"),
        ("José María", "jose-maria"),
        ("Ñúñez", "nunez"),
    ],
)
def test_non_ascii_letters_are_transliterated(value: str, expected: str) -> None:
    """Every non-ASCII letter becomes ASCII, not dropped."""
    assert normalize_part(value) == expected


@pytest.mark.parametrize("apostrophe", ["'", "’", "ʼ", "‘", "`"])
def test_every_apostrophe_like_character_is_removed(apostrophe: str) -> None:
    """D'Artagnan with any kind of apostrophe gives "dartagnan", never "d-artagnan"."""
    assert normalize_part(f"D{apostrophe}Artagnan") == "dartagnan"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("de  la\tBruyère", "de-la-bruyere"),
        ("de\u00a0la\u202fBruyère", "de-la-bruyere"),
        ("Petit - Silva", "petit-silva"),
        ("Petit--Silva", "petit-silva"),
        ("-Martin-", "martin"),
        ("  Martin  ", "martin"),
        ("' Martin", "martin"),
        ("St. John", "st-john"),
        ("J.-P.", "j-p"),
        ("Martin (née Durand)", "martin-nee-durand"),
        ("Louis XIV", "louis-xiv"),
        ("Martin_Durand", "martindurand"),
        ("O'Neil-O'Hara", "oneil-ohara"),
    ],
)
def test_separators_and_other_characters(value: str, expected: str) -> None:
    """Whitespace runs become one hyphen, hyphens collapse and are trimmed, others go."""
    assert normalize_part(value) == expected


def test_a_period_inside_a_name_never_becomes_the_separator() -> None:
    """The only period of the identifier is the one between first and last name."""
    assert identifier("Jean.Pierre", "Le.Gall", []) == "jeanpierre.legall-px"


def test_base_identifier_has_no_suffix() -> None:
    """The stem is what collision numbers are appended to."""
    assert base_identifier("Marie", "Martin") == "marie.martin"


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        ("", "Martin", "prénom"),
        ("   ", "Martin", "prénom"),
        ("Marie", "", "nom"),
        ("Marie", "'-.", "nom"),
        ("!!!", "Martin", "prénom"),
    ],
)
def test_an_empty_part_is_an_error_naming_the_field(first: str, last: str, field: str) -> None:
    """Nothing usable left in a name raises Invalid that says which name (its label and
    its field)."""
    with pytest.raises(Invalid) as caught:
        identifier(first, last, [])
    assert caught.value.message.startswith(f"{field.capitalize()} : ")
    assert caught.value.field == {"nom": "last_name", "prénom": "first_name"}[field]


def test_empty_part_messages() -> None:
    """The exact wording distinguishes an empty name from an unusable one."""
    with pytest.raises(Invalid, match=r"^Prénom : ce champ est obligatoire pour construire"):
        base_identifier(" ", "Martin")
    with pytest.raises(Invalid) as caught:
        base_identifier("Marie", "?!")
    assert str(caught.value) == (
        "Nom : « ?! » ne contient aucune lettre ni aucun chiffre utilisable pour construire "
        "l'identifiant ; saisissez-le en lettres latines."
    )


def test_first_holder_gets_the_plain_form() -> None:
    """Unrelated identifiers do not push the first holder to a number."""
    assert identifier("Marie", "Martin", ["paul.martin-px", "marie.martine-px"]) == (
        "marie.martin-px"
    )


def test_collisions_are_numbered_from_two() -> None:
    """The second holder is marie.martin2-px, the third marie.martin3-px."""
    assert identifier("Marie", "Martin", ["marie.martin-px"]) == "marie.martin2-px"
    assert identifier("Marie", "Martin", ["marie.martin-px", "marie.martin2-px"]) == (
        "marie.martin3-px"
    )


def test_the_first_free_number_is_used() -> None:
    """A gap left by a deleted account is filled; order of the input does not matter."""
    taken = ["marie.martin4-px", "marie.martin-px", "marie.martin3-px"]
    assert identifier("Marie", "Martin", taken) == "marie.martin2-px"


def test_unrelated_values_of_the_search_are_ignored() -> None:
    """Values matching uid=marie.martin*-px that are not collision forms change nothing."""
    taken = [
        "marie.martin-px",
        "marie.martine-px",
        "marie.martin-x2-px",
        "marie.martin-durand-px",
        "marie.martin02-px",
        "marie.martin2",
        "marie.martin1-px",
    ]
    assert identifier("Marie", "Martin", taken) == "marie.martin2-px"


def test_taken_values_are_compared_without_case() -> None:
    """LDAP uid matching ignores case, so a v1 identifier in capitals is a collision."""
    assert identifier("Marie", "Martin", {"Marie.Martin-PX"}) == "marie.martin2-px"


def test_taken_may_be_any_iterable() -> None:
    """A generator straight from a search result works."""
    assert identifier("Marie", "Martin", (v for v in ["marie.martin-px"])) == ("marie.martin2-px")


def test_candidates_pattern_is_stem_and_suffix() -> None:
    """The caller searches uid=<stem>*-px."""
    assert candidates_pattern("marie.martin") == ("marie.martin", "-px")


def test_every_candidate_matches_the_pattern() -> None:
    """The single search finds every identifier `identifier` could produce."""
    prefix, suffix = candidates_pattern("marie.martin")
    for number in range(1, 50):
        value = numbered("marie.martin", number)
        assert value.startswith(prefix)
        assert value.endswith(suffix)


def test_numbered() -> None:
    """Number 1 is the plain form; numbers below 1 are a programming error."""
    assert numbered("a.b", 1) == "a.b-px"
    assert numbered("a.b", 12) == "a.b12-px"
    with pytest.raises(ValueError):
        numbered("a.b", 0)


@pytest.mark.parametrize(
    "value",
    [
        "marie.martin-px",
        "marie.martin2-px",
        "marie.martin13-px",
        "michel.de-la-bruyere-px",
        "jean-francois.petit-silva3-px",
        "a.b-px",
        "marie.martin-x2-px",
    ],
)
def test_valid_identifiers(value: str) -> None:
    """The shape part.part[N]-px, hyphenated parts allowed."""
    assert is_valid_identifier(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "marie.martin",
        "marie.martin-PX",
        "Marie.Martin-px",
        "mariemartin-px",
        "marie.martin.durand-px",
        ".martin-px",
        "marie.-px",
        "marie.martin--px",
        "marie-.martin-px",
        "marie.-martin-px",
        "-marie.martin-px",
        "marie.martin-px ",
        "marie.noël-px",
        "marie.d'alembert-px",
        "marie.martin_2-px",
        "mmartin",
    ],
)
def test_invalid_identifiers(value: str) -> None:
    """Anything the rules could not have produced is refused."""
    assert not is_valid_identifier(value)


names = st.text(min_size=1, max_size=30)
# Any text around at least one ASCII letter or digit, which always survives normalisation.
usable_names = st.builds(
    lambda before, kept, after: before + kept + after,
    st.text(max_size=15),
    st.sampled_from("AbcZm09"),
    st.text(max_size=15),
)


@given(usable_names, usable_names, st.lists(st.text(max_size=30), max_size=10))
def test_every_identifier_has_the_valid_shape(first: str, last: str, taken: list[str]) -> None:
    """Whatever the names, the result is ASCII, lower case and has the documented shape."""
    value = identifier(first, last, taken)
    assert value.isascii()
    assert value == value.lower()
    assert is_valid_identifier(value)
    assert value.count(".") == 1


@given(usable_names, usable_names)
def test_normalisation_is_idempotent(first: str, last: str) -> None:
    """Normalising normalised parts changes nothing (a stem can be rebuilt from itself)."""
    stem = base_identifier(first, last)
    first_part, last_part = stem.split(".")
    assert base_identifier(first_part, last_part) == stem


@given(usable_names, usable_names, st.integers(min_value=0, max_value=30), st.data())
def test_the_result_is_never_taken_and_is_the_first_free(
    first: str, last: str, count: int, data: st.DataObject
) -> None:
    """The identifier returned is free, and every lower-numbered candidate is taken."""
    stem = base_identifier(first, last)
    all_numbers = list(range(1, count + 2))
    taken_numbers = data.draw(st.sets(st.sampled_from(all_numbers)))
    taken = {numbered(stem, n) for n in taken_numbers}
    value = identifier(first, last, taken)
    assert value not in taken
    first_free = min(n for n in range(1, count + 3) if n not in taken_numbers)
    assert value == numbered(stem, first_free)


@given(names.filter(lambda text: re.search(r"[A-Za-z0-9]", text) is None))
def test_names_without_letters_or_digits_in_ascii_form_may_fail_only_with_invalid(
    name: str,
) -> None:
    """Exotic input either yields a valid part or raises Invalid, nothing else."""
    try:
        part = normalize_part(name)
    except Invalid:
        return
    assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", part)
