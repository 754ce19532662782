"""docs/install.md, steps 3–6 and 10, in a temporary folder instead of the system's paths.

The cn=config export and the bootstrap are loaded as the guide says (slapadd -n0, slapadd
of `config bootstrap-ldif` before the first start), slapd runs from the cn=config folder,
`apexdir init` and `config check` pass; then `backup`/`restore --slapd-conf` work on that
cn=config slapd (database folders and pid file read from cn=config). The running cn=config
is clean (no conversion folder), and step 9.1's replication account, made as written, reads
every entry and attribute.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apexdir.directory.pwcheck import build
from apexdir.directory.server import port_open
from tests.conftest import BASE_DN
from tests.ports import bindable, free_port

APEXDIR = Path(sys.executable).with_name("apexdir")


def apexdir(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APEXDIR_")}
    return subprocess.run(
        [str(APEXDIR), *args],
        capture_output=True,
        text=True,
        env={**env, "APEXDIR_CONFIG": str(config)},
    )


def ok(config: Path, *args: str) -> Any:
    result = apexdir(config, "--json", *args)
    assert result.returncode == 0, (args, result.stderr)
    return json.loads(result.stdout) if result.stdout.strip() else None


class Server:
    """slapd from a cn=config folder, as Debian's slapd.service runs it (-F)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slapd.d"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # Files that name the port (apexdir.toml): rewritten if slapd has to move.
        self.naming: list[Path] = []

    @property
    def ldapi(self) -> str:
        return "ldapi://" + str(self.root / "run" / "ldapi").replace("/", "%2F")

    def start(self) -> None:
        """slapd on `port`; on another one if someone took it since it was picked (the
        port is written in apexdir.toml seconds before slapd starts, and under load a
        process once listened or connected from it first: "slapd died")."""
        for _ in range(5):
            if not bindable("127.0.0.1", self.port):
                self._move(free_port())
            if self._spawn():
                return
            if bindable("127.0.0.1", self.port):
                raise AssertionError("slapd died (its port was free)")
            self._move(free_port())
        raise AssertionError("slapd died: every port tried was taken")

    def _spawn(self) -> bool:
        """Whether slapd listens on `port` (False: it exited, the port may be taken)."""
        uri = self.ldapi
        self.process = subprocess.Popen(
            [
                "slapd",
                "-d",
                "0",
                "-F",
                str(self.conf),
                "-h",
                f"ldap://127.0.0.1:{self.port}/ {uri}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        # slapd opens its listeners in the order of -h: its ldapi socket answering proves
        # that the TCP port is its own (someone else's listener would answer there too).
        while not (port_open("127.0.0.1", self.port) and self._ldapi_answers()):
            if self.process.poll() is not None:
                return False
            assert time.monotonic() < deadline, "slapd did not listen within 15 s"
            time.sleep(0.05)
        return True

    def _ldapi_answers(self) -> bool:
        with socket.socket(socket.AF_UNIX) as sock:
            try:
                sock.connect(str(self.root / "run" / "ldapi"))
            except OSError:
                return False
        return True

    def _move(self, port: int) -> None:
        old, self.port = f"127.0.0.1:{self.port}", port
        for path in self.naming:
            path.write_text(path.read_text().replace(old, f"127.0.0.1:{port}"))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(15)
        self.process = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    made = Server(tmp_path)
    yield made
    made.stop()


def assert_clean_cn_config(server: Server) -> None:
    """What the running slapd reports of cn=config, as the guide's check reads it (root over
    ldapi, SASL EXTERNAL), and what it keeps on disk name no folder of the conversion: slapd
    sets olcConfigDir/olcConfigFile from its own -F, nothing stale is stored."""
    search = subprocess.run(
        ["ldapsearch", "-LLL", "-Y", "EXTERNAL", "-H", server.ldapi, "-b", "cn=config",
         "-s", "base", "olcConfigDir", "olcConfigFile"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert search.returncode == 0 and "dn: cn=config" in search.stdout, search.stderr
    for line in search.stdout.splitlines():
        if line.startswith(("olcConfigDir:", "olcConfigFile:")):
            assert str(server.conf) in line, line
    stored = subprocess.run(
        ["slapcat", "-n0", "-F", str(server.conf), "-o", "ldif-wrap=no"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert not re.search(r"^olcConfig(Dir|File):", stored, re.MULTILINE)
    assert "apexdir-cnconfig" not in search.stdout + stored


def ldap(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(args, input=stdin, capture_output=True, text=True)
    assert done.returncode == 0, (args[0], done.stderr)
    return done.stdout


def replication_account(server: Server, apexdir_pw: Path, etc: Path) -> None:
    """Step 9.1 as written: the entry added with apexdir's account, the ACL and limit by
    SASL EXTERNAL; the account then reads every entry with every attribute, secrets too."""
    secret = etc / "replicator.pw"
    secret.write_text("R3plicator-secret-0123456789")
    hashed = ldap("slappasswd", "-h", "{SSHA}", "-T", str(secret)).strip()
    uri, replicator = f"ldap://127.0.0.1:{server.port}", f"cn=replicator,ou=system,{BASE_DN}"
    ldap("ldapadd", "-H", uri, "-x", "-D", f"cn=apexdir,ou=system,{BASE_DN}", "-y",
         str(apexdir_pw), stdin=f"""dn: {replicator}
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: replicator
userPassword: {hashed}
pwdPolicySubentry: cn=system,ou=policies,{BASE_DN}
""")  # fmt: skip
    ldap("ldapmodify", "-Y", "EXTERNAL", "-H", server.ldapi, stdin=f"""\
dn: olcDatabase={{2}}mdb,cn=config
changetype: modify
add: olcAccess
olcAccess: {{0}}to * by dn.exact="{replicator}" read by * break
-
add: olcLimits
olcLimits: dn.exact="{replicator}" size=unlimited time=unlimited
""")  # fmt: skip
    read = ldap("ldapsearch", "-LLL", "-H", uri, "-x", "-D", replicator, "-y", str(secret),
                "-b", BASE_DN, "-o", "ldif-wrap=no", "(objectClass=*)", "*", "+")  # fmt: skip
    apexdir_entry = read.split(f"dn: cn=apexdir,ou=system,{BASE_DN}\n")[1].split("\n\n")[0]
    assert "userPassword:: " in apexdir_entry and "entryCSN: " in apexdir_entry
    assert f"dn: cn=system,ou=policies,{BASE_DN}" in read


def test_install_guide_then_backup_and_restore_on_cn_config(
    server: Server, tmp_path: Path, sinks: Any
) -> None:
    """Steps 3–6 give a directory `config check` passes; backup and restore find the
    cn=config slapd's databases and pid file by --slapd-conf."""
    data, run, modules, etc = (tmp_path / n for n in ("data", "run", "modules", "etc"))
    for folder in (data / "main", data / "accesslog", run, server.conf, etc):
        folder.mkdir(parents=True)
    build(modules)  # step 3
    password = etc / "ldap.pw"
    password.write_text("Ap3xdir-bind-secret-0123456789")
    key = etc / "codes.key"
    key.write_text("k" * 48)
    for secret in (password, key):
        secret.chmod(0o600)
    config = etc / "apexdir.toml"
    config.write_text(
        f"""[ldap]
uris = ["ldap://127.0.0.1:{server.port}"]
base_dn = "{BASE_DN}"
bind_dn = "cn=apexdir,ou=system,{BASE_DN}"
bind_password_file = "{password}"
secrets_key_file = "{key}"

[smtp]
host = "127.0.0.1"
port = {sinks.smtp_port}

[state]
path = "{tmp_path / "state" / "state.db"}"
""",
        encoding="utf-8",
    )
    server.naming.append(config)
    # Step 4: the cn=config export, loaded offline.
    export = apexdir(config, "config", "cn-config", "--data-dir", str(data), "--module-dir",
                     str(modules))  # fmt: skip
    assert export.returncode == 0, export.stderr
    assert "apexdir-cnconfig-" not in export.stdout, "no trace of the conversion's folder"
    text = export.stdout.replace("/var/run/slapd", str(run))  # the pid file and args file
    subprocess.run(["slapadd", "-n0", "-F", str(server.conf)], input=text.encode(), check=True,
                   capture_output=True)  # fmt: skip
    # Step 6: the bootstrap before the first start, then init and check.
    bootstrap = apexdir(config, "config", "bootstrap-ldif", "--password-file", str(password))
    assert bootstrap.returncode == 0, bootstrap.stderr
    subprocess.run(["slapadd", "-F", str(server.conf), "-b", BASE_DN],
                   input=bootstrap.stdout.encode(), check=True, capture_output=True)  # fmt: skip
    server.start()
    assert_clean_cn_config(server)
    assert ok(config, "init")["created"]
    checks = ok(config, "config", "check")
    assert checks["ok"], checks
    ok(config, "app", "add", "APPDGFIP", "--name", "App DGFIP")
    replication_account(server, password, etc)

    # Step 10: backup with --slapd-conf (slapcat, files readable), restore onto it.
    made = ok(config, "backup", str(tmp_path / "b"), "--slapd-conf", str(server.conf))
    assert made["method"] == "slapcat" and made["files"]["accesslog.ldif"]["entries"] > 0
    running = apexdir(config, "restore", str(tmp_path / "b"), "--slapd-conf", str(server.conf))
    assert running.returncode == 1 and "running" in running.stderr
    server.stop()
    refused = apexdir(config, "restore", str(tmp_path / "b"), "--slapd-conf", str(server.conf))
    assert refused.returncode == 1 and "not empty" in refused.stderr
    ok(config, "restore", str(tmp_path / "b"), "--slapd-conf", str(server.conf), "--force")
    server.start()
    assert [a["code"] for a in ok(config, "app", "list")] == ["APPDGFIP"]
