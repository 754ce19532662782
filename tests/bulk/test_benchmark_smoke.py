"""The benchmark command runs end to end on a tiny data set (it is never a timed test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_quick_run_prints_every_figure(tmp_path: Path) -> None:
    """`python -m benchmarks.run --accounts 100 --quick`: each figure, its reference, a ratio.
    (100 accounts: the fewest the binds' four slices of 20 and two structures need, with room;
    slapd's durable writes make each entry cost in ldapadd and the import.)"""
    output = tmp_path / "results.md"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--accounts", "100", "--quick",
         "--output", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("machine: ") and lines[1].startswith("slapd: ")
    for figure in ("import (ldap3 ASYNC", "offline (apexdir --offline + slapadd)",
                   "expiry scan", "structure show", "binds: apexdir (ldap3",
                   "binds: ldapwhoami", "binds: apexdir login", "outbox delivery",
                   "apexdir --help", "apexdir account show"):  # fmt: skip
        line = next((x for x in lines if x.startswith(figure)), None)
        assert line is not None, figure
        assert " ref: " in line and " ratio " in line, line
    assert sum(" target " in x for x in lines) >= 6
    assert output.read_text().startswith("```\nmachine: ")
