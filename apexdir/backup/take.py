"""Taking a backup: slapcat (or the online export), the state store's copy, the manifest."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apexdir.backup import archive, slapd
from apexdir.backup.archive import (
    ACCESSLOG_FILE,
    ACCESSLOG_SUFFIX,
    DIRECTORY_FILE,
    STATE_FILE,
    private_write,
)
from apexdir.backup.slapd import SlapdFiles
from apexdir.config import Settings
from apexdir.directory import ldif
from apexdir.errors import Conflict, Invalid, NotFound, Unavailable
from apexdir.state import snapshot


def backup(
    settings: Settings,
    target: Path,
    files: SlapdFiles | None = None,
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
    local = not online and files is not None and files.readable(base_dn)
    if files is not None and not online:
        suffixes = files.databases()
        if base_dn.lower() not in suffixes:
            raise Invalid(f"{files.conf} does not serve {base_dn} (the configured base DN)")
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        target.chmod(0o700)
    except OSError as exc:
        raise Invalid(f"{target}: cannot create the backup folder: {exc.strerror}") from None
    try:
        return _write_set(settings, target, files if local else None)
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


def _write_set(settings: Settings, target: Path, files: SlapdFiles | None) -> dict[str, Any]:
    base_dn = settings.ldap.base_dn
    if files is not None:
        private_write(target / DIRECTORY_FILE, slapd.slapcat(files, base_dn))
        if files.readable(ACCESSLOG_SUFFIX):
            private_write(target / ACCESSLOG_FILE, slapd.slapcat(files, ACCESSLOG_SUFFIX))
    else:
        _export_online(settings, target)
    described: dict[str, dict[str, Any]] = {}
    for name in (DIRECTORY_FILE, ACCESSLOG_FILE):
        path = target / name
        if path.exists():
            described[name] = {**archive.digest(path), "entries": archive.count_entries(path)}
    state = Path(settings.state.path)
    if state.exists():
        copy = target / STATE_FILE
        snapshot.copy(state, copy)
        described[STATE_FILE] = {**archive.digest(copy), **snapshot.counts(copy)}
    manifest = {
        "format": archive.FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "base_dn": base_dn,
        "method": "slapcat" if files is not None else "online",
        "apexdir_version": archive.apexdir_version(),
        "slapd_version": slapd.version(),
        "files": described,
    }
    archive.write_manifest(target, manifest)
    return {"path": str(target), **manifest}


def _export_online(settings: Settings, target: Path) -> None:
    """Every entry with user and operational attributes, through apexdir's account (which
    reads everything but what slapd computes on each read)."""
    from apexdir.directory.connection import Directory

    with Directory(settings.ldap) as directory:
        entries = directory.export_raw(settings.ldap.base_dn)
        private_write(target / DIRECTORY_FILE, _ldif(entries))
        try:
            accesslog = _ldif(directory.export_raw(ACCESSLOG_SUFFIX))
        except (NotFound, Unavailable):
            return  # no change feed on that server, or not readable: the directory suffices
        if accesslog:
            private_write(target / ACCESSLOG_FILE, accesslog)


def _ldif(entries: list[tuple[str, dict[str, list[bytes]]]]) -> bytes:
    return "".join(ldif.render((dn, attrs, ()) for dn, attrs in entries)).encode("utf-8")
