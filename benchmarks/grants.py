"""`python -m benchmarks.grants [--seconds N] [--quick]`: capacity per vCPU (issue 23 items 5, 6).

Over HTTP, against the portal under its own gunicorn (benchmarks/portal.py's `Environment`:
`apexdir dev up` in a temporary folder, slapd with durable writes, 2 gthread workers of 8
threads, the anonymous limits raised so that they never answer 429), accounts imported with
`{ARGON2}` hashes as production stores them (argon2id, m=19 MiB, t=2: slapd verifies them
at each bind). `CLIENTS` clients are threads of this process, each a browser over one
kept-alive connection.

Per vCPU: the load generator runs on the same 2 vCPUs, and the machine is shared, so a rate
per wall second says little. Each figure is also divided by the CPU seconds the server side
spent on it — the gunicorn workers and slapd, read from /proc — which is what a sizing needs:
« N per second per vCPU » = count / (workers' CPU s + slapd's CPU s). The load generator's own
CPU is excluded (it is not part of a node).

Figures, measured in turns (a slice of each until each has `--seconds`), so that the other
work on the machine weighs on all alike:
(a) bare bind: benchmarks/rebind.c (C libldap), `CLIENTS` processes, each one connection
    re-binding as the journey accounts in turn: slapd's argon2 is the whole cost;
(b) the login journey (benchmarks/portal.py's `http_journeys`: GET + POST /connexion, GET +
    POST /connexion/code; the mail's delivery and the code's lookup excluded);
(c) the token endpoint alone: codes made beforehand by authorize (single sign-on, neither
    timed nor counted), then only POST /oidc/token (authorization-code exchange,
    client_secret_basic, PKCE S256: an ID token and an access token each) — the figure to
    set beside Keycloak's sizing of 120 per vCPU per second, which is for one token request
    (client credentials: no user, no code); this provider offers the code grant only
    (PORTAL.md), so the code exchange is its token request. Target ≥ 120;
(d) OIDC grants: a browser with a live portal session, GET /oidc/authorize (PKCE S256) → 302
    with the code → POST /oidc/token (client_secret_basic) → GET /oidc/userinfo with the
    access token: the whole authorization-code grant a relying party makes, single sign-on
    (its back channel on a connection of its own, without the browser's cookies);
(e) mails: benchmarks/outbox.py's measure (login codes from the spool to the dev SMTP sink,
    one pass), per vCPU of the daemon.

2 workers: what the portal runs by default on this 2-core machine (one per core, at least 2).
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import measures as ms
from benchmarks.oidc import APP, CALLBACK, PROFILE, pkce, query
from benchmarks.portal import CLIENTS, WORKERS, Browser, Cpu, Environment, Rate, log
from benchmarks.portal import http_journeys as journeys
from benchmarks.report import Figure, print_figures, print_header

ACCOUNTS = 200
TARGET = 120.0  # grants per vCPU per second (Keycloak's sizing)
SLICE = 2.0  # seconds of each measure per turn
BATCH = 25  # codes each relying party makes before its token requests are timed
ONE_ROUND = 1e-9  # `rounds` goes on while its timed work is below this: one round


def argon2_environment(root: Path, accounts: int) -> Environment:
    from apexdir.directory.hashing import password_hash

    env = Environment(root, accounts)
    env.hasher = password_hash
    return env


# ---------------------------------------------------------------------- the client
class Relying:
    """A browser logged in to the portal, and the relying party's back channel."""

    def __init__(self, env: Environment, client: dict[str, Any]) -> None:
        self.browser = Browser(env.port)
        self.back = Browser(env.port)  # the relying party's own connection
        self.client = client
        pair = f"{client['client_id']}:{client['client_secret']}"
        self.basic = "Basic " + base64.b64encode(pair.encode()).decode()

    def send(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """The browser's request, with its cookies; the relying party's back channel
        (`headers` given: token and userinfo) sends none, as a real one."""
        sent = {"Host": "127.0.0.1", **(headers or {})}
        if self.browser.cookies and headers is None:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.browser.cookies.items())
        answer = (self.back if headers else self.browser).exchange(method, path, body, sent)
        data = answer.read()
        cookies = answer.headers.get_all("Set-Cookie") if headers is None else None
        for value in cookies or []:
            name, _, rest = value.partition("=")
            self.browser.cookies[name] = rest.split(";", 1)[0]
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, data

    def authorize(self) -> tuple[str, str] | None:
        """GET /oidc/authorize with the browser's live session: (code, PKCE verifier)."""
        verifier, challenge = pkce()
        params = {
            "response_type": "code",
            "client_id": self.client["client_id"],
            "redirect_uri": CALLBACK,
            "scope": "openid profile email",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        status, headers, _ = self.send("GET", "/oidc/authorize?" + urllib.parse.urlencode(params))
        code = query(headers.get("location", "")).get("code") if status == 302 else None
        return (code, verifier) if code else None

    def redeem(self, code: str, verifier: str) -> str | None:
        """POST /oidc/token on the back channel: the access token, or None."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        }
        status, _, body = self.send(
            "POST",
            "/oidc/token",
            urllib.parse.urlencode(form),
            {"Authorization": self.basic, "Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 200:
            return None
        answer = json.loads(body)
        return str(answer["access_token"]) if "id_token" in answer else None

    def userinfo(self, access_token: str) -> bool:
        bearer = {"Authorization": "Bearer " + access_token}
        status, _, body = self.send("GET", "/oidc/userinfo", None, bearer)
        return status == 200 and b'"sub"' in body

    def grant(self) -> bool:
        """authorize (session) → code → token → userinfo; True when userinfo answers."""
        got = self.authorize()
        access_token = self.redeem(*got) if got else None
        return access_token is not None and self.userinfo(access_token)


def logged_in(env: Environment, client: dict[str, Any], uids: list[str]) -> list[Relying]:
    """One relying party's browser per uid, each through the portal's two login steps."""
    parties = {uid: Relying(env, client) for uid in uids}
    for uid, party in parties.items():
        party.browser.request("GET", "/connexion")
        form = {"identifiant": uid, "mot_de_passe": env.passwords[uid]}
        if party.browser.request("POST", "/connexion", form) != 302:
            raise RuntimeError(f"login of {uid} refused")
    codes = env.codes()
    for uid, party in parties.items():
        party.browser.request("GET", "/connexion/code")
        if party.browser.request("POST", "/connexion/code", {"code": codes[uid]}) != 302:
            raise RuntimeError(f"code of {uid} refused")
    return list(parties.values())


# ---------------------------------------------------------------------- the measures
def grants(parties: list[Relying], cpu: Cpu, seconds: float) -> Rate:
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(party: Relying) -> None:
        nonlocal failures
        mine, bad = [], 0
        while time.perf_counter() < stop:
            start = time.perf_counter()
            if not party.grant():
                bad += 1
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)
            failures += bad

    used: dict[str, float] = {}
    with cpu.measure(used), ThreadPoolExecutor(len(parties)) as pool:
        start = time.perf_counter()
        for future in [pool.submit(client, p) for p in parties]:
            future.result()
        elapsed = time.perf_counter() - start
    return Rate(len(latencies) - failures, elapsed, latencies, failures, used)


def exchanges(parties: list[Relying], cpu: Cpu, seconds: float) -> Rate:
    """The token endpoint alone: each party's batch of `BATCH` codes is made by authorize
    (single sign-on), neither timed nor counted; then only the POSTs to /oidc/token are,
    every party redeeming its batch at once — batch after batch until `seconds` of timed
    work (a batch is redeemed well within the codes' 60 s)."""
    found = Rate(0, 0.0, [], 0, {})
    while found.seconds < seconds:
        with ThreadPoolExecutor(len(parties)) as pool:
            made = list(pool.map(lambda p: [p.authorize() for _ in range(BATCH)], parties))
        found = merge(found, redeemed(parties, made, cpu))
    return found


def redeemed(parties: list[Relying], made: list[list[tuple[str, str] | None]], cpu: Cpu) -> Rate:
    """Each party redeems its codes (timed, CPU counted); a code authorize refused fails."""
    latencies: list[float] = []
    refused = sum(got is None for batch in made for got in batch)
    failures = 0
    lock = threading.Lock()

    def client(party: Relying, batch: list[tuple[str, str] | None]) -> None:
        nonlocal failures
        mine, bad = [], 0
        for got in batch:
            if got is None:
                continue
            start = time.perf_counter()
            if party.redeem(*got) is None:
                bad += 1
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)
            failures += bad

    used: dict[str, float] = {}
    with cpu.measure(used), ThreadPoolExecutor(len(parties)) as pool:
        start = time.perf_counter()
        for future in [pool.submit(client, p, b) for p, b in zip(parties, made, strict=True)]:
            future.result()
        elapsed = time.perf_counter() - start
    return Rate(len(latencies) - failures, elapsed, latencies, failures + refused, used)


def binds(binary: Path, uri: str, pairs: list[tuple[str, str]], cpu: Cpu, seconds: float) -> Rate:
    """CLIENTS C clients, each one connection re-binding over `pairs`, until `seconds`."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(n: int) -> None:
        mine: list[float] = []
        turn = pairs[n::CLIENTS] + pairs[:n:CLIENTS]
        while time.perf_counter() < stop:
            mine += ms.c_binds(binary, uri, turn)[1]
        with lock:
            latencies.extend(mine)

    used: dict[str, float] = {}
    with cpu.measure(used), ThreadPoolExecutor(CLIENTS) as pool:
        start = time.perf_counter()
        for future in [pool.submit(client, n) for n in range(CLIENTS)]:
            future.result()
        elapsed = time.perf_counter() - start
    return Rate(len(latencies), elapsed, latencies, 0, used)


def merge(a: Rate, b: Rate) -> Rate:
    cpu = {k: a.cpu.get(k, 0.0) + b.cpu.get(k, 0.0) for k in a.cpu.keys() | b.cpu.keys()}
    return Rate(
        a.count + b.count, a.seconds + b.seconds, a.latencies + b.latencies,
        a.failures + b.failures, cpu,
    )  # fmt: skip


def server_cpu(rate: Rate) -> float:
    return rate.cpu.get("portal", 0.0) + rate.cpu.get("slapd", 0.0)


def per_vcpu(rate: Rate) -> float:
    spent = server_cpu(rate)
    return rate.count / spent if spent > 0 else 0.0


def cpu_lines(rate: Rate, what: str) -> list[str]:
    n = max(rate.count, 1)
    portal, slapd = rate.cpu.get("portal", 0.0), rate.cpu.get("slapd", 0.0)
    return [
        f"{rate.per_second:,.1f}/s of wall time; " + rate.latency_note(),
        f"server CPU per {what}: workers {portal / n * 1e3:.2f} ms + slapd "
        f"{slapd / n * 1e3:.2f} ms = {(portal + slapd) / n * 1e3:.2f} ms (load generator "
        f"{rate.cpu.get('clients', 0.0) / n * 1e3:.2f} ms, excluded); "
        f"{server_cpu(rate) / max(rate.seconds, 1e-9):.2f} vCPU busy on the server side",
    ]


# ---------------------------------------------------------------------- the run
def prepare(env: Environment) -> dict[str, Any]:
    """Application BENCH, its client, its profile granted to the journey accounts."""
    from apexdir.runtime import Runtime
    from apexdir.workflows import rights
    from apexdir.workflows.actors import AGENT

    env.cli("app", "add", APP, "--name", "Application de mesure")
    env.cli("app", "profile-add", APP, PROFILE)
    client = env.cli("app", "oidc-client", APP, "--redirect-uri", CALLBACK)
    rt = Runtime(env.settings, operator="benchmark")
    try:
        for uid in env.passwords:
            rights.grant(rt, AGENT, uid, APP, PROFILE)
    finally:
        rt.close()
    env.codes()  # delivers (and forgets) the mails the grants queued
    return dict(client)


def measure(env: Environment, root: Path, seconds: float) -> dict[str, Rate]:
    from apexdir.directory.layout import Layout

    cpu = Cpu(env.workers(), env.slapd_pid)
    client = prepare(env)
    binary = ms.compile_rebind(root)
    if binary is None:
        raise RuntimeError("no C compiler or libldap: the bare bind cannot be measured")
    layout = Layout(env.settings.ldap.base_dn)
    uri = env.settings.ldap.uris[0]
    pairs = [(layout.account_dn(u), pw) for u, pw in env.passwords.items()]
    parties = logged_in(env, client, list(env.passwords)[:CLIENTS])
    grants(parties, cpu, 1.0)  # warm: both workers' templates, keys, connections
    empty = Rate(0, 0.0, [], 0, {})
    found = {"bind": empty, "login": empty, "grant": empty, "token": empty}
    turn = 0
    while min(r.seconds for r in found.values()) < seconds:
        turn += 1
        log(f"turn {turn}: bare binds, login journeys, grants, token exchanges")
        if found["bind"].seconds < seconds:
            found["bind"] = merge(found["bind"], binds(binary, uri, pairs, cpu, SLICE))
        if found["login"].seconds < seconds:
            found["login"] = merge(found["login"], journeys(env, cpu, ONE_ROUND)[0])
        if found["grant"].seconds < seconds:
            found["grant"] = merge(found["grant"], grants(parties, cpu, SLICE))
        if found["token"].seconds < seconds:
            found["token"] = merge(found["token"], exchanges(parties, cpu, SLICE))
    for party in parties:
        party.browser.close()
        party.back.close()
    return found


def figures(found: dict[str, Rate], mails: Figure | None) -> list[Figure]:
    bind, login, grant, token = found["bind"], found["login"], found["grant"], found["token"]
    out = []
    fig = Figure("(a) bare bind {ARGON2}, C libldap", per_vcpu(bind), "binds/s/vCPU")
    fig.notes += [f"{CLIENTS} connections re-binding; per vCPU = binds / slapd CPU s"]
    fig.notes += cpu_lines(bind, "bind")
    out.append(fig)
    fig = Figure(
        "(b) login journey over HTTP", per_vcpu(login), "logins/s/vCPU", per_vcpu(bind), "(a)"
    )
    fig.notes += [f"{CLIENTS} clients, {WORKERS} gunicorn gthread workers; password + code"]
    fig.notes += cpu_lines(login, "login")
    out.append(fig)
    value = per_vcpu(token)
    fig = Figure(
        "(c) OIDC token endpoint: code exchange",
        value,
        "tokens/s/vCPU",
        per_vcpu(bind),
        "(a)",
        f"≥ {TARGET:.0f}/s/vCPU",
        value >= TARGET,
    )
    fig.notes += [
        f"{CLIENTS} relying parties, batches of {BATCH} codes made by authorize beforehand "
        "(not counted); POST /oidc/token alone, client_secret_basic, PKCE S256; an ID token "
        "(RS256) and an access token (ES256) each"
    ]
    fig.notes += cpu_lines(token, "exchange")
    fig.notes.append(
        "Keycloak's 120/s/vCPU is for one token request (client credentials: no user, no "
        "code); this is ours — the provider offers the code grant only (PORTAL.md)"
    )
    out.append(fig)
    whole = per_vcpu(grant)
    fig = Figure(
        "(d) OIDC grant: authorize→token→userinfo",
        whole,
        "grants/s/vCPU",
        per_vcpu(login),
        "(b)",
    )
    fig.notes += [f"{CLIENTS} relying parties with a live session (SSO), PKCE S256, basic auth"]
    fig.notes += cpu_lines(grant, "grant")
    if per_vcpu(bind):
        fig.notes.append(f"(d) is {whole / per_vcpu(bind):.1f}× the bare bind's rate per vCPU")
    fig.notes.append(
        f"3 HTTP requests a grant: {3 * whole:,.0f} requests/s/vCPU; its token request is (c)"
    )
    out.append(fig)
    if mails is not None:
        out.append(mails)
    return out


def mail_figure(count: int, root: Path) -> Figure:
    """benchmarks/outbox.py's measure (login codes from the spool to the dev SMTP sink, one
    pass), per vCPU of the daemon: the SMTP server's CPU is the relay's, not the node's."""
    from benchmarks import outbox

    log("outbox delivery")
    try:
        done = outbox.measure(count, 1, root)["dev"][0]
    except RuntimeError:
        # The dev sink commits by batches; on a loaded machine its count may lag once.
        log("outbox delivery, again (the sink's count lagged)")
        (root / "again").mkdir(exist_ok=True)
        done = outbox.measure(count, 1, root / "again")["dev"][0]
    fig = Figure("(e) mails: outbox → SMTP (dev sink)", count / done["cpu"], "mails/s/vCPU")
    daemon, sink = done["cpu"] / count * 1e3, done["sink_cpu"] / count * 1e3
    fig.notes += [
        f"{count / done['seconds']:,.0f} mails/s of wall time, one SMTP connection; daemon CPU "
        f"{daemon:.2f} ms a mail, the sink's {sink:.2f} ms; counts {done['counts']}"
    ]
    return fig


def run(seconds: float, accounts: int, mails: int) -> list[Figure]:
    """The figures; `mails` login codes for the outbox's (none: no mail figure)."""
    root = Path(tempfile.mkdtemp(prefix="apexdir-bench-grants-"))
    env = argon2_environment(root, accounts)
    try:
        log(f"dev environment in {root}, {accounts} accounts ({{ARGON2}}) imported")
        env.up()
        found = measure(env, root, seconds)
        mailed = mail_figure(mails, root) if mails else None
    finally:
        log("dev down")
        env.down()
        shutil.rmtree(root, ignore_errors=True)
    return figures(found, mailed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.grants", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per figure (default 10)")
    parser.add_argument("--quick", action="store_true", help="4 s per figure, 40 accounts")
    parser.add_argument("--no-mails", action="store_true", help="without the outbox's figure")
    args = parser.parse_args(argv)
    seconds, accounts = (4.0, 40) if args.quick else (args.seconds, ACCOUNTS)
    started = time.perf_counter()
    print_header("capacity per vCPU: bare bind, login journey, OIDC grants, mails")
    mails = 0 if args.no_mails else 300 if args.quick else 1000
    print_figures(run(seconds, accounts, mails), started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
