"""`python -m benchmarks.outbox [--count N] [--runs R] [--profile]`: the outbox figure alone.

The same measure as the outbox figure of `benchmarks.run` (`measures.outbox_rate`: N login
codes queued, one delivery pass, one SMTP connection), without the 100,000-account data set
and its slapd instances: the outbox needs no directory. Each run delivers to the development
sink (a process of its own, storing in SQLite) and to the null sink (keeps nothing); the
figure is the median of `--runs`. A benchmark, never a test: the machine's load moves it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from apexdir.config import Settings
from benchmarks import measures as ms
from benchmarks.report import Figure, machine

TARGET = 300.0  # mails/s to the development sink (issue 13)
SHARE = 0.9  # of the null sink's rate (issue 13)


def settings(root: Path, name: str, port: int) -> Settings:
    return Settings.model_validate(
        {
            # Never contacted: the pass only reads the spool and talks SMTP.
            "ldap": {"uris": ["ldap://127.0.0.1:1"], "base_dn": "dc=x", "bind_dn": "cn=x",
                     "bind_password": "x"},
            "smtp": {"host": "127.0.0.1", "port": port},
            "state": {"path": str(root / f"{name}-state.db")},
        }
    )  # fmt: skip


def measure(count: int, runs: int, root: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {"dev": [], "null": []}
    for n in range(runs):
        sinks = root / f"sinks{n}"
        with ms.sink_process(sinks) as (port, pid):
            found["dev"].append(ms.outbox_rate(settings(root, f"dev{n}", port), count, pid, sinks))
        with ms.null_sink() as (port, pid):
            found["null"].append(ms.outbox_rate(settings(root, f"null{n}", port), count, pid))
    return found


def figure(count: int, runs: int, root: Path, *, profile: bool = False) -> Figure:
    """The outbox figure: the median rate to the development sink beside the null sink's."""
    found = measure(count, runs, root)
    rates = {k: [count / r["seconds"] for r in v] for k, v in found.items()}
    dev, null = statistics.median(rates["dev"]), statistics.median(rates["null"])
    target = f"≥ {TARGET:.0f} mails/s and ≥ {SHARE:.0%} of the null sink"
    result = Figure("outbox delivery to the aiosmtpd dev sink", dev, "mails/s", null,
                    "null sink", target)  # fmt: skip
    result.ok = dev >= TARGET and dev >= SHARE * null
    for name, key in (("dev sink", "dev"), ("null sink", "null")):
        done = found[key]
        cpu = statistics.median(r["cpu"] for r in done) / count * 1e3
        sink_cpu = statistics.median(r["sink_cpu"] for r in done) / count * 1e3
        result.notes.append(
            f"{name}: " + ", ".join(f"{r:,.0f}" for r in rates[key]) + " mails/s; per mail: "
            f"spool and daemon CPU {cpu:.2f} ms, sink CPU {sink_cpu:.2f} ms"
        )
    counts = found["dev"][0]["counts"]
    result.notes.append(
        f"{count} login codes per run, one pass, one SMTP connection; {runs} run(s) per sink, "
        f"the median counts; counts {counts}"
    )
    if profile or not result.ok:
        with ms.null_sink() as (port, pid):
            again = settings(root, "profiled", port)
            result.notes.append("profile of a pass to the null sink:")
            result.notes += ms.profile(lambda: ms.outbox_rate(again, count, pid))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.outbox", description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="mails per run (2,000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per sink; the median counts")
    parser.add_argument("--profile", action="store_true", help="profile one null-sink pass")
    args = parser.parse_args(argv)
    for line in machine():
        print(line)
    with tempfile.TemporaryDirectory(prefix="apexdir-bench-outbox-") as tmp:
        for line in figure(args.count, args.runs, Path(tmp), profile=args.profile).lines():
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
