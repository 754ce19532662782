"""Restoring a backup: slapadd into a stopped, empty slapd, the state store copied back."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from apexdir.backup import held, slapd
from apexdir.backup.archive import (
    ACCESSLOG_FILE,
    ACCESSLOG_SUFFIX,
    DIRECTORY_FILE,
    STATE_FILE,
    read_manifest,
)
from apexdir.backup.slapd import SlapdFiles
from apexdir.config import Settings
from apexdir.errors import Conflict, Invalid, Unavailable
from apexdir.state import snapshot

MDB_FILES = ("data.mdb", "lock.mdb")


def restore(
    settings: Settings,
    source: Path,
    files: SlapdFiles,
    *,
    force: bool = False,
    directory_only: bool = False,
) -> dict[str, Any]:
    """Load the backup in `source` into the stopped slapd `files` and the state store.

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
    databases = files.databases()
    loads = [(base_dn, DIRECTORY_FILE)]
    kept = {} if directory_only else manifest["files"]
    if ACCESSLOG_FILE in kept and ACCESSLOG_SUFFIX in databases:
        loads.append((ACCESSLOG_SUFFIX, ACCESSLOG_FILE))
    for suffix, _ in loads:
        if suffix.lower() not in databases:
            raise Invalid(f"{files.conf} has no database for {suffix}")
    _check_target(settings, files, databases, loads, kept, force)
    try:
        restored_state = _load(settings, source, files, databases, loads, kept)
    except OSError as exc:
        raise Unavailable(f"restore from {source}: {exc}") from None
    spool = held.triage(settings) if restored_state else {"dropped": 0, "held": []}
    return {
        "path": str(source),
        "base_dn": base_dn,
        "restored": [suffix for suffix, _ in loads],
        "state_store": str(Path(settings.state.path)) if restored_state else None,
        "entries": {name: manifest["files"][name].get("entries") for _, name in loads},
        "outbox_queued": kept.get(STATE_FILE, {}).get("outbox_queued", 0),
        "outbox_dropped": spool["dropped"],
        "outbox_held": spool["held"],
        "backup_created_at": manifest.get("created_at"),
    }


def _check_target(
    settings: Settings,
    files: SlapdFiles,
    databases: dict[str, Path],
    loads: list[tuple[str, str]],
    kept: dict[str, Any],
    force: bool,
) -> None:
    """slapd stopped, and nothing in what the restore replaces unless `force`."""
    pid = files.pid()
    if pid is not None:
        raise Conflict(f"slapd is running (pid {pid}): stop it before a restore")
    state = Path(settings.state.path)
    occupied = [s for s, _ in loads if slapd.has_entries(files, s, databases[s.lower()])]
    if STATE_FILE in kept and snapshot.in_use(state):
        occupied.append(f"state store {state}")
    if occupied and not force:
        raise Conflict(
            "the target is not empty (" + ", ".join(occupied) + "): restore onto an empty "
            "instance, or pass --force to replace what it holds"
        )


def _load(
    settings: Settings,
    source: Path,
    files: SlapdFiles,
    databases: dict[str, Path],
    loads: list[tuple[str, str]],
    kept: dict[str, Any],
) -> bool:
    """slapadd each database, then copy the state store back; whether the store was."""
    for suffix, name in loads:
        folder = databases[suffix.lower()]
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for mdb in MDB_FILES:
            (folder / mdb).unlink(missing_ok=True)
        slapd.slapadd(files, suffix, source / name)
        _own_like(folder)
    if STATE_FILE not in kept:
        return False
    state = Path(settings.state.path)
    state.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for leftover in (state, Path(f"{state}-wal"), Path(f"{state}-shm")):
        leftover.unlink(missing_ok=True)
    snapshot.copy(source / STATE_FILE, state)
    _chown_like(state, state.parent)
    return True


def _own_like(folder: Path) -> None:
    """slapadd ran as us (root, often); slapd runs as the folder's owner (openldap)."""
    for path in folder.iterdir():
        if path.is_file():
            _chown_like(path, folder)


def _chown_like(path: Path, reference: Path) -> None:
    if os.geteuid() != 0:
        return
    info = reference.stat()
    if (path.stat().st_uid, path.stat().st_gid) != (info.st_uid, info.st_gid):
        shutil.chown(path, info.st_uid, info.st_gid)
