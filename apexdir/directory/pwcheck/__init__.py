"""Build slapd's password check module (apex_pwcheck.c) with the system's C compiler.

ppolicy hands every cleartext password set on an account, by a plain modify or by the
password-modify operation, to `check_password()` of the module named by the policy's
`pwdCheckModule`; a refusal there is a refusal by slapd itself, whatever the client.

The policy names the module without a directory (`apex_pwcheck.so`): slapd resolves it on its
`modulepath`, so the same policy entry works on every server of a deployment — the private
instances put their build folder on that path; a production server installs the file next
to slapd's own modules (`/usr/lib/ldap`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from apexdir.errors import Unavailable

MODULE_NAME = "apex_pwcheck.so"
SOURCE = Path(__file__).with_name("apex_pwcheck.c")
# No -Werror: a newer compiler's new warning must not stop `dev up` on another machine.
CFLAGS = ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra"]
COMPILER_HINT = "install a C compiler (`apt-get install -y gcc`) or set CC"


def module_arg(min_length: int, max_length: int, min_digits: int = 2) -> str:
    """The policy's pwdCheckModuleArg: the limits the module applies (SPEC §4)."""
    return f"min={min_length} max={max_length} digits={min_digits}"


def _compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not cc:
        raise Unavailable(f"cannot build the slapd password check module: {COMPILER_HINT}")
    return cc


def _fingerprint(compiler: str = "") -> str:
    text = SOURCE.read_bytes() + " ".join([compiler, *CFLAGS]).encode()
    return hashlib.sha256(text).hexdigest()


def _cache() -> Path:
    """Where this user keeps the modules already compiled, by fingerprint: every private
    slapd (`dev up`, its replicas, a test's) would compile the same file again (≈ 0.15 s
    of compiler a time, 36 times in a run of the tests)."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):  # no home to find: a folder that cannot be made
            base = "/nonexistent"
    return Path(base) / "apexdir" / "pwcheck"


def build(dest_dir: Path) -> Path:
    """Compile the module into `dest_dir` (once per source version); return its path.

    The new file replaces the old one by rename: a running slapd that has the old one
    mapped keeps a valid copy, and no slapd ever loads a half-written file. A copy compiled
    earlier by this user from the same source, flags and compiler is taken from the cache
    (owner-only) instead of compiling again; a cache that cannot be used is skipped.
    """
    dest_dir = Path(dest_dir)
    target = dest_dir / MODULE_NAME
    stamp = dest_dir / (MODULE_NAME + ".sha256")
    fingerprint = _fingerprint()
    if target.exists() and stamp.exists() and stamp.read_text().strip() == fingerprint:
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)
    compiler = _compiler()
    cached = _cache() / f"{_fingerprint(compiler)}.so"
    fd, tmp = tempfile.mkstemp(prefix=".apex_pwcheck.", suffix=".so", dir=dest_dir)
    os.close(fd)
    try:
        if not _copy(cached, Path(tmp)):
            _compile(compiler, tmp)
            _keep(Path(tmp), cached)
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    stamp.write_text(fingerprint + "\n")
    return target


def _compile(compiler: str, output: str) -> None:
    result = subprocess.run([compiler, *CFLAGS, "-o", output, str(SOURCE)], capture_output=True,
                            text=True)  # fmt: skip
    if result.returncode != 0:
        raise Unavailable(f"cannot build the slapd password check module: {result.stderr.strip()}")


def _copy(cached: Path, output: Path) -> bool:
    try:
        shutil.copyfile(cached, output)
    except OSError:
        return False
    return True


def _keep(built: Path, cached: Path) -> None:
    """A copy of `built` in the cache, written whole then renamed (best effort)."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".so", dir=cached.parent)
    except OSError:
        return
    os.close(fd)
    try:
        shutil.copyfile(built, tmp)
        os.replace(tmp, cached)
    except OSError:
        pass
    finally:
        Path(tmp).unlink(missing_ok=True)
