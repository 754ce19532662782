"""Attacks on authentication: brute force, replay, expiry, enumeration, leaks, injection."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from apexdir.clock import FrozenClock
from apexdir.directory import onetime as store
from apexdir.directory.ppolicy import authenticate
from apexdir.errors import AuthenticationFailed
from apexdir.rules import onetime
from apexdir.runtime import Runtime
from apexdir.workflows import auth
from tests.auth.conftest import Partner, codes_mailed, reset_links, sms_codes
from tests.helpers import PASSWORD, Cli

NEW = "N0uveau-S3cret!x"
NEWER = "Enc0re-Autre!x9"
HOSTILE = [
    "*", "x)(uid=*", "*)(objectClass=*", "marie.martin-px)(|(uid=*", "uid=*,ou=people",
    "\\2a", "marie.martin-p*", "*-px", " ", "a" * 500, "é\x00", "marie.martin-px\r\nx",
]  # fmt: skip


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# ---------------------------------------------------------------- login codes
def test_five_wrong_codes_void_the_code(app_cli: Cli, partner: Partner) -> None:
    """Brute force: each wrong try is counted; after the 5th the right code is refused too."""
    app_cli.ok("login", partner.identifier, input=f"{PASSWORD}\n")
    (code,) = codes_mailed(app_cli, partner.mail)
    for left in (4, 3, 2, 1):
        err = app_cli.fails(1, "login", "verify", partner.identifier, wrong_code(code))
        assert f"il vous reste {left} essai" in err
    err = app_cli.fails(1, "login", "verify", partner.identifier, wrong_code(code))
    assert "annulé après 5 essais" in err
    err = app_cli.fails(1, "login", "verify", partner.identifier, code)
    assert auth.CODE_NONE in err


def test_code_is_single_use(app_cli: Cli, partner: Partner) -> None:
    """Replay: a redeemed code is gone."""
    app_cli.ok("login", partner.identifier, input=f"{PASSWORD}\n")
    (code,) = codes_mailed(app_cli, partner.mail)
    app_cli.ok("login", "verify", partner.identifier, code)
    assert auth.CODE_NONE in app_cli.fails(1, "login", "verify", partner.identifier, code)


def test_a_new_login_voids_the_older_code(app_cli: Cli, partner: Partner) -> None:
    """Two logins, each code delivered: only the second code works."""
    app_cli.ok("login", partner.identifier, input=f"{PASSWORD}\n")
    codes_mailed(app_cli, partner.mail)  # delivered before the next login (else dropped)
    app_cli.ok("login", partner.identifier, input=f"{PASSWORD}\n")
    first, second = codes_mailed(app_cli, partner.mail)
    if first != second:  # one chance in a million that both are equal
        app_cli.fails(1, "login", "verify", partner.identifier, first)
    app_cli.ok("login", "verify", partner.identifier, second)


def test_parallel_guesses_get_five_tries_in_all(
    app_cli: Cli, partner: Partner, settings: Any
) -> None:
    """Brute force in parallel: each guess spends a try before it is judged (compare-and-swap
    on the entry), so 20 simultaneous wrong guesses are judged 5 times at most."""
    from concurrent.futures import ThreadPoolExecutor

    app_cli.ok("login", partner.identifier, input=f"{PASSWORD}\n")
    (code,) = codes_mailed(app_cli, partner.mail)

    def guess(_: int) -> str:
        runtime = Runtime(settings, operator="attacker")
        try:
            auth.verify(runtime, partner.identifier, wrong_code(code))
        except AuthenticationFailed as exc:
            return exc.reason
        finally:
            runtime.close()
        return "ok"

    with ThreadPoolExecutor(max_workers=20) as pool:
        reasons = list(pool.map(guess, range(20)))
    judged = [r for r in reasons if r in ("wrong", "exhausted")]
    assert len(judged) == 5 and reasons.count("exhausted") == 1
    assert set(reasons) - {"wrong", "exhausted"} == {"no_code"}
    assert auth.CODE_NONE in app_cli.fails(1, "login", "verify", partner.identifier, code)


def test_swap_refuses_a_stale_value(rt: Runtime, partner: Partner) -> None:
    """The compare-and-swap underneath: a stale old value changes nothing."""
    d = rt.directory
    assert store.swap(d, partner.dn, "apexLoginCode", None, "first")
    assert not store.swap(d, partner.dn, "apexLoginCode", None, "second")  # already there
    assert not store.swap(d, partner.dn, "apexLoginCode", "stale", "third")
    assert store.swap(d, partner.dn, "apexLoginCode", "first", "fourth")
    entry = rt.directory.get(partner.dn, ["apexLoginCode"])
    assert entry is not None and entry.get("apexLoginCode") == "fourth"


def test_codes_expire_after_ten_minutes(
    frozen_rt: Runtime, clock: FrozenClock, app_cli: Cli, partner: Partner
) -> None:
    """Injected clock: 9 min 59 s is in time, 10 min is late."""
    auth.login(frozen_rt, partner.identifier, PASSWORD)
    clock.advance(minutes=9, seconds=59)
    auth.verify(frozen_rt, partner.identifier, codes_mailed(app_cli, partner.mail)[-1])
    auth.login(frozen_rt, partner.identifier, PASSWORD)
    clock.advance(minutes=10)
    with pytest.raises(AuthenticationFailed) as info:
        auth.verify(frozen_rt, partner.identifier, codes_mailed(app_cli, partner.mail)[-1])
    assert info.value.reason == "expired" and info.value.message == auth.CODE_EXPIRED


def test_comparisons_are_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every check goes through hmac.compare_digest, also for a spent or late record."""
    from datetime import UTC, datetime, timedelta

    calls: list[int] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(onetime.hmac, "compare_digest", spy)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    key = b"k" * 32
    record = onetime.issue("sms", "123456", key=key, now=now, validity=timedelta(minutes=15),
                           tries=5)  # fmt: skip
    onetime.check(record, "123456", now, key=key)
    onetime.check(record, "000000", now + timedelta(hours=1), key=key)
    onetime.check(onetime.Record(**{**record.__dict__, "tries": 0}), "123456", now, key=key)
    assert len(calls) == 3


