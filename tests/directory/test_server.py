"""The private slapd: both schema forms load, base DIT present, restarts recover."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from apexdir.directory.schema_ldif import to_ldif
from apexdir.directory.server import SlapdInstance
from apexdir.resources import schema_dir
from apexdir.runtime import Runtime


def test_schema_ldif_matches_schema_file() -> None:
    """apex.ldif is the generated form of apex.schema (no drift)."""
    source = (schema_dir() / "apex.schema").read_text(encoding="utf-8")
    assert (schema_dir() / "apex.ldif").read_text(encoding="utf-8") == to_ldif(source)


def test_base_dit_visible_with_ldapsearch(rt: Runtime, slapd: SlapdInstance) -> None:
    """ldapsearch (the C client) sees the branches `init` created."""
    out = subprocess.run(
        [
            "ldapsearch",
            "-x",
            "-LLL",
            "-H",
            slapd.uri,
            "-D",
            slapd.layout.apexdir_dn,
            "-w",
            slapd.apexdir_password(),
            "-b",
            slapd.base_dn,
            "-s",
            "one",
            "dn",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for branch in ("people", "structures", "applications", "requests", "policies", "system"):
        assert f"ou={branch},{slapd.base_dn}" in out


def test_anonymous_reads_nothing(rt: Runtime, slapd: SlapdInstance) -> None:
    """Anonymous: nothing but authentication."""
    result = subprocess.run(
        ["ldapsearch", "-x", "-LLL", "-H", slapd.uri, "-b", slapd.base_dn, "dn"],
        capture_output=True,
        text=True,
    )
    assert "dn:" not in result.stdout


def test_cn_config_schema_form_loads(tmp_path: Path) -> None:
    """apex.ldif loads into a cn=config slapd with ldapadd -Y EXTERNAL."""
    conf = tmp_path / "slapd.d"
    conf.mkdir()
    sock = tmp_path / "ldapi"
    uid, gid = os.getuid(), os.getgid()
    bootstrap = f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {tmp_path}/slapd.pid

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcRootDN: gidNumber={gid}+uidNumber={uid},cn=peercred,cn=external,cn=auth
"""
    subprocess.run(
        ["slapadd", "-n0", "-F", str(conf)],
        input=bootstrap.encode(),
        check=True,
        capture_output=True,
    )
    uri = "ldapi://" + str(sock).replace("/", "%2F")
    proc = subprocess.Popen(
        ["slapd", "-d", "0", "-F", str(conf), "-h", uri],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import time

        for _ in range(500):  # ready when it answers, not when the socket file appears
            probe = subprocess.run(
                ["ldapsearch", "-Y", "EXTERNAL", "-H", uri, "-b", "cn=config", "-s", "base", "dn"],
                capture_output=True,
            )
            if probe.returncode == 0:
                break
            time.sleep(0.02)
        for name in ("core", "cosine", "inetorgperson"):
            subprocess.run(
                ["ldapadd", "-Y", "EXTERNAL", "-H", uri, "-f", f"/etc/ldap/schema/{name}.ldif"],
                check=True,
                capture_output=True,
            )
        subprocess.run(
            ["ldapadd", "-Y", "EXTERNAL", "-H", uri, "-f", str(schema_dir() / "apex.ldif")],
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            [
                "ldapsearch",
                "-Y",
                "EXTERNAL",
                "-H",
                uri,
                "-LLL",
                "-b",
                "cn=schema,cn=config",
                "olcObjectClasses",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "apexAccount" in out.replace("\n ", "")
    finally:
        proc.terminate()
        proc.wait()


def test_restart_recovers_from_a_crash(tmp_path: Path) -> None:
    """A killed slapd leaves a pid file and a socket; start() recovers and keeps the data."""
    inst = SlapdInstance(tmp_path / "s", dbnosync=True)
    inst.start()
    pid = inst.pid()
    assert pid
    os.kill(pid, 9)
    os.waitpid(pid, 0)  # our child: reap it so the port is free
    port = inst.port
    # Someone else takes the port meanwhile: the instance moves to another one.
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        inst2 = SlapdInstance(tmp_path / "s", dbnosync=True)
        inst2.start()
        assert inst2.running()
        assert inst2.port != port
    out = subprocess.run(
        [
            "ldapsearch",
            "-x",
            "-LLL",
            "-H",
            inst2.uri,
            "-D",
            inst2.layout.apexdir_dn,
            "-w",
            inst2.apexdir_password(),
            "-b",
            inst2.layout.apexdir_dn,
            "-s",
            "base",
            "dn",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert inst2.layout.apexdir_dn in out
    inst2.destroy()
    assert not (tmp_path / "s").exists()
