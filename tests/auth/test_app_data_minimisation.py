"""An application's service account reads only the holders of its own profiles (issue 18,
info; RGPD data minimisation), by slapd's ACL: a real ldapsearch as the application."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import ldap3

from apexdir.directory.server import SlapdInstance
from tests.auth.conftest import Partner
from tests.auth.test_applications import app_credentials_command, bind
from tests.auth.test_applications import catalogue as _catalogue
from tests.helpers import PASSWORD, Cli

__all__ = ["app_credentials_command", "catalogue"]
catalogue = _catalogue  # IMPOT with LECTURE, granted to Marie Martin


def ldapsearch(slapd: SlapdInstance, creds: dict[str, str], tmp_path: Path, *args: str) -> str:
    secret = tmp_path / "app.pw"
    secret.write_text(creds["password"])
    done = subprocess.run(
        ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-x", "-H", slapd.uri,
         "-D", creds["dn"], "-y", str(secret), "-b", f"ou=people,{slapd.base_dn}", *args],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode in (0, 32), done.stderr  # 32: the base named is not visible
    return done.stdout


def test_an_application_sees_only_the_holders_of_its_profiles(
    app_cli: Cli, slapd: SlapdInstance, catalogue: Partner,
    make_partner: Callable[..., Partner], tmp_path: Path,
) -> None:  # fmt: skip
    """Marie (IMPOT/LECTURE) is visible to IMPOT; Paul (no profile) and Zoé (only AUTRE's
    profile) are not, by any filter or by their DN; AUTRE sees Zoé and no one else."""
    app_cli.ok("app", "add", "AUTRE", "--name", "Autre application")
    app_cli.ok("app", "profile-add", "AUTRE", "SAISIE")
    paul = make_partner("Paul", "Durand")
    zoe = make_partner("Zoe", "Bernard")
    app_cli.ok("grant", zoe.identifier, "AUTRE", "SAISIE")
    impot = app_cli.ok("app", "credentials", "IMPOT")
    autre = app_cli.ok("app", "credentials", "AUTRE")

    everyone = ldapsearch(slapd, impot, tmp_path, "(objectClass=*)", "uid", "mail", "cn")
    assert f"uid: {catalogue.identifier}" in everyone and catalogue.mail in everyone
    assert paul.identifier not in everyone and zoe.identifier not in everyone
    for who in (paul, zoe):
        assert ldapsearch(slapd, impot, tmp_path, f"(uid={who.identifier})", "mail") == ""
        assert ldapsearch(slapd, impot, tmp_path, f"(mail={who.mail})", "uid") == ""
        by_dn = subprocess.run(
            ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-x", "-H", slapd.uri, "-D", impot["dn"],
             "-w", impot["password"], "-b", who.dn, "-s", "base", "(objectClass=*)", "mail"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert who.mail not in by_dn.stdout and by_dn.returncode == 32, by_dn
    holder = ldapsearch(slapd, impot, tmp_path, f"(uid={catalogue.identifier})", "memberOf")
    assert "memberOf: cn=LECTURE,apexAppCode=IMPOT" in holder

    # Nor through the catalogue: the members of AUTRE's profile are not IMPOT's to read.
    profiles = subprocess.run(
        ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-x", "-H", slapd.uri,
         "-D", impot["dn"], "-w", impot["password"], "-b", f"ou=applications,{slapd.base_dn}",
         "(objectClass=apexProfile)", "member"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "dn: cn=SAISIE,apexAppCode=AUTRE" in profiles.stdout  # the catalogue itself
    assert zoe.dn not in profiles.stdout and f"member: {catalogue.dn}" in profiles.stdout
    seen_by_autre = ldapsearch(slapd, autre, tmp_path, "(objectClass=*)", "uid")
    assert f"uid: {zoe.identifier}" in seen_by_autre
    assert catalogue.identifier not in seen_by_autre and paul.identifier not in seen_by_autre


def test_a_partner_and_the_container_stay_as_they_were(
    app_cli: Cli, slapd: SlapdInstance, catalogue: Partner
) -> None:
    """A partner still reads his own entry; the application still finds ou=people."""
    creds = app_cli.ok("app", "credentials", "IMPOT")
    app = bind(slapd, creds["dn"], creds["password"])
    assert app is not None
    assert app.search(f"ou=people,{slapd.base_dn}", "(objectClass=*)", ldap3.BASE)
    app.unbind()
    me = bind(slapd, catalogue.dn, PASSWORD)
    assert me is not None
    me.search(catalogue.dn, "(objectClass=*)", ldap3.BASE, attributes=["mail", "memberOf"])
    assert me.response[0]["attributes"]["mail"] == [catalogue.mail]
    me.unbind()
