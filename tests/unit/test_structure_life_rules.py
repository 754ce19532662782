"""The rules of a structure's life and the hash check of a locked account (no server)."""

from __future__ import annotations

import pytest

from apexdir.directory.hashing import password_hash, pbkdf2_sha512, verify
from apexdir.errors import Invalid
from apexdir.rules.structure_life import (
    ACCOUNT_CLOSED,
    check_move,
    locked_at_closing,
    unlocked_at_reopening,
)

# A value as slapd's argon2 module writes it (argon2i, NUL and a stray byte after it).
SLAPD_ARGON2I = (
    "{ARGON2}$argon2i$v=19$m=19456,t=2,p=1$IBLf3FixteCVVWTFr2xPww$"
    "ZrI9r5khseAdHFbPHPKdNNlnF5mugkx5VlEJqBgV9Cg\x00l"
)


@pytest.mark.parametrize(
    ("status", "locked", "expected"),
    [
        ("active", False, True),
        ("active", True, False),
        ("suspended", False, False),
        ("suspended", True, False),
        (ACCOUNT_CLOSED, True, False),
    ],
)
def test_closing_locks_only_accounts_that_could_log_in(
    status: str, locked: bool, expected: bool
) -> None:
    """A suspended account, or one locked by hand, keeps its own lock and its own reason."""
    assert locked_at_closing(status, locked) is expected


def test_reopening_unlocks_only_what_the_closing_locked() -> None:
    """Only `structure-closed` accounts are unlocked; a suspension outlives the reopening."""
    assert unlocked_at_reopening(ACCOUNT_CLOSED)
    assert not unlocked_at_reopening("suspended")
    assert not unlocked_at_reopening("active")


def test_a_move_needs_two_valid_different_sirets() -> None:
    """Both SIRETs are checked (spaces allowed, Luhn key), and must differ."""
    assert check_move("73282932000074", "732 829 320 00017") == ("73282932000074", "73282932000017")
    with pytest.raises(Invalid, match="clé de contrôle"):
        check_move("73282932000074", "73282932000075")
    with pytest.raises(Invalid, match="rien à transférer"):
        check_move("73282932000074", "732 829 320 00074")


def test_hash_check_of_the_schemes_the_directory_holds() -> None:
    """argon2i as slapd writes it, argon2id as apexdir does, PBKDF2; anything else: False."""
    assert verify(SLAPD_ARGON2I, "Aut0risé-Fort!42")
    assert not verify(SLAPD_ARGON2I, "Aut0risé-Fort!43")
    assert verify(password_hash("Str0ng-Passw0rd!").encode(), "Str0ng-Passw0rd!")
    assert not verify(password_hash("Str0ng-Passw0rd!"), "str0ng-Passw0rd!")
    assert verify(pbkdf2_sha512("Str0ng-Passw0rd!"), "Str0ng-Passw0rd!")
    assert not verify(pbkdf2_sha512("Str0ng-Passw0rd!"), "Str0ng-Passw0rd")
    for junk in ("{SSHA}AAAA", "{ARGON2}$argon2i$nonsense", "{PBKDF2-SHA512}x$!!$??", "", "clair"):
        assert not verify(junk, "clair")
