"""`python -m benchmarks.offline [--accounts N] [--top N] [--keep]`: the offline figure alone.

The figure of `python -m benchmarks.run` (its `Run.offline` calls `measure` below; issue 13):
entries per second of `apexdir import --offline` (the LDIF generation, with its phases) plus
slapadd of the LDIF it wrote, against entries per second of a plain slapadd of the source
LDIF, both measured in this run; target ≥ 50 %. Then cProfile's top entries for the
generation of a smaller file (this process only: the pieces of the file read by the checking
pool's processes and the half of the LDIF rendered by a forked copy are not in it). Compare
the ratios: the machine's other work moves both sides.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apexdir.directory.layout import Layout
from apexdir.directory.server import DEFAULT_BASE_DN
from benchmarks import measures as ms
from benchmarks.dataset import Dataset, generate
from benchmarks.report import Figure, print_header

TARGET = 0.5
PROFILED_ACCOUNTS = 20_000


@dataclass
class Measured:
    figure: Figure
    instance: Any  # the SlapdInstance holding what slapadd loaded (the expiry figure reads it)


def measure(
    bench: ms.Bench,
    root: Path,
    data: Dataset,
    aged: Path,
    step: Callable[[str], None] = lambda text: None,
) -> Measured:
    """Plain slapadd of `aged`, then apexdir's generation into a fresh directory + slapadd."""
    from apexdir.bulk.run import Options, import_file
    from apexdir.workflows.actors import AGENT

    step("plain slapadd of the data set")
    plain = bench.directory("slapadd")
    slapadd_seconds = ms.slapadd(plain, aged)
    plain.destroy()
    step("apexdir import --offline, then slapadd")
    target = bench.directory("offline")
    rt = bench.runtime(target, "offline")
    out = root / "offline.ldif"
    generate_seconds, report = ms.timed(
        lambda: import_file(rt, AGENT, aged, options=Options(offline=out))
    )
    rt.close()
    load_seconds = ms.slapadd(target, out)
    total = generate_seconds + load_seconds
    figure = Figure(
        "offline (apexdir --offline + slapadd)",
        data.entries / total,
        "entries/s",
        data.entries / slapadd_seconds,
        "slapadd",
        f"≥ {TARGET:.0%} of slapadd",
    )
    figure.ok = (figure.ratio or 0) >= TARGET
    phases = ", ".join(f"{k} {v:.2f} s" for k, v in report["timings"].items())
    figure.notes.append(
        f"apexdir LDIF generation {generate_seconds:.2f} s ({phases}) + slapadd "
        f"{load_seconds:.2f} s (its LDIF carries memberOf, pwdChangedTime) vs plain "
        f"slapadd {slapadd_seconds:.2f} s"
    )
    per = 1e6 / data.entries
    figure.notes.append(
        f"per entry: apexdir {generate_seconds * per:.0f} µs of CPython (read, validate "
        f"with the workflows' rules, write) vs slapadd {slapadd_seconds * per:.0f} µs of C"
    )
    return Measured(figure, target)


def why(bench: ms.Bench, root: Path, accounts: int, top: int = 10) -> list[str]:
    """A profile of the generation alone, into an empty directory (as measured)."""
    from apexdir.bulk.run import Options, import_file
    from apexdir.workflows.actors import AGENT

    size = min(accounts, PROFILED_ACCOUNTS)
    empty = bench.directory("offline-profile")
    data = generate(empty.layout, size)
    source = root / "profile-aged.ldif"
    data.write(str(source), aged=True)
    rt = bench.runtime(empty, "offline-profile")
    out = root / "profile-offline.ldif"
    notes = [
        f"bound by apexdir's CPU; profile of the generation for {size:,} accounts (this "
        "process only: not the pieces read by the pool's processes, nor the forked writer):"
    ]
    notes += ms.profile(
        lambda: import_file(rt, AGENT, source, options=Options(offline=out)), top=top
    )
    rt.close()
    empty.destroy()
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.offline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--accounts", type=int, default=100_000, help="default 100,000")
    parser.add_argument("--top", type=int, default=15, help="profile lines (0: no profile)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print_header("apexdir offline load")
    root = Path(tempfile.mkdtemp(prefix="apexdir-offline-"))
    bench = ms.Bench(root, [])
    try:
        data = generate(Layout(DEFAULT_BASE_DN), args.accounts)
        aged = root / "dataset-aged.ldif"
        data.write(str(aged), aged=True)
        print(f"data set: {data.accounts:,} accounts = {data.entries:,} entries\n")
        measured = measure(bench, root, data, aged)
        for line in measured.figure.lines():
            print(line)
        if args.top:
            for line in why(bench, root, args.accounts, args.top):
                print(f"    {line}")
    finally:
        bench.close()
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