# ---------------------------------------------------------------- reset codes and links
def test_sms_code_brute_force_and_replay(app_cli: Cli, mobile_partner: Partner, sinks: Any) -> None:
    """5 wrong SMS codes void it; a used code cannot be replayed."""
    number = mobile_partner.mobile or ""
    app_cli.ok("password", "forgot", mobile_partner.identifier)
    (code,) = sms_codes(app_cli, sinks, number)
    for _ in range(5):
        err = app_cli.fails(1, "password", "reset", mobile_partner.identifier, wrong_code(code),
                            input=f"{NEW}\n{NEW}\n")  # fmt: skip
        assert auth.RESET_REFUSED in err
    app_cli.fails(1, "password", "reset", mobile_partner.identifier, code, input=f"{NEW}\n{NEW}\n")
    app_cli.ok("password", "forgot", mobile_partner.identifier)
    code = sms_codes(app_cli, sinks, number)[-1]
    app_cli.ok("password", "reset", mobile_partner.identifier, code, input=f"{NEW}\n{NEW}\n")
    err = app_cli.fails(1, "password", "reset", mobile_partner.identifier, code,
                        input=f"{NEWER}\n{NEWER}\n")  # fmt: skip
    assert auth.RESET_REFUSED in err


def test_link_replay_and_forged_tokens(app_cli: Cli, partner: Partner, rt: Runtime) -> None:
    """A used link is refused; so is a token with the right id and another secret."""
    app_cli.ok("password", "forgot", partner.identifier)
    (link,) = reset_links(app_cli, partner.mail)
    ident = link.rsplit("/", 1)[-1].split(".", 1)[0]
    app_cli.fails(1, "password", "reset", partner.identifier, f"{ident}.forged",
                  input=f"{NEW}\n{NEW}\n")  # fmt: skip
    app_cli.fails(
        1, "password", "reset", partner.identifier, "not-a-token", input=f"{NEW}\n{NEW}\n"
    )
    app_cli.ok("password", "reset", partner.identifier, link, input=f"{NEW}\n{NEW}\n")
    app_cli.fails(1, "password", "reset", partner.identifier, link, input=f"{NEWER}\n{NEWER}\n")
    assert authenticate(rt.settings.ldap, partner.dn, NEW).ok


