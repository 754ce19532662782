"""Issue 12 item 7: applications' service accounts, as slapd itself enforces them.

Only apexdir's account sets their secret (the account cannot set its own, with ldappasswd or
ldapmodify), they have a policy of their own (long random secret, no self change, a short
lockout), and the file `app credentials --output` writes is usable by `ldapsearch -y`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import ldap3

from apexdir.directory.provision import APP_LOCKOUT_FAILURES, apps_policy_dn
from apexdir.directory.server import SlapdInstance
from apexdir.runtime import Runtime
from tests.auth.conftest import Partner
from tests.auth.test_applications import app_credentials_command, bind
from tests.auth.test_applications import catalogue as _catalogue
from tests.helpers import Cli

# The fixtures of test_applications: `app credentials` wired in, application IMPOT.
__all__ = ["app_credentials_command", "catalogue"]
catalogue = _catalogue


def tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30)


def test_a_service_account_cannot_set_its_own_password(
    app_cli: Cli,
    slapd: SlapdInstance,
    catalogue: Partner,
) -> None:
    """ldappasswd -s x, a long value, ldapmodify: all refused; the secret apexdir set binds."""
    creds = app_cli.ok("app", "credentials", "IMPOT")
    dn, secret = creds["dn"], creds["password"]
    for new in ("x", "Un-Secret-Tres-Long-Choisi-Par-L-Application-42"):
        done = tool("ldappasswd", "-x", "-H", slapd.uri, "-D", dn, "-w", secret, "-s", new)
        assert done.returncode != 0, done.stdout
        assert bind(slapd, dn, new) is None
    ldif = f"dn: {dn}\nchangetype: modify\nreplace: userPassword\nuserPassword: x\n"
    done = subprocess.run(["ldapmodify", "-x", "-H", slapd.uri, "-D", dn, "-w", secret],
                          input=ldif, capture_output=True, text=True, timeout=30)  # fmt: skip
    assert done.returncode == 50, (done.returncode, done.stderr)  # insufficientAccess
    assert bind(slapd, dn, secret)


def test_service_accounts_have_their_own_policy_and_lockout(
    app_cli: Cli,
    slapd: SlapdInstance,
    rt: Runtime,
    catalogue: Partner,
) -> None:
    """pwdPolicySubentry is cn=apps; 20 wrong binds lock the account (the right secret fails)."""
    creds = app_cli.ok("app", "credentials", "IMPOT")
    entry = rt.directory.get(creds["dn"], ["pwdPolicySubentry"])
    assert entry is not None
    assert str(entry.get("pwdPolicySubentry")) == apps_policy_dn(rt.layout)
    policy = rt.directory.get(apps_policy_dn(rt.layout), ["pwdMinLength", "pwdAllowUserChange"])
    assert policy is not None and int(str(policy.get("pwdMinLength"))) >= 32
    for _ in range(APP_LOCKOUT_FAILURES):
        assert bind(slapd, creds["dn"], "wrong") is None
    assert bind(slapd, creds["dn"], creds["password"]) is None  # locked
    rotated = app_cli.ok("app", "credentials", "IMPOT")  # an agent's rotation unlocks it
    assert bind(slapd, rotated["dn"], rotated["password"])


def test_the_credentials_file_works_with_ldapsearch_y(
    app_cli: Cli,
    slapd: SlapdInstance,
    catalogue: Partner,
    tmp_path: Path,
) -> None:
    """No trailing newline: `ldapsearch -y FILE` binds with it and finds the partner."""
    target = tmp_path / "impot.pw"
    creds = app_cli.ok("app", "credentials", "IMPOT", "--output", str(target))
    assert not target.read_bytes().endswith(b"\n")
    done = tool("ldapsearch", "-x", "-LLL", "-H", slapd.uri, "-D", creds["dn"], "-y",
                str(target), "-b", f"ou=people,{slapd.base_dn}", f"(uid={catalogue.identifier})",
                "uid")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"uid: {catalogue.identifier}" in done.stdout
    conn = ldap3.Connection(slapd.uri, creds["dn"], target.read_text(), receive_timeout=10)
    assert conn.bind()
    conn.unbind()
