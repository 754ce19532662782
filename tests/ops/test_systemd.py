"""The systemd units of deploy/systemd (issue 14, item 1), without systemd.

The `ExecStart=` lines run as written: the environment file is read as systemd reads it, its
configuration path and bind address replaced by the test's, `${VAR}` expanded as systemd does,
and the install path of the `apexdir` script replaced by this virtualenv's. The daemon starts,
delivers a queued mail and stops cleanly on SIGTERM; `serve` answers HTTP on its bind address
and stops on SIGTERM.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apexdir.config import Settings
from apexdir.dev.captured import captured_mails
from apexdir.directory.server import SlapdInstance
from apexdir.state.db import open_store
from apexdir.state.outbox import Outbox
from tests.conftest import admin
from tests.helpers import wait_for
from tests.ports import free_port

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
INSTALLED = "/opt/apexdir/bin/apexdir"
APEXDIR = Path(sys.executable).with_name("apexdir")


def unit(name: str) -> dict[str, list[str]]:
    """`Key=value` lines of a unit file, every value of a key in order (sections merged)."""
    keys: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        keys.setdefault(key.strip(), []).append(value.strip())
    return keys


def environment_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def command(exec_start: str, env: dict[str, str]) -> list[str]:
    """systemd's rules: `${VAR}` is one word, `$VAR` splits on white space."""
    words: list[str] = []
    for word in shlex.split(exec_start):
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if whole:
            words += env.get(whole.group(1), "").split()
            continue
        words.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env[m.group(1)], word))
    assert words[0] == INSTALLED, "the units run the install of docs/install.md"
    return [str(APEXDIR), *words[1:]]


