"""A private slapd (Debian's binaries) for `apexdir dev up` and the test suite.

It lives in one folder: generated slapd.conf, data, secrets (mode 600), pid file, ldapi
socket and log. Starting reuses a running instance, recovers from a crashed one (stale
pid file, leftover socket) and moves to another port when the chosen one is taken.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from apexdir.directory import hashing
from apexdir.directory.layout import Layout
from apexdir.errors import Unavailable
from apexdir.resources import ldif_dir, schema_dir

SLAPD_CANDIDATES = ("/usr/sbin/slapd", "/usr/local/sbin/slapd")
INSTALL_HINT = (
    "slapd is not installed: run `apt-get update && apt-get install -y slapd ldap-utils` "
    "(Debian), or run the README's set-up command"
)
DEFAULT_BASE_DN = "dc=apex,dc=dgfip,dc=finances,dc=gouv,dc=fr"


def find_binary(name: str, candidates: tuple[str, ...] = ()) -> str:
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        raise Unavailable(INSTALL_HINT)
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not alive
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"


def _render(template: Path, values: dict[str, object]) -> str:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(template.read_text(encoding="utf-8")).render(**values)


@dataclass
class SlapdInstance:
    root: Path
    base_dn: str = DEFAULT_BASE_DN
    host: str = "127.0.0.1"
    port: int | None = None
    dbnosync: bool = False
    loglevel: str = "none"
    lastbind_precision: int = 60
    maxsize: int = 8 * 1024**3
    extra_conf: str = ""  # at the end of the main database section (syncrepl…)
    global_conf: str = ""  # global directives before the databases (serverID…)
    # slapd's argon2 cost (memory in KiB, passes): the product's; the tests' directory lowers
    # it as tests/conftest.py lowers apexdir's own (tests/auth/test_secrets_at_rest.py keeps a
    # directory at the product's cost).
    argon2_cost: tuple[int, int] = (hashing.ARGON2_MEMORY_KIB, hashing.ARGON2_TIME)
    layout: Layout = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.layout = Layout(self.base_dn)
        saved = self._load_state()
        if saved and self.port is None:
            self.port = saved.get("port")

    # ------------------------------------------------------------------ paths
    @property
    def conf_file(self) -> Path:
        return self.root / "slapd.conf"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "slapd.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "slapd.log"

    @property
    def ldapi_path(self) -> Path:
        return self.run_dir / "ldapi"

    @property
    def ldapi_uri(self) -> str:
        return "ldapi://" + urllib.parse.quote(str(self.ldapi_path), safe="")

    @property
    def uri(self) -> str:
        return f"ldap://{self.host}:{self.port}"

    @property
    def module_dir(self) -> Path:
        """apexdir's own slapd modules (the password check module), on slapd's modulepath."""
        return self.root / "modules"

    @property
    def admin_password_file(self) -> Path:
        return self.secrets_dir / "admin.pw"

    @property
    def apexdir_password_file(self) -> Path:
        return self.secrets_dir / "apexdir.pw"

    def admin_password(self) -> str:
        return self.admin_password_file.read_text().strip()

    def apexdir_password(self) -> str:
        return self.apexdir_password_file.read_text().strip()

    # ------------------------------------------------------------------ state
    def _state_file(self) -> Path:
        return self.root / "instance.json"

    def _load_state(self) -> dict[str, int] | None:
        try:
            return json.loads(self._state_file().read_text())
        except (OSError, ValueError):
            return None

    def _save_state(self) -> None:
        self._state_file().write_text(json.dumps({"port": self.port, "base_dn": self.base_dn}))

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None and self.port is not None and port_open(self.host, self.port)

    # ------------------------------------------------------------------ set-up
    def _secret(self, path: Path) -> str:
        if not path.exists():
            self.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(hashing.random_secret() + "\n")
        return path.read_text().strip()

    def template_values(self) -> dict[str, object]:
        values: dict[str, object] = dict(self.layout.template_vars())
        values.update(
            schema_file=schema_dir() / "apex.schema",
            run_dir=self.run_dir,
            data_dir=self.data_dir,
            loglevel=self.loglevel,
            uid=os.getuid(),
            gid=os.getgid(),
            admin_hash=hashing.ssha(self._secret(self.admin_password_file)),
            apexdir_hash=hashing.ssha(self._secret(self.apexdir_password_file)),
            maxsize=self.maxsize,
            dbnosync=self.dbnosync,
            lastbind_precision=self.lastbind_precision,
            accesslog_purge="07+00:00 01+00:00",
            password_hash=hashing.SCHEME,
            crypt_salt_format="",
            # argon2 with its cost (hashing.argon2_module); pw-pbkdf2 verifies older values.
            extra_modules=["pw-pbkdf2", hashing.argon2_module(self.argon2_cost)],
            global_conf=self.global_conf,
            main_conf=self.extra_conf,
            # Debian's modules first; then ours, found by the bare name the policy gives.
            module_path=f"/usr/lib/ldap:{self.module_dir}",
        )
        return values

    def configure(self) -> None:
        """Write slapd.conf (every time: templates may have changed) and load the bootstrap."""
        find_binary("slapd", SLAPD_CANDIDATES)
        for folder in (self.run_dir, self.data_dir / "main", self.data_dir / "accesslog"):
            folder.mkdir(parents=True, exist_ok=True)
        from apexdir.directory.pwcheck import build

        build(self.module_dir)
        values = self.template_values()
        conf = _render(Path(__file__).with_name("templates") / "slapd.conf.j2", values)
        self.conf_file.write_text(conf)
        self.conf_file.chmod(0o600)
        if not (self.data_dir / "main" / "data.mdb").exists():
            bootstrap = _render(ldif_dir() / "bootstrap.ldif.j2", values)
            self._slapadd(bootstrap)

    def _slapadd(self, ldif: str) -> None:
        slapadd = find_binary("slapadd", ("/usr/sbin/slapadd",))
        result = subprocess.run(
            [slapadd, "-q", "-f", str(self.conf_file), "-b", self.base_dn],
            input=ldif.encode(),
            capture_output=True,
        )
        if result.returncode != 0:
            raise Unavailable(f"slapadd failed: {result.stderr.decode(errors='replace').strip()}")

    # ------------------------------------------------------------------ run
    def start(self, timeout: float = 15.0) -> None:
        if self.running():
            return
        self._clean_stale()
        self.configure()
        slapd = find_binary("slapd", SLAPD_CANDIDATES)
        ports = [self.port] if self.port else []
        last_error = ""
        for attempt in range(5):
            port = ports[attempt] if attempt < len(ports) else free_port(self.host)
            if port_open(self.host, port):
                continue  # taken by someone else
            urls = f"ldap://{self.host}:{port}/ {self.ldapi_uri}"
            with open(self.log_file, "ab") as log:
                process = subprocess.Popen(
                    [slapd, "-d", "0", "-f", str(self.conf_file), "-h", urls],
                    stdout=log,
                    stderr=log,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            if self._wait_ready(process, port, timeout):
                self.port = port
                self._save_state()
                return
            last_error = self._log_tail()
            if process.poll() is None:
                process.kill()
                process.wait()
        raise Unavailable(f"slapd did not start ({self.log_file}): {last_error}")

    def _wait_ready(self, process: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if port_open(self.host, port) and self.pid_file.exists():
                return True
            time.sleep(0.02)
        return False

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-3:])

    def _clean_stale(self) -> None:
        """A crashed instance leaves its pid file and socket; slapd refuses to start over them."""
        pid = self.pid()
        if pid is not None:
            self._terminate(pid)
        for leftover in (self.pid_file, self.ldapi_path, self.run_dir / "slapd.args"):
            leftover.unlink(missing_ok=True)

    def _terminate(self, pid: int, timeout: float = 10.0) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            self._terminate(pid)
        for leftover in (self.pid_file, self.ldapi_path):
            leftover.unlink(missing_ok=True)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
