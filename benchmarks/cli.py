"""`python -m benchmarks.cli [--config FILE] [--uid UID] [--siret SIRET] [--runs N]`: how long
one `apexdir` command takes, from exec to exit (issue 13).

Each command is a process of its own: the interpreter's start-up, the imports, the settings,
the bind and the search, the JSON. Its median wall time is set beside `python -c pass` (the
same interpreter, the floor of any Python command) and beside `ldapsearch` reading the same
account entry on the same instance (the C client's floor: exec, connect, bind, search).
Target: ≤ 0.2 s and ≤ 4× bare python. Where a command misses it, `python -X importtime`
says which imports weigh. The project's bytecode is compiled first, as an install does:
with PYTHONDONTWRITEBYTECODE set, a stale module is compiled again by every command.

Default: the development environment (`apexdir dev up`: ./apexdir.toml, its demo account
and structure). A benchmark, never a test: the machine's load moves it; compare the ratios.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.report import Figure, importtime_output, machine, slowest_imports

APEXDIR = Path(sys.executable).with_name("apexdir")
ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("apexdir", "cli", "daemon", "portal")
TARGET_SECONDS = 0.2
TARGET_RATIO = 4.0  # × bare python
TARGET = f"≤ {TARGET_SECONDS} s and ≤ {TARGET_RATIO:.0f}× bare python"
DEV_UID = "marie.martin-px"  # the demo data of `apexdir dev up`
DEV_SIRET = "73282932000074"


@dataclass
class Timing:
    wall: float  # median seconds, exec to exit
    cpu: float  # median user + system seconds of the process: less moved by other work


def measure(
    command: list[str], runs: int, env: dict[str, str] | None = None, warm: bool = True
) -> Timing:
    """The median of `runs` runs of `command`, after one unmeasured run (disk cache) if
    `warm` (`--quick` goes without: the smoke test only needs each figure once)."""
    if warm:
        subprocess.run(command, capture_output=True, check=True, env=env)
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env=env)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return Timing(statistics.median(walls), statistics.median(cpus))


def compile_project() -> int:
    """Compile the project's modules whose bytecode is missing or older than the source,
    as `pip install` or scripts/bootstrap.sh would; how many there were."""
    stale = 0
    for package in PACKAGES:
        folder = ROOT / package
        if not folder.is_dir():
            continue
        for source in folder.rglob("*.py"):
            cached = Path(importlib.util.cache_from_source(str(source)))
            if not cached.exists() or cached.stat().st_mtime < source.stat().st_mtime:
                stale += 1
        compileall.compile_dir(folder, quiet=2)
    return stale


def ldapsearch_command(
    config: Path, uid: str, password_file: Path
) -> tuple[list[str], dict[str, str]]:
    """`ldapsearch` of the account entry `uid`, as apexdir's own account, on the first server
    of the configuration; the environment it needs (the CA of a TLS server)."""
    from apexdir.config import load_settings
    from apexdir.directory.layout import Layout

    ldap = load_settings(config).ldap
    password_file.write_text(ldap.password(), encoding="utf-8")  # -y reads it whole
    password_file.chmod(0o600)
    command = [
        "ldapsearch", "-x", "-LLL", "-H", ldap.uris[0], "-D", ldap.bind_dn,
        "-y", str(password_file), "-b", Layout(ldap.base_dn).account_dn(uid), "-s", "base",
    ]  # fmt: skip
    if ldap.starttls:
        command.append("-ZZ")
    env = dict(os.environ)
    if ldap.ca_file:
        env["LDAPTLS_CACERT"] = str(ldap.ca_file)
    return command, env


def imports_by_package(stderr: str, top: int = 10) -> str:
    """The import time per top-level package in `python -X importtime`'s output (the self
    times summed): what a start-up pays for, the nesting of the imports aside."""
    spent: dict[str, int] = {}
    for line in stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            package = parts[2].strip().split(".")[0]
            spent[package] = spent.get(package, 0) + int(parts[0].rsplit(":", 1)[1])
    heaviest = sorted(spent.items(), key=lambda item: item[1], reverse=True)[:top]
    return f"imports, {sum(spent.values()) / 1e3:.0f} ms in all under -X importtime; " + ", ".join(
        f"{package} {us / 1e3:.0f}" for package, us in heaviest
    )


def figures(config: Path, uid: str, siret: str, runs: int = 7, quick: bool = False) -> list[Figure]:
    """The wall time of `apexdir --help`, `account show UID` and `structure show SIRET`
    against the directory `config` names, each beside bare python and ldapsearch. `quick`
    (benchmarks.run --quick): no unmeasured run first, and no import profile of a command
    that misses the target (a second run of it)."""
    warm = not quick
    stale = compile_project()
    bare = measure([sys.executable, "-c", "pass"], runs, warm=warm)
    # The floor of a directory command with the chosen libraries: its CLI, its LDAP client
    # and its settings' validator, imported and nothing else.
    libraries = measure(
        [sys.executable, "-c", "import click, ldap3, pydantic.main"], runs, warm=warm
    )
    with tempfile.TemporaryDirectory(prefix="apexdir-bench-cli-") as tmp:
        search, search_env = ldapsearch_command(config, uid, Path(tmp) / "pw")
        c_client = measure(search, runs, search_env, warm=warm)
    base = [str(APEXDIR), "--config", str(config), "--json"]
    commands = {
        "apexdir --help": [str(APEXDIR), "--help"],
        "apexdir account show": [*base, "account", "show", uid],
        "apexdir structure show": [*base, "structure", "show", siret],
    }
    found = []
    for name, command in commands.items():
        timing = measure(command, runs, warm=warm)
        figure = Figure(
            f"{name} (wall)", timing.wall, "s", bare.wall, "bare python", TARGET,
            higher_is_better=False,
        )  # fmt: skip
        figure.ok = timing.wall <= TARGET_SECONDS and timing.wall <= TARGET_RATIO * bare.wall
        figure.notes.append(
            f"CPU (user + system) {timing.cpu * 1e3:.0f} ms; `python -c pass`: wall "
            f"{bare.wall * 1e3:.0f} ms, CPU {bare.cpu * 1e3:.0f} ms "
            f"(so {TARGET_RATIO:.0f}× bare python = {TARGET_RATIO * bare.wall * 1e3:.0f} ms)"
        )
        if name != "apexdir --help":
            figure.notes.append(
                f"`ldapsearch` of the same account entry (exec, connect, bind, search): wall "
                f"{c_client.wall * 1e3:.0f} ms, CPU {c_client.cpu * 1e3:.0f} ms"
            )
            figure.notes.append(
                f"`python -c 'import click, ldap3, pydantic.main'` (the chosen libraries a "
                f"directory command needs, imported and nothing else): wall "
                f"{libraries.wall * 1e3:.0f} ms = {libraries.wall / bare.wall:.1f}× bare python"
            )
        if not figure.ok and quick:
            figure.notes.append("(--quick: no import profile)")
        elif not figure.ok:
            imports = importtime_output(command)  # one run for both readings
            figure.notes.append(imports_by_package(imports))
            figure.notes += slowest_imports(imports, top=6)
        found.append(figure)
    first = "after one unmeasured run" if warm else "no unmeasured run first"
    found[0].notes.append(
        f"median of {runs} runs each, {first}; {stale} module(s) of "
        f"{', '.join(PACKAGES)} without fresh bytecode compiled first, as an install does"
    )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, default=Path("apexdir.toml"), help="apexdir.toml")
    parser.add_argument("--uid", default=DEV_UID, help=f"an account ({DEV_UID})")
    parser.add_argument("--siret", default=DEV_SIRET, help=f"a structure ({DEV_SIRET})")
    parser.add_argument("--runs", type=int, default=7, help="runs per command; the median counts")
    args = parser.parse_args(argv)
    if not args.config.is_file():
        parser.error(f"{args.config}: no such file (run `apexdir dev up`, or pass --config)")
    for line in machine():
        print(line)
    for figure in figures(args.config.resolve(), args.uid, args.siret, args.runs):
        for line in figure.lines():
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
