"""Each request counted and timed by route, and one access line with its request id and
duration (issue 23, item 7). The route is the URL rule (`/creation/<token>`), never the
path, which may carry a mailed link's token.

The line names the client by the address the portal resolved (`client`, the one its rate
limits count): the peer's, or — only with `[portal] trusted_proxies` — the one the trusted
proxy put in X-Forwarded-For, the proxy itself then in `proxy`. Without a trusted proxy the
header is ignored: a client cannot write another address into the log."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

log = logging.getLogger("apexdir.access")


def register(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_done)


def _start() -> None:
    g.started = time.perf_counter()


def _done(response: Response) -> Response:
    from apexdir.livemetrics import HTTP_REQUESTS, HTTP_SECONDS

    started = g.get("started")
    if started is None:  # answered before the first hook ran (e.g. a failed one)
        return response
    seconds = time.perf_counter() - started
    rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
    HTTP_REQUESTS.labels(rule, request.method, str(response.status_code)).inc()
    HTTP_SECONDS.labels(rule, request.method).observe(seconds)
    client, proxy = _addresses()
    # With the request id (the proxy's, when it gave one): the line joins the proxy's own.
    log.info("%s %s %s %.1f ms %s", request.method, rule, response.status_code,
             seconds * 1e3, client,
             extra={"request_id": g.get("request_id"), "route": rule,
                    "status": response.status_code, "client": client, "proxy": proxy,
                    "duration_ms": round(seconds * 1e3, 1)})  # fmt: skip
    return response


def _addresses() -> tuple[str, str | None]:
    """The client's address as resolved, and the trusted proxy's when the client's came
    from its X-Forwarded-For (ProxyFix keeps the peer's in `werkzeug.proxy_fix.orig`)."""
    from apexdir.portal.security import client_address

    client = client_address()
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    peer = original.get("REMOTE_ADDR")
    return client, (peer if peer and peer != client else None)
