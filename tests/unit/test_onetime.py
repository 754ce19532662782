"""Single-use secret records, the password-policy control and the login texts (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apexdir.directory.ppolicy import PolicyResponse, decode_response, outcome_of
from apexdir.rules import onetime
from apexdir.rules.identifiers import clean_identifier
from apexdir.rules.wording import expiry_warning, format_last_login, locked_message
from tests.helpers import plain_sha256_search

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
KEY = b"k" * 32


def issue(**kw: object) -> onetime.Record:
    args: dict[str, object] = {"now": NOW, "validity": timedelta(minutes=10), "tries": 5,
                               "key": KEY}  # fmt: skip
    args.update(kw)
    return onetime.issue("login", "123456", **args)  # type: ignore[arg-type]


def test_new_codes_are_six_digits_and_vary() -> None:
    """Six decimal digits, leading zeros kept, not constant."""
    codes = {onetime.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150


def test_record_round_trips_and_never_holds_the_secret() -> None:
    """format → parse gives the same record; the code itself is not in the text."""
    record = issue(extra="20240229130700Z")
    text = record.format()
    assert "123456" not in text
    assert text.isascii() and len(text) < 512  # the attribute is IA5 {512}
    assert onetime.parse(text) == record
    assert onetime.parse(text.encode()) == record
    assert record.extra_time == datetime(2024, 2, 29, 13, 7, tzinfo=UTC)


MALFORMED = [
    None, "", "garbage", "v3;login;-;a;b;20260101000000Z;5;-", "v2;other;-;a;b;20260101000000Z;5;-",
    "v2;login;-;a;b;notatime;5;-", "v2;login;-;a;b;20260101000000Z;x;-",
    "v1;login;-;a;b;20260101000000Z;5;-",  # a plain salted SHA-256 (before issue 12): void
]  # fmt: skip


@pytest.mark.parametrize("value", MALFORMED)
def test_malformed_records_are_no_record(value: str | None) -> None:
    """Anything unexpected parses to None (refused), never to an exception."""
    assert onetime.parse(value) is None


def test_verdicts() -> None:
    """Right code → OK; wrong → WRONG; late → EXPIRED; no try left → EXHAUSTED."""
    record = issue()
    assert onetime.check(record, "123456", NOW, key=KEY) is onetime.Verdict.OK
    assert onetime.check(record, "123457", NOW, key=KEY) is onetime.Verdict.WRONG
    late = NOW + timedelta(minutes=10)
    assert onetime.check(record, "123456", late, key=KEY) is onetime.Verdict.EXPIRED
    spent = onetime.Record(**{**record.__dict__, "tries": 0})
    assert onetime.check(spent, "123456", NOW, key=KEY) is onetime.Verdict.EXHAUSTED


def test_tries_run_out() -> None:
    """Five failures: four records with one try less each, then nothing."""
    record: onetime.Record | None = issue()
    seen = []
    while record is not None:
        seen.append(record.tries)
        record = onetime.after_failure(record)
    assert seen == [5, 4, 3, 2, 1]


def test_same_code_gives_different_digests() -> None:
    """Salted: two records of one code do not look alike."""
    assert issue().digest != issue().digest


def test_typed_codes_are_normalized() -> None:
    assert onetime.normalize_code(" 123 456 ") == "123456"
    assert onetime.normalize_code("123-456") == "123456"


# ---------------------------------------------------------------- the ppolicy control
def test_control_values_decode() -> None:
    """The BER values slapd sends, as captured from Debian's 2.5.13."""
    assert decode_response(bytes.fromhex("3003810101")).error == "locked"
    assert decode_response(bytes.fromhex("3003810100")).error == "expired"
    assert decode_response(bytes.fromhex("3003810108")).error == "in_history"
    assert decode_response(bytes.fromhex("3000")) == PolicyResponse()
    warning = decode_response(bytes.fromhex("3006a00480020e10"))
    assert warning.seconds_before_expiration == 3600 and warning.error is None
    assert decode_response(bytes.fromhex("3005a003810102")).grace_remaining == 2
    both = decode_response(bytes.fromhex("3008a003810101810100"))
    assert (both.grace_remaining, both.error) == (1, "expired")
    assert decode_response(None) == PolicyResponse()
    assert decode_response(b"\x30\x05garbage") == PolicyResponse()


def test_outcomes() -> None:
    """Result code + control → the reason shown to the user."""
    assert outcome_of(49, PolicyResponse(error="locked")).reason == "locked"
    assert outcome_of(49, PolicyResponse(error="expired")).reason == "expired"
    assert outcome_of(49, PolicyResponse()).reason == "invalid"
    assert outcome_of(0, PolicyResponse()).reason == "ok"
    assert outcome_of(0, PolicyResponse(seconds_before_expiration=5)).reason == "expiring"
    grace = outcome_of(0, PolicyResponse(grace_remaining=2))
    assert grace.ok and grace.reason == "grace" and grace.grace_remaining == 2


# ---------------------------------------------------------------- texts
def test_last_login_text_in_paris_time() -> None:
    """The guide's own example: 29 February 2024 at 14:07 (Paris, UTC+1 in winter)."""
    moment = datetime(2024, 2, 29, 13, 7, tzinfo=UTC)
    assert format_last_login(moment) == "Dernière connexion le 29 février 2024 à 14:07"
    summer = datetime(2024, 8, 1, 6, 5, tzinfo=UTC)  # UTC+2
    assert format_last_login(summer) == "Dernière connexion le 1er août 2024 à 08:05"
    assert format_last_login(None) == "Première connexion"


def test_expiry_and_lock_texts() -> None:
    assert "dans 15 jours" in expiry_warning(14 * 86400 + 3600)
    assert "dans 1 jour " in expiry_warning(86400)
    assert "moins de 24 heures" in expiry_warning(3600)
    locked = NOW - timedelta(minutes=5)
    assert "dans 10 minutes" in locked_message(locked, NOW, 15)
    assert "dans 15 minutes" in locked_message(None, NOW, 15)
    assert "dans 1 minute," in locked_message(NOW - timedelta(minutes=20), NOW, 15)


@pytest.mark.parametrize("value", ["", "   ", "a" * 129, "bad\nline", "nul\x00"])
def test_identifiers_that_cannot_exist_are_not_looked_up(value: str) -> None:
    assert clean_identifier(value) is None


def test_identifiers_are_lower_cased() -> None:
    assert clean_identifier("  Marie.Martin-PX ") == "marie.martin-px"


def test_a_record_cannot_be_reversed_without_the_key() -> None:
    """Issue 12: trying the 10^6 codes against a stored record finds nothing without the key
    (neither a plain salted SHA-256 nor another key), and the right key finds the code."""
    import hashlib
    import hmac

    record = issue()
    control = hashlib.sha256(f"{record.salt}:000042".encode()).hexdigest()
    assert plain_sha256_search(record.salt, control) == "000042"  # the attack works
    assert plain_sha256_search(record.salt, record.digest) is None
    assert onetime.check(record, "123456", NOW, key=b"x" * 32) is onetime.Verdict.WRONG
    expected = hmac.new(KEY, f"{record.salt}:123456".encode(), hashlib.sha256).hexdigest()
    assert record.digest == expected
