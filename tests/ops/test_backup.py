"""`apexdir backup` / `apexdir restore` (issue 14, item 2), against real slapd instances.

A structure with every kind of entry is backed up (slapcat, and the online LDAP export),
restored into fresh instances, and compared entry by entry, operational attributes
included; the queued mails come back with the state store; an old password still binds.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest

from apexdir.directory.server import SlapdInstance
from tests.cli import flows
from tests.cli.flows import APP, READ
from tests.conftest import BASE_DN, admin
from tests.helpers import PASSWORD, SIRET, Cli

NEW_PASSWORD = "Autre-Passw0rd!42"
# Attributes slapd computes at each read: nothing to compare.
COMPUTED = {"entrydn", "hassubordinates", "subschemasubentry", "numsubordinates"}


def snapshot(slapd: SlapdInstance, base: str = BASE_DN) -> dict[str, dict[str, list[Any]]]:
    """Every entry under `base` with every attribute, as the rootdn reads them."""
    with admin(slapd) as directory:
        entries = directory.search(base, "(objectClass=*)", ["*", "+"])
    return {
        e.dn.lower(): {
            k.lower(): tuple(sorted(str(v) for v in (vs if isinstance(vs, list) else [vs])))
            for k, vs in e.attrs.items()
            if k.lower() not in COMPUTED
        }
        for e in entries
    }


def queued(state: Path, status: str = "queued") -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(state)
    try:
        return conn.execute(
            "SELECT id, kind, recipients, subject, body_text FROM outbox"
            " WHERE status = ? ORDER BY id",
            [status],
        ).fetchall()
    finally:
        conn.close()


def write_config(path: Path, base: Path, state: Path) -> Path:
    """The test's configuration with another state store (the restore's target)."""
    text = base.read_text(encoding="utf-8")
    lines = [
        f'path = "{state}"' if line.startswith("path = ") else line for line in text.splitlines()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Any]:
    """Fresh slapd instances (configured: slapd.conf and the bootstrap entries), destroyed after."""
    made: list[SlapdInstance] = []

    def make(name: str) -> SlapdInstance:
        instance = SlapdInstance(tmp_path / name, base_dn=BASE_DN, dbnosync=True)
        instance.configure()
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.destroy()


def seed(cli: Cli, slapd: SlapdInstance) -> dict[str, str]:
    """Every kind of entry, ppolicy and lastbind state, a pending request, queued mails."""
    w = flows.world(cli)  # catalogue, structures, services, 3 account types, grants, delegation
    # pwdHistory and pwdChangedTime: a password change (the old one goes to the history).
    cli.ok("password", "change", w.collab1, input=f"{PASSWORD}\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    # lastbind's authTimestamp: a login (binds as the partner).
    cli.ok("login", w.collab2, input=f"{PASSWORD}\n")
    cli.deliver()  # what is queued after this point stays queued in the backup
    pending = cli.invite(SIRET, "collaborateur", "pending@example.org", flows.SERVICE, as_=w.adm_a)
    cli.ok("login", w.resp1, input=f"{PASSWORD}\n")  # the code's mail stays queued
    entry = flows.entry(slapd, w.collab1)
    assert entry is not None and entry.all("pwdHistory") and entry.get("pwdChangedTime")
    assert flows.entry(slapd, w.collab2).get("authTimestamp")  # type: ignore[union-attr]
    return {"collab1": w.collab1, "collab2": w.collab2, "adm_a": w.adm_a, "pending": pending}


def test_backup_and_restore_round_trip(
    app_cli: Cli, slapd: SlapdInstance, config_file: Path, tmp_path: Path, fresh: Any
) -> None:
    """slapcat and online backups restore into fresh instances: same entries, same
    operational state, same queued mails; an old password binds; a non-empty or running
    target is refused unless --force (and never while slapd runs)."""
    who = seed(app_cli, slapd)
    before = snapshot(slapd)
    accesslog_before = len(snapshot(slapd, "cn=accesslog"))
    from apexdir.config import load_settings

    state_path = load_settings(config_file).state.path
    mails_before = queued(state_path)
    assert len(mails_before) >= 2  # the invitation and the login code

    # ---- backup: slapcat (files local and readable), then the online export
    local = app_cli.ok("backup", str(tmp_path / "b1"), "--slapd-dir", str(slapd.root))
    assert local["method"] == "slapcat"
    files = local["files"]
    assert files["directory.ldif"]["entries"] == len(before)
    assert files["accesslog.ldif"]["entries"] >= accesslog_before
    assert files["state.db"]["outbox_queued"] == len(mails_before)
    manifest = json.loads((tmp_path / "b1" / "manifest.json").read_text())
    assert manifest["slapd_version"].startswith("2.5") and manifest["apexdir_version"]
    assert (tmp_path / "b1").stat().st_mode & 0o777 == 0o700
    online = app_cli.ok("backup", str(tmp_path / "b2"), "--online")
    # The export binds as apexdir's account: lastbind moves its authTimestamp first.
    expected = {"b1": before, "b2": snapshot(slapd)}
    assert online["method"] == "online"
    assert online["files"]["directory.ldif"]["entries"] == len(before)
    app_cli.fails(1, "backup", str(tmp_path / "b1"), "--slapd-dir", str(slapd.root))  # not empty

    for name in ("b1", "b2"):
        target = fresh(f"target-{name}")
        cfg = write_config(tmp_path / f"{name}.toml", config_file, tmp_path / f"{name}-state.db")
        restored = Cli(cfg)
        # The fresh instance holds its bootstrap entries: refused without --force.
        err = restored.fails(1, "restore", str(tmp_path / name), "--slapd-dir", str(target.root))
        assert "not empty" in err
        # Empty it (no database file): accepted without --force.
        for mdb in (target.data_dir / "main").glob("*.mdb"):
            mdb.unlink()
        result = restored.ok("restore", str(tmp_path / name), "--slapd-dir", str(target.root))
        assert result["restored"][0] == BASE_DN
        target.start()
        try:
            # A running slapd is never written under its feet, --force or not.
            err = restored.fails(
                1, "restore", str(tmp_path / name), "--slapd-dir", str(target.root), "--force"
            )
            assert "running" in err
            after = snapshot(target)
            assert after.keys() == before.keys()
            for dn, attrs in expected[name].items():
                assert after[dn] == attrs, (dn, set(after[dn].items()) ^ set(attrs.items()))
            assert len(snapshot(target, "cn=accesslog")) >= accesslog_before
            # The original node may have sent them since: held, listed, nothing re-sent.
            assert queued(tmp_path / f"{name}-state.db", "held") == mails_before
            assert [m["id"] for m in result["outbox_held"]] == [m[0] for m in mails_before]
            released = restored.ok("outbox", "retry", "--held")
            assert released["ids"] == [m[0] for m in mails_before]
            assert queued(tmp_path / f"{name}-state.db") == mails_before
            changed = after[target.layout.account_dn(who["collab1"]).lower()]
            assert changed["pwdhistory"] and changed["pwdchangedtime"]
            held = after[target.layout.account_dn(who["adm_a"]).lower()]
            assert any(READ in dn and APP in dn for dn in held["memberof"])
            logged = after[target.layout.account_dn(who["collab2"]).lower()]
            assert logged["authtimestamp"]
            assert after[target.layout.request_dn(who["pending"]).lower()]
            # The partner logs in with the password he had before the backup.
            server = ldap3.Server(target.uri)
            dn = target.layout.account_dn(who["collab1"])
            with ldap3.Connection(server, dn, NEW_PASSWORD) as conn:
                assert conn.bind()
            assert not ldap3.Connection(server, dn, "Wrong-Passw0rd!1").bind()
        finally:
            target.stop()
        # --force replaces what the stopped instance and the store hold.
        restored.ok("restore", str(tmp_path / name), "--slapd-dir", str(target.root), "--force")


def test_restore_refuses_a_damaged_backup(
    app_cli: Cli, slapd: SlapdInstance, tmp_path: Path, fresh: Any
) -> None:
    """A file that no longer matches the manifest's checksum: refused, nothing loaded."""
    app_cli.ok("backup", str(tmp_path / "b"), "--slapd-dir", str(slapd.root))
    with open(tmp_path / "b" / "directory.ldif", "a") as handle:
        handle.write("\n")
    target = fresh("target")
    err = app_cli.fails(1, "restore", str(tmp_path / "b"), "--slapd-dir", str(target.root))
    assert "checksum" in err
    app_cli.fails(3, "restore", str(tmp_path), "--slapd-dir", str(target.root))  # no manifest
    shutil.rmtree(tmp_path / "b")


def test_directory_only_seeds_a_provider(
    app_cli: Cli, slapd: SlapdInstance, config_file: Path, tmp_path: Path, fresh: Any
) -> None:
    """--directory-only loads the main database alone: no change feed, no state store (the
    source node's queued mails must not be sent twice)."""
    flows.catalogue(app_cli)
    app_cli.ok("backup", str(tmp_path / "b"), "--slapd-dir", str(slapd.root))
    target = fresh("provider-2")
    state = tmp_path / "provider-2.db"
    cfg = Cli(write_config(tmp_path / "p2.toml", config_file, state))
    result = cfg.ok(
        "restore", str(tmp_path / "b"), "--slapd-dir", str(target.root), "--force",
        "--directory-only",
    )  # fmt: skip
    assert result["restored"] == [BASE_DN] and result["state_store"] is None
    assert not state.exists()
    target.start()
    try:
        assert snapshot(target) == snapshot(slapd)
        assert snapshot(target, "cn=accesslog") == {}
    finally:
        target.stop()
