"""The measures of `python -m benchmarks.run`: each returns numbers, `run` prints them.

Every directory is a private slapd (`SlapdInstance`, durable writes: no `dbnosync`) in the
benchmark's temporary folder, initialized like `apexdir init`. Timings are wall-clock
(`time.perf_counter`); CPU times come from the process itself and, for slapd, from
/proc/<pid>/stat, so that a figure can say what bounds it: the client's CPU, slapd's CPU,
or neither (then it is the disk: one fsync per durable write).
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apexdir.config import Settings
from apexdir.directory.connection import Directory
from apexdir.directory.provision import initialize
from apexdir.directory.server import SlapdInstance
from apexdir.runtime import Runtime

HERE = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------- timing helpers
def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def median_of(action: Callable[[], Any], runs: int) -> float:
    return statistics.median(timed(action)[0] for _ in range(runs))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (slapd), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def profile(action: Callable[[], Any], top: int = 10) -> list[str]:
    """cProfile's top entries by own time, one line each."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        action()
    finally:
        profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = sum(row[2] for row in stats.stats.values()) or 1.0  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    out = []
    for (file, line, name), (_, calls, own, cumulative, _) in rows[:top]:
        where = f"{Path(file).name}:{line}" if line else file
        out.append(
            f"{own / total:6.1%} own {own:7.3f}s cum {cumulative:7.3f}s "
            f"{calls:>9} calls  {name} ({where})"
        )
    return out


# ---------------------------------------------------------------------- directories
def settings_of(
    instance: SlapdInstance, state: Path, *, smtp_port: int = 25, **sections: dict[str, Any]
) -> Settings:
    """apexdir bound as its own account to `instance`, its state store at `state`, mail to
    127.0.0.1:`smtp_port`; `sections` adds settings (e.g. policy limits out of the way)."""
    return Settings.model_validate(
        {
            "ldap": {
                "uris": [instance.uri],
                "base_dn": instance.base_dn,
                "bind_dn": instance.layout.apexdir_dn,
                "bind_password_file": str(instance.apexdir_password_file),
            },
            "smtp": {"host": "127.0.0.1", "port": smtp_port},
            "state": {"path": str(state)},
            **sections,
        }
    )


@dataclass
class Bench:
    root: Path
    instances: list[SlapdInstance]

    def directory(self, name: str, *, init: bool = True) -> SlapdInstance:
        """A new private slapd with durable writes, initialized like `apexdir init`."""
        instance = SlapdInstance(self.root / name)
        self.instances.append(instance)
        instance.start()
        if init:
            with Directory(self.settings(instance, name).ldap) as directory:
                initialize(directory, instance.layout, self.settings(instance, name).policy)
        return instance

    def settings(self, instance: SlapdInstance, name: str, smtp_port: int = 25) -> Settings:
        return settings_of(instance, self.root / f"{name}-state.db", smtp_port=smtp_port)

    def runtime(self, instance: SlapdInstance, name: str) -> Runtime:
        return Runtime(self.settings(instance, name), operator="benchmark")

    def config_file(self, instance: SlapdInstance, name: str) -> Path:
        settings = self.settings(instance, name)
        path = self.root / f"{name}.toml"
        path.write_text(
            f'[ldap]\nuris = ["{instance.uri}"]\nbase_dn = "{instance.base_dn}"\n'
            f'bind_dn = "{instance.layout.apexdir_dn}"\n'
            f'bind_password_file = "{instance.apexdir_password_file}"\n\n'
            f'[state]\npath = "{settings.state.path}"\n',
            encoding="utf-8",
        )
        return path

    def close(self) -> None:
        for instance in self.instances:
            with contextlib.suppress(Exception):
                instance.destroy()


def slapadd(instance: SlapdInstance, ldif: Path) -> float:
    """Seconds to load `ldif` with slapd stopped (slapadd -q -w), slapd started again after."""
    instance.stop()
    command = [
        shutil.which("slapadd", path="/usr/sbin:/usr/bin") or "/usr/sbin/slapadd",
        "-q",
        "-w",
        "-f",
        str(instance.conf_file),
        "-b",
        instance.base_dn,
        "-l",
        str(ldif),
    ]
    seconds, result = timed(lambda: subprocess.run(command, capture_output=True, text=True))
    if result.returncode != 0:
        raise RuntimeError(f"slapadd failed: {result.stderr.strip()[-500:]}")
    instance.start()
    return seconds


def raw_password(instance: SlapdInstance) -> Path:
    """apexdir's password in a file for the C clients' `-y` (the whole file: no newline)."""
    password = instance.root / "apexdir.pw.raw"
    password.write_text(instance.apexdir_password())
    password.chmod(0o600)
    return password


def ldapsearch(
    instance: SlapdInstance, base: str, ldap_filter: str, attrs: list[str], scope: str = "one"
) -> tuple[float, int]:
    """(seconds, entries) of the C client's paged search (page size 500, LDIF to a pipe)
    as apexdir's own account: the reference of a search apexdir makes through ldap3."""
    command = [
        "ldapsearch", "-x", "-LLL", "-H", instance.uri, "-D", instance.layout.apexdir_dn,
        "-y", str(raw_password(instance)), "-b", base, "-s", scope, "-E", "pr=500/noprompt",
        ldap_filter, *attrs,
    ]  # fmt: skip
    seconds, result = timed(lambda: subprocess.run(command, capture_output=True, text=True))
    if result.returncode != 0:
        raise RuntimeError(f"ldapsearch failed: {result.stderr.strip()[-500:]}")
    return seconds, result.stdout.count("\ndn: ") + result.stdout.startswith("dn: ")


