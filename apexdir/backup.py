"""Backup and restore of one apexdir node: the directory, its change feed, the state store.

A backup is a folder (mode 700: it holds password hashes and queued mails with codes):

- `directory.ldif`: the main database, every entry with the operational attributes slapd
  keeps (entryUUID, entryCSN, memberOf, pwdHistory, pwdChangedTime, authTimestamp…);
- `accesslog.ldif`: the daemon's change feed (`cn=accesslog`), when it could be read;
- `state.db`: the node's SQLite state store (spool with its queued mails, journal, job
  cursors), copied with SQLite's online backup API, so the daemon may keep writing;
- `manifest.json`: versions, counts and SHA-256 checksums, checked before any restore.

The directory is read with `slapcat` when slapd's files are local and readable: one MDB read
transaction per database, consistent while slapd keeps serving. Otherwise (or `online`) it
is exported through apexdir's own LDAP account, asking for every user and operational
attribute. A restore always loads with `slapadd` into a stopped, empty slapd: LDAP adds
could not keep entryUUID, entryCSN or the ppolicy state.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apexdir.config import Settings
from apexdir.directory import ldif
from apexdir.directory.server import find_binary, pid_alive
from apexdir.errors import Conflict, Invalid, NotFound, Unavailable, UsageError

FORMAT = 1
MANIFEST = "manifest.json"
DIRECTORY_FILE = "directory.ldif"
ACCESSLOG_FILE = "accesslog.ldif"
STATE_FILE = "state.db"
ACCESSLOG_SUFFIX = "cn=accesslog"
# The dev/test instance `apexdir dev up` makes; the default when nothing else is named.
DEV_INSTANCE = Path("var/slapd")
# Computed by slapd on every read: slapadd refuses them, and they carry nothing.
COMPUTED = frozenset({"entrydn", "hassubordinates", "subschemasubentry", "numsubordinates"})
MDB_FILES = ("data.mdb", "lock.mdb")


# ---------------------------------------------------------------------- slapd's files
@dataclass(frozen=True)
class SlapdFiles:
    """A slapd configuration on this machine: a slapd.conf file or a cn=config folder."""

    conf: Path

    def args(self) -> list[str]:
        return ["-F", str(self.conf)] if self.conf.is_dir() else ["-f", str(self.conf)]

    def _settings(self) -> tuple[dict[str, Path], Path | None]:
        """(suffix → database directory, pid file), read from the configuration's files.

        `slapcat -n 0` cannot read a slapd.conf's config database, so both forms are parsed:
        slapd.conf's `pidfile`/`suffix`/`directory` lines (not its `include`s: they hold
        schema), or cn=config's `olcPidFile` and each database's `olcSuffix`/`olcDbDirectory`.
        """
        databases: dict[str, Path] = {}
        pid_file: Path | None = None
        try:
            if self.conf.is_dir():
                records = list(ldif.parse((self.conf / "cn=config.ldif").read_text("utf-8")))
                for path in sorted((self.conf / "cn=config").glob("olcDatabase=*.ldif")):
                    records += ldif.parse(path.read_text("utf-8"))
                for _, attrs in records:
                    pid_file = pid_file or _path(_first(attrs, "olcPidFile"))
                    suffix, folder = _first(attrs, "olcSuffix"), _first(attrs, "olcDbDirectory")
                    if suffix and folder:
                        databases[suffix.lower()] = Path(folder)
                return databases, pid_file
            suffix = None
            for raw in self.conf.read_text("utf-8").splitlines():
                words = raw.split(None, 1)
                if len(words) != 2 or raw[:1].isspace() or raw.startswith("#"):
                    continue
                keyword, value = words[0].lower(), words[1].strip().strip('"')
                if keyword == "pidfile":
                    pid_file = Path(value)
                elif keyword == "database":
                    suffix = None
                elif keyword == "suffix":
                    suffix = value
                elif keyword == "directory" and suffix:
                    databases[suffix.lower()] = Path(value)
        except (OSError, ValueError) as exc:
            raise Unavailable(f"cannot read slapd's configuration {self.conf}: {exc}") from exc
        return databases, pid_file

    def databases(self) -> dict[str, Path]:
        """Suffix (lower case) → database directory, for the databases with a directory."""
        return self._settings()[0]

    def pid(self) -> int | None:
        """The running slapd's pid, from its pid file; None when it is stopped."""
        pid_file = self._settings()[1]
        if pid_file is None:
            return None
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def readable(self, suffix: str) -> bool:
        folder = self.databases().get(suffix.lower())
        return folder is not None and os.access(folder / "data.mdb", os.R_OK)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _first(attrs: dict[str, list[str]], name: str) -> str | None:
    for key, values in attrs.items():
        if key.lower() == name.lower() and values:
            return values[0]
    return None


