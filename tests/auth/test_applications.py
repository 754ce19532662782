"""Applications: their service accounts, and the contract of authenticating a partner."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest

from apexdir.directory.provision import apps_policy_dn
from apexdir.directory.server import SlapdInstance
from apexdir.runtime import Runtime
from tests.auth.conftest import Partner
from tests.conftest import admin
from tests.helpers import PASSWORD, SIRET, Cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "application_auth.py"


@pytest.fixture(autouse=True)
def app_credentials_command(slapd: SlapdInstance) -> Iterator[None]:
    """`app credentials`, attached here until the lead wires it into `app`; the service
    accounts made are removed afterwards (the shared wipe spares ou=system)."""
    from apexdir.cli.appcreds import credentials
    from apexdir.cli.catalogue import app

    added = "credentials" not in app.commands
    if added:
        app.add_command(credentials)
    yield
    if added:
        app.commands.pop("credentials", None)
    with admin(slapd) as directory:
        apps = slapd.layout.apps_dn
        for entry in directory.search(apps, "(objectClass=*)", ["1.1"], scope="one"):
            directory.delete(entry.dn)


@pytest.fixture
def catalogue(app_cli: Cli, partner: Partner) -> Partner:
    """Application IMPOT with profile LECTURE, granted to the partner."""
    app_cli.ok("app", "add", "IMPOT", "--name", "Impôts en ligne")
    app_cli.ok("app", "profile-add", "IMPOT", "LECTURE")
    app_cli.ok("grant", partner.identifier, "IMPOT", "LECTURE")
    return partner


def bind(slapd: SlapdInstance, dn: str, password: str) -> ldap3.Connection | None:
    conn = ldap3.Connection(slapd.uri, dn, password, receive_timeout=10)
    return conn if conn.bind() else None


def test_credentials_create_then_rotate(app_cli: Cli, slapd: SlapdInstance, rt: Runtime,
                                        catalogue: Partner) -> None:  # fmt: skip
    """Printed once; binds; a rotation gives a new one and the old one stops working."""
    first = app_cli.ok("app", "credentials", "impot")
    assert first["dn"] == f"cn=IMPOT,ou=apps,ou=system,{slapd.base_dn}"
    assert first["rotated"] is False and len(first["password"]) >= 32
    assert bind(slapd, first["dn"], first["password"])
    second = app_cli.ok("app", "credentials", "IMPOT")
    assert second["rotated"] is True and second["password"] != first["password"]
    assert bind(slapd, second["dn"], second["password"])
    assert bind(slapd, first["dn"], first["password"]) is None
    entry = rt.directory.get(first["dn"], ["pwdPolicySubentry", "objectClass"])
    assert entry is not None
    assert str(entry.get("pwdPolicySubentry")) == apps_policy_dn(rt.layout)
    journal = json.dumps(rt.journal.entries())
    assert "app.credentials" in journal
    assert first["password"] not in journal and second["password"] not in journal


def test_credentials_to_a_file(app_cli: Cli, slapd: SlapdInstance, catalogue: Partner,
                               tmp_path: Path) -> None:  # fmt: skip
    """--output: mode 600, the password only there."""
    target = tmp_path / "secrets" / "impot.pw"
    target.parent.mkdir()
    target.write_text("old\n")
    os.chmod(target, 0o644)
    result = app_cli.run("--json", "app", "credentials", "IMPOT", "--output", str(target))
    assert result.exit_code == 0, result.output
    secret = target.read_text().strip()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert secret not in result.stdout and "password" not in json.loads(result.stdout)
    assert bind(slapd, f"cn=IMPOT,ou=apps,ou=system,{slapd.base_dn}", secret)
    assert [p.name for p in target.parent.iterdir()] == ["impot.pw"]  # no temporary left


def test_credentials_refusals(app_cli: Cli, catalogue: Partner, tmp_path: Path) -> None:
    """Unknown application → 3; a partner → 4; an unwritable --output → 1, nothing rotated."""
    app_cli.fails(3, "app", "credentials", "NOPE")
    app_cli.fails(4, "app", "credentials", "IMPOT", as_=catalogue.identifier)
    app_cli.fails(1, "app", "credentials", "IMPOT", "--output", str(tmp_path / "no" / "x.pw"))
    assert app_cli.ok("app", "credentials", "IMPOT")["rotated"] is False


def test_the_application_contract(app_cli: Cli, slapd: SlapdInstance, catalogue: Partner,
                                  make_partner: Callable[..., Partner]) -> None:  # fmt: skip
    """An application finds the partner, reads his profiles and nothing private, then binds
    as him."""
    creds = app_cli.ok("app", "credentials", "IMPOT")
    # Something private to hide: a partner with a mobile, and a pending creation.
    other = make_partner("Paul", "Durand", mobile="06 12 34 32 34")
    # A holder of the application's profile: the others it does not see at all
    # (tests/auth/test_app_data_minimisation.py).
    app_cli.ok("grant", other.identifier, "IMPOT", "LECTURE")
    app_cli.ok("account", "invite", "--structure", SIRET, "--type", "collaborateur",
               "--mail", "pending@example.org", "--service", "Comptabilité")  # fmt: skip
    app = bind(slapd, creds["dn"], creds["password"])
    assert app is not None
    wanted = ["uid", "memberOf", "mobile", "mail", "apexStatus", "userPassword"]
    app.search(f"ou=people,{slapd.base_dn}", f"(uid={catalogue.identifier})", attributes=wanted)
    (entry,) = app.response
    attrs = entry["attributes"]
    assert entry["dn"] == catalogue.dn
    assert attrs["memberOf"] == [f"cn=LECTURE,apexAppCode=IMPOT,ou=applications,{slapd.base_dn}"]
    assert attrs["mobile"] == [] and attrs["userPassword"] == []
    app.search(f"ou=people,{slapd.base_dn}", f"(uid={other.identifier})", attributes=["mobile"])
    assert app.response[0]["attributes"]["mobile"] == []
    # Not even by filtering on it.
    app.search(f"ou=people,{slapd.base_dn}", "(mobile=*)", attributes=["uid"])
    assert app.response == []
    app.search(f"ou=requests,{slapd.base_dn}", "(objectClass=*)", attributes=["*"])
    assert app.response == []
    app.unbind()
    partner = bind(slapd, catalogue.dn, PASSWORD)
    assert partner is not None and partner.extend.standard.who_am_i() == f"dn:{catalogue.dn}"


def run_example(slapd: SlapdInstance, creds: dict[str, Any], identifier: str, password: str,
                tmp_path: Path) -> subprocess.CompletedProcess[str]:  # fmt: skip
    secret = tmp_path / "app.pw"
    secret.write_text(creds["password"])
    env = {**os.environ, "APEX_LDAP_URI": slapd.uri, "APEX_BASE_DN": slapd.base_dn,
           "APEX_APP_DN": creds["dn"], "APEX_APP_PASSWORD_FILE": str(secret)}  # fmt: skip
    return subprocess.run([sys.executable, str(EXAMPLE), identifier], input=password + "\n",
                          capture_output=True, text=True, env=env, timeout=60)  # fmt: skip


def test_example_script_authenticates_and_lists_profiles(
    app_cli: Cli, slapd: SlapdInstance, catalogue: Partner, tmp_path: Path
) -> None:
    """examples/application_auth.py, as an application owner would run it."""
    creds = app_cli.ok("app", "credentials", "IMPOT")
    ok = run_example(slapd, creds, catalogue.identifier, PASSWORD, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {
        "identifier": catalogue.identifier,
        "dn": catalogue.dn,
        "type": "collaborateur",
        "profiles": ["IMPOT/LECTURE"],
    }
    wrong = run_example(slapd, creds, catalogue.identifier, "Wr0ng-Passw0rd!", tmp_path)
    assert wrong.returncode == 1 and "invalid credentials" in wrong.stderr
    injected = run_example(slapd, creds, "*", PASSWORD, tmp_path)
    assert injected.returncode == 1 and "unknown" in injected.stderr


def test_locked_expired_deleted_and_pending_accounts_cannot_bind(
    app_cli: Cli, slapd: SlapdInstance, rt: Runtime, catalogue: Partner, tmp_path: Path,
    make_partner: Callable[..., Partner], policy_override: Callable[..., None],
) -> None:  # fmt: skip
    """What an application sees for each account an apexdir login would also refuse."""
    creds = app_cli.ok("app", "credentials", "IMPOT")
    # Locked: slapd's own lock (20 wrong passwords; the portal slows strangers before it).
    locked = make_partner("Louis", "Bernard")
    app_cli.ok("grant", locked.identifier, "IMPOT", "LECTURE")  # visible to IMPOT
    for _ in range(rt.settings.policy.directory_lockout_failures):
        assert bind(slapd, locked.dn, "Wr0ng-Passw0rd!") is None
    assert bind(slapd, locked.dn, PASSWORD) is None
    out = run_example(slapd, creds, locked.identifier, PASSWORD, tmp_path)
    assert out.returncode == 1 and "account locked" in out.stderr
    # Deleted: no entry left.
    deleted = make_partner("Jeanne", "Petit")
    app_cli.ok("account", "delete", deleted.identifier)
    assert bind(slapd, deleted.dn, PASSWORD) is None
    assert "unknown" in run_example(slapd, creds, deleted.identifier, PASSWORD, tmp_path).stderr
    # Pending: the form is completed (the password chosen), not yet validated.
    invite = ["account", "invite", "--structure", SIRET, "--type", "collaborateur",
              "--mail", "claire.roux@example.org", "--service", "Comptabilité"]  # fmt: skip
    request = app_cli.ok(*invite)
    link = app_cli.link_for("claire.roux@example.org")
    app_cli.ok("account", "complete", link, "--last-name", "Roux", "--first-name", "Claire",
               "--yes", input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert bind(slapd, rt.layout.account_dn("claire.roux-px"), PASSWORD) is None
    assert bind(slapd, rt.layout.request_dn(request["request_id"]), PASSWORD) is None
    # Expired: past pwdMaxAge.
    policy_override(pwdMaxAge=1)
    time.sleep(2.1)
    assert bind(slapd, catalogue.dn, PASSWORD) is None
    out = run_example(slapd, creds, catalogue.identifier, PASSWORD, tmp_path)
    assert out.returncode == 1 and "password expired" in out.stderr
