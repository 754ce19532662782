"""The portal under a real gunicorn, as `apexdir serve` runs it: slow clients do not freeze
it (issue 18 item 5), static files are compressed and cached (issue 19 item 15)."""

from __future__ import annotations

import contextlib
import http.client
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ports import free_port

SLOW_CLIENTS = 4


@dataclass
class Portal:
    port: int
    log: Path

    def get(self, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        connection.close()
        return response


@pytest.fixture
def gunicorn(config_file: Path, tmp_path: Path) -> Iterator[Portal]:
    """`python -m apexdir.portal.server` with ONE worker: whatever a slow client holds, it
    holds of the whole portal."""
    key = tmp_path / "portal.key"
    key.write_text("k" * 48, encoding="utf-8")
    key.chmod(0o600)
    port = free_port()
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write(
            f'\n[portal]\nbase_url = "http://127.0.0.1:{port}"\nsecret_key_file = "{key}"\n'
        )
    log = tmp_path / "gunicorn.log"
    server = [sys.executable, "-m", "apexdir.portal.server", "--config", str(config_file)]
    process = subprocess.Popen(
        [*server, "--bind", f"127.0.0.1:{port}", "--workers", "1", "--errorlog", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    portal = Portal(port, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            with contextlib.suppress(OSError):
                if portal.get("/connexion").status == 200:
                    break
            assert time.monotonic() < deadline, "the portal did not start"
            time.sleep(0.1)
        yield portal
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_slow_clients_do_not_freeze_the_portal(gunicorn: Portal) -> None:
    """4 connections sending their headers a line every half second: /connexion still
    answers, each time within a second."""
    stop = threading.Event()
    sockets = []
    for _ in range(SLOW_CLIENTS):
        client = socket.create_connection(("127.0.0.1", gunicorn.port), timeout=10)
        client.sendall(b"GET /connexion HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(client)

    def dribble() -> None:
        n = 0
        while not stop.wait(0.5):
            for client in sockets:
                with contextlib.suppress(OSError):
                    client.sendall(f"X-Lent-{n}: a\r\n".encode())
            n += 1

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)  # the slow requests are in the worker, headers half read
        times = []
        for _ in range(5):
            start = time.perf_counter()
            assert gunicorn.get("/connexion").status == 200
            times.append(time.perf_counter() - start)
        assert max(times) < 1.0, times
    finally:
        stop.set()
        thread.join()
        for client in sockets:
            client.close()


def test_static_files_compressed_and_cached(gunicorn: Portal) -> None:
    """The pages link the DSFR under hashed names, served gzip or brotli, immutable; the
    fonts and icons the CSS names keep their names, cached a day; SRI still holds."""
    import base64
    import hashlib
    import re

    connection = http.client.HTTPConnection("127.0.0.1", gunicorn.port, timeout=10)
    connection.request("GET", "/connexion")
    html = connection.getresponse().read().decode()
    found = re.search(
        r'href="(/static/dsfr/dsfr\.min\.[0-9a-f]{12}\.css)" integrity="([^"]+)"', html
    )
    assert found, "the stylesheet is not linked under a hashed name"
    css, integrity = found[1], found[2]
    for encoding in ("gzip", "br"):
        answer = gunicorn.get(css, {"Accept-Encoding": encoding})
        assert answer.status == 200
        assert answer.headers["Content-Encoding"] == encoding
        assert "immutable" in answer.headers["Cache-Control"]
        assert int(re.search(r"max-age=(\d+)", answer.headers["Cache-Control"])[1]) >= 86400
    connection.request("GET", css)  # no Accept-Encoding: the file as it is
    plain = connection.getresponse()
    body = plain.read()
    assert "Content-Encoding" not in plain.headers
    algorithm, _, expected = integrity.partition("-")
    assert base64.b64encode(hashlib.new(algorithm, body).digest()).decode() == expected
    font = re.search(r"url\((?:\.\./)?fonts/([^)?#]+\.woff2)", body.decode())
    assert font, "no font named by the CSS"
    if font:  # a font named by the CSS, under its own name
        answer = gunicorn.get(f"/static/dsfr/fonts/{font[1]}")
        assert answer.status == 200
        assert int(re.search(r"max-age=(\d+)", answer.headers["Cache-Control"])[1]) >= 86400
    connection.close()