def locate(slapd_conf: Path | None = None, slapd_dir: Path | None = None) -> SlapdFiles | None:
    """The slapd to work on: `--slapd-conf` (slapd.conf or slapd.d), else `--slapd-dir` (an
    instance folder as apexdir makes them, holding slapd.conf), else the dev instance under
    ./var when present; None when there is none (then only an online backup is possible)."""
    if slapd_conf is not None and slapd_dir is not None:
        raise UsageError("give --slapd-conf or --slapd-dir, not both")
    try:
        return _locate(slapd_conf, slapd_dir)
    except OSError as exc:  # a name too long, a component that is a file…
        named = slapd_conf if slapd_conf is not None else slapd_dir
        raise NotFound(f"slapd configuration {named}: {exc.strerror}") from None


def _locate(slapd_conf: Path | None, slapd_dir: Path | None) -> SlapdFiles | None:
    if slapd_conf is not None:
        if not slapd_conf.exists():
            raise NotFound(f"slapd configuration {slapd_conf} does not exist")
        return SlapdFiles(slapd_conf.resolve())
    if slapd_dir is not None:
        conf = slapd_dir / "slapd.conf"
        if not conf.is_file():
            raise NotFound(f"{slapd_dir} holds no slapd.conf (not an apexdir slapd instance)")
        return SlapdFiles(conf.resolve())
    conf = DEV_INSTANCE / "slapd.conf"
    return SlapdFiles(conf.resolve()) if conf.is_file() else None


def _run(args: list[str], doing: str, stdin: Path | None = None) -> bytes:
    program = find_binary(args[0], (f"/usr/sbin/{args[0]}",))
    handle = open(stdin, "rb") if stdin is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        result = subprocess.run([program, *args[1:]], stdin=handle, capture_output=True)
    finally:
        if stdin is not None:
            handle.close()  # type: ignore[union-attr]
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise Unavailable(f"cannot {doing}: {args[0]}: {' | '.join(detail[-3:])}")
    return result.stdout


# ---------------------------------------------------------------------- backup
def backup(
    settings: Settings,
    target: Path,
    slapd: SlapdFiles | None = None,
    *,
    online: bool = False,
) -> dict[str, Any]:
    """Write a backup set into `target` (new or empty); the manifest as a dict."""
    base_dn = settings.ldap.base_dn
    try:
        occupied = target.exists() and (not target.is_dir() or any(target.iterdir()))
    except OSError as exc:
        raise Invalid(f"{target}: {exc.strerror}") from None
    if occupied:
        raise Conflict(f"{target} exists and is not an empty folder: choose a new one")
    local = not online and slapd is not None and slapd.readable(base_dn)
    if slapd is not None and not online:
        suffixes = slapd.databases()
        if base_dn.lower() not in suffixes:
            raise Invalid(f"{slapd.conf} does not serve {base_dn} (the configured base DN)")
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        target.chmod(0o700)
    except OSError as exc:
        raise Invalid(f"{target}: cannot create the backup folder: {exc.strerror}") from None
    try:
        return _write_set(settings, target, slapd if local else None)
    except OSError as exc:
        _empty(target)
        raise Unavailable(f"{target}: cannot write the backup: {exc}") from None
    except BaseException:
        _empty(target)
        raise


def _empty(target: Path) -> None:
    """A half-written set must not pass for a backup: leave the folder empty."""
    for child in target.iterdir():
        child.unlink()


