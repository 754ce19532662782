"""`python -m benchmarks.timing`: what the anonymous steps' timing tells about who exists.

Issue 12, item 4. The portal calls the workflows in-process; an attacker who measures its
answers must not tell an unknown identifier from a known one. Each anonymous step is timed
for an unknown identifier and for known accounts (with and without a mobile), in rounds
whose order is shuffled so that the machine's drift spreads over every case; the medians
are printed with the largest gap between the cases of one step (target: within the run's
noise, ≤ 10 %). A private slapd with durable writes, like production.

It also prints what the password hash costs in binds per second (one connection re-binding,
as apexdir's BindPool does): `{PBKDF2-SHA512}` at pw-pbkdf2's 10,000 iterations (before
issue 12) against `{ARGON2}` at OWASP's memory cost (m=19 MiB, t=2, p=1).

Timing is measured here, never asserted in tests: a loaded CI machine would make such a
test flaky, and the behaviour that makes the timing equal (the same directory work and
hashing for every identifier) is what the tests check.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from apexdir.config import LdapSettings, Settings
from apexdir.directory import ppolicy
from apexdir.directory.connection import Directory
from apexdir.directory.hashing import password_hash, pbkdf2_sha512
from apexdir.directory.provision import initialize
from apexdir.directory.server import SlapdInstance
from apexdir.errors import ApexError
from apexdir.runtime import Runtime
from apexdir.workflows import auth, precreation, services
from apexdir.workflows.actors import AGENT
from apexdir.workflows.structures import create_structure
from benchmarks.measures import settings_of

SIRET = "73282932000074"
PASSWORD = "Str0ng-Passw0rd!"
WRONG = "Wr0ng-Passw0rd!!"
NEW = "N0uveau-Passw0rd!"
GAP_TARGET = 0.10


def settings_for(instance: SlapdInstance, root: Path) -> Settings:
    """Limits out of the way: the benchmark asks thousands of times for a few identifiers
    (in production the rate limits and the lockout answer long before)."""
    return settings_of(
        instance,
        root / "state.db",
        policy={
            "lockout_failures": 1_000_000,
            "directory_lockout_failures": 1_000_000,
            "reset_rate_per_identifier_per_hour": 1_000_000,
            "reset_rate_global_per_minute": 1_000_000,
            "login_code_wrong_per_day": 1_000_000,
        },
    )


def _spooled_link(rt: Runtime, mail: str) -> str:
    rows = rt.db.execute("SELECT recipients, body_text FROM outbox ORDER BY id").fetchall()
    bodies = [body for to, body in rows if mail in to and body]
    return str(re.findall(r"URL : (\S+)", "\n".join(bodies))[-1])


def make_account(rt: Runtime, first: str, last: str, mobile: str | None) -> str:
    mail = f"{first.lower()}.{last.lower()}@example.org"
    req = precreation.invite(rt, AGENT, siret=SIRET, account_type="collaborateur", mail=mail,
                             service="Comptabilité")  # fmt: skip
    precreation.complete(rt, _spooled_link(rt, mail), last_name=last, first_name=first,
                         mobile=mobile, password=PASSWORD, confirmation=PASSWORD,
                         submit=True)  # fmt: skip
    return str(precreation.validate(rt, AGENT, req.id).identifier)


def quietly(action: Callable[[], Any]) -> Callable[[], None]:
    """The step as the portal calls it: a refusal is an answer, not an error."""

    def run() -> None:
        with contextlib.suppress(ApexError):
            action()

    return run


def measure(cases: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    """Median milliseconds per case; each round runs every case once, in a shuffled order."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for name in names:  # warm-up: pools, caches, first writes
        for _ in range(3):
            cases[name]()
    for _ in range(rounds):
        random.shuffle(names)
        for name in names:
            start = time.perf_counter()
            cases[name]()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def noise(cases: dict[str, Callable[[], None]], rounds: int) -> float:
    """The run's noise: the gap between two halves of the same case's samples."""
    name, action = next(iter(cases.items()))
    first = measure({name: action}, rounds)[name]
    second = measure({name: action}, rounds)[name]
    return abs(first - second) / min(first, second)


def lock(instance: SlapdInstance, dn: str) -> None:
    """Lock an account as slapd's lockout does (an administrative lock: the same refusal,
    before the password is checked), without thousands of failures on the others."""
    admin = LdapSettings(uris=[instance.uri], base_dn=instance.base_dn,
                         bind_dn=instance.layout.admin_dn,
                         bind_password=instance.admin_password())  # fmt: skip
    with Directory(admin) as directory:
        directory.replace(dn, pwdAccountLockedTime="000001010000Z")


