"""`python -m benchmarks.state_store`: what the node's state store costs as it grows.

Issue 23, item 4: at 1 M rate-limit events and 5 M journal rows, every anonymous POST ran
a full-scan DELETE of expired rate events (61 ms under the write lock), every metrics
scrape counted the whole journal (1.5 s), and the nightly VACUUM blocked writers 5.5 s.
Each figure is measured on a store filled to those sizes, beside the same operation on an
empty store (the reference: what it should stay close to).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apexdir.state import ratelimit
from apexdir.state.db import iso, open_store

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ACTIONS = ["auth.login", "auth.verified", "auth.code-refused", "precreation.invite", "rights.grant"]


def fill(path: Path, rate_events: int, journal_rows: int) -> None:
    db = open_store(path)
    old, fresh = iso(NOW - timedelta(days=2)), iso(NOW - timedelta(minutes=5))
    with db.conn:
        db.conn.executemany(
            "INSERT INTO rate_events (bucket, at) VALUES (?, ?)",
            ((f"b{i % 50_000:05d}", old if i % 2 else fresh) for i in range(rate_events)),
        )
        db.conn.executemany(
            "INSERT INTO journal (at, operator, actor, action, target, details)"
            " VALUES (?, 'bench', NULL, ?, 'x', NULL)",
            ((iso(NOW - timedelta(seconds=i)), ACTIONS[i % len(ACTIONS)])
             for i in range(journal_rows)),
        )  # fmt: skip
    db.close()


def median_ms(action: object, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def figures(path: Path, rounds: int) -> dict[str, float]:
    from apexdir.state.vacuum import free_pages

    db = open_store(path)
    limit = [ratelimit.Limit("portal:client:192.0.2.1", 10**9, timedelta(minutes=1))]
    out = {
        "anonymous POST's rate-limit check": median_ms(
            lambda: ratelimit.allow(db, limit, NOW), rounds
        ),
        "metrics: events by action": median_ms(
            lambda: db.execute("SELECT action, count FROM journal_counts").fetchall(), rounds
        ),
        "metrics: counting the journal (before)": median_ms(
            lambda: db.execute("SELECT action, COUNT(*) FROM journal GROUP BY action").fetchall(),
            max(1, rounds // 20),
        ),
    }
    # Housekeeping frees what trimming left: the longest a writer waited meanwhile.
    db.execute("DELETE FROM journal WHERE id % 2 = 0")
    waits: list[float] = []
    done = threading.Event()

    def writer() -> None:
        other = open_store(path)
        while not done.is_set():
            start = time.perf_counter()
            ratelimit.allow(other, limit, NOW)
            waits.append((time.perf_counter() - start) * 1000)
            time.sleep(0.005)
        other.close()

    thread = threading.Thread(target=writer)
    thread.start()
    start = time.perf_counter()
    free_pages(db)
    out["housekeeping: free pages (total)"] = (time.perf_counter() - start) * 1000
    done.set()
    thread.join()
    out["housekeeping: longest writer wait"] = max(waits) if waits else 0.0
    db.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate-events", type=int, default=1_000_000)
    parser.add_argument("--journal-rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="apexdir-state-") as folder:
        empty, full = Path(folder) / "empty.db", Path(folder) / "full.db"
        fill(empty, 0, 0)
        started = time.perf_counter()
        fill(full, args.rate_events, args.journal_rows)
        filled = time.perf_counter() - started
        reference = figures(empty, args.rounds)
        loaded = figures(full, args.rounds)
        size = full.stat().st_size / 2**20
    print(f"State store at {args.rate_events:,} rate events and {args.journal_rows:,} journal "
          f"rows (filled in {filled:.0f} s, {size:.0f} MiB after housekeeping)")  # fmt: skip
    print(f"{'figure':<42} {'empty':>10} {'full':>10}")
    for name, value in loaded.items():
        print(f"{name:<42} {reference[name]:>8.2f} ms {value:>8.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