def _write_set(settings: Settings, target: Path, slapd: SlapdFiles | None) -> dict[str, Any]:
    base_dn = settings.ldap.base_dn
    local = slapd is not None
    files: dict[str, dict[str, Any]] = {}
    if slapd is not None:
        _private_write(target / DIRECTORY_FILE, _slapcat(slapd, base_dn))
        if slapd.readable(ACCESSLOG_SUFFIX):
            _private_write(target / ACCESSLOG_FILE, _slapcat(slapd, ACCESSLOG_SUFFIX))
    else:
        _export_online(settings, target)
    for name in (DIRECTORY_FILE, ACCESSLOG_FILE):
        path = target / name
        if path.exists():
            files[name] = {**_digest(path), "entries": _count_entries(path)}
    state = Path(settings.state.path)
    if state.exists():
        _sqlite_copy(state, target / STATE_FILE)
        files[STATE_FILE] = {**_digest(target / STATE_FILE), **_state_counts(target / STATE_FILE)}
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "base_dn": base_dn,
        "method": "slapcat" if local else "online",
        "apexdir_version": _apexdir_version(),
        "slapd_version": _slapd_version(),
        "files": files,
    }
    _private_write(target / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return {"path": str(target), **manifest}


def _slapcat(slapd: SlapdFiles, suffix: str) -> bytes:
    return _run(["slapcat", *slapd.args(), "-b", suffix], f"slapcat {suffix}")


def _private_write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _digest(path: Path) -> dict[str, Any]:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return {"sha256": sha.hexdigest(), "bytes": path.stat().st_size}


def _count_entries(path: Path) -> int:
    # A record starts with its dn line; a folded line starts with a space, never with "dn:".
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line[:3].lower() == b"dn:")


def _sqlite_copy(source: Path, destination: Path) -> None:
    """SQLite's online backup: a consistent copy while the CLI and the daemon write."""
    destination.unlink(missing_ok=True)
    _private_write(destination, b"")
    try:
        src = sqlite3.connect(str(source), timeout=10)
        dst = sqlite3.connect(str(destination))
        try:
            with dst:
                src.backup(dst)
            # One self-contained file: a copy in WAL mode would need its -wal beside it.
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            src.close()
            dst.close()
    except sqlite3.Error as exc:
        raise Unavailable(f"state store {source}: cannot copy to {destination}: {exc}") from exc


