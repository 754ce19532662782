"""`python -m benchmarks.oidc [--seconds N] [--quick]`: the OpenID Connect provider (issue 11).

In process, no HTTP: the portal's Flask application (`apexdir.portal.create_app`) driven
through Flask's test client, against a development environment of its own in a temporary
folder (benchmarks/portal.py's `Environment`: `apexdir dev up`, slapd with durable writes,
the sinks, `ACCOUNTS` accounts imported, the rate limits and the per-account cap of login
codes raised through the environment; its gunicorn is not started). One application BENCH
with a profile granted to every account, one confidential client (`app oidc-client`,
client_secret_basic), PKCE S256 on every authorization, as a careful relying party does.

Figures, each over about `--seconds` of timed work, one caller (the test client's thread):
(1) token endpoint, exchanges/s: batches of authorization codes are prepared first, untimed
    (an account with a live portal session: `/oidc/authorize` without `prompt` answers a
    code at once, single sign-on — that rate is given too), then only the POSTs to
    `/oidc/token` are timed (a batch is redeemed well within the codes' 60 s life);
(2) the whole login, logins/s: a new browser (no cookie) GETs `/oidc/authorize` → 302
    `/connexion`, GET + POST `/connexion` (identifier, password, CSRF token) → GET + POST
    `/connexion/code` → 302 back to `/oidc/authorize` → 302 to the client's redirect address
    with the code → POST `/oidc/token` → GET `/oidc/userinfo` with the access token.
    Rounds over the accounts as in benchmarks/portal.py (`rounds`): the password halves of a
    round are timed, then, untimed, the outbox delivers the mails to the SMTP sink and the
    codes are read from it, then the code halves are timed; a login's time is the sum of its
    two halves — the delivery and the lookup of the code are excluded;
(3) the library reference in the same run: `auth.login` + `auth.verify` in process, one
    caller (benchmarks/portal.py's `library_journeys`, as benchmarks/run.py's
    `apexdir login (library)` figure). No target is set by the issue: the ratio (2)/(3) is
    what the web layer and the protocol cost beside the library's own login.

The three measures take turns (a batch of 50 codes for (1), then one round of a group of 25
accounts for (2), then one for (3)) until each has `--seconds` of timed work: on a machine
shared with other work, a change of load weighs on all three alike and the ratio holds
better than with the measures one after the other.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from benchmarks.measures import percentile
from benchmarks.portal import Cpu, Environment, Rate, library_journeys, log, rounds
from benchmarks.report import Figure, print_figures, print_header

ACCOUNTS = 100
QUICK_ACCOUNTS = 40
APP = "BENCH"
PROFILE = "CONSULTATION"
CALLBACK = "http://127.0.0.1:8999/callback"
# Codes live 60 s (apexdir.oidc.provider.CODE_SECONDS): a batch is redeemed well within it.
BATCH = 50
# Accounts log in by groups, one round per turn (see `run`).
GROUP = 25
ONE_ROUND = 1e-9  # `rounds` goes on while its timed work is below this: one round
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class InProcess(Environment):
    """benchmarks/portal.py's environment without its gunicorn: the app runs here."""

    def start_portal(self) -> None:
        self.portal = None


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def csrf(response: Any) -> str:
    found = CSRF.search(response.get_data(as_text=True))
    return found[1] if found else ""


class Provider:
    """The Flask app, the registered client and the requests a relying party makes."""

    def __init__(self, env: Environment) -> None:
        from apexdir.portal import create_app

        self.env = env
        self.app = create_app(env.settings)
        env.cli("app", "add", APP, "--name", "Application de mesure")
        env.cli("app", "profile-add", APP, PROFILE)
        self.client = env.cli("app", "oidc-client", APP, "--redirect-uri", CALLBACK)
        pair = f"{self.client['client_id']}:{self.client['client_secret']}"
        self.basic = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        self.steps: dict[str, float] = {}

    def grant_all(self) -> None:
        """Every account of the journeys holds BENCH's profile (in process: one `grant`
        subprocess per account would take longer than the measures)."""
        from apexdir.runtime import Runtime
        from apexdir.workflows import rights
        from apexdir.workflows.actors import AGENT

        rt = Runtime(self.env.settings, operator="benchmark")
        try:
            for uid in self.env.passwords:
                rights.grant(rt, AGENT, uid, APP, PROFILE)
        finally:
            rt.close()
        self.env.codes()  # delivers (and forgets) the mails the grants queued

    def authorize_url(self, challenge: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self.client["client_id"],
            "redirect_uri": CALLBACK,
            "scope": "openid profile email",
            "state": secrets.token_urlsafe(12),
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return "/oidc/authorize?" + urlencode(params)

    def redeem(self, browser: Any, code: str, verifier: str) -> Any:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        }
        return browser.post("/oidc/token", data=form, headers=self.basic)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.steps[name] = self.steps.get(name, 0.0) + time.perf_counter() - start

    def close(self) -> None:
        self.app.extensions["apexdir"].close()