@pytest.fixture
def run_unit(tmp_path: Path) -> Iterator[Callable[[str, dict[str, str]], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, overrides: dict[str, str]) -> subprocess.Popen[bytes]:
        keys = unit(name)
        (env_file,) = keys["EnvironmentFile"]
        assert env_file == "/etc/apexdir/apexdir.env"
        env = {**environment_file(UNITS / "apexdir.env"), **overrides}
        (exec_start,) = keys["ExecStart"]
        ambient = {k: v for k, v in os.environ.items() if not k.startswith("APEXDIR_")}
        with open(tmp_path / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                command(exec_start, env),
                env={**ambient, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


@pytest.mark.parametrize("name", ["apexdir-daemon.service", "apexdir-portal.service"])
def test_units_are_hardened(name: str) -> None:
    """A dedicated user, a read-only system but the state store, no new privileges, restart
    on failure, a graceful stop by SIGTERM."""
    keys = unit(name)
    expected = {
        "User": ["apexdir"],
        "Group": ["apexdir"],
        "ProtectSystem": ["strict"],
        "ReadWritePaths": ["/var/lib/apexdir"],
        "NoNewPrivileges": ["yes"],
        "Restart": ["on-failure"],
        "KillSignal": ["SIGTERM"],
        "EnvironmentFile": ["/etc/apexdir/apexdir.env"],
        "WantedBy": ["multi-user.target"],
    }
    for key, value in expected.items():
        assert keys.get(key) == value, key


def test_daemon_unit_runs_and_stops_on_sigterm(
    run_unit: Any, config_file: Path, settings: Settings, sinks: Any, slapd: SlapdInstance
) -> None:
    """The daemon's ExecStart starts the scheduler, which delivers the spool; SIGTERM ends it
    with status 0 well within TimeoutStopSec."""
    db = open_store(settings.state.path)
    Outbox(db).enqueue_mail(["unit@example.org"], "Unité systemd", "corps", None)
    db.close()
    try:
        process = run_unit("apexdir-daemon.service", {"APEXDIR_CONFIG": str(config_file)})
        wait_for(
            lambda: captured_mails(sinks.directory, to="unit@example.org") or process.poll(),
            20,
            "the daemon to deliver the queued mail",
        )
        assert process.poll() is None, "the daemon exited"
        process.send_signal(signal.SIGTERM)
        stop = int(unit("apexdir-daemon.service")["TimeoutStopSec"][0])
        assert process.wait(stop) == 0
    finally:
        with admin(slapd) as directory:  # the lease it took: free for the other tests
            directory.replace(slapd.layout.lease_dn, apexLease=None)


def test_portal_unit_answers_http_and_stops_on_sigterm(
    run_unit: Any, config_file: Path, tmp_path: Path
) -> None:
    """`apexdir serve` as the unit runs it answers on PORTAL_BIND, its metrics count every
    worker's requests by route; SIGTERM stops gunicorn."""
    key = tmp_path / "portal.key"
    key.write_text("k" * 48)
    key.chmod(0o600)
    port, metrics_port = free_port(), free_port()
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write(
            f'\n[portal]\nbase_url = "http://127.0.0.1:{port}"\nsecret_key_file = "{key}"\n'
            f'\n[metrics]\nportal_bind = "127.0.0.1:{metrics_port}"\n'
        )
    process = run_unit(
        "apexdir-portal.service",
        {"APEXDIR_CONFIG": str(config_file), "PORTAL_BIND": f"127.0.0.1:{port}"},
    )

    def answers() -> bool:
        assert process.poll() is None, (tmp_path / "apexdir-portal.service.log").read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/connexion", timeout=2) as page:
                return bool(page.status == 200)
        except OSError:
            return False

    wait_for(answers, 30, "the portal to answer")
    for _ in range(3):
        answers()
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    counted = re.search(
        r'apexdir_http_requests_total\{(?=[^}]*route="/connexion")(?=[^}]*status="200")[^}]*\} '
        r"([0-9.]+)",
        text,
    )
    assert counted and float(counted.group(1)) >= 4, "the workers' counts, summed by the master"
    process.send_signal(signal.SIGTERM)
    stop = int(unit("apexdir-portal.service")["TimeoutStopSec"][0])
    assert process.wait(stop) == 0


def drop_in() -> dict[str, list[str]]:
    return unit("slapd.service.d/apexdir.conf")


def test_slapd_is_supervised_and_bounded() -> None:
    """The drop-in restarts slapd on failure, knows its process by the pid file that
    `apexdir config cn-config` configures, and bounds descriptors and memory."""
    from apexdir.directory.cnconfig import export

    keys = drop_in()
    assert keys["Restart"] == ["on-failure"] and float(keys["RestartSec"][0]) <= 5
    assert keys["RemainAfterExit"] == ["no"]
    assert int(keys["LimitNOFILE"][0]) >= 8192
    assert keys["MemoryMax"][0][:-1].isdigit() and keys["MemoryMax"][0][-1] in "MG"
    (pid_file,) = keys["PIDFile"]
    exported = export("dc=apex,dc=dgfip,dc=finances,dc=gouv,dc=fr", run_dir=Path("/run/slapd"))
    assert f"olcPidFile: {pid_file}" in exported


@pytest.mark.parametrize("name", ["apexdir-daemon.service", "apexdir-portal.service"])
def test_units_start_after_slapd(name: str) -> None:
    """slapd on the node starts first (Wants= and After=), and the clock is synchronised."""
    keys = unit(name)
    assert "slapd.service" in keys["Wants"][0].split()
    assert {"slapd.service", "time-sync.target"} <= set(keys["After"][0].split())


@pytest.mark.skipif(not Path("/usr/bin/systemd-analyze").exists(), reason="no systemd-analyze")
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    """`systemd-analyze verify` finds no unknown key nor bad value in the units and the
    drop-in (laid beside a stand-in for Debian's generated slapd.service)."""
    for name in ("apexdir-daemon.service", "apexdir-portal.service"):
        text = (UNITS / name).read_text(encoding="utf-8").replace(INSTALLED, str(APEXDIR))
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "slapd.service").write_text(
        "[Unit]\nDescription=stand-in\n[Service]\nType=forking\nExecStart=/usr/sbin/slapd\n",
        encoding="utf-8",
    )
    (tmp_path / "slapd.service.d").mkdir()
    (tmp_path / "slapd.service.d" / "apexdir.conf").write_text(
        (UNITS / "slapd.service.d" / "apexdir.conf").read_text(encoding="utf-8"), encoding="utf-8"
    )
    for name in ("slapd.service", "apexdir-daemon.service", "apexdir-portal.service"):
        done = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", str(tmp_path / name)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0 and not done.stderr.strip(), (name, done.stderr)
