"""The owner of an account that wrong passwords locked is told once per lock."""

from __future__ import annotations

import pytest

from apexdir.directory.server import SlapdInstance
from apexdir.errors import AuthenticationFailed
from apexdir.runtime import Runtime
from apexdir.workflows import auth
from tests.auth.conftest import Partner
from tests.auth.test_slapd_enforcement import can_bind
from tests.helpers import PASSWORD, Cli

LOCKED_SUBJECT = "APEX Partenaires – Verrouillage de votre compte"


def test_a_locked_account_is_told_once_per_lock(
    app_cli: Cli, slapd: SlapdInstance, partner: Partner, rt: Runtime
) -> None:
    """20 wrong binds lock the account: the first refused login mails the owner and notes
    `locked:<pwdAccountLockedTime>` on the entry; the next logins of the same lock do not."""
    for _ in range(20):
        assert not can_bind(slapd, partner, "Wr0ng-Passw0rd!")
    for _ in range(2):
        with pytest.raises(AuthenticationFailed) as refused:
            auth.login(rt, partner.identifier, PASSWORD)
        assert refused.value.reason == "locked"
    told = [m for m in app_cli.mails(to=partner.mail) if m["subject"] == LOCKED_SUBJECT]
    assert len(told) == 1
    entry = rt.directory.get(partner.dn, ["apexNotice", "pwdAccountLockedTime"])
    assert entry is not None
    locked_at = str(entry.get("pwdAccountLockedTime"))
    assert [str(n) for n in entry.all("apexNotice")] == [f"locked:{locked_at}"]
    assert [r["action"] for r in rt.journal.about(partner.identifier)].count("auth.locked") == 1
