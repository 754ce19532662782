"""Login-code brute force (issue 12, item 3): whoever holds the password cannot ask code
after code; the owner is told by mail, the journal records it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apexdir.errors import AuthenticationFailed
from apexdir.runtime import Runtime
from apexdir.workflows import auth
from tests.auth.conftest import Partner, codes_mailed
from tests.helpers import PASSWORD, Cli

CAPPED = "APEX Partenaires – Connexion suspendue"


def test_codes_issued_per_window(rt: Runtime, app_cli: Cli, partner: Partner) -> None:
    """A fourth login within 15 minutes gets no code; one mail to the owner, journaled."""
    for _ in range(rt.settings.policy.login_codes_per_window):
        auth.login(rt, partner.identifier, PASSWORD)
        codes_mailed(app_cli, partner.mail)  # each delivered (a waiting one is superseded)
    with pytest.raises(AuthenticationFailed) as refused:
        auth.login(rt, partner.identifier, PASSWORD)
    assert refused.value.reason == "codes_capped"
    with pytest.raises(AuthenticationFailed):
        auth.login(rt, partner.identifier, PASSWORD)
    assert len(codes_mailed(app_cli, partner.mail)) == 3
    told = [m for m in app_cli.mails(to=partner.mail) if m["subject"] == CAPPED]
    assert len(told) == 1
    assert any(e["action"] == "auth.codes-capped" for e in app_cli.ok("journal"))


def test_wrong_codes_per_day(rt: Runtime, app_cli: Cli, partner: Partner) -> None:
    """Ten wrong codes in a day: the pending code is void and no new one is issued."""
    wrong = 0
    while wrong < rt.settings.policy.login_code_wrong_per_day:
        auth.login(rt, partner.identifier, PASSWORD)
        for _ in range(rt.settings.policy.login_code_attempts):
            if wrong == rt.settings.policy.login_code_wrong_per_day:
                break
            with pytest.raises(AuthenticationFailed):
                auth.verify(rt, partner.identifier, "000000" if _ % 2 else "999999")
            wrong += 1
    with pytest.raises(AuthenticationFailed) as paused:
        auth.login(rt, partner.identifier, PASSWORD)
    assert paused.value.reason == "codes_capped"
    assert [m for m in app_cli.mails(to=partner.mail) if m["subject"] == CAPPED]


def test_the_cap_is_not_an_oracle(rt: Runtime, make_partner: Callable[..., Partner]) -> None:
    """Only the right password reaches the cap's answer: a wrong one is still « incorrect »."""
    partner = make_partner("Paul", "Durand")
    for _ in range(rt.settings.policy.login_codes_per_window):
        auth.login(rt, partner.identifier, PASSWORD)
    with pytest.raises(AuthenticationFailed) as wrong:
        auth.login(rt, partner.identifier, "Pas-le-B0n-Mot!!")
    assert wrong.value.message == auth.INVALID_CREDENTIALS
