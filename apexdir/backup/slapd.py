"""slapd's files on this machine: its configuration, its databases, slapcat and slapadd."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from apexdir.directory import ldif
from apexdir.directory.server import find_binary, pid_alive
from apexdir.errors import NotFound, Unavailable, UsageError

# The dev/test instance `apexdir dev up` makes; the default when nothing else is named.
DEV_INSTANCE = Path("var/slapd")


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


def run(args: list[str], doing: str, stdin: Path | None = None) -> bytes:
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


def slapcat(slapd: SlapdFiles, suffix: str) -> bytes:
    return run(["slapcat", *slapd.args(), "-b", suffix], f"slapcat {suffix}")


def slapadd(slapd: SlapdFiles, suffix: str, source: Path) -> None:
    # -w: contextCSN from the entries' greatest entryCSN. slapcat of a running provider
    # reads the value syncprov last checkpointed, which may be older than its entries.
    run(["slapadd", *slapd.args(), "-q", "-w", "-b", suffix], f"slapadd {suffix}", source)


def has_entries(slapd: SlapdFiles, suffix: str, folder: Path) -> bool:
    if not (folder / "data.mdb").exists():
        return False
    return bool(slapcat(slapd, suffix).strip())


def version() -> str:
    try:
        program = find_binary("slapd", ("/usr/sbin/slapd",))
        result = subprocess.run([program, "-VV"], capture_output=True, text=True, timeout=10)
    except (Unavailable, OSError, subprocess.TimeoutExpired):
        return "unknown"
    for line in (result.stderr + result.stdout).splitlines():
        if "slapd" in line and "$" in line:
            return line.split("slapd", 1)[1].split("(")[0].strip(" $")
    return "unknown"
