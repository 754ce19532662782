"""Forgotten password, reset and change through the CLI (SPEC §4, §7)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from apexdir.directory.ppolicy import authenticate
from apexdir.directory.server import SlapdInstance
from apexdir.errors import Conflict, Invalid
from apexdir.runtime import Runtime
from apexdir.workflows import auth
from tests.auth.conftest import Partner, codes_mailed, reset_links, sms_codes
from tests.helpers import PASSWORD, Cli

NEW = "N0uveau-S3cret!x"
NEWER = "Enc0re-Autre!x9"
PERSONAL_DATA = "APEX Partenaires - Confirmation modification de vos données personnelles"


def whoami(slapd: SlapdInstance, dn: str, password: str) -> int:
    return subprocess.run(["ldapwhoami", "-x", "-H", slapd.uri, "-D", dn, "-w", password],
                          capture_output=True).returncode  # fmt: skip


def test_forgot_with_a_mobile_sends_an_sms_code(
    app_cli: Cli, mobile_partner: Partner, sinks: Any, slapd: SlapdInstance
) -> None:
    """Mobile known: a 6-digit code by SMS, no mail; the code resets the password once."""
    answer = app_cli.ok("password", "forgot", mobile_partner.identifier)
    assert answer == {"message": auth.FORGOT_ANSWER.format(minutes=15)}
    (code,) = sms_codes(app_cli, sinks, mobile_partner.mobile or "")
    assert reset_links(app_cli, mobile_partner.mail) == []
    done = app_cli.ok("password", "reset", mobile_partner.identifier, code, input=f"{NEW}\n{NEW}\n")
    assert done == {"identifier": mobile_partner.identifier, "message": auth.RESET_DONE}
    assert list(done) == ["identifier", "message"]
    assert done["message"] == "Le mot de passe a été réinitialisé."
    assert whoami(slapd, mobile_partner.dn, NEW) == 0
    assert whoami(slapd, mobile_partner.dn, PASSWORD) != 0
    # The owner is told (he may not be the one who asked).
    assert PERSONAL_DATA in [m["subject"] for m in app_cli.mails(to=mobile_partner.mail)]


def test_sms_text(app_cli: Cli, mobile_partner: Partner, sinks: Any) -> None:
    """Short, French, with the code and its validity."""
    from apexdir.dev.captured import captured_sms

    app_cli.ok("password", "forgot", mobile_partner.identifier)
    app_cli.deliver()
    (sms,) = captured_sms(sinks.directory, to=mobile_partner.mobile)
    assert sms["body"].startswith("APEX Partenaires : votre code de sécurité est ")
    assert sms["body"].endswith(" (valable 15 minutes).")


def test_forgot_without_mobile_mails_a_single_use_link(
    app_cli: Cli, partner: Partner, slapd: SlapdInstance
) -> None:
    """No mobile: the "Réinitialisation" mail with a link; the whole link or its token works."""
    app_cli.ok("password", "forgot", partner.identifier)
    (link,) = reset_links(app_cli, partner.mail)
    assert link.startswith("https://apex-partenaires.dgfip.finances.gouv.fr/reinitialisation/")
    assert partner.identifier not in link
    app_cli.ok("password", "reset", partner.identifier, link, input=f"{NEW}\n{NEW}\n")
    assert whoami(slapd, partner.dn, NEW) == 0
    # The token alone (the end of the link) is accepted too.
    app_cli.ok("password", "forgot", partner.identifier)
    token = reset_links(app_cli, partner.mail)[-1].rsplit("/", 1)[-1]
    app_cli.ok("password", "reset", partner.identifier, token, input=f"{NEWER}\n{NEWER}\n")
    assert whoami(slapd, partner.dn, NEWER) == 0


def test_helpdesk_sees_the_masked_number(app_cli: Cli, mobile_partner: Partner) -> None:
    """An agent helping the partner sees where the code went: 06-XX-XX-32-34."""
    answer = app_cli.ok("password", "forgot", "--helpdesk", mobile_partner.identifier)
    assert answer["channel"] == "sms"
    assert answer["masked_mobile"] == "06-XX-XX-32-34"
    assert list(answer) == ["message", "channel", "masked_mobile"]
    # Never for anyone else: anonymous, or a partner acting for himself.
    plain = app_cli.ok("password", "forgot", mobile_partner.identifier)
    assert plain == {"message": auth.FORGOT_ANSWER.format(minutes=15)}
    himself = app_cli.ok("password", "forgot", "--helpdesk", mobile_partner.identifier,
                         as_=mobile_partner.identifier)  # fmt: skip
    assert himself == plain


def test_reset_applies_policy_rules_in_french(app_cli: Cli, partner: Partner) -> None:
    """One message per unmet rule; the link stays usable after a refused password."""
    app_cli.ok("password", "forgot", partner.identifier)
    (link,) = reset_links(app_cli, partner.mail)
    err = app_cli.fails(1, "password", "reset", partner.identifier, link, input="court\ncourt\n")
    assert "au moins une lettre majuscule" in err and "au moins 2 chiffres" in err
    err = app_cli.fails(1, "password", "reset", partner.identifier, link, input=f"{NEW}\n{NEWER}\n")
    assert "ne correspondent pas" in err
    app_cli.ok("password", "reset", partner.identifier, link, input=f"{NEW}\n{NEW}\n")


def test_reset_refuses_a_previous_password_with_slapds_reason(
    app_cli: Cli, partner: Partner
) -> None:
    """History (slapd's ppolicy): the current password is refused, and the code survives."""
    app_cli.ok("password", "forgot", partner.identifier)
    (link,) = reset_links(app_cli, partner.mail)
    err = app_cli.fails(1, "password", "reset", partner.identifier, link,
                        input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert "différent des 10 précédents" in err
    app_cli.ok("password", "reset", partner.identifier, link, input=f"{NEW}\n{NEW}\n")


def test_reset_unlocks_a_locked_account(
    app_cli: Cli, partner: Partner, rt: Runtime, slapd: SlapdInstance
) -> None:
    """Failures lock the account (ppolicy's backstop); a reset sets a password and lifts the
    lock."""
    for _ in range(rt.settings.policy.directory_lockout_failures):
        assert not authenticate(rt.settings.ldap, partner.dn, "Wr0ng-Passw0rd!").ok
    # The anonymous answer is a wrong password's (issue 12, item 5); the owner is told by
    # mail, once per lock, however many logins hit the lock.
    err = app_cli.fails(1, "login", partner.identifier, input=f"{PASSWORD}\n")
    assert "Identifiant ou mot de passe incorrect." in err and "verrouillé" not in err
    unknown = app_cli.fails(1, "login", "nobody.at-all-px", input=f"{PASSWORD}\n")
    assert unknown == err
    app_cli.fails(1, "login", partner.identifier, input=f"{PASSWORD}\n")
    locks = [m for m in app_cli.mails(to=partner.mail) if "Verrouillage" in m["subject"]]
    assert len(locks) == 1 and "verrouillé pendant 15 minutes" in locks[0]["body"]
    app_cli.ok("password", "forgot", partner.identifier)
    (link,) = reset_links(app_cli, partner.mail)
    app_cli.ok("password", "reset", partner.identifier, link, input=f"{NEW}\n{NEW}\n")
    assert authenticate(rt.settings.ldap, partner.dn, NEW).reason == "ok"
    entry = rt.directory.get(partner.dn, ["pwdAccountLockedTime", "pwdFailureTime"])
    assert entry is not None and not entry.all("pwdAccountLockedTime")
    assert not entry.all("pwdFailureTime")


def test_change_needs_the_current_password(
    app_cli: Cli, partner: Partner, slapd: SlapdInstance
) -> None:
    """Current password, then the new one twice; slapd checks it as the user himself."""
    err = app_cli.fails(1, "password", "change", partner.identifier,
                        input=f"Wr0ng-Passw0rd!\n{NEW}\n{NEW}\n")  # fmt: skip
    assert "incorrect" in err
    done = app_cli.ok("password", "change", partner.identifier, input=f"{PASSWORD}\n{NEW}\n{NEW}\n")
    assert done == {"identifier": partner.identifier, "message": auth.CHANGE_DONE}
    assert list(done) == ["identifier", "message"]
    assert done["message"] == "Votre mot de passe a été modifié."
    assert whoami(slapd, partner.dn, NEW) == 0
    err = app_cli.fails(1, "password", "change", partner.identifier,
                        input=f"{NEW}\n{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert "différent des 10 précédents" in err
    err = app_cli.fails(1, "password", "change", partner.identifier,
                        input=f"{NEW}\nfaible\nfaible\n")  # fmt: skip
    assert "entre 12 et 20 caractères" in err
    app_cli.fails(2, "password", "change", partner.identifier, input=f"{NEW}\n{NEWER}\n")


def test_change_of_an_expired_password_is_refused_with_the_reason(
    app_cli: Cli, partner: Partner, policy_override: Callable[..., None]
) -> None:
    """Expired: the user is sent to the forgotten-password path, not told "incorrect"."""
    import time

    policy_override(pwdMaxAge=1)
    time.sleep(2.1)
    err = app_cli.fails(1, "password", "change", partner.identifier,
                        input=f"{PASSWORD}\n{NEW}\n{NEW}\n")  # fmt: skip
    assert "a expiré" in err
    err = app_cli.fails(1, "login", partner.identifier, input=f"{PASSWORD}\n")
    assert "Votre mot de passe a expiré" in err and "Mot de passe oublié" in err
    assert codes_mailed(app_cli, partner.mail) == []


def test_captcha_verdict_is_required(rt: Runtime, partner: Partner) -> None:
    """A front end that did not validate its captcha gets nothing done."""
    with pytest.raises(Invalid, match="captcha"):
        auth.forgot(rt, partner.identifier, captcha_ok=False)


def test_forgot_is_rate_limited_per_identifier_and_overall(rt: Runtime, partner: Partner) -> None:
    """5 per identifier per hour, 60 overall per minute (configurable)."""
    for _ in range(5):
        auth.forgot(rt, partner.identifier, captcha_ok=True)
    with pytest.raises(Conflict, match="Trop de demandes"):
        auth.forgot(rt, partner.identifier, captcha_ok=True)
    # Unknown identifiers are counted alike (the limit reveals nothing).
    for _ in range(5):
        auth.forgot(rt, "nobody-px", captcha_ok=True)
    with pytest.raises(Conflict, match="Trop de demandes"):
        auth.forgot(rt, "nobody-px", captcha_ok=True)
    rt.settings.policy.reset_rate_global_per_minute = 11  # 10 counted so far
    auth.forgot(rt, "a-px", captcha_ok=True)
    with pytest.raises(Conflict):
        auth.forgot(rt, "b-px", captcha_ok=True)