def test_a_new_request_voids_the_older_link(app_cli: Cli, partner: Partner) -> None:
    app_cli.ok("password", "forgot", partner.identifier)
    reset_links(app_cli, partner.mail)  # delivered before the next request (else dropped)
    app_cli.ok("password", "forgot", partner.identifier)
    first, second = reset_links(app_cli, partner.mail)
    app_cli.fails(1, "password", "reset", partner.identifier, first, input=f"{NEW}\n{NEW}\n")
    app_cli.ok("password", "reset", partner.identifier, second, input=f"{NEW}\n{NEW}\n")


def test_links_and_sms_codes_expire_after_fifteen_minutes(
    frozen_rt: Runtime, clock: FrozenClock, app_cli: Cli, partner: Partner,
    mobile_partner: Partner, sinks: Any,
) -> None:  # fmt: skip
    """Injected clock: 14 min 59 s is in time, 15 min is late (link and SMS code alike)."""
    from datetime import UTC, datetime

    auth.forgot(frozen_rt, partner.identifier, captcha_ok=True)
    (link,) = reset_links(app_cli, partner.mail)
    clock.advance(minutes=14, seconds=59)
    auth.reset(frozen_rt, partner.identifier, link, NEW, NEW)
    # Back to real time, so that the delivery job (real clock) sends what is queued now.
    clock.now = datetime.now(UTC)
    auth.forgot(frozen_rt, partner.identifier, captcha_ok=True)
    auth.forgot(frozen_rt, mobile_partner.identifier, captcha_ok=True)
    link = reset_links(app_cli, partner.mail)[-1]
    (code,) = sms_codes(app_cli, sinks, mobile_partner.mobile or "")
    clock.advance(minutes=15)
    with pytest.raises(AuthenticationFailed) as info:
        auth.reset(frozen_rt, partner.identifier, link, NEWER, NEWER)
    assert info.value.reason == "expired"
    with pytest.raises(AuthenticationFailed) as info:
        auth.reset(frozen_rt, mobile_partner.identifier, code, NEWER, NEWER)
    assert info.value.message == auth.RESET_REFUSED
    # An expired secret is removed: not even the right answer later revives it.
    entry = frozen_rt.directory.get(mobile_partner.dn, ["apexResetSecret"])
    assert entry is not None and entry.all("apexResetSecret") == []