def _tables(conn: sqlite3.Connection) -> list[str]:
    """The store's tables but SQLite's and the migrations' own bookkeeping."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [r[0] for r in rows if not r[0].startswith(("sqlite_", "_sqlite_migrations"))]


def _state_counts(path: Path) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = _tables(conn)
        # Names come from the store's own catalogue, quoted: nothing user-given reaches SQL.
        tables = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in names}
        queued = 0
        if "outbox" in names:
            sql = "SELECT count(*) FROM outbox WHERE status = 'queued'"
            queued = conn.execute(sql).fetchone()[0]
    finally:
        conn.close()
    return {"tables": tables, "outbox_queued": queued}


def _apexdir_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("apexdir")
    except PackageNotFoundError:
        return "unknown"


def _slapd_version() -> str:
    try:
        program = find_binary("slapd", ("/usr/sbin/slapd",))
        result = subprocess.run([program, "-VV"], capture_output=True, text=True, timeout=10)
    except (Unavailable, OSError, subprocess.TimeoutExpired):
        return "unknown"
    for line in (result.stderr + result.stdout).splitlines():
        if "slapd" in line and "$" in line:
            return line.split("slapd", 1)[1].split("(")[0].strip(" $")
    return "unknown"


# ---------------------------------------------------------------------- online export
def _export_online(settings: Settings, target: Path) -> None:
    """Every entry with user ("*") and operational ("+") attributes, through apexdir's
    account (which reads everything but the computed attributes, COMPUTED)."""
    from apexdir.directory.connection import Directory

    with Directory(settings.ldap) as directory:
        _private_write(
            target / DIRECTORY_FILE, _ldif(_raw_entries(directory, settings.ldap.base_dn))
        )
        try:
            accesslog = _ldif(_raw_entries(directory, ACCESSLOG_SUFFIX))
        except (NotFound, Unavailable):
            return  # no change feed on that server, or not readable: the directory suffices
        if accesslog:
            _private_write(target / ACCESSLOG_FILE, accesslog)


def _raw_entries(directory: Any, base: str) -> list[tuple[str, dict[str, list[bytes]]]]:
    import ldap3

    from apexdir.directory.connection import PAGED_OID

    entries: list[tuple[str, dict[str, list[bytes]]]] = []
    cookie: bytes | None = None
    page = directory.settings.page_size
    while True:
        # The adapter's search decodes values; an export needs the bytes slapd holds
        # (argon2 values end with a NUL and a stray byte, see README).
        _, result, response, _ = directory._call(
            f"export {base}", "search", base, "(objectClass=*)", ldap3.SUBTREE,
            attributes=["*", "+"], paged_size=page, paged_cookie=cookie,
        )  # fmt: skip
        for item in response or []:
            if item.get("type") == "searchResEntry":
                raw = {
                    name: list(values)
                    for name, values in item["raw_attributes"].items()
                    if name.lower() not in COMPUTED and values
                }
                entries.append((item["dn"], raw))
        cookie = result.get("controls", {}).get(PAGED_OID, {}).get("value", {}).get("cookie")
        if not cookie:
            break
    # slapadd needs each parent before its children.
    entries.sort(key=lambda e: len(ldap3.utils.dn.parse_dn(e[0])))
    return entries


def _ldif(entries: list[tuple[str, dict[str, list[bytes]]]]) -> bytes:
    out: list[bytes] = []
    for dn, attrs in entries:
        lines = [_line(b"dn", dn.encode("utf-8"))]
        for name, values in attrs.items():
            lines.extend(_line(name.encode(), value) for value in values)
        out.append(b"\n".join(lines) + b"\n\n")
    return b"".join(out)


def _line(name: bytes, value: bytes) -> bytes:
    safe = (
        value.isascii()
        and not value.startswith((b" ", b":", b"<"))
        and not value.endswith(b" ")
        and not any(c < 0x20 or c == 0x7F for c in value)
    )
    return name + b": " + value if safe else name + b":: " + base64.b64encode(value)


# ---------------------------------------------------------------------- restore
def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of the backup in `source`, after checking every file's checksum."""
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"{source} holds no {MANIFEST}: not an apexdir backup") from None
    except (OSError, ValueError) as exc:
        raise Invalid(f"{source / MANIFEST}: unreadable: {exc}") from exc
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if (
        not isinstance(files, dict)
        or not isinstance(manifest.get("base_dn"), str)
        or not all(isinstance(f, dict) and isinstance(f.get("sha256"), str) for f in files.values())
        or not set(files) <= {DIRECTORY_FILE, ACCESSLOG_FILE, STATE_FILE}
    ):
        raise Invalid(f"{source / MANIFEST}: not a manifest written by `apexdir backup`")
    if manifest.get("format") != FORMAT:
        raise Invalid(f"{source}: backup format {manifest.get('format')!r} (expected {FORMAT})")
    for name, expected in manifest.get("files", {}).items():
        path = source / name
        if not path.is_file():
            raise Invalid(f"{source}: {name} is missing")
        if _digest(path)["sha256"] != expected["sha256"]:
            raise Invalid(f"{source}: {name} does not match its checksum (damaged or edited)")
    if DIRECTORY_FILE not in manifest.get("files", {}):
        raise Invalid(f"{source}: the backup holds no {DIRECTORY_FILE}")
    return manifest


