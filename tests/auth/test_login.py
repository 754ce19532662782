"""Login with a mailed code, through the CLI, against slapd and the SMTP sink (SPEC §7)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from apexdir.directory.ppolicy import authenticate
from apexdir.runtime import Runtime
from tests.auth.conftest import CODE_SUBJECT, Partner, codes_mailed
from tests.helpers import PASSWORD, Cli

LAST_LOGIN = re.compile(
    r"^Dernière connexion le (1er|[12]?\d|3[01]) (janvier|février|mars|avril|mai|juin|juillet|"
    r"août|septembre|octobre|novembre|décembre) \d{4} à \d\d:\d\d$"
)


def test_login_mails_a_code_and_verify_returns_type_and_last_login(
    app_cli: Cli, partner: Partner
) -> None:
    """Password → one mail "Code de vérification"; the code gives identifier, type, last login."""
    answer = app_cli.ok("login", partner.identifier, input=f"{PASSWORD}\n")
    assert answer["identifier"] == partner.identifier
    assert "code de vérification" in answer["message"]
    mails = app_cli.mails(to=partner.mail)
    assert [m["subject"] for m in mails].count(CODE_SUBJECT) == 1
    assert "Saisissez ce code de vérification" in mails[-1]["body"]
    (code,) = codes_mailed(app_cli, partner.mail)

    first = app_cli.ok("login", "verify", partner.identifier, code)
    assert list(first) == ["identifier", "type", "last_login", "last_login_text"]
    assert first["identifier"] == partner.identifier
    assert first["type"] == "collaborateur"
    # The first bind ever: nothing before it.
    assert first["last_login"] is None
    assert first["last_login_text"] == "Première connexion"

    time.sleep(1.1)  # authTimestamp has a one-second resolution
    app_cli.ok("login", partner.identifier, input=f"{PASSWORD}\n")
    second = app_cli.ok(
        "login", "verify", partner.identifier, codes_mailed(app_cli, partner.mail)[-1]
    )
    assert second["last_login"] is not None
    assert LAST_LOGIN.match(second["last_login_text"]), second["last_login_text"]


def test_last_login_is_the_one_before_this_login(
    app_cli: Cli, partner: Partner, rt: Runtime
) -> None:
    """lastbind moves authTimestamp at every bind: verify reports the previous login."""
    app_cli.ok("login", partner.identifier, input=f"{PASSWORD}\n")
    app_cli.ok("login", "verify", partner.identifier, codes_mailed(app_cli, partner.mail)[-1])
    from apexdir.directory.repository import Repository

    before = Repository(rt.directory, rt.layout).account(partner.identifier).last_login
    assert before is not None
    time.sleep(1.1)
    app_cli.ok("login", partner.identifier, input=f"{PASSWORD}\n")
    now = Repository(rt.directory, rt.layout).account(partner.identifier).last_login
    assert now is not None and now > before
    shown = app_cli.ok(
        "login", "verify", partner.identifier, codes_mailed(app_cli, partner.mail)[-1]
    )
    assert shown["last_login"] == before.isoformat()


def test_human_output(app_cli: Cli, partner: Partner) -> None:
    """Without --json: the French sentences, and the guide's last-login line."""
    from click.testing import CliRunner

    from apexdir.cli.main import cli

    runner = CliRunner()
    base = ["--config", str(app_cli.config)]
    result = runner.invoke(cli, [*base, "login", partner.identifier], input=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Un code de vérification vous a été envoyé par mail" in result.stdout
    code = codes_mailed(app_cli, partner.mail)[-1]
    result = runner.invoke(cli, [*base, "login", "verify", partner.identifier, code])
    assert result.exit_code == 0, result.output
    assert "Première connexion" in result.stdout


def test_wrong_password_is_refused_without_a_code(app_cli: Cli, partner: Partner) -> None:
    """Exit 1, one error line, and no mail."""
    err = app_cli.fails(1, "login", partner.identifier, input="Wr0ng-Passw0rd!\n")
    assert err == "error: Identifiant ou mot de passe incorrect.\n"
    assert codes_mailed(app_cli, partner.mail) == []


def test_password_is_read_from_stdin_only(app_cli: Cli, partner: Partner) -> None:
    """No password line: a usage error (exit 2); the password is never an argument."""
    app_cli.fails(2, "login", partner.identifier, input="")
    result = app_cli.run("login", partner.identifier, PASSWORD, input=f"{PASSWORD}\n")
    assert result.exit_code == 2


def test_verify_usage(app_cli: Cli) -> None:
    """`login verify` needs the identifier and the code."""
    result = app_cli.run("login", "verify", "someone-px")
    assert result.exit_code == 2


def test_expiring_password_is_announced(
    app_cli: Cli, partner: Partner, policy_override: Callable[..., None]
) -> None:
    """ppolicy's warning control → "expire dans N jours" (max age 3 days, warning 15 days)."""
    policy_override(pwdMaxAge=3 * 86400)
    answer = app_cli.ok("login", partner.identifier, input=f"{PASSWORD}\n")
    assert answer["password_expires_in_days"] == 3
    assert any("Votre mot de passe expire dans 3 jours" in w for w in answer["warnings"])


def test_grace_logins_are_announced(
    app_cli: Cli, partner: Partner, policy_override: Callable[..., None], rt: Runtime
) -> None:
    """An expired password with grace logins left: let in, told how many remain."""
    policy_override(pwdMaxAge=1, pwdGraceAuthNLimit=3)
    time.sleep(2.1)
    answer = app_cli.ok("login", partner.identifier, input=f"{PASSWORD}\n")
    assert answer["grace_logins_left"] == 2
    assert any("il vous reste 2 connexions" in w for w in answer["warnings"])
    outcome = authenticate(rt.settings.ldap, partner.dn, PASSWORD)
    assert (outcome.ok, outcome.reason, outcome.grace_remaining) == (True, "grace", 1)
