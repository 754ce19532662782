"""`python -m benchmarks.load [--seconds N] [--quick]`: the portal under issue 18 item 5's load.

The environment of benchmarks/portal.py (`apexdir dev up` in a temporary folder, its own
gunicorn: 2 gthread workers of 8 threads, the anonymous rate limits raised so that they
never answer 429). Before, with 2 sync workers and the audio made on the request,
`GET /mot-de-passe-oublie` cost 224 ms of server time and 8 clients on it pushed `/connexion`
to a 1.6 s median; 4 connections sending their headers slowly froze the portal > 10 s.

Figures, each over about `--seconds`:
(a) GET /connexion, one client, nothing else running: the median;
(b) GET /connexion, one client, while 8 clients load GET /mot-de-passe-oublie, each within
    the default per-client limit (60 a minute: one a second), and 4 connections send a header
    line every half second: the median, target ≤ 50 ms, beside (a);
(b') the same with the 8 clients unpaced (as fast as the portal answers them): what the
    per-client limit protects against, no target;
(c) GET /mot-de-passe-oublie, one client, unloaded: the median (the image comes from the
    pool drawn ahead; one directory write for the challenge);
(d) the captcha's sound, fetched from its own address after each page: the median (spoken
    by espeak-ng and mixed by sox when fetched).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.measures import percentile
from benchmarks.portal import Browser, Environment, log
from benchmarks.report import Figure, print_figures, print_header

LOADERS = 8
SLOW = 4
ACCOUNTS = 10  # the pages measured are anonymous: a few accounts make the environment
AUDIO = re.compile(rb'<audio[^>]* src="([^"]+\.wav)"')


def timed(browser: Browser, path: str) -> float:
    start = time.perf_counter()
    status = browser.request("GET", path)
    elapsed = time.perf_counter() - start
    if status != 200:
        raise RuntimeError(f"GET {path}: {status}")
    return elapsed


def probe(port: int, path: str, seconds: float) -> list[float]:
    browser = Browser(port)
    try:
        timed(browser, path)  # warm: a thread, its runtime, its LDAP connection
        stop = time.perf_counter() + seconds
        times = []
        while time.perf_counter() < stop:
            times.append(timed(browser, path))
        return times
    finally:
        browser.close()


@contextlib.contextmanager
def loaded(port: int, pace: float) -> Iterator[list[int]]:
    """LOADERS clients on the reset page, each at most one page every `pace` seconds, and
    SLOW connections dribbling headers, for as long as the block runs; yields the count of
    pages served (filled in when it ends)."""
    stop = threading.Event()
    served = [0]
    lock = threading.Lock()

    def loader() -> None:
        browser = Browser(port)
        n = 0
        stop.wait(pace * secrets.randbelow(1000) / 1000)  # not all in step
        while not stop.is_set():
            start = time.perf_counter()
            browser.request("GET", "/mot-de-passe-oublie")
            n += 1
            stop.wait(max(0.0, pace - (time.perf_counter() - start)))
        browser.close()
        with lock:
            served[0] += n

    slow = []
    for _ in range(SLOW):
        client = socket.create_connection(("127.0.0.1", port), timeout=30)
        client.sendall(b"GET /connexion HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        slow.append(client)

    def dribble() -> None:
        n = 0
        while not stop.wait(0.5):
            for client in slow:
                with contextlib.suppress(OSError):
                    client.sendall(f"X-Lent-{n}: a\r\n".encode())
            n += 1

    with ThreadPoolExecutor(LOADERS + 1) as pool:
        futures = [pool.submit(loader) for _ in range(LOADERS)] + [pool.submit(dribble)]
        try:
            time.sleep(1.0)  # the load settles
            yield served
        finally:
            stop.set()
            for future in futures:
                future.result()
            for client in slow:
                client.close()


def audio_times(port: int, count: int) -> list[float]:
    """The page, then its sound from its own address, `count` times (the sound only timed)."""
    browser = Browser(port)
    times = []
    try:
        for _ in range(count):
            browser.connection.request("GET", "/mot-de-passe-oublie", headers=headers(browser))
            answer = browser.connection.getresponse()
            page = answer.read()
            keep_cookies(browser, answer)
            found = AUDIO.search(page)
            if not found:
                raise RuntimeError("no audio address on the reset page")
            times.append(timed(browser, found[1].decode()))
    finally:
        browser.close()
    return times


def headers(browser: Browser) -> dict[str, str]:
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    return {"Host": "127.0.0.1", **({"Cookie": cookie} if cookie else {})}


def keep_cookies(browser: Browser, answer: object) -> None:
    for value in answer.headers.get_all("Set-Cookie") or []:  # type: ignore[attr-defined]
        name, _, rest = value.partition("=")
        browser.cookies[name] = rest.split(";", 1)[0]


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1e3


def note(times: list[float]) -> str:
    return (
        f"{len(times):,} requests, p50 {median_ms(times):.1f} ms, "
        f"p90 {percentile(times, 90) * 1e3:.1f} ms, max {max(times) * 1e3:.1f} ms"
    )


def run(seconds: float) -> list[Figure]:
    root = Path(tempfile.mkdtemp(prefix="apexdir-bench-load-"))
    env = Environment(root, ACCOUNTS)
    figures: list[Figure] = []
    measure: Callable[[str], list[float]] = lambda path: probe(env.port, path, seconds)  # noqa: E731
    try:
        log(f"dev environment in {root}")
        env.up()
        probe(env.port, "/mot-de-passe-oublie", 1.0)  # warm: the pools of both workers

        log("/connexion, unloaded")
        quiet = measure("/connexion")
        fig = Figure("(a) GET /connexion, unloaded", median_ms(quiet), "ms")
        fig.notes.append(note(quiet))
        figures.append(fig)

        for label, pace in (("", 1.0), ("'", 0.0)):
            kind = "paced 1/s" if pace else "unpaced"
            log(f"/connexion, {LOADERS} clients ({kind}) on the reset page, {SLOW} slow ones")
            with loaded(env.port, pace) as served:
                busy = measure("/connexion")
            fig = Figure(
                f"(b{label}) GET /connexion, {LOADERS} {kind} + {SLOW} slow clients",
                median_ms(busy),
                "ms",
                median_ms(quiet),
                "(a)",
                "≤ 50 ms" if pace else "",
                higher_is_better=False,
            )
            fig.ok = median_ms(busy) <= 50.0 if pace else None
            fig.notes += [
                note(busy),
                f"meanwhile {served[0]:,} reset pages served ({served[0] / seconds:,.1f}/s)",
            ]
            figures.append(fig)
        figures[-2].notes.append(
            "before (issue 18): 1.6 s median with 8 clients, > 10 s frozen with 4 slow ones"
        )

        log("/mot-de-passe-oublie, unloaded")
        page = measure("/mot-de-passe-oublie")
        fig = Figure("(c) GET /mot-de-passe-oublie, unloaded", median_ms(page), "ms")
        fig.notes += [note(page), "before (issue 18): 224 ms, the audio made on the request"]
        figures.append(fig)

        log("the captcha's sound")
        sound = audio_times(env.port, 5 if seconds < 5 else 15)
        fig = Figure("(d) GET the captcha's sound (on demand)", median_ms(sound), "ms")
        fig.notes.append(note(sound))
        figures.append(fig)
    finally:
        log("dev down")
        env.down()
        shutil.rmtree(root, ignore_errors=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per figure (default 10)")
    parser.add_argument("--quick", action="store_true", help="3 s per figure")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print_header("portal under load")
    print_figures(run(3.0 if args.quick else args.seconds), started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
