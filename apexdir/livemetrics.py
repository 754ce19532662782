"""Counters kept as events happen (issue 23, item 7), beside the figures `metrics.py` reads
when scraped: HTTP requests by route, and the outbox's deliveries by outcome.

They live in `LIVE`, a registry of this process. The portal's gunicorn workers are several
processes: `apexdir serve` sets PROMETHEUS_MULTIPROC_DIR before forking, so that every
worker writes its counts to files there and the master's `/metrics` sums them
(prometheus-client's multiprocess mode); the daemon is one process and serves `LIVE` itself.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

LIVE = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "apexdir_http_requests",
    "HTTP requests answered by the portal, by route (the URL rule: never a token), method "
    "and status.",
    ["route", "method", "status"],
    registry=LIVE,
)
HTTP_SECONDS = Histogram(
    "apexdir_http_request_duration_seconds",
    "Time the portal took to answer, by route and method.",
    ["route", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=LIVE,
)
DELIVERIES = Counter(
    "apexdir_outbox_deliveries",
    "Delivery attempts of the outbox by kind (mail, sms) and outcome: sent, retried "
    "(refused for now or server unreachable), failed (refused for good, or given up), "
    "expired (a code past its validity).",
    ["kind", "outcome"],
    registry=LIVE,
)
