"""The access line names the real client (issue 23, item 7): the peer's address, or behind a
trusted proxy the one it forwarded, with the proxy beside it; an X-Forwarded-For that no
trusted proxy wrote is ignored.

Real HTTP over real sockets: the portal is served by werkzeug in a thread, and each request
leaves from a loopback address of its own (127.0.0.2, 127.0.0.3…), as distinct clients and
proxies would.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from apexdir.logs import JsonFormatter, TextFormatter

Serve = Callable[[int], int]


@pytest.fixture
def serve(make_app: Callable[..., Flask]) -> Iterator[Serve]:
    """Serve a portal with `trusted_proxies` = n on a free port of 127.0.0.1; its port."""
    servers: list[Any] = []

    def start(trusted_proxies: int) -> int:
        server = make_server("127.0.0.1", 0, make_app(trusted_proxies=trusted_proxies))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return int(server.server_port)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def access_line(
    caplog: pytest.LogCaptureFixture, port: int, source: str, forwarded: str | None = None
) -> tuple[dict[str, Any], str]:
    """GET /sante/vivant from `source`; the request's access line, as JSON and as text."""
    caplog.clear()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                            source_address=(source, 0))  # fmt: skip
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    connection.request("GET", "/sante/vivant", headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 200
    (record,) = [r for r in caplog.records if r.name == "apexdir.access"]
    return json.loads(JsonFormatter().format(record)), TextFormatter().format(record)


def test_without_a_trusted_proxy_the_peer_is_the_client(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="apexdir.access")
    port = serve(0)
    line, text = access_line(caplog, port, "127.0.0.2")
    assert line["client"] == "127.0.0.2" and "proxy" not in line
    assert "client=127.0.0.2" in text
    # A client that writes the header itself: ignored, and never in the log.
    line, text = access_line(caplog, port, "127.0.0.3", forwarded="203.0.113.9")
    assert line["client"] == "127.0.0.3" and "proxy" not in line
    assert "203.0.113.9" not in text and "203.0.113.9" not in json.dumps(line)


def test_behind_a_trusted_proxy_the_forwarded_client_and_the_proxy(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="apexdir.access")
    port = serve(1)
    line, text = access_line(caplog, port, "127.0.0.4", forwarded="203.0.113.9")
    assert (line["client"], line["proxy"]) == ("203.0.113.9", "127.0.0.4")
    assert "client=203.0.113.9" in text and "proxy=127.0.0.4" in text
    # Another proxy address, another client: each line its own.
    line, _ = access_line(caplog, port, "127.0.0.5", forwarded="198.51.100.7")
    assert (line["client"], line["proxy"]) == ("198.51.100.7", "127.0.0.5")
    # A client's forged first hop: one trusted proxy means the last hop only.
    line, text = access_line(caplog, port, "127.0.0.4", forwarded="192.0.2.66, 203.0.113.9")
    assert (line["client"], line["proxy"]) == ("203.0.113.9", "127.0.0.4")
    assert "192.0.2.66" not in text
    # A request that did not come through the proxy (no header): the peer, no proxy.
    line, _ = access_line(caplog, port, "127.0.0.6")
    assert line["client"] == "127.0.0.6" and "proxy" not in line
