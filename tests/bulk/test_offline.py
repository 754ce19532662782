"""`--offline OUT.ldif`: LDIF that slapadd loads into a fresh directory, overlays' work included."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apexdir.bulk.run import Options, import_file
from apexdir.directory.connection import Directory
from apexdir.directory.provision import initialize
from apexdir.directory.server import SlapdInstance
from apexdir.runtime import Runtime
from apexdir.workflows.actors import AGENT
from apexdir.workflows.catalogue import add_application, add_profile
from benchmarks.dataset import generate
from tests.bulk.conftest import CSV_ROWS, Tree, whoami, write_csv
from tests.conftest import make_settings


@pytest.fixture
def fresh(tmp_path: Path, sinks: Any) -> Iterator[tuple[SlapdInstance, Runtime]]:
    """A new directory of its own (durable writes off), initialized like `apexdir init`."""
    instance = SlapdInstance(tmp_path / "fresh", dbnosync=True)
    instance.start()
    settings = make_settings(instance, sinks, tmp_path / "state.db")
    with Directory(settings.ldap) as directory:
        initialize(directory, instance.layout, settings.policy)
    runtime = Runtime(settings, operator="tester")
    yield instance, runtime
    runtime.close()
    instance.destroy()


def slapadd(instance: SlapdInstance, path: Path) -> None:
    """The documented procedure: stop slapd, slapadd, start slapd again."""
    instance.stop()
    result = subprocess.run(
        [
            "/usr/sbin/slapadd",
            "-q",
            "-w",
            "-f",
            str(instance.conf_file),
            "-b",
            instance.base_dn,
            "-l",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    instance.start()


def test_offline_csv_loads_with_slapadd(
    fresh: tuple[SlapdInstance, Runtime], tmp_path: Path
) -> None:
    """Accounts are there after slapadd, with memberOf as the overlay would have set it."""
    instance, rt = fresh
    out = tmp_path / "out.ldif"
    source = write_csv(tmp_path / "in.csv", CSV_ROWS)
    report = import_file(rt, AGENT, source, options=Options(offline=out))
    assert report["members_file"] is None
    assert out.read_text().startswith("# apexdir import of in.csv")
    rt.close()
    slapadd(instance, out)
    tree = Tree(instance)
    accounts = tree.accounts()
    assert len(accounts) == 5 and tree.structures() == 2 and tree.services() == 3
    consult = instance.layout.profile_dn("ADELIE", "CONSULT").lower()
    assert consult in {d.lower() for d in accounts["marie.martin2-px"].all("memberOf")}
    # The directory works on them as on any entry: refint drops a deleted account.
    members = tree.search(consult, "(objectClass=*)", ["member"])[0].all("member")
    assert len(members) == 3


def test_offline_ldif_with_passwords(fresh: tuple[SlapdInstance, Runtime], tmp_path: Path) -> None:
    """pwdChangedTime (ppolicy) is carried; the hashed passwords bind."""
    instance, rt = fresh
    data = generate(instance.layout, 30)
    source = tmp_path / "data.ldif"
    data.write(str(source))
    out = tmp_path / "out.ldif"
    import_file(rt, AGENT, source, options=Options(offline=out))
    rt.close()
    slapadd(instance, out)
    accounts = Tree(instance).accounts()
    assert len(accounts) == 30
    assert all(a.get("pwdChangedTime") for a in accounts.values())
    assert sum(1 for a in accounts.values() if a.all("memberOf")) == data.habilitations
    uid = data.identifiers()[3]
    password = data.passwords[data.password_of[uid]]
    assert whoami(instance.uri, instance.layout.account_dn(uid), password) == 0


def test_habilitations_on_existing_profiles_go_to_a_second_file(
    fresh: tuple[SlapdInstance, Runtime], tmp_path: Path
) -> None:
    """slapadd cannot change a profile that exists: those members are applied online after."""
    instance, rt = fresh
    add_application(rt, AGENT, "ADELIE", "Application ADELIE")
    add_profile(rt, AGENT, "ADELIE", "CONSULT")
    rows = [r for r in CSV_ROWS if not r.startswith("profile")]
    rows = [r.replace("|ADELIE/SAISIE", "") for r in rows]
    out = tmp_path / "out.ldif"
    report = import_file(
        rt, AGENT, write_csv(tmp_path / "in.csv", rows), options=Options(offline=out)
    )
    members_file = Path(report["members_file"])
    assert report["deferred_habilitations"] == 3
    rt.close()
    slapadd(instance, out)
    result = subprocess.run(
        [
            "ldapmodify",
            "-x",
            "-H",
            instance.uri,
            "-D",
            instance.layout.apexdir_dn,
            "-w",
            instance.apexdir_password(),
            "-f",
            str(members_file),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    accounts = Tree(instance).accounts()
    consult = instance.layout.profile_dn("ADELIE", "CONSULT").lower()
    holders = sorted(
        uid for uid, a in accounts.items() if consult in {d.lower() for d in a.all("memberOf")}
    )
    assert holders == ["cathy.noel-px", "marie.martin-px", "marie.martin2-px"]
