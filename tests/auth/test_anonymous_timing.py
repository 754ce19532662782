"""Issue 12 item 4: anonymous steps do the same work whoever the identifier names.

Timing itself is measured by `python -m benchmarks.timing`, never asserted here (a loaded
machine would make such a test flaky). What makes it equal is checked: `forgot` leaves the
lookup and the sending to the outbox job, and an unknown identifier's login, verify and
reset make the same directory requests, and the same bind, as a partner's account.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from apexdir.config import Settings
from apexdir.directory import ppolicy
from apexdir.directory.connection import Changes, Directory
from apexdir.directory.provision import decoy_dn
from apexdir.errors import ApexError
from apexdir.runtime import Runtime
from apexdir.state import resetqueue
from apexdir.workflows import auth, resetcode
from tests.auth.conftest import Partner, reset_links, sms_codes
from tests.helpers import Cli

WRONG = "Wr0ng-Passw0rd!!"
NEW = "N0uveau-Passw0rd!"


class Recording(Directory):
    """apexdir's adapter, noting the kind of each request it sends."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.calls: list[str] = []

    def search(self, base: str, ldap_filter: str = "(objectClass=*)",
               attributes: list[str] | None = None, **kw: Any) -> Any:  # fmt: skip
        scope = kw.get("scope", "sub")
        self.calls.append(f"search/{scope}")
        return super().search(base, ldap_filter, attributes, **kw)

    def get(self, dn: str, attributes: list[str] | None = None) -> Any:
        self.calls.append("get")
        found = super().search(dn, "(objectClass=*)", attributes, scope="base", paged=False)
        return found[0] if found else None

    def modify(self, dn: str, changes: Changes) -> None:
        self.calls.append("modify")
        super().modify(dn, changes)


def _calls(settings: Settings, monkeypatch: pytest.MonkeyPatch,
           step: Callable[[Runtime], Any]) -> list[str]:  # fmt: skip
    """The directory requests and binds of one step, refusals included."""
    rt = Runtime(settings, operator="tester")
    recording = Recording(settings.ldap)
    rt.__dict__["directory"] = recording
    real_bind, real_change = ppolicy.authenticate, ppolicy.change_password

    def bind(*args: Any, **kwargs: Any) -> Any:
        recording.calls.append("bind")
        return real_bind(*args, **kwargs)

    def change(*args: Any, **kwargs: Any) -> Any:
        recording.calls.append("bind")  # bound as the account first: refused there
        return real_change(*args, **kwargs)

    monkeypatch.setattr(ppolicy, "authenticate", bind)
    monkeypatch.setattr(ppolicy, "change_password", change)
    try:
        with contextlib.suppress(ApexError):
            step(rt)
    finally:
        monkeypatch.setattr(ppolicy, "authenticate", real_bind)
        monkeypatch.setattr(ppolicy, "change_password", real_change)
        rt.close()
    return recording.calls


def test_forgot_answers_at_once_and_the_outbox_job_sends(
    app_cli: Cli, rt: Runtime, partner: Partner, mobile_partner: Partner, sinks: Any
) -> None:
    """forgot touches no account: the request waits in the state store, the same for a
    known and an unknown identifier; the outbox job stores the secret and sends it."""
    queued = rt.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    answers = [
        auth.forgot(rt, who, captcha_ok=True)
        for who in (partner.identifier, mobile_partner.identifier, "personne.inconnue-px")
    ]
    assert answers[0] == answers[1] == answers[2]
    assert resetqueue.pending(rt.db) == 3
    for account in (partner, mobile_partner):
        entry = rt.directory.get(account.dn, ["apexResetSecret"])
        assert entry is not None and not entry.get("apexResetSecret")
    assert rt.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == queued
    app_cli.deliver()  # the job: lookups, records, then the SMS and the mail
    assert resetqueue.pending(rt.db) == 0
    assert len(reset_links(app_cli, partner.mail)) == 1
    assert mobile_partner.mobile and len(sms_codes(app_cli, sinks, mobile_partner.mobile)) == 1
    for account in (partner, mobile_partner):
        entry = rt.directory.get(account.dn, ["apexResetSecret"])
        assert entry is not None and entry.get("apexResetSecret")
    journal = [e["action"] for e in rt.journal.entries()]
    assert journal.count("auth.reset-requested") == 2  # the unknown one sent nothing


def test_unknown_identifiers_make_the_same_requests(
    settings: Settings, rt: Runtime, partner: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """login (wrong password), verify, reset, SMS code: the same requests, the same bind,
    for an unknown identifier as for a partner's account without a pending secret."""
    unknown = "personne.inconnue-px"
    steps: dict[str, Callable[[str], Callable[[Runtime], Any]]] = {
        "login": lambda who: lambda r: auth.login(r, who, WRONG),
        "verify": lambda who: lambda r: auth.verify(r, who, "000000"),
        "reset": lambda who: lambda r: auth.reset(r, who, "000000", NEW, NEW),
        "sms code": lambda who: lambda r: resetcode.redeem_sms_code(r, who, "000000"),
        "change": lambda who: lambda r: auth.change(r, who, WRONG, NEW, NEW),
    }
    for name, step in steps.items():
        known = _calls(settings, monkeypatch, step(partner.identifier))
        other = _calls(settings, monkeypatch, step(unknown))
        assert other == known, name
    assert _calls(settings, monkeypatch, steps["login"](unknown)).count("bind") == 1
    # The decoy's bind was checked and refused by slapd (its failure is recorded), and it
    # never locks, whatever the number of failures.
    entry = rt.directory.get(decoy_dn(rt.layout), ["pwdFailureTime", "pwdAccountLockedTime"])
    assert entry is not None and entry.all("pwdFailureTime")
    assert not entry.get("pwdAccountLockedTime")
    for _ in range(rt.settings.policy.lockout_failures + 2):
        with pytest.raises(ApexError):
            auth.login(rt, unknown, WRONG)
    entry = rt.directory.get(decoy_dn(rt.layout), ["pwdAccountLockedTime"])
    assert entry is not None and not entry.get("pwdAccountLockedTime")


def test_a_wrong_sms_code_costs_the_same_with_or_without_a_pending_code(
    settings: Settings,
    app_cli: Cli,
    mobile_partner: Partner,
    partner: Partner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 18 item 6: a wrong code spends a try on the pending record (a read and a
    write); without a record (unknown identifier, or no request pending) the same read and
    the same write happen on the decoy."""
    app_cli.ok("password", "forgot", mobile_partner.identifier)
    app_cli.deliver()
    shapes = {
        who: _calls(
            settings, monkeypatch, lambda r, w=who: resetcode.redeem_sms_code(r, w, "000000")
        )
        for who in (mobile_partner.identifier, partner.identifier, "personne.inconnue-px")
    }
    with_record = shapes[mobile_partner.identifier]
    assert with_record.count("modify") == 1
    assert shapes[partner.identifier] == with_record
    assert shapes["personne.inconnue-px"] == with_record