# ---------------------------------------------------------------------- (2) the whole login
def oidc_journeys(env: Environment, provider: Provider, cpu: Cpu, seconds: float) -> Rate:
    """Each login is a new browser; the code halves end with the tokens and the userinfo."""
    pending: dict[str, tuple[Any, str, str]] = {}  # uid → (browser, verifier, state)

    def password(caller: int, uid: str) -> bool:
        browser = provider.app.test_client()
        verifier, challenge = pkce()
        url = provider.authorize_url(challenge)
        with provider.step("authorize (no session) + GET/POST /connexion"):
            first = browser.get(url)
            if first.status_code != 302 or urlsplit(first.location).path != "/connexion":
                return False
            page = browser.get("/connexion")
            form = {
                "identifiant": uid,
                "mot_de_passe": env.passwords[uid],
                "csrf_token": csrf(page),
            }
            if browser.post("/connexion", data=form).status_code != 302:
                return False
        pending[uid] = (browser, verifier, query(url)["state"])
        return True

    def code(caller: int, uid: str, value: str) -> bool:
        browser, verifier, state = pending.pop(uid)
        with provider.step("GET/POST /connexion/code"):
            page = browser.get("/connexion/code")
            done = browser.post("/connexion/code", data={"code": value, "csrf_token": csrf(page)})
            if done.status_code != 302 or not done.location.startswith("/oidc/authorize?"):
                return False
        with provider.step("authorize (resumed) → redirect with the code"):
            back = browser.get(done.location)
            if back.status_code != 302 or not back.location.startswith(CALLBACK):
                return False
            got = query(back.location)
            if got.get("state") != state or "code" not in got:
                return False
        with provider.step("POST /oidc/token"):
            tokens = provider.redeem(browser, got["code"], verifier)
            if tokens.status_code != 200:
                return False
        with provider.step("GET /oidc/userinfo"):
            bearer = {"Authorization": f"Bearer {tokens.json['access_token']}"}
            info = browser.get("/oidc/userinfo", headers=bearer)
        return info.status_code == 200 and info.json.get("preferred_username") == uid

    rate, _ = rounds(env, cpu, seconds, 1, password, code)
    return rate


# ---------------------------------------------------------------------- (1) token endpoint
def logged_in(env: Environment, provider: Provider) -> tuple[Any, str]:
    """A browser whose portal session passed both steps (through an authorization)."""
    uid = next(iter(env.passwords))
    browser = provider.app.test_client()
    verifier, challenge = pkce()
    browser.get(provider.authorize_url(challenge))
    page = browser.get("/connexion")
    form = {"identifiant": uid, "mot_de_passe": env.passwords[uid], "csrf_token": csrf(page)}
    assert browser.post("/connexion", data=form).status_code == 302
    page = browser.get("/connexion/code")
    done = browser.post(
        "/connexion/code", data={"code": env.codes()[uid], "csrf_token": csrf(page)}
    )
    assert done.status_code == 302, done.get_data(as_text=True)[:500]
    back = browser.get(done.location)
    assert back.location.startswith(CALLBACK), back.location
    assert provider.redeem(browser, query(back.location)["code"], verifier).status_code == 200
    return browser, uid


def token_exchanges(provider: Provider, browser: Any, cpu: Cpu, batch: int) -> tuple[Rate, Rate]:
    """A batch of codes by single sign-on (untimed for (1), but timed on its own: the
    authorize rate with a session), then the token POSTs alone (timed)."""
    latencies: list[float] = []
    sso: list[float] = []
    failures = sso_failures = 0
    timed = 0.0
    used: dict[str, float] = {}
    sso_used: dict[str, float] = {}
    codes: list[tuple[str, str]] = []
    with cpu.measure(sso_used):
        for _ in range(batch):
            verifier, challenge = pkce()
            start = time.perf_counter()
            answer = browser.get(provider.authorize_url(challenge))
            sso.append(time.perf_counter() - start)
            got = query(answer.location) if answer.status_code == 302 else {}
            if "code" in got:
                codes.append((got["code"], verifier))
            else:
                sso_failures += 1
    with cpu.measure(used):
        for value, verifier in codes:
            start = time.perf_counter()
            answer = provider.redeem(browser, value, verifier)
            elapsed = time.perf_counter() - start
            latencies.append(elapsed)
            timed += elapsed
            if answer.status_code != 200 or "id_token" not in (answer.json or {}):
                failures += 1
    return (
        Rate(len(latencies) - failures, timed, latencies, failures, used),
        Rate(len(sso) - sso_failures, sum(sso), sso, sso_failures, sso_used),
    )


# ---------------------------------------------------------------------- the run
def merge(a: Rate, b: Rate) -> Rate:
    cpu = {k: a.cpu.get(k, 0.0) + b.cpu.get(k, 0.0) for k in a.cpu.keys() | b.cpu.keys()}
    return Rate(
        a.count + b.count,
        a.seconds + b.seconds,
        a.latencies + b.latencies,
        a.failures + b.failures,
        cpu,
    )