def restore(
    settings: Settings,
    source: Path,
    slapd: SlapdFiles,
    *,
    force: bool = False,
    directory_only: bool = False,
) -> dict[str, Any]:
    """Load the backup in `source` into the stopped slapd `slapd` and the state store.

    The targets must be empty (no entries in the databases, no rows in the store); `force`
    replaces what they hold. slapd must be stopped: slapadd writes its files directly.
    `directory_only` loads the main database alone, to seed another provider: the change
    feed and the state store are the source node's own (its queued mails would go twice).
    """
    manifest = read_manifest(source)
    base_dn = str(manifest["base_dn"])
    if base_dn.lower() != settings.ldap.base_dn.lower():
        raise Invalid(
            f"the backup is of {base_dn}, the configuration names {settings.ldap.base_dn}"
        )
    databases = slapd.databases()
    loads = [(base_dn, DIRECTORY_FILE)]
    files = {} if directory_only else manifest["files"]
    if ACCESSLOG_FILE in files and ACCESSLOG_SUFFIX in databases:
        loads.append((ACCESSLOG_SUFFIX, ACCESSLOG_FILE))
    for suffix, _ in loads:
        if suffix.lower() not in databases:
            raise Invalid(f"{slapd.conf} has no database for {suffix}")
    pid = slapd.pid()
    if pid is not None:
        raise Conflict(f"slapd is running (pid {pid}): stop it before a restore")
    state = Path(settings.state.path)
    occupied = [s for s, _ in loads if _has_entries(slapd, s, databases[s.lower()])]
    if STATE_FILE in files and _state_in_use(state):
        occupied.append(f"state store {state}")
    if occupied and not force:
        raise Conflict(
            "the target is not empty (" + ", ".join(occupied) + "): restore onto an empty "
            "instance, or pass --force to replace what it holds"
        )
    try:
        restored_state = _load(settings, source, slapd, databases, loads, files)
    except OSError as exc:
        raise Unavailable(f"restore from {source}: {exc}") from None
    spool = _triage(settings) if restored_state else {"dropped": 0, "held": []}
    return {
        "path": str(source),
        "base_dn": base_dn,
        "restored": [suffix for suffix, _ in loads],
        "state_store": str(state) if restored_state else None,
        "entries": {name: manifest["files"][name].get("entries") for _, name in loads},
        "outbox_queued": files.get(STATE_FILE, {}).get("outbox_queued", 0),
        "outbox_dropped": spool["dropped"],
        "outbox_held": spool["held"],
        "backup_created_at": manifest.get("created_at"),
    }


def _triage(settings: Settings) -> dict[str, Any]:
    """The restored spool sorted: codes and links past their use dropped, the rest held
    (`Outbox.triage_after_restore`). Opening the store also brings its schema up to date."""
    from datetime import timedelta

    from apexdir.state.db import open_store
    from apexdir.state.outbox import Outbox

    policy = settings.policy
    validity = timedelta(minutes=max(policy.login_code_minutes, policy.reset_validity_minutes))
    db = open_store(Path(settings.state.path))
    try:
        return Outbox(db).triage_after_restore(validity)
    finally:
        db.close()


def _load(
    settings: Settings,
    source: Path,
    slapd: SlapdFiles,
    databases: dict[str, Path],
    loads: list[tuple[str, str]],
    files: dict[str, Any],
) -> bool:
    """slapadd each database, then copy the state store back; whether the store was."""
    state = Path(settings.state.path)
    for suffix, name in loads:
        folder = databases[suffix.lower()]
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for mdb in MDB_FILES:
            (folder / mdb).unlink(missing_ok=True)
        # -w: contextCSN from the entries' greatest entryCSN. slapcat of a running provider
        # reads the value syncprov last checkpointed, which may be older than its entries.
        _run(["slapadd", *slapd.args(), "-q", "-w", "-b", suffix], f"slapadd {suffix}",
             source / name)  # fmt: skip
        _own_like(folder)
    restored_state = False
    if STATE_FILE in files:
        state.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for leftover in (state, Path(f"{state}-wal"), Path(f"{state}-shm")):
            leftover.unlink(missing_ok=True)
        _sqlite_copy(source / STATE_FILE, state)
        _chown_like(state, state.parent)
        restored_state = True
    return restored_state


def _has_entries(slapd: SlapdFiles, suffix: str, folder: Path) -> bool:
    if not (folder / "data.mdb").exists():
        return False
    return bool(_slapcat(slapd, suffix).strip())


def _state_in_use(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        conn = sqlite3.connect(str(path), timeout=10)
        try:
            return any(
                conn.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone() for t in _tables(conn)
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return True  # something that is not an empty store: never overwrite it silently


def _own_like(folder: Path) -> None:
    """slapadd ran as us (root, often); slapd runs as the folder's owner (openldap)."""
    for path in _children(folder):
        _chown_like(path, folder)


def _children(folder: Path) -> Iterator[Path]:
    yield from (p for p in folder.iterdir() if p.is_file())


def _chown_like(path: Path, reference: Path) -> None:
    if os.geteuid() != 0:
        return
    info = reference.stat()
    if (path.stat().st_uid, path.stat().st_gid) != (info.st_uid, info.st_gid):
        shutil.chown(path, info.st_uid, info.st_gid)
