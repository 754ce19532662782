"""The backup folder's format: its files, its manifest, their checksums."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from apexdir.errors import Invalid, NotFound

FORMAT = 1
MANIFEST = "manifest.json"
DIRECTORY_FILE = "directory.ldif"
ACCESSLOG_FILE = "accesslog.ldif"
STATE_FILE = "state.db"
ACCESSLOG_SUFFIX = "cn=accesslog"


def private_write(path: Path, data: bytes) -> None:
    """`data` into `path`, readable by its owner only (hashes, queued codes)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def digest(path: Path) -> dict[str, Any]:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return {"sha256": sha.hexdigest(), "bytes": path.stat().st_size}


def count_entries(path: Path) -> int:
    # A record starts with its dn line; a folded line starts with a space, never with "dn:".
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line[:3].lower() == b"dn:")


def write_manifest(target: Path, manifest: dict[str, Any]) -> None:
    private_write(target / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())


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
        if digest(path)["sha256"] != expected["sha256"]:
            raise Invalid(f"{source}: {name} does not match its checksum (damaged or edited)")
    if DIRECTORY_FILE not in manifest.get("files", {}):
        raise Invalid(f"{source}: the backup holds no {DIRECTORY_FILE}")
    return manifest


def apexdir_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("apexdir")
    except PackageNotFoundError:
        return "unknown"
