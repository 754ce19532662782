"""`python -m benchmarks.run [--accounts N] [--quick] [--output FILE]`: apexdir's figures.

One run generates the data set of issue 6 (default: 1,000 structures × 5 services, 100,000
accounts, 20 profiles carrying 50,000 habilitations; `--accounts` scales it down), starts its
own durable slapd instances in a temporary folder and prints each figure beside its
reference, measured in the same run on the same machine, with the ratio and the target.
Where a target is missed, the lines under the figure say what bounds it (CPU accounting,
cProfile's top entries, `python -X importtime`). `--quick` cuts repetitions and sample
sizes, and leaves out the profiles of a missed import, offline generation or command
start-up, each a second run of the work (the smoke test uses it: at its size and under
load, those targets are mostly missed). A benchmark, never a test: absolute numbers vary
with the machine and its load; compare the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import measures as ms
from benchmarks.cli import figures as cli_figures
from benchmarks.dataset import Dataset, generate, siret_number
from benchmarks.report import Figure, machine


class Run:
    def __init__(self, accounts: int, quick: bool, root: Path) -> None:
        self.accounts = accounts
        self.quick = quick
        self.root = root
        self.bench = ms.Bench(root, [])
        self.figures: list[Figure] = []
        self.log = print
        # benchmarks/grants.py's figures: a full run has them, `--quick` only if asked.
        self.capacity_figures = not quick

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        for line in figure.lines():
            self.log(line)

    def step(self, text: str) -> None:
        self.log(f"  … {text} ({time.strftime('%H:%M:%S')})", file=sys.stderr)

    # ------------------------------------------------------------------ the run
    def main(self) -> list[Figure]:
        layout_source = self.bench.directory("imported")
        self.step(f"generating {self.accounts:,} accounts")
        data = generate(layout_source.layout, self.accounts)
        plain, aged = self.root / "dataset.ldif", self.root / "dataset-aged.ldif"
        data.write(str(plain))
        data.write(str(aged), aged=True)
        self.log(
            f"data set: {data.structures:,} structures, {data.services:,} services, "
            f"{data.accounts:,} accounts, {data.profiles} profiles, "
            f"{data.habilitations:,} habilitations = {data.entries:,} entries\n"
        )
        self.online(data, plain, layout_source)
        offline = self.offline(data, aged)
        self.expiry(offline)
        self.consultation(layout_source, data)
        self.binds(layout_source, data)
        self.outbox()
        if self.capacity_figures:
            self.capacity()
        self.cli(layout_source, data)
        return self.figures

    def online(self, data: Dataset, plain: Path, imported: Any) -> None:
        from apexdir.bulk.run import Options, import_file
        from apexdir.workflows.actors import AGENT

        self.step("ldapadd of the data set")
        target = self.bench.directory("ldapadd")
        seconds, client_cpu, slapd_cpu = ms.ldapadd(target, plain)
        ldapadd_rate = data.entries / seconds
        target.destroy()
        self.log(
            f"ldapadd: {seconds:.1f} s, client CPU {client_cpu / data.entries * 1e3:.2f} "
            f"ms/entry, slapd CPU {slapd_cpu / data.entries * 1e3:.2f} ms/entry"
        )
        self.step("apexdir import of the same LDIF")
        rt = self.bench.runtime(imported, "imported")
        pid = imported.pid() or 0
        cpu0, slapd0 = time.process_time(), ms.process_cpu(pid)
        seconds, report = ms.timed(lambda: import_file(rt, AGENT, plain, options=Options()))
        cpu, slapd_cpu = time.process_time() - cpu0, ms.process_cpu(pid) - slapd0
        rt.close()
        if report["failed"] or report["created"].get("accounts") != data.accounts:
            raise RuntimeError(f"import incomplete: {report['created']} {report['failed'][:3]}")
        figure = Figure(
            "import (ldap3 ASYNC, window 200)",
            data.entries / seconds,
            "entries/s",
            ldapadd_rate,
            "ldapadd",
            "≥ 90 % of ldapadd",
        )
        figure.ok = (figure.ratio or 0) >= 0.9
        per = 1e3 / data.entries
        figure.notes.append(
            f"whole command (read, validate, write, habilitations) {seconds:.1f} s;"
            f" apexdir CPU {cpu * per:.2f} ms/entry, slapd CPU "
            f"{slapd_cpu * per:.2f} ms/entry, wall {seconds * per:.2f} ms/entry"
        )
        if not figure.ok:
            figure.notes += self.why_import(cpu, slapd_cpu, seconds)
        self.add(figure)

    def why_import(self, cpu: float, slapd_cpu: float, seconds: float) -> list[str]:
        from apexdir.bulk.run import Options, import_file
        from apexdir.workflows.actors import AGENT

        bound = (
            "apexdir's CPU"
            if cpu > 0.8 * seconds
            else (
                "slapd's CPU"
                if slapd_cpu > 0.8 * seconds
                else "neither CPU: slapd's durable "
                "commit (one fsync per write) and the memberof fan-out"
            )
        )
        if self.quick:  # a fresh directory and a second import: more than the figure costs
            return [f"bound by {bound} (--quick: no profile)"]
        notes = [f"bound by {bound}; profile of a {min(self.accounts, 3000):,}-account import:"]
        small = self.bench.directory("import-profile")
        data = generate(small.layout, min(self.accounts, 3000))
        path = self.root / "profile.ldif"
        data.write(str(path))
        rt = self.bench.runtime(small, "import-profile")
        notes += ms.profile(lambda: import_file(rt, AGENT, path, options=Options()))
        rt.close()
        small.destroy()
        return notes

    def offline(self, data: Dataset, aged: Path) -> Any:
        """benchmarks/offline.py's figure (`python -m benchmarks.offline` measures it alone)."""
        from benchmarks import offline

        measured = offline.measure(self.bench, self.root, data, aged, step=self.step)
        if not measured.figure.ok:
            measured.figure.notes += self.why_offline()
        self.add(measured.figure)
        return measured.instance

    def why_offline(self) -> list[str]:
        """A profile of the generation alone, into an empty directory (as measured)."""
        from benchmarks import offline

        if self.quick:  # a fresh directory and a second generation: more than the figure
            return ["(--quick: no profile of the generation)"]
        return offline.why(self.bench, self.root, self.accounts)

    def expiry(self, instance: Any) -> None:
        from datetime import timedelta

        from apexdir.directory import expiry as scan
        from apexdir.rules import expiry as rules
        from apexdir.workflows import expiry

        rt = self.bench.runtime(instance, "offline")
        now, age, levels = rt.clock(), expiry.max_age(rt), expiry.levels(rt)
        daily = rules.scan_ranges(
            now, age, levels, rules.cursor_of(now - timedelta(days=1), age, levels)
        )
        whole = rules.scan_ranges(now, age, levels, None)
        runs = 1 if self.quick else 3
        seconds = ms.median_of(lambda: expiry.candidates(rt, daily), runs)
        found = len(expiry.candidates(rt, daily))
        ldap_filter = scan.scan_filter(daily)
        c_seconds, c_found = ms.ldapsearch(instance, rt.layout.people_dn, ldap_filter, scan.ATTRS)
        figure = Figure(
            f"expiry scan, daily pass, {self.accounts:,} accounts",
            seconds,
            "s",
            c_seconds,
            "ldapsearch",
            "≤ 1 s",
            seconds <= 1.0,
            higher_is_better=False,
        )
        figure.notes.append(
            f"the threshold crossings of a day ({found:,} accounts; ldapsearch found "
            f"{c_found:,}); the pass's own search, then the notices it owes"
        )
        first = ms.median_of(lambda: expiry.candidates(rt, whole), runs)
        window = len(expiry.candidates(rt, whole))
        c_first, _ = ms.ldapsearch(
            instance, rt.layout.people_dn, scan.scan_filter(whole), scan.ATTRS
        )
        figure.notes.append(
            f"a first pass (no cursor: the whole notice window, {window:,} accounts): "
            f"{first:.2f} s, ldapsearch {c_first:.2f} s — ldap3 parses what slapd returns "
            "in Python; slapd tests every account against the unindexed range either way"
        )
        if not figure.ok:
            figure.notes.append("profile of one daily scan:")
            figure.notes += ms.profile(lambda: expiry.candidates(rt, daily))
        self.add(figure)
        rt.close()

    @staticmethod
    def sync_read(rt: Any, ldap_filter: str, attrs: list[str]) -> int:
        from apexdir.directory.bulk import read_all

        found = read_all(
            rt.settings.ldap, rt.layout.people_dn, ldap_filter, attrs, scope="one", page_size=500
        )
        return sum(1 for _ in found)

    def consultation(self, instance: Any, data: Dataset) -> None:
        from apexdir.workflows.actors import AGENT
        from apexdir.workflows.structures import show_structure

        rt = self.bench.runtime(instance, "imported")
        from apexdir.directory import filters as f
        from apexdir.directory import mapping as m

        shown = show_structure(rt, AGENT, data.big_siret)  # warm: connection, caches
        size = len(shown.administrators) + sum(
            len(s.responsables) + len(s.collaborateurs) for s in shown.services
        )
        seconds = ms.median_of(
            lambda: show_structure(rt, AGENT, data.big_siret), 3 if self.quick else 7
        )
        figure = Figure(
            f"structure show ({size:,} accounts)",
            seconds,
            "s",
            None,  # the target is not a reference: no ratio against it (issue 20 item 8)
            "",
            "≤ 0.3 s",
            seconds <= 0.3,
            higher_is_better=False,
        )
        ref = f.and_(
            f.eq("objectClass", "apexAccount"),
            f.eq("apexStructureRef", rt.layout.structure_dn(data.big_siret)),
        )
        sync = ms.median_of(lambda: self.sync_read(rt, ref, m.LISTING_ATTRS), 3)
        c_seconds, _ = ms.ldapsearch(instance, rt.layout.people_dn, ref, m.LISTING_ATTRS)
        figure.notes.append(
            f"its main search (the accounts, the attributes a listing maps): through "
            f"apexdir.directory.bulk.read_all {sync * 1e3:.0f} ms, ldapsearch (C, one "
            f"process) {c_seconds * 1e3:.0f} ms; the structure and its services are two more"
        )
        if not figure.ok:
            figure.notes.append("profile of one consultation:")
            figure.notes += ms.profile(lambda: show_structure(rt, AGENT, data.big_siret))
        self.add(figure)
        rt.close()

    def binds(self, instance: Any, data: Dataset) -> None:
        from apexdir.directory import ppolicy
        from apexdir.workflows import auth

        count = 20 if self.quick else 1000
        uids = data.identifiers()
        slices = [uids[i * count : (i + 1) * count] for i in range(4)]
        layout, uri = instance.layout, instance.uri

        def pairs(chunk: list[str]) -> list[tuple[str, str]]:
            return [(layout.account_dn(u), data.passwords[data.password_of[u]]) for u in chunk]

        self.log(
            f"binds: {{PBKDF2-SHA512}} 10,000 iterations, {count} distinct accounts per "
            "client (first bind of each: lastbind writes authTimestamp, as in service)"
        )
        results: dict[str, tuple[float, list[float]]] = {}
        binary = ms.compile_rebind(self.root)
        if binary is not None:
            results["C libldap, one connection re-binding"] = ms.c_binds(
                binary, uri, pairs(slices[0])
            )
        rt = self.bench.runtime(instance, "imported")
        settings = rt.settings.ldap
        results["apexdir (ldap3, BindPool re-binding)"] = ms.library_binds(
            lambda dn, pw: ppolicy.authenticate(settings, dn, pw), pairs(slices[1])
        )
        few = slices[2][: max(5, count // 10)]
        results["ldapwhoami, one process per bind"] = ms.whoami_binds(uri, pairs(few))
        logins = [(u, data.passwords[data.password_of[u]]) for u in slices[3]]
        results["apexdir login (library: lookup, bind, code, mail)"] = ms.library_binds(
            lambda uid, pw: auth.login(rt, uid, pw), logins
        )
        rt.close()
        reference_key = next(iter(results))
        reference = len(pairs(slices[0])) / results[reference_key][0]
        for name, (seconds, latencies) in results.items():
            n = len(latencies)
            figure = Figure(
                f"binds: {name}", n / seconds, "binds/s", reference, reference_key.split(",")[0]
            )
            figure.notes.append(
                f"p50 {statistics.median(latencies) * 1e3:.2f} ms, p99 "
                f"{ms.percentile(latencies, 99) * 1e3:.2f} ms over {n} binds"
            )
            self.add(figure)
        bind = statistics.mean(results["apexdir (ldap3, BindPool re-binding)"][1])
        login = statistics.mean(results["apexdir login (library: lookup, bind, code, mail)"][1])
        self.log(
            f"    `apexdir login` adds {(login - bind) * 1e3:.2f} ms to the bind on average "
            "(account lookup, apexLoginCode write, mail queued, journal)"
        )
        self.log(
            "    ldapwhoami is bound by its process (exec, libraries, connection): it "
            "measures a shell script's cost, not the server's; the C client re-binding "
            "on one connection is the server's bind rate (PBKDF2 in slapd)"
        )

    def outbox(self) -> None:
        from benchmarks import outbox

        self.step("outbox delivery")
        count, runs = (50, 1) if self.quick else (2000, 3)
        self.add(outbox.figure(count, runs, self.root))

    def capacity(self) -> None:
        """benchmarks/grants.py's figures (`python -m benchmarks.grants` measures them alone,
        with the mails per vCPU): the OIDC grant and the login journey per vCPU, beside a
        bare {ARGON2} bind, over HTTP against a gunicorn portal of their own."""
        from benchmarks import grants

        self.step("capacity per vCPU: bare bind, login journey, OIDC grants")
        seconds, accounts = (4.0, 40) if self.quick else (10.0, grants.ACCOUNTS)
        for figure in grants.run(seconds, accounts, mails=0):
            self.add(figure)

    def cli(self, instance: Any, data: Dataset) -> None:
        # A typical structure (the second: ≈ 100 accounts), not the big one of `consultation`.
        config = self.bench.config_file(instance, "imported")
        uid, siret = data.identifiers()[0], siret_number(2)
        runs = 1 if self.quick else 7
        for figure in cli_figures(config, uid, siret, runs=runs, quick=self.quick):
            self.add(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--accounts", type=int, default=100_000, help="default 100,000")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and samples")
    parser.add_argument("--output", type=Path, default=None, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--capacity",
        action="store_true",
        help="with --quick: also the capacity figures (benchmarks/grants.py, ≈ 1 minute)",
    )
    args = parser.parse_args(argv)
    lines: list[str] = []

    def log(text: str = "", file: Any = None) -> None:
        print(text, file=file or sys.stdout, flush=True)
        if file is None:
            lines.append(text)

    root = Path(tempfile.mkdtemp(prefix="apexdir-bench-"))
    run = Run(args.accounts, args.quick, root)
    run.capacity_figures = run.capacity_figures or args.capacity
    run.log = log
    started = time.perf_counter()
    for line in machine():
        log(line)
    log()
    try:
        run.main()
    finally:
        run.bench.close()
        if not args.keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
    log(f"\ntotal {time.perf_counter() - started:.0f} s")
    if args.output:
        args.output.write_text("```\n" + "\n".join(lines) + "\n```\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