def cpu_note(
    cpu: dict[str, float], count: int, what: str, here: str = "Flask app + test client"
) -> str:
    return (
        f"CPU per {what}: this process ({here}) "
        f"{cpu.get('clients', 0.0) / count * 1e3:.2f} ms, slapd "
        f"{cpu.get('slapd', 0.0) / count * 1e3:.2f} ms ({os.cpu_count()} CPU(s) on the machine)"
    )


def latency_note(rate: Rate) -> str:
    if not rate.latencies:
        return f"{rate.count:,} in {rate.seconds:.1f} s, failures {rate.failures}"
    return (
        f"{rate.count:,} in {rate.seconds:.1f} s, p50 "
        f"{statistics.median(rate.latencies) * 1e3:.1f} ms, p99 "
        f"{percentile(rate.latencies, 99) * 1e3:.1f} ms, failures {rate.failures}"
    )


def run(seconds: float, accounts: int) -> list[Figure]:
    figures: list[Figure] = []
    root = Path(tempfile.mkdtemp(prefix="apexdir-bench-oidc-"))
    env = InProcess(root, accounts)
    provider: Provider | None = None
    try:
        log(f"dev environment in {root}, {accounts} accounts imported")
        env.up()
        cpu = Cpu([], env.slapd_pid)
        provider = Provider(env)
        provider.grant_all()

        browser, _ = logged_in(env, provider)
        # The three measures in turns, a group of accounts at a time, until each has its
        # seconds: the other work on a shared machine weighs on all three alike.
        uids = list(env.passwords)
        groups = [uids[i : i + GROUP] for i in range(0, len(uids), GROUP)]
        tokens = sso = journeys = library = Rate(0, 0.0, [], 0, {})
        library_password = 0.0
        turn = 0
        while min(tokens.seconds, journeys.seconds, library.seconds) < seconds:
            part = copy.copy(env)
            part.passwords = {uid: env.passwords[uid] for uid in groups[turn % len(groups)]}
            log(f"turn {turn + 1}: token endpoint, whole logins, library")
            if tokens.seconds < seconds:
                exchanges, issued = token_exchanges(provider, browser, cpu, BATCH)
                tokens, sso = merge(tokens, exchanges), merge(sso, issued)
            if journeys.seconds < seconds:
                journeys = merge(journeys, oidc_journeys(part, provider, cpu, ONE_ROUND))
            if library.seconds < seconds:
                more, password_part = library_journeys(part, cpu, ONE_ROUND, 1)
                library, library_password = merge(library, more), library_password + password_part
            turn += 1

        fig = Figure("(1) POST /oidc/token (code → tokens)", tokens.per_second, "exchanges/s")
        fig.notes += [
            "codes prepared beforehand by single sign-on (untimed); PKCE S256, "
            "client_secret_basic, RS256 ID token; " + latency_note(tokens),
            cpu_note(tokens.cpu, max(tokens.count, 1), "exchange"),
            f"the preparation itself, GET /oidc/authorize with a session (SSO, code issued): "
            f"{sso.per_second:,.1f}/s, p50 {statistics.median(sso.latencies) * 1e3:.1f} ms, "
            f"failures {sso.failures}",
            f"(1) is {tokens.per_second / library.per_second:.0%} of (3)'s library login rate"
            if library.per_second
            else "",
        ]
        figures.append(fig)
        fig = Figure(
            "(2) whole OIDC login (8 requests)",
            journeys.per_second,
            "logins/s",
            library.per_second,
            "(3)",
        )
        n = max(journeys.count + journeys.failures, 1)
        fig.notes += [
            "authorize → /connexion → password → code → authorize → redirect → token → "
            "userinfo; the mailed code's delivery and lookup excluded; " + latency_note(journeys),
            cpu_note(journeys.cpu, max(journeys.count, 1), "login"),
            "per login, by step (mean wall time):",
            *(f"  {t / n * 1e3:7.2f} ms  {name}" for name, t in provider.steps.items()),
        ]
        figures.append(fig)
        fig = Figure("(3) library auth.login + verify, 1 caller", library.per_second, "logins/s")
        fig.notes += [
            latency_note(library),
            f"auth.login alone: {library.count / library_password:,.1f}/s "
            "(benchmarks/run.py's `apexdir login (library)` figure)",
            cpu_note(library.cpu, max(library.count, 1), "login", "the library"),
        ]
        figures.append(fig)
    finally:
        if provider is not None:
            provider.close()
        log("dev down")
        env.down()
        shutil.rmtree(root, ignore_errors=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.oidc", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="timed work per figure (default 10)"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"2 s per figure, {QUICK_ACCOUNTS} accounts"
    )
    args = parser.parse_args(argv)
    seconds = 2.0 if args.quick else args.seconds
    accounts = QUICK_ACCOUNTS if args.quick else ACCOUNTS
    started = time.perf_counter()
    print_header(
        "OpenID Connect provider benchmark",
        "in process: Flask's test client on the portal's app, no HTTP, no gunicorn",
    )
    print_figures(run(seconds, accounts), started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
