"""Counters kept as events happen (issue 23, item 7), beside the figures `metrics.py` reads
when scraped: HTTP requests by route, and the outbox's deliveries and errors.

Each counter belongs to the registry of the one process that makes it move, so that a node
exports every series once (`metrics.registry`): `PORTAL` (HTTP requests) is served by
`apexdir serve`, `DAEMON` (deliveries, delivery errors) by `apexdir daemon run`.

The portal's gunicorn workers are several processes: `apexdir serve` sets
PROMETHEUS_MULTIPROC_DIR before forking, so that every worker writes its counts to files
there and the master's `/metrics` sums them (prometheus-client's multiprocess mode); the
daemon is one process and serves `DAEMON` itself.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

PORTAL = CollectorRegistry(auto_describe=True)
DAEMON = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "apexdir_http_requests",
    "HTTP requests answered by the portal, by route (the URL rule: never a token), method "
    "and status.",
    ["route", "method", "status"],
    registry=PORTAL,
)
HTTP_SECONDS = Histogram(
    "apexdir_http_request_duration_seconds",
    "Time the portal took to answer, by route and method.",
    ["route", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=PORTAL,
)
DELIVERIES = Counter(
    "apexdir_outbox_deliveries",
    "Delivery attempts of the outbox by kind (mail, sms) and outcome: sent, retried "
    "(refused for now or server unreachable), failed (refused for good, or given up), "
    "expired (a code past its validity).",
    ["kind", "outcome"],
    registry=DAEMON,
)
ERRORS = Counter(
    "apexdir_outbox_delivery_errors",
    "Failed delivery attempts by kind (mail: SMTP, sms: the gateway) and error: "
    "unreachable (no connection, a time-out, a gateway answering 5xx, 408 or 429), deferred "
    "(refused for now: SMTP 4xx), refused (refused for good: SMTP 5xx, another HTTP 4xx, a "
    "message that cannot be built).",
    ["kind", "error"],
    registry=DAEMON,
)
