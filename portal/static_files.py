"""The static files, served by WhiteNoise: compressed, cached for long, under hashed names.

Issue 19 item 15: the DSFR's CSS (728 KB) and icons went out uncompressed with
`Cache-Control: no-cache`. WhiteNoise serves a file's `.br` or `.gz` neighbour to a browser
that accepts it, and marks a name it is told is hashed `immutable` for a year; it compresses
nothing itself (Django's `CompressedManifestStaticFilesStorage` does both, Django only). So
`build` prepares, once per content, a tree beside the package's `static/`: each file under
its own name (the DSFR's CSS names its fonts and icons relatively: those stay reachable, a
day in the cache) and under a name carrying its content's hash (what the pages link to,
through `url_for`), with both compressed forms. The tree is made in a folder of the user's
own (a private /tmp under systemd), under a lock, and kept for the next start.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HASH_LENGTH = 12
HASHED = re.compile(rf"\.[0-9a-f]{{{HASH_LENGTH}}}\.[A-Za-z0-9]+$")
MAX_AGE = 24 * 3600  # names without a hash: a day (PORTAL.md: ≥ one day)
# Already compressed formats gain nothing (WhiteNoise's own list, in short).
STORED = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico", ".woff", ".woff2", ".gz", ".br"}
BROTLI_QUALITY = 5  # 11 takes 25× longer for 7 % less: not worth a slower first start


@dataclass(frozen=True)
class Built:
    root: Path
    names: dict[str, str]  # "dsfr/dsfr.min.css" → "dsfr/dsfr.min.<hash>.css"


def hashed_name(name: str, digest: str) -> str:
    path = Path(name)
    return str(path.with_name(f"{path.stem}.{digest[:HASH_LENGTH]}{path.suffix}"))


_built: dict[tuple[Any, ...], Built] = {}
_files: dict[Path, dict[str, Any]] = {}
_seen: dict[tuple[Path, Path | None], tuple[float, Built]] = {}
RELIST_AFTER = 1.0  # seconds: an edited file is served within a second of a new application


def build(source: Path, cache: Path | None = None) -> Built:
    """The served tree of `source` (made on the first call for this content); within a
    process, files unchanged in size and time are not hashed again, and the files are not
    even listed again within a second (the listing is 10 ms; the tests make an application
    every few hundred milliseconds)."""
    now = time.monotonic()
    seen = _seen.get((source, cache))
    if seen is not None and now - seen[0] < RELIST_AFTER:
        return seen[1]
    key = (source, cache, _listing(source))
    if key not in _built:
        _built[key] = _build(source, cache)
    _seen[(source, cache)] = (now, _built[key])
    return _built[key]


def _listing(source: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file under `source` with its size and time: os.walk and one stat a file, a
    quarter of the cost of `rglob` and `Path.stat` (40 → 10 ms for the DSFR's 1,000 files,
    at each application made: a worker's start, and hundreds in the tests)."""
    found = []
    for folder, _dirs, files in os.walk(source):
        for name in files:
            path = os.path.join(folder, name)
            info = os.stat(path)
            found.append((path, info.st_size, info.st_mtime_ns))
    return tuple(sorted(found))


def _build(source: Path, cache: Path | None) -> Built:
    digests = {
        str(path.relative_to(source)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(source.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    names = {name: hashed_name(name, digest) for name, digest in digests.items()}
    tree = hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()[:16]
    base = cache or _own_folder()
    target = base / tree
    if not (target / "complete").exists():
        with _locked(base / "lock"):
            if not (target / "complete").exists():
                _make(source, names, base, target)
    return Built(target / "files", names)


def _make(source: Path, names: dict[str, str], base: Path, target: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="build-", dir=base))
    try:
        files = work / "files"
        for name, hashed in names.items():
            plain = files / name
            plain.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, plain)
            os.link(plain, files / hashed)
            if plain.suffix.lower() in STORED:
                continue
            data = plain.read_bytes()
            for suffix, packed in _compressed(data):
                if len(packed) <= 0.95 * len(data):  # else the plain file is as good
                    (files / (name + suffix)).write_bytes(packed)
                    os.link(files / (name + suffix), files / (hashed + suffix))
        (work / "complete").touch()
        shutil.rmtree(target, ignore_errors=True)  # a build cut short
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _compressed(data: bytes) -> Iterator[tuple[str, bytes]]:
    yield ".gz", gzip.compress(data, compresslevel=9, mtime=0)
    try:
        import brotli
    except ImportError:  # brotli is optional for WhiteNoise: gzip alone then
        return
    yield ".br", brotli.compress(data, quality=BROTLI_QUALITY)


def _own_folder() -> Path:
    """A folder of this user's only: in a shared /tmp, another user could have made it."""
    base = Path(tempfile.gettempdir()) / f"apexdir-portal-static-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    info = base.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return Path(tempfile.mkdtemp(prefix="apexdir-portal-static-"))
    return base


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """The workers of a node start together: one builds, the others wait and reuse."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def serve(app: Any, source: Path) -> Built:
    """Put WhiteNoise in front of `app` for `/static/`, and make `url_for("static", …)`
    name the hashed files."""
    from whitenoise import WhiteNoise

    built = build(source)
    middleware = WhiteNoise(app.wsgi_app, **_options())
    middleware.files = _served_files(built)
    app.wsgi_app = middleware

    def hashed(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values:
            values["filename"] = built.names.get(values["filename"], values["filename"])

    app.url_defaults(hashed)
    return built


def preload(source: Path) -> None:
    """The served tree and WhiteNoise's table of its files, made in gunicorn's master
    before the fork: each worker finds them in this module's caches (≈ 0.4 s of CPU a
    worker otherwise, at every start and restart of one)."""
    _served_files(build(source))


def _served_files(built: Built) -> dict[str, Any]:
    """WhiteNoise reads the 2,000 files' headers when it is given a root (≈ 0.3 s): once per
    process and tree, whatever the number of applications (the tests make hundreds)."""
    from whitenoise import WhiteNoise

    if built.root not in _files:
        _files[built.root] = WhiteNoise(
            None, root=str(built.root), prefix="static/", **_options()
        ).files
    return _files[built.root]


def _options() -> dict[str, Any]:
    return {
        "max_age": MAX_AGE,
        "immutable_file_test": _immutable,
        "add_headers_function": _headers,
    }


def _immutable(_path: str, url: str) -> bool:
    return bool(HASHED.search(url))


def _headers(headers: Any, _path: str, _url: str) -> None:
    headers["X-Content-Type-Options"] = "nosniff"
