"""The forgotten password's code step (issue 19 item 7): a wrong SMS code tells the tries
left and the right code still works; « Code expiré » is its own answer; and an unknown
identifier, or an account reset by mail, hears exactly the same series."""

from __future__ import annotations

from typing import Any

import pytest

from apexdir.clock import FrozenClock
from apexdir.errors import AuthenticationFailed
from apexdir.runtime import Runtime
from apexdir.workflows import auth, resetcode
from tests.auth.conftest import Partner, sms_codes
from tests.helpers import Cli

UNKNOWN = "personne.inconnue-px"


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def answer(rt: Runtime, identifier: str, code: str) -> tuple[str, str, str | None]:
    with pytest.raises(AuthenticationFailed) as info:
        resetcode.redeem_sms_code(rt, identifier, code)
    return info.value.reason, str(info.value), info.value.field


def test_a_wrong_code_tells_the_tries_left_and_the_right_one_still_works(
    rt: Runtime, app_cli: Cli, mobile_partner: Partner, sinks: Any
) -> None:
    """« Code incorrect : il vous reste 4 essais », beside the code field; then the code."""
    auth.forgot(rt, mobile_partner.identifier, captcha_ok=True)
    (code,) = sms_codes(app_cli, sinks, mobile_partner.mobile or "")
    attempts = rt.settings.policy.login_code_attempts
    reason, message, field = answer(rt, mobile_partner.identifier, wrong(code))
    assert (reason, field) == ("wrong", "code")
    assert message.startswith(f"Code incorrect : il vous reste {attempts - 1} essais.")
    assert resetcode.redeem_sms_code(rt, mobile_partner.identifier, code)


def test_an_unknown_identifier_hears_the_same_series_as_a_known_one(
    rt: Runtime, app_cli: Cli, mobile_partner: Partner, partner: Partner, sinks: Any
) -> None:
    """Tries counted down to « plus d'essai », then the refusal of a void code: the same
    words for a partner with a mobile typing wrong codes, a partner reset by mail (no code)
    and an identifier that names nobody."""
    for who in (mobile_partner.identifier, partner.identifier, UNKNOWN):
        auth.forgot(rt, who, captcha_ok=True)
    (code,) = sms_codes(app_cli, sinks, mobile_partner.mobile or "")
    attempts = rt.settings.policy.login_code_attempts
    series = {
        who: [answer(rt, who, wrong(code)) for _ in range(attempts + 1)]
        for who in (mobile_partner.identifier, partner.identifier, UNKNOWN)
    }
    known = series[mobile_partner.identifier]
    assert [reason for reason, _, _ in known] == ["wrong"] * (attempts - 1) + [
        "exhausted",
        "no_secret",
    ]
    assert known[-3][1].startswith("Code incorrect : il vous reste 1 essai.")
    assert known[-2][1].startswith("Code incorrect : vous n'avez plus d'essai.")
    assert series[partner.identifier] == known
    assert series[UNKNOWN] == known
    # A new request starts a new series, for everyone.
    for who in (mobile_partner.identifier, UNKNOWN):
        auth.forgot(rt, who, captcha_ok=True)
    sms_codes(app_cli, sinks, mobile_partner.mobile or "")
    assert answer(rt, UNKNOWN, "000000") == answer(rt, mobile_partner.identifier, "000000")


def test_an_expired_code_says_so_once_known_or_not(
    frozen_rt: Runtime, clock: FrozenClock, app_cli: Cli, mobile_partner: Partner, sinks: Any
) -> None:
    """Past its validity: « Code expiré » (not « incorrect »), then the code is gone."""
    for who in (mobile_partner.identifier, UNKNOWN):
        auth.forgot(frozen_rt, who, captcha_ok=True)
    (code,) = sms_codes(app_cli, sinks, mobile_partner.mobile or "")
    clock.advance(minutes=frozen_rt.settings.policy.reset_validity_minutes)
    for who in (mobile_partner.identifier, UNKNOWN):
        reason, message, _ = answer(frozen_rt, who, code if who != UNKNOWN else "123456")
        assert reason == "expired" and message.startswith("Code expiré : ")
        assert answer(frozen_rt, who, code)[0] == "no_secret", who
