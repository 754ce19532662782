"""Password policy and strength gauge (SPEC §4)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apexdir.errors import Invalid, PolicyViolation
from apexdir.rules.passwords import check_password, enforce_password, strength

LENGTH = "Le mot de passe doit contenir entre 12 et 20 caractères"
UPPER = "Le mot de passe doit contenir au moins une lettre majuscule"
LOWER = "Le mot de passe doit contenir au moins une lettre minuscule"
DIGITS = "Le mot de passe doit contenir au moins 2 chiffres"
SPECIAL = "Le mot de passe doit contenir au moins un caractère spécial (ni lettre ni chiffre)"
CONTROL = "Le mot de passe ne doit pas contenir de caractère de contrôle"


@pytest.mark.parametrize(
    "password",
    [
        "Abcdefghij1!2",
        "Motdepasse12!",
        "Ab1!Ab1!Ab1!",  # exactly 12
        "Ab1!Ab1!Ab1!Ab1!Ab1!",  # exactly 20
        "Élodie-2024 été",  # accented letters count, a space is a special character
        "ÉTÉ hiver 12",
        "abcdefghiJ12§",
    ],
)
def test_compliant_passwords(password: str) -> None:
    """Passwords that meet every rule yield no message."""
    assert check_password(password) == []


@pytest.mark.parametrize(
    ("password", "messages"),
    [
        ("Ab1!Ab1!Ab1", [LENGTH]),
        ("Ab1!Ab1!Ab1!Ab1!Ab1!A", [LENGTH]),
        ("abcdefghij1!2", [UPPER]),
        ("ABCDEFGHIJ1!2", [LOWER]),
        ("Abcdefghijk1!", [DIGITS]),
        ("Abcdefghijkl!", [DIGITS]),
        ("Abcdefghij123", [SPECIAL]),
        ("Abcdefghij²³!", [DIGITS]),  # superscripts are symbols, not typed digits
        ("Abcdefghij1\n2!", [CONTROL]),
        ("Abcdefghij1\u200b2!", [CONTROL]),
        ("", [LENGTH, UPPER, LOWER, DIGITS, SPECIAL]),
        ("abc", [LENGTH, UPPER, DIGITS, SPECIAL]),
        ("123456789012345678901", [LENGTH, UPPER, LOWER, SPECIAL]),
    ],
)
def test_each_unmet_rule_has_one_message(password: str, messages: list[str]) -> None:
    """The messages list exactly the unmet rules, in a stable order."""
    assert check_password(password) == messages


def test_limits_are_configurable() -> None:
    """Other limits change both the check and the message."""
    assert check_password("Ab1!Ab1!Ab1!", min_length=14, max_length=30) == [
        "Le mot de passe doit contenir entre 14 et 30 caractères"
    ]
    assert check_password("Ab1!Ab1!", min_length=8, max_length=8) == []


@pytest.mark.parametrize(("low", "high"), [(0, 20), (13, 12), (-1, 5)])
def test_absurd_limits_are_a_programming_error(low: int, high: int) -> None:
    """Limits are configuration: nonsense is refused loudly, not silently."""
    with pytest.raises(ValueError):
        check_password("whatever", min_length=low, max_length=high)


def test_enforce_accepts_a_compliant_confirmed_password() -> None:
    """Nothing is raised when the password is good and confirmed."""
    enforce_password("Motdepasse12!", "Motdepasse12!")


def test_enforce_lists_the_unmet_rules() -> None:
    """A policy failure is a PolicyViolation with one detail per rule."""
    with pytest.raises(PolicyViolation) as caught:
        enforce_password("motdepasse", "motdepasse")
    assert caught.value.message == "Le mot de passe ne respecte pas la politique"
    assert caught.value.details == [LENGTH, UPPER, DIGITS, SPECIAL]


def test_enforce_reports_a_mismatch_separately() -> None:
    """A good password with a different confirmation is not a policy violation."""
    with pytest.raises(Invalid) as caught:
        enforce_password("Motdepasse12!", "Motdepasse12?")
    assert not isinstance(caught.value, PolicyViolation)
    assert str(caught.value).startswith("Les deux mots de passe ne correspondent pas : ")
    assert (caught.value.code, caught.value.field) == ("password.mismatch", "confirmation")


def test_enforce_checks_the_policy_before_the_confirmation() -> None:
    """When both are wrong, the rules are what the user needs to read."""
    with pytest.raises(PolicyViolation):
        enforce_password("court", "autre")


def test_enforce_passes_the_limits_on() -> None:
    """Configured limits apply to enforcement too."""
    with pytest.raises(PolicyViolation) as caught:
        enforce_password("Motdepasse12!", "Motdepasse12!", min_length=14, max_length=30)
    assert caught.value.details == ["Le mot de passe doit contenir entre 14 et 30 caractères"]
    enforce_password("Ab1!Ab1!", "Ab1!Ab1!", min_length=8, max_length=8)


def _texts(password: str) -> list[str]:
    messages = check_password(password)
    with pytest.raises(Invalid) as caught:
        enforce_password(password, password + "x")
    return [*messages, str(caught.value), *caught.value.details]


_ANY_PASSWORD = _texts("")  # what the messages say whatever the password: every rule broken


@given(st.text(max_size=30))
def test_messages_never_quote_the_password(password: str) -> None:
    """No message, nor the error raised, contains the password."""
    texts = _texts(password)
    # Short strings like "e" occur in any French sentence by chance, and so does a longer
    # one the messages say whatever the password ("Le m"): those of an empty password,
    # which breaks every rule.
    if len(password) >= 4 and not any(password in text for text in _ANY_PASSWORD):
        assert all(password not in text for text in texts)


@given(st.text(max_size=30))
def test_check_is_consistent_with_the_rules(password: str) -> None:
    """Each message appears exactly when its rule, computed independently, is unmet."""
    messages = check_password(password)
    assert (LENGTH in messages) == (not 12 <= len(password) <= 20)
    assert (UPPER in messages) == (not any(c.isupper() for c in password))
    assert (LOWER in messages) == (not any(c.islower() for c in password))
    assert (DIGITS in messages) == (sum(c.isdecimal() for c in password) < 2)
    assert (SPECIAL in messages) == all(c.isalpha() or c.isdecimal() for c in password)


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("", "faible"),
        ("Ab1!", "faible"),
        ("Ab1!Ab1!Ab1", "faible"),  # 11 characters
        ("abcdefghijklmnopqrst", "faible"),  # one class
        ("abcdefghij12345678", "faible"),  # two classes
        ("Abcdefghij123456", "moyen"),  # three classes, long
        ("Motdepasse12!", "moyen"),
        ("Ab1!Ab1!Ab1!", "moyen"),  # compliant, 12 characters
        ("Aaaaaaaaaaaaaa1!", "moyen"),  # long but only 4 distinct characters
        ("Ab1!Ab1!Ab1!Ab1!", "moyen"),  # 16 characters, only 4 distinct
        ("Motdepasse12!Long", "élevé"),
        ("Un-Mot-De-Passe-2024", "élevé"),
        ("Correct horse battery 42 Staple", "élevé"),
    ],
)
def test_strength_gauge(password: str, expected: str) -> None:
    """The documented thresholds: <12 or <3 classes is faible; 16+, 4 classes, 8 distinct."""
    assert strength(password) == expected


@given(
    st.tuples(
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZÉ", min_size=1, max_size=5),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzé", min_size=1, max_size=5),
        st.text(alphabet="0123456789", min_size=2, max_size=5),
        st.text(alphabet="!?@#$%&*-_ ;:/", min_size=1, max_size=5),
    ),
    st.randoms(use_true_random=False),
)
def test_every_compliant_password_is_at_least_moyen(
    parts: tuple[str, str, str, str], rng: random.Random
) -> None:
    """A password accepted by the policy is never rated faible."""
    characters = list("".join(parts))
    rng.shuffle(characters)
    password = "".join(characters)
    if not 12 <= len(password) <= 20:
        return
    assert check_password(password) == []
    assert strength(password) in ("moyen", "élevé")


@given(st.text(max_size=40))
def test_strength_is_always_one_of_the_three_levels(password: str) -> None:
    """The gauge is total, and faible below 12 characters."""
    level = strength(password)
    assert level in ("faible", "moyen", "élevé")
    if len(password) < 12:
        assert level == "faible"
