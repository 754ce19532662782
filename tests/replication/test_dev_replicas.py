"""`apexdir dev up --replicas 2`: two providers in apexdir.toml, replicating; down stops both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from apexdir.config import load_settings
from apexdir.directory.replication import ReplicaSet
from apexdir.directory.server import pid_alive
from tests.helpers import SIRET


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("apexdir")
    return subprocess.run(
        [str(exe), "--json", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "APEXDIR_CONFIG": ""},
    )


def test_dev_up_with_two_replicas(tmp_path: Path) -> None:
    """up starts two providers and lists both; a write lands on both; up again reuses them;
    status shows each; down stops them all."""
    up = run(tmp_path, "dev", "up", "--replicas", "2")
    assert up.returncode == 0, up.stderr
    first = json.loads(up.stdout)
    pids: list[int] = []
    try:
        assert first["running"] is True
        uris = first["ldap_uris"]
        assert len(set(uris)) == 2 and first["ldap_uri"] == uris[0]
        assert [p["running"] for p in first["providers"]] == [True, True]
        assert load_settings(tmp_path / "apexdir.toml").ldap.uris == uris
        pids = [
            int((tmp_path / f"var/{d}/run/slapd.pid").read_text()) for d in ("slapd", "slapd-2")
        ]

        created = run(tmp_path, "structure", "create", "--siret", SIRET, "--category", "Banques",
                      "--name", "Banque Exemple")  # fmt: skip
        assert created.returncode == 0, created.stderr
        replicas = ReplicaSet(tmp_path / "var", count=2)
        replicas.wait_converged(timeout=20)
        for provider in replicas.instances:
            with replicas.admin(provider) as directory:
                assert directory.exists(provider.layout.structure_dn(SIRET)), provider.uri

        again = json.loads(run(tmp_path, "dev", "up", "--replicas", "2").stdout)
        assert again["ldap_uris"] == uris
        assert int((tmp_path / "var/slapd-2/run/slapd.pid").read_text()) == pids[1]
        status = json.loads(run(tmp_path, "dev", "status").stdout)
        assert status["running"] is True and status["ldap_uris"] == uris
    finally:
        down = run(tmp_path, "dev", "down")
    assert down.returncode == 0, down.stderr
    stopped = json.loads(down.stdout)
    assert stopped["running"] is False
    assert [p["running"] for p in stopped["providers"]] == [False, False]
    assert pids and not any(pid_alive(pid) for pid in pids)
