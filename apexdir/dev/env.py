"""The embedded default: a private slapd, an SMTP sink and an SMS sink under ./var/.

`up` is idempotent (a second call reuses what runs) and recovers from a crashed earlier
instance; it writes ./apexdir.toml pointing at what it started. With `replicas` > 1 it starts
that many slapd providers in multi-provider replication (apexdir/directory/replication.py),
and apexdir.toml lists them all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from apexdir.dev.process import bindable, http_answers, terminate, terminate_all
from apexdir.directory.replication import ReplicaSet, instance_dirs
from apexdir.directory.server import DEFAULT_BASE_DN, SlapdInstance, pid_alive, port_open
from apexdir.errors import Unavailable

CONFIG_TEMPLATE = """\
# Written by `apexdir dev up` for the local environment; see README.md for every key.
[ldap]
uris = [{ldap_uris}]
base_dn = "{base_dn}"
bind_dn = "{bind_dn}"
bind_password_file = "{password_file}"
secrets_key_file = "{secrets_key}"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
sender = "ne-pas-repondre@dgfip.finances.gouv.fr"

[sms]
url = "http://127.0.0.1:{sms_port}/sms"

[state]
path = "{state_path}"

[daemon]
outbox_seconds = 2

[portal]
base_url = "http://127.0.0.1:{portal_port}"
secret_key_file = "{portal_key}"
dev_sinks_dir = "{sinks_dir}"
"""


@dataclass
class DevEnv:
    root: Path
    base_dn: str = DEFAULT_BASE_DN
    replicas: int = 1  # slapd providers `up` starts

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()

    @property
    def slapd(self) -> SlapdInstance:
        return SlapdInstance(self.root / "slapd", base_dn=self.base_dn)

    def replica_set(self, count: int | None = None) -> ReplicaSet:
        """The providers: `count`, or as many as the last `up` started."""
        return ReplicaSet(self.root, base_dn=self.base_dn, count=count or self.recorded_replicas())

    @property
    def replicas_file(self) -> Path:
        return self.root / "replicas.json"

    def recorded_replicas(self) -> int:
        try:
            return max(1, int(json.loads(self.replicas_file.read_text())["count"]))
        except (OSError, ValueError, KeyError, TypeError):
            return 1

    def wait_converged(self, timeout: float = 30.0) -> None:
        """With several providers: until each has every change of the others."""
        replicas = self.replica_set()
        if len(replicas.instances) > 1:
            replicas.wait_converged(timeout)

    @property
    def sinks_dir(self) -> Path:
        return self.root / "sinks"

    @property
    def sinks_pidfile(self) -> Path:
        return self.sinks_dir / "sinks.pid"

    def sinks_ports(self) -> dict[str, int] | None:
        try:
            return json.loads((self.sinks_dir / "sinks.json").read_text())
        except (OSError, ValueError):
            return None

    def sinks_pid(self) -> int | None:
        try:
            pid = int(self.sinks_pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def sinks_running(self) -> bool:
        ports = self.sinks_ports()
        return bool(self.sinks_pid() and ports and port_open("127.0.0.1", int(ports["smtp_port"])))

    def start_sinks(self, timeout: float = 10.0) -> dict[str, int]:
        self._spawn_sinks()
        return self._wait_sinks(timeout)

    def _spawn_sinks(self) -> None:
        """The sinks' process, not waited for (`up` starts slapd meanwhile)."""
        if self.sinks_running():
            return
        pid = self.sinks_pid()
        if pid:
            os.kill(pid, signal.SIGTERM)
        for stale in (self.sinks_pidfile, self.sinks_dir / "sinks.json"):
            stale.unlink(missing_ok=True)
        self.sinks_dir.mkdir(parents=True, exist_ok=True)
        previous = self._previous_ports()
        with open(self.sinks_dir / "sinks.log", "ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "apexdir.dev.sinks", "--dir", str(self.sinks_dir),
                 "--smtp-port", str(previous.get("smtp_port", 0)),
                 "--sms-port", str(previous.get("sms_port", 0)),
                 "--pidfile", str(self.sinks_pidfile)],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip

    def _wait_sinks(self, timeout: float = 10.0) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sinks_running():
                ports = self.sinks_ports()
                assert ports is not None
                (self.sinks_dir / "last_ports.json").write_text(json.dumps(ports))
                return ports
            time.sleep(0.05)
        raise Unavailable(f"the SMTP/SMS sinks did not start (see {self.sinks_dir / 'sinks.log'})")

    def _previous_ports(self) -> dict[str, int]:
        """Keep the same ports across restarts when they are free, so apexdir.toml holds."""
        try:
            ports = json.loads((self.sinks_dir / "last_ports.json").read_text())
        except (OSError, ValueError):
            return {}
        if any(port_open("127.0.0.1", int(p)) for p in ports.values()):
            return {}
        return {k: int(v) for k, v in ports.items()}

    def stop_sinks(self) -> None:
        terminate(self.sinks_pid(), grace=10)
        self.sinks_pidfile.unlink(missing_ok=True)

    def config_text(
        self, slapd: SlapdInstance, ports: dict[str, int], uris: list[str] | None = None
    ) -> str:
        return CONFIG_TEMPLATE.format(
            ldap_uris=", ".join(f'"{uri}"' for uri in uris or [slapd.uri]),
            base_dn=self.base_dn,
            bind_dn=slapd.layout.apexdir_dn,
            password_file=slapd.apexdir_password_file,
            smtp_port=ports["smtp_port"],
            sms_port=ports["sms_port"],
            state_path=self.root / "state.db",
            portal_port=ports["portal_port"],
            portal_key=self.portal_key_file,
            secrets_key=self.secrets_key_file,
            sinks_dir=self.sinks_dir,
        )

    def up(self, config_file: Path) -> dict[str, object]:
        self._spawn_sinks()  # a Python process's start-up, while slapd starts
        replicas = self.replica_set(self.replicas)
        for extra in instance_dirs(self.root)[self.replicas :]:  # left by a larger `up`
            SlapdInstance(extra, base_dn=self.base_dn).stop()
        replicas.start()
        self.root.mkdir(parents=True, exist_ok=True)
        self.replicas_file.write_text(json.dumps({"count": self.replicas}))
        # The running portal goes first, so that its port is seen free (and kept: mailed
        # links stay valid) or taken by someone else (and a new one is chosen).
        self.stop_portal()
        ports = {**self._wait_sinks(), "portal_port": self.portal_port()}
        self._ensure_portal_key()
        self._ensure_secrets_key()
        text = self.config_text(replicas.instances[0], ports, replicas.uris)
        config_file.write_text(text, encoding="utf-8")
        return self.status()

    def down(self) -> dict[str, object]:
        terminate_all([self.portal_pid(), self.daemon_pid()])  # side by side, before slapd
        self.portal_pidfile.unlink(missing_ok=True)
        self.daemon_pidfile.unlink(missing_ok=True)
        for folder in instance_dirs(self.root) or [self.slapd.root]:
            SlapdInstance(folder, base_dn=self.base_dn).stop()
        self.stop_sinks()
        return self.status()

    # ------------------------------------------------------------------ the portal
    @property
    def portal_dir(self) -> Path:
        return self.root / "portal"

    @property
    def portal_key_file(self) -> Path:
        return self.portal_dir / "secret.key"

    def _ensure_portal_key(self) -> None:
        import secrets

        self.portal_dir.mkdir(parents=True, exist_ok=True)
        if not self.portal_key_file.exists():
            fd = os.open(self.portal_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as key:
                key.write(secrets.token_urlsafe(48))

    @property
    def secrets_key_file(self) -> Path:
        return self.root / "secrets.key"

    def _ensure_secrets_key(self) -> None:
        """The key of the one-time codes' HMAC ([ldap] secrets_key_file), owner-only from
        its first byte; kept across `up`s so that codes in flight stay valid."""
        import secrets

        self.root.mkdir(parents=True, exist_ok=True)
        if not self.secrets_key_file.exists():
            fd = os.open(self.secrets_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as key:
                key.write(secrets.token_urlsafe(48))

    def portal_port(self) -> int:
        """The port of the last `up` when it is free (mailed links keep working), else a new one."""
        from apexdir.dev.sinks import _free_port

        try:
            port = int((self.portal_dir / "port").read_text())
        except (OSError, ValueError):
            port = 0
        if port and (self.portal_pid() or bindable("127.0.0.1", port)):
            return port
        port = _free_port("127.0.0.1")
        self.portal_dir.mkdir(parents=True, exist_ok=True)
        (self.portal_dir / "port").write_text(str(port))
        return port

    @property
    def portal_pidfile(self) -> Path:
        return self.portal_dir / "gunicorn.pid"

    def portal_pid(self) -> int | None:
        try:
            pid = int(self.portal_pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def recorded_portal_port(self) -> int | None:
        try:
            return int((self.portal_dir / "port").read_text())
        except (OSError, ValueError):
            return None

    def portal_running(self) -> bool:
        port = self.recorded_portal_port()
        return bool(port and self.portal_pid() and port_open("127.0.0.1", port))

    def start_portal(self, config_file: Path, workers: int = 2, timeout: float = 20.0) -> None:
        """gunicorn, as in production; restarted so that it reads the configuration anew.

        Should another process take the port between our stop and our start (ports of the
        loopback are handed out to anyone), the portal moves to a new port and apexdir.toml
        follows, so that mailed links open it."""
        self.stop_portal()
        port = self.portal_port()
        for _attempt in range(2):
            process = self._spawn_portal(config_file, port, workers)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and process.poll() is None:
                # Served, not only listened on: a worker has loaded the application (and
                # a stop right after `up` does not wait for workers still booting).
                if self.portal_pid() and http_answers(
                    "127.0.0.1", port, deadline - time.monotonic()
                ):
                    return
                time.sleep(0.1)
            if process.poll() is None:
                break  # alive but not answering: not a port conflict
            from apexdir.dev.sinks import _free_port

            old, port = port, _free_port("127.0.0.1")
            (self.portal_dir / "port").write_text(str(port))
            text = config_file.read_text(encoding="utf-8")
            config_file.write_text(
                text.replace(f"http://127.0.0.1:{old}", f"http://127.0.0.1:{port}"),
                encoding="utf-8",
            )
        raise Unavailable(f"the portal did not start (see {self.portal_dir / 'portal.log'})")

    def _spawn_portal(self, config_file: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
        with open(self.portal_dir / "portal.log", "ab") as log:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "apexdir.portal.server",
                    "--config",
                    str(config_file.resolve()),
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(workers),
                    "--pidfile",
                    str(self.portal_pidfile),
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    # ------------------------------------------------------------------ the daemon
    @property
    def daemon_pidfile(self) -> Path:
        return self.root / "daemon" / "daemon.pid"

    def daemon_pid(self) -> int | None:
        try:
            pid = int(self.daemon_pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def start_daemon(self, config_file: Path) -> None:
        """The scheduler in the background, so that mails reach the sink as a person uses the
        portal (the outbox every 2 s); restarted to read the configuration anew."""
        self.stop_daemon()
        self.daemon_pidfile.parent.mkdir(parents=True, exist_ok=True)
        with open(self.daemon_pidfile.parent / "daemon.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "apexdir.cli.main", "--config", str(config_file.resolve()),
                 "daemon", "run"],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        self.daemon_pidfile.write_text(str(process.pid))

    def stop_daemon(self) -> None:
        terminate(self.daemon_pid())
        self.daemon_pidfile.unlink(missing_ok=True)

    def stop_portal(self) -> None:
        terminate(self.portal_pid())
        self.portal_pidfile.unlink(missing_ok=True)

    def status(self) -> dict[str, object]:
        providers = self.replica_set().instances
        slapd = providers[0]
        ports = self.sinks_ports() or {}
        running = all(provider.running() for provider in providers)
        sinks = self.sinks_running()
        portal = self.portal_running()
        extra: dict[str, object] = {}
        if len(providers) > 1:
            extra["ldap_uris"] = [p.uri if p.port else None for p in providers]
            extra["providers"] = [
                {"server_id": n, "uri": p.uri if p.port else None, "running": p.running()}
                for n, p in enumerate(providers, start=1)
            ]
        return {
            "running": running and sinks,
            "ldap_uri": slapd.uri if slapd.port else None,
            "base_dn": self.base_dn,
            "smtp_host": "127.0.0.1",
            "smtp_port": ports.get("smtp_port"),
            "sms_url": f"http://127.0.0.1:{ports['sms_port']}/sms" if "sms_port" in ports else None,
            "slapd_running": running,
            "sinks_running": sinks,
            "portal_url": f"http://127.0.0.1:{self.recorded_portal_port()}" if portal else None,
            "portal_running": portal,
            "daemon_running": self.daemon_pid() is not None,
            "root": str(self.root),
            **extra,
        }
