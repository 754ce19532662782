"""`python -m benchmarks.history [--events N] [--quick]`: what the structures' history in
the directory costs (issue 21 item 8).

The volume is a model of 100,000 accounts over 400 days (the retention): each account
does or undergoes about `EVENTS_PER_ACCOUNT_YEAR` catalogued actions a year (creation: 3
events once; a password change every 90 days; a reset, a grant or two, a data change…),
so 100,000 × 10 × 400 / 365 ≈ 1.1 M events. By default the run loads the busiest
structure's whole history (1,000 accounts: about 11,000 events) among `--events` events
of other structures spread over the same 400 days (slapadd), measures the size per event
and the pages, and extrapolates the size to the modelled volume; `--events 1100000`
loads it all (about 15 minutes of slapadd on 2 cores).

Figures: the writes one action adds (one LDAP add, replicated, plus its accesslog
record), the median latency of that add, the size of the history after 400 days, and the
time of the portal's page (first page, filtered by account, a page 200 days back, the
CSV's search) for the structure of 1,000 accounts — the target is 0.3 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apexdir.clock import to_generalized_time
from apexdir.directory.events import EventStore
from apexdir.directory.layout import Layout
from apexdir.models import Event
from apexdir.rules.history import Criteria, new_event_id
from benchmarks import measures as ms
from benchmarks.dataset import siret_number
from benchmarks.report import Figure, machine

ACCOUNTS = 100_000
EVENTS_PER_ACCOUNT_YEAR = 10
RETENTION_DAYS = 400
BIG = 1_000  # accounts of the busiest structure
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
# The mix of the model (weights): what a year of a structure's history is made of.
MIX = {
    "auth.password-change": 4,
    "grant": 2,
    "auth.password-reset": 1,
    "account.update": 1,
    "revoke": 0.5,
    "account.invite": 0.5,
    "account.validate": 0.5,
    "account.complete": 0.5,
}
MODELLED = ACCOUNTS * EVENTS_PER_ACCOUNT_YEAR * RETENTION_DAYS // 365


def ldif(layout: Layout, path: Path, big_siret: str, others: int, rng: random.Random) -> int:
    """The events of the big structure (its whole 400 days) and `others` of other
    structures, as LDIF; how many."""
    big_events = BIG * EVENTS_PER_ACCOUNT_YEAR * RETENTION_DAYS // 365
    actions, weights = list(MIX), list(MIX.values())
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for n in range(big_events + others):
            if n < big_events:
                siret, who = big_siret, f"big{rng.randrange(BIG):04d}-px"
            else:
                siret, who = siret_number(1 + rng.randrange(999)), f"p{rng.randrange(ACCOUNTS)}-px"
            service = f"s{rng.randrange(5)}"
            at = NOW - timedelta(seconds=rng.randrange(RETENTION_DAYS * 86_400))
            action = rng.choices(actions, weights)[0]
            event_id = new_event_id(at)
            out.write(
                f"dn: {layout.event_dn(event_id)}\nobjectClass: top\nobjectClass: apexEvent\n"
                f"cn: {event_id}\napexEventAt: {to_generalized_time(at)}\n"
                f"apexEventDay: {to_generalized_time(at)[:8]}\n"
                f"apexEventAction: {action}\napexEventActor: {who}\napexEventTarget: {who}\n"
                f"apexStructureRef: {layout.structure_dn(siret)}\n"
                f"apexServiceRef: {layout.service_dn(siret, service)}\n"
                'apexEventData: {"source": {"address": "192.0.2.10", "user_agent": '
                '"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/133.0"}}\n\n'
            )
            count += 1
    return count


def median(action: object, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.history")
    parser.add_argument("--events", type=int, default=200_000, help="events of other structures")
    parser.add_argument("--quick", action="store_true", help="fewer events and rounds")
    args = parser.parse_args(argv)
    others = 20_000 if args.quick else args.events
    rounds = 5 if args.quick else 21
    rng = random.Random(21)
    with tempfile.TemporaryDirectory(prefix="apexdir-history-") as tmp:
        root = Path(tmp)
        bench = ms.Bench(root, [])
        try:
            instance = bench.directory("history")
            layout = instance.layout
            big = siret_number(0)
            print(f"  … writing the events ({time.strftime('%H:%M:%S')})", file=sys.stderr)
            loaded = ldif(layout, root / "events.ldif", big, others, rng)
            data = instance.data_dir / "main" / "data.mdb"
            before = data.stat().st_blocks * 512  # allocated bytes: the file may be sparse
            load = ms.slapadd(instance, root / "events.ldif")
            size = data.stat().st_blocks * 512 - before
            rt = bench.runtime(instance, "history")
            store = EventStore(rt.directory, rt.layout)
            everything = Criteria()
            one = Criteria(account="big0007-px")
            oldest = NOW - timedelta(days=RETENTION_DAYS + 1)

            def page(c: Criteria = everything, **kw: str) -> object:
                return store.page(big, None, c, size=50, now=NOW, oldest=oldest, **kw)

            deep = new_event_id(NOW - timedelta(days=200))
            first = store.page(big, None, everything, size=50, now=NOW)
            assert len(first.events) == 50, len(first.events)
            timings = {
                "first page": median(page, rounds),
                "filtered by account": median(lambda: page(one), rounds),
                "page 200 days back": median(lambda: page(older_than=deep), rounds),
                "responsable (one service)": median(
                    lambda: store.page(big, "s1", everything, size=50, now=NOW, oldest=oldest),
                    rounds,
                ),
            }
            csv_seconds = median(
                lambda: store.all(big, None, everything, limit=50_000), 1 if args.quick else 3
            )
            adds = []
            for n in range(rounds * 5):
                at = NOW + timedelta(seconds=n)
                event = Event(id=new_event_id(at), at=at, action="grant", structure=big,
                              actor="bench-px", target="big0001-px", service="s1")  # fmt: skip
                start = time.perf_counter()
                store.add(event)
                adds.append(time.perf_counter() - start)
            rt.close()
        finally:
            bench.close()
    per_event = size / loaded
    figures = [
        Figure("history: writes added per action", 1, "LDAP add",
               notes=["+1 accesslog record on each provider; replicated to every provider"]),
        Figure("history: one event's add (median)", statistics.median(adds), "s"),
        Figure(f"history: main db after loading {loaded:,} events", size / 2**20, "MiB",
               notes=[f"{per_event:,.0f} bytes per event (entry, indexes), slapadd {load:.1f} s"]),
        Figure(f"history: size after 400 days at 100,000 accounts ({MODELLED:,} events)",
               per_event * MODELLED / 2**20, "MiB", notes=["extrapolated per event"]),
    ]  # fmt: skip
    for name, seconds in timings.items():
        ok = seconds <= 0.3
        figures.append(Figure(f"history page, 1,000 accounts: {name}", seconds, "s",
                              target="≤ 0.3 s", ok=ok, higher_is_better=False))  # fmt: skip
    figures.append(Figure("history CSV search, 1,000 accounts (all 400 days)", csv_seconds, "s",
                          higher_is_better=False))  # fmt: skip
    for figure in figures:
        for line in figure.lines():
            print(line)
    for line in machine():
        print(line)
    return 0 if all(f.ok is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