def steps(
    rt: Runtime, known: str, mobile: str, locked: str
) -> dict[str, dict[str, Callable[[], None]]]:
    unknown = "personne.inconnue-px"
    ids = {"unknown": unknown, "known, no mobile": known, "known, mobile": mobile}
    # Issue 18 item 3: a locked account answered ≈ 5× faster than an unknown identifier.
    login_ids = {**ids, "locked": locked}
    return {
        "forgot": {
            label: quietly(lambda i=i: auth.forgot(rt, i, captcha_ok=True))
            for label, i in ids.items()
        },
        "login (wrong password)": {
            label: quietly(lambda i=i: auth.login(rt, i, WRONG)) for label, i in login_ids.items()
        },
        "verify (wrong code)": {
            label: quietly(lambda i=i: auth.verify(rt, i, "000000")) for label, i in ids.items()
        },
        "reset (wrong code)": {
            label: quietly(lambda i=i: auth.reset(rt, i, "000000", NEW, NEW))
            for label, i in ids.items()
        },
    }


def bind_rates(instance: SlapdInstance, settings: Settings, dn: str,
               seconds: float) -> dict[str, float]:  # fmt: skip
    """Binds per second as `dn`, its password stored in each form (set by the rootdn)."""
    admin = LdapSettings(uris=[instance.uri], base_dn=instance.base_dn,
                         bind_dn=instance.layout.admin_dn,
                         bind_password=instance.admin_password())  # fmt: skip
    forms = {
        "{PBKDF2-SHA512} 10,000 iterations (before)": pbkdf2_sha512(PASSWORD),
        "{ARGON2} m=19 MiB t=2 p=1 (now)": password_hash(PASSWORD),
    }
    rates: dict[str, float] = {}
    with Directory(admin) as directory:
        for label, value in forms.items():
            directory.replace(dn, userPassword=value)
            assert ppolicy.authenticate(settings.ldap, dn, PASSWORD).ok
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                ppolicy.authenticate(settings.ldap, dn, PASSWORD)
                count += 1
            rates[label] = count / (time.perf_counter() - start)
    return rates


def report(results: dict[str, dict[str, float]], run_noise: float) -> tuple[list[str], bool]:
    lines = [f"run noise (same case, two halves): {run_noise:.1%}", ""]
    lines.append(f"{'step':<24} {'case':<18} {'median':>9}")
    ok = True
    for step, medians in results.items():
        for case, value in medians.items():
            lines.append(f"{step:<24} {case:<18} {value:>7.2f} ms")
        low, high = min(medians.values()), max(medians.values())
        gap = (high - low) / low
        verdict = "OK" if gap <= max(GAP_TARGET, run_noise) else "missed"
        ok = ok and verdict == "OK"
        lines.append(f"{'':<24} {'largest gap':<18} {gap:>8.1%}  (target ≤ 10 %) {verdict}")
    return lines, ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60, help="samples per case")
    parser.add_argument("--bind-seconds", type=float, default=5.0, help="per hash form")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="apexdir-timing-") as folder:
        root = Path(folder)
        instance = SlapdInstance(root / "slapd")
        instance.start()
        try:
            settings = settings_for(instance, root)
            with Directory(settings.ldap) as directory:
                initialize(directory, instance.layout, settings.policy)
            rt = Runtime(settings, operator="benchmark")
            try:
                create_structure(rt, AGENT, siret=SIRET, category="Banques", name="Banque")
                services.create_service(rt, AGENT, SIRET, "Comptabilité")
                known = make_account(rt, "Marie", "Martin", None)
                mobile = make_account(rt, "Paul", "Durand", "06 12 34 32 34")
                locked = make_account(rt, "Luc", "Petit", None)
                lock(instance, rt.layout.account_dn(locked))
                plan = steps(rt, known, mobile, locked)
                run_noise = noise(plan["login (wrong password)"], args.rounds)
                results = {name: measure(cases, args.rounds) for name, cases in plan.items()}
                rates = bind_rates(instance, settings, rt.layout.account_dn(known),
                                   args.bind_seconds)  # fmt: skip
            finally:
                rt.close()
        finally:
            instance.destroy()
    lines, ok = report(results, run_noise)
    print(f"Anonymous timing, in-process (the portal's calls), {args.rounds} rounds per case")
    print("\n".join(lines))
    print("")
    print("Bind rate by password hash (one connection re-binding, apexdir's BindPool)")
    before = next(iter(rates.values()))
    for label, rate in rates.items():
        print(f"{label:<44} {rate:>7.1f} binds/s  ({rate / before:.0%} of before)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
