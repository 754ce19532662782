"""How the benchmark prints: one line per figure (value, reference, ratio, target, verdict),
then what bounds it; the machine it ran on."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    reference: float | None = None
    reference_label: str = ""
    target: str = ""
    ok: bool | None = None
    higher_is_better: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if not self.reference or not self.value:
            return None
        return self.value / self.reference if self.higher_is_better else self.reference / self.value

    def lines(self) -> list[str]:
        value = _fmt(self.value, self.unit)
        ref = f"{self.reference_label} {_fmt(self.reference, self.unit)}" if self.reference else ""
        ratio = f"{self.ratio:.0%}" if self.ratio is not None else "—"
        verdict = {True: "OK", False: "MISSED", None: ""}[self.ok]
        head = f"{self.name:<44} {value:>16}   ref: {ref or '—':<30} ratio {ratio:>5}"
        if self.target:
            head += f"   target {self.target}: {verdict}"
        return [head] + [f"    {note}" for note in self.notes]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        return f"{value * 1000:,.1f} ms" if value < 1 else f"{value:,.2f} s"
    return f"{value:,.0f} {unit}"


def importtime_output(command: list[str]) -> str:
    """What `command` writes under python -X importtime (its stderr): one run serves every
    reading of it (slowest_imports, benchmarks/cli.py's imports_by_package)."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env).stderr


def slowest_imports(stderr: str, top: int = 8) -> list[str]:
    """The slowest imports in python -X importtime's output, cumulative."""
    rows = []
    for line in stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    rows.sort(reverse=True)
    return ["slowest imports (cumulative):"] + [
        f"{us / 1000:7.1f} ms {name}" for us, name in rows[:top]
    ]


def machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    slapd = subprocess.run(["/usr/sbin/slapd", "-VV"], capture_output=True, text=True)
    version = (slapd.stderr or slapd.stdout).splitlines()[0].strip() if slapd else "?"
    load = os.getloadavg()
    return [
        f"machine: {os.cpu_count()} CPU(s), {cpu}; {platform.platform()}",
        f"slapd: {version}",
        f"python {platform.python_version()}, load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
    ]


def table(figures: list[Figure]) -> list[str]:
    def fmt(value: float | None, unit: str) -> str:
        if value is None:
            return ""
        return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"

    lines = [
        "| figure | result | reference (same run) | ratio | target | |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        reference = f"{f.reference_label} {fmt(f.reference, f.unit)}" if f.reference else ""
        ratio = f"{f.ratio:.0%}" if f.ratio is not None and f.reference else ""
        verdict = {True: "OK", False: "missed", None: ""}[f.ok]
        lines.append(
            f"| {f.name} | {fmt(f.value, f.unit)} | {reference} | {ratio} | "
            f"{f.target} | {verdict} |"
        )
    return lines


def print_header(title: str, *lines: str) -> None:
    """The run's title, the machine, and a warning when the CPUs are not free: the clients,
    the servers and slapd share them, so other work skews the rates (compare the ratios)."""
    print(f"{title}, {datetime.now():%Y-%m-%d %H:%M}")
    for line in (*lines, *machine()):
        print(line)
    load = os.getloadavg()[0]
    if load > 0.5 * (os.cpu_count() or 1):
        print(f"warning: load average {load:.2f} at start: compare the ratios, not the rates")


def print_figures(figures: list[Figure], started: float) -> None:
    """The table of figures, then each figure's notes, then the run's duration."""
    print()
    for line in table(figures):
        print(line)
    print()
    for f in figures:
        if f.notes:
            print(f.name)
            for note in f.notes:
                print(f"    {note}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