# ---------------------------------------------------------------- enumeration
def outcome(app_cli: Cli, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = app_cli.run(*args, input=input)
    return result.exit_code, result.stdout, result.stderr


def test_no_enumeration(app_cli: Cli, partner: Partner, mobile_partner: Partner) -> None:
    """Unknown identifiers get exactly what known ones get: text and exit code."""
    unknown = "inconnu.personne-px"
    # login: unknown vs wrong password
    assert outcome(app_cli, "login", unknown, input="Wr0ng-Passw0rd!\n") == outcome(
        app_cli, "login", partner.identifier, input="Wr0ng-Passw0rd!\n")  # fmt: skip
    # verify: unknown vs no pending code
    assert outcome(app_cli, "login", "verify", unknown, "123456") == outcome(
        app_cli, "login", "verify", partner.identifier, "123456")  # fmt: skip
    # forgot: unknown vs mail channel vs SMS channel
    answers = {outcome(app_cli, "password", "forgot", who)
               for who in (unknown, partner.identifier, mobile_partner.identifier)}  # fmt: skip
    assert len(answers) == 1 and next(iter(answers))[0] == 0
    # reset: unknown vs a pending secret and a wrong code vs nothing pending
    forms = {outcome(app_cli, "password", "reset", who, "000000", input=f"{NEW}\n{NEW}\n")
             for who in (unknown, partner.identifier, mobile_partner.identifier)}  # fmt: skip
    assert len(forms) == 1 and next(iter(forms))[0] == 1
    # change: unknown vs wrong current password
    form = f"Wr0ng-Passw0rd!\n{NEW}\n{NEW}\n"
    assert outcome(app_cli, "password", "change", unknown, input=form) == outcome(
        app_cli, "password", "change", partner.identifier, input=form)  # fmt: skip


# ---------------------------------------------------------------- leaks
def test_no_secret_in_journal_spool_entries_or_logs(
    app_cli: Cli, rt: Runtime, partner: Partner, mobile_partner: Partner, sinks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """Codes, links and passwords: only in the one message meant to carry each, until sent."""
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = [PASSWORD, NEW, NEWER]
    carried: list[str] = []

    auth.login(rt, partner.identifier, PASSWORD)
    (code,) = [r for r in _spooled(rt) if "code de vérification" in r["body_text"]]
    login_code = onetime.normalize_code(code["body_text"].split("vérification ")[1][:6])
    carried.append(login_code)
    entry = rt.directory.get(partner.dn, ["apexLoginCode"])
    assert entry is not None and login_code not in str(entry.get("apexLoginCode"))
    auth.verify(rt, partner.identifier, login_code)

    auth.forgot(rt, partner.identifier, captcha_ok=True)
    auth.forgot(rt, mobile_partner.identifier, captcha_ok=True)
    # The outbox job's first half (issue 12): the requests become the SMS and the mail.
    from apexdir.daemon.jobs.outbox import handle_reset_requests

    assert handle_reset_requests(rt.settings, rt.clock) == 2
    spool = _spooled(rt)
    link = (
        next(r for r in spool if "URL : " in r["body_text"])["body_text"]
        .split("URL : ")[1]
        .split()[0]
    )
    sms = next(r for r in spool if r["kind"] == "sms")["body_text"].split("est ")[1][:6]
    carried += [link.rsplit("/", 1)[-1].split(".", 1)[1], sms]
    for secret in carried:
        holders = [r for r in _spooled(rt) if secret in json.dumps(r, ensure_ascii=False)]
        assert len(holders) == 1, secret
    auth.reset(rt, partner.identifier, link, NEW, NEW)
    auth.reset(rt, mobile_partner.identifier, sms, NEW, NEW)
    auth.change(rt, partner.identifier, NEW, NEWER, NEWER)
    with pytest.raises(AuthenticationFailed):
        auth.login(rt, partner.identifier, "Wr0ng-Passw0rd!")

    everything = secrets + carried
    journal = json.dumps(rt.journal.entries(), ensure_ascii=False)
    assert "auth.password-reset" in journal and "auth.login" in journal
    app_cli.deliver()
    spool_after = json.dumps(_spooled(rt), ensure_ascii=False)
    # Every logger of this process but the SMTP sink's (aiosmtpd, "mail.log"): it stands for
    # the partner's mailbox, where the code is meant to arrive.
    kept = [r for r in caplog.records if not r.name.startswith("mail.log")]
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.__dict__}" for r in kept)
    for secret in everything:
        assert secret not in journal, secret
        assert secret not in spool_after, secret  # bodies are dropped once sent
        assert secret not in logs, secret
    for identifier in (partner.identifier, mobile_partner.identifier):
        entry = rt.directory.get(rt.layout.account_dn(identifier),
                                 ["apexLoginCode", "apexResetSecret"])  # fmt: skip
        assert entry is not None and not any(s in str(entry.attrs) for s in everything)


def _spooled(rt: Runtime) -> list[dict[str, Any]]:
    rows = rt.db.query("SELECT kind, recipients, subject, body_text, body_html FROM outbox")
    return [{k: v or "" for k, v in row.items()} for row in rows]


# ---------------------------------------------------------------- injection
@pytest.mark.parametrize("identifier", HOSTILE)
def test_ldap_injection_through_identifiers(
    identifier: str, app_cli: Cli, rt: Runtime, partner: Partner,
    make_partner: Callable[..., Partner],
) -> None:  # fmt: skip
    """Filter and DN metacharacters find nobody, lock nobody, send nothing."""
    spooled = len(_spooled(rt))
    with pytest.raises(AuthenticationFailed) as info:
        auth.login(rt, identifier, PASSWORD)
    assert info.value.message == auth.INVALID_CREDENTIALS
    with pytest.raises(AuthenticationFailed):
        auth.verify(rt, identifier, "123456")
    assert auth.forgot(rt, identifier, captcha_ok=True) == auth.ResetAnswer(
        auth.FORGOT_ANSWER.format(minutes=15)
    )
    with pytest.raises(AuthenticationFailed):
        auth.reset(rt, identifier, "123456", NEW, NEW)
    assert len(_spooled(rt)) == spooled
    entry = rt.directory.get(partner.dn, ["pwdFailureTime", "apexResetSecret"])
    assert entry is not None and entry.all("pwdFailureTime") == []
    assert entry.all("apexResetSecret") == []