def ldapadd(instance: SlapdInstance, ldif: Path) -> tuple[float, float, float]:
    """(seconds, ldapadd's CPU, slapd's CPU) to add `ldif` as apexdir's own account."""
    password = raw_password(instance)
    command = [
        "ldapadd",
        "-x",
        "-H",
        instance.uri,
        "-D",
        instance.layout.apexdir_dn,
        "-y",
        str(password),
        "-f",
        str(ldif),
    ]
    pid = instance.pid() or 0
    cpu0, slapd0 = children_cpu(), process_cpu(pid)
    seconds, result = timed(lambda: subprocess.run(command, capture_output=True, text=True))
    if result.returncode != 0:
        raise RuntimeError(f"ldapadd failed: {result.stderr.strip()[-500:]}")
    return seconds, children_cpu() - cpu0, process_cpu(pid) - slapd0


# ---------------------------------------------------------------------- binds
def compile_rebind(root: Path) -> Path | None:
    """benchmarks/rebind.c linked to Debian's libldap runtime (no -dev package needed)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    libs = sorted(Path("/usr/lib").glob("*/libldap*.so.*")) + sorted(
        Path("/usr/lib").glob("libldap*.so.*")
    )
    if not cc or not libs:
        return None
    binary = root / "rebind"
    result = subprocess.run(
        [cc, "-O2", "-o", str(binary), str(HERE / "rebind.c"), str(libs[0])],
        capture_output=True,
        text=True,
    )
    return binary if result.returncode == 0 else None


def c_binds(binary: Path, uri: str, pairs: list[tuple[str, str]]) -> tuple[float, list[float]]:
    """(wall seconds, per-bind latencies in s) of the C client re-binding on one connection."""
    payload = "".join(f"{dn}\t{pw}\n" for dn, pw in pairs)
    seconds, result = timed(
        lambda: subprocess.run([str(binary), uri], input=payload, capture_output=True, text=True)
    )
    rows = [line.split() for line in result.stdout.splitlines()]
    failed = [r for r in rows if r[0] != "0"]
    if failed or len(rows) != len(pairs):
        raise RuntimeError(f"C binds: {len(failed)} failed of {len(rows)}: {result.stderr[-300:]}")
    return seconds, [float(r[1]) / 1e6 for r in rows]


def whoami_binds(uri: str, pairs: list[tuple[str, str]]) -> tuple[float, list[float]]:
    """One `ldapwhoami` process per bind: exec, connect, bind, unbind."""
    latencies = []
    start = time.perf_counter()
    for dn, pw in pairs:
        seconds, result = timed(
            lambda dn=dn, pw=pw: subprocess.run(
                ["ldapwhoami", "-x", "-H", uri, "-D", dn, "-w", pw], capture_output=True
            )
        )
        if result.returncode != 0:
            raise RuntimeError(f"ldapwhoami failed for {dn}")
        latencies.append(seconds)
    return time.perf_counter() - start, latencies


def library_binds(
    call: Callable[[str, str], Any], pairs: list[tuple[str, str]]
) -> tuple[float, list[float]]:
    latencies = []
    start = time.perf_counter()
    for key, pw in pairs:
        seconds, _ = timed(lambda key=key, pw=pw: call(key, pw))
        latencies.append(seconds)
    return time.perf_counter() - start, latencies


# ---------------------------------------------------------------------- outbox
@contextlib.contextmanager
def sink_process(directory: Path) -> Iterator[tuple[int, int]]:
    """The development SMTP sink in a process of its own (not sharing our GIL): (port, pid)."""
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "apexdir.dev.sinks", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ports = directory / "sinks.json"
    try:
        deadline = time.monotonic() + 20
        while not ports.exists():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the SMTP sink did not start")
            time.sleep(0.05)
        yield int(json.loads(ports.read_text())["smtp_port"]), process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def null_sink() -> Iterator[tuple[int, int]]:
    """benchmarks/nullsink.py: accepts and forgets every mail. (port, pid)."""
    from apexdir.directory.server import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.nullsink", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=HERE.parent,
    )
    try:
        if process.stdout is None or process.stdout.readline().strip() != "ready":
            raise RuntimeError("the null SMTP sink did not start")
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def outbox_rate(
    settings: Settings, count: int, sink_pid: int, sinks_dir: Path | None = None
) -> dict[str, Any]:
    """Deliver `count` queued mails in one pass: seconds, CPU of both sides, the counts."""
    from apexdir.daemon.jobs.outbox import deliver
    from apexdir.dev.captured import captured_mails
    from apexdir.mail.render import render
    from apexdir.state.db import open_store
    from apexdir.state.outbox import Outbox

    db = open_store(settings.state.path)
    try:
        outbox = Outbox(db)
        mail = render("code", code="123456")
        for i in range(count):
            outbox.enqueue_mail([f"partner{i}@example.org"], mail.subject, mail.text, mail.html)
        cpu0, sink0 = time.process_time(), process_cpu(sink_pid)
        seconds, counts = timed(lambda: asyncio.run(deliver(settings, db, limit=count)))
        cpu, sink_cpu = time.process_time() - cpu0, process_cpu(sink_pid) - sink0
    finally:
        db.close()
    if sinks_dir is not None:
        # The sink commits what it accepted within 100 ms (apexdir/dev/sinks.py): wait for it.
        deadline = time.monotonic() + 2
        while (stored := len(captured_mails(sinks_dir))) != count and time.monotonic() < deadline:
            time.sleep(0.05)
        if stored != count:
            raise RuntimeError(f"outbox: {stored} mails of {count}: {counts}")
    return {"seconds": seconds, "cpu": cpu, "sink_cpu": sink_cpu, "counts": counts}
