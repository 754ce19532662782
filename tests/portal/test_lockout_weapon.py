"""Issue 18 items 3 and 4: a stranger who knows an identifier cannot keep its owner out,
a handful of addresses cannot block everyone's logins, and the waits are the same for a
targeted identifier and an unknown one (SPEC §10)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from apexdir.clock import FrozenClock
from apexdir.directory import ppolicy
from apexdir.runtime import Runtime
from tests.helpers import Cli
from tests.portal.conftest import CSRF, PASSWORD, Browser, Partner, text_of

WRONG = "Wr0ng-Passw0rd!!"


def _attempt(app: Flask, identifier: str, password: str, address: str, **headers: str) -> Any:
    """One login attempt from a fresh browser at `address` (its own session and CSRF)."""
    browser = Browser(app.test_client(), app.root_path)  # type: ignore[arg-type]
    env = {"REMOTE_ADDR": address}
    browser.get("/connexion", environ_base=env, headers=headers)
    return browser.post("/connexion", {"identifiant": identifier, "mot_de_passe": password},
                        environ_base=env, headers=headers)  # fmt: skip


def test_strangers_on_many_addresses_do_not_lock_the_owner_out(
    make_app: Callable[..., Flask], app_cli: Cli, partner: Partner, settings: Any
) -> None:
    """Eight addresses guess the owner's password as fast as they are let; the owner,
    on the browser he logged in with before, still logs in — and slapd never locked the
    account for raw LDAP binds either."""
    app = make_app()
    owner = Browser(app.test_client(), app.root_path)  # type: ignore[arg-type]
    owner.login(app_cli, partner.identifier, partner.mail)
    owner.post("/deconnexion", {})
    refused = 0
    for n in range(8):
        for _ in range(6):
            page = _attempt(app, partner.identifier, WRONG, f"127.0.1.{n + 1}")
            refused += page.status_code == 429
    assert refused > 0  # the strangers were slowed down
    owner.get("/connexion")
    page = owner.post("/connexion", {"identifiant": partner.identifier, "mot_de_passe": PASSWORD})
    assert page.status_code == 302 and page.location.endswith("/connexion/code"), text_of(page.text)
    dn = f"uid={partner.identifier},ou=people,{settings.ldap.base_dn}"
    assert ppolicy.authenticate(settings.ldap, dn, PASSWORD).ok


def test_a_targeted_identifier_waits_like_an_unknown_one(
    make_app: Callable[..., Flask], partner: Partner
) -> None:
    """The same history from two addresses, one on a partner's identifier and one on an
    identifier nobody has: the same statuses and the same texts, attempt by attempt."""
    clock = FrozenClock(datetime.now(UTC))
    app = make_app(clock=clock)
    seen: dict[str, list[tuple[int, str]]] = {"known": [], "unknown": []}
    for _ in range(8):
        pairs = (("known", partner.identifier, "127.0.2.1"),
                 ("unknown", "personne.inconnue-px", "127.0.2.2"))  # fmt: skip
        for who, identifier, address in pairs:
            page = _attempt(app, identifier, WRONG, address)
            seen[who].append((page.status_code, text_of(page.text).replace(identifier, "ID")))
        clock.advance(seconds=1)
    assert seen["known"] == seen["unknown"]
    statuses = [status for status, _ in seen["known"]]
    assert 429 in statuses and statuses[:3] == [200, 200, 200]
    assert "patientez" in seen["known"][statuses.index(429)][1]


def test_waits_grow_with_each_failure_and_end(
    make_app: Callable[..., Flask], partner: Partner
) -> None:
    """One address, one identifier: three free tries, then 1 s, 2 s… between tries; at the
    identifier's fifth failure from devices that never logged into it, those all wait 30 s
    (the owner's own device does not: see the test above)."""
    clock = FrozenClock(datetime.now(UTC))
    app = make_app(clock=clock)
    for _ in range(3):
        assert _attempt(app, partner.identifier, WRONG, "127.0.3.1").status_code == 200
    for wait in (1, 2):
        assert _attempt(app, partner.identifier, WRONG, "127.0.3.1").status_code == 429
        clock.advance(seconds=wait)
        assert _attempt(app, partner.identifier, WRONG, "127.0.3.1").status_code == 200
    assert _attempt(app, partner.identifier, PASSWORD, "127.0.3.2").status_code == 429
    clock.advance(seconds=30)
    assert _attempt(app, partner.identifier, PASSWORD, "127.0.3.2").status_code == 302


def test_eleven_addresses_cannot_block_every_login(
    make_app: Callable[..., Flask], partner: Partner
) -> None:
    """11 addresses × 60 empty POSTs filled the node-wide counter: now nothing is node-wide,
    and an empty form costs nothing, so a fresh address logs in."""
    app = make_app(rate_per_client_per_minute=60, rate_global_per_minute=600)
    for n in range(11):
        env = {"REMOTE_ADDR": f"127.0.4.{n + 1}"}
        browser = Browser(app.test_client(), app.root_path)  # type: ignore[arg-type]
        browser.get("/connexion", environ_base=env)
        (token,) = set(CSRF.findall(browser.last))
        for _ in range(60):
            browser.client.post("/connexion", data={"csrf_token": token}, environ_base=env)
    page = _attempt(app, partner.identifier, PASSWORD, "127.0.4.200")
    assert page.status_code == 302 and page.location.endswith("/connexion/code")


def test_forwarded_for_is_ignored_unless_a_proxy_is_configured(
    make_app: Callable[..., Flask],
) -> None:
    """Without a trusted proxy, a new X-Forwarded-For per request is still one address; with
    one configured, the proxy's report is the address, and an IPv6 /64 is one address."""

    def statuses(app: Flask, identifier: str, peer: str, forwarded: list[str]) -> list[int]:
        return [
            _attempt(app, identifier, WRONG, peer, **{"X-Forwarded-For": f}).status_code
            for f in forwarded
        ]

    four = [f"203.0.113.{n}" for n in range(4)]
    # The clock stands still: the fourth failure must fall within the third's one-second
    # delay, which a loaded machine let run out (a 200 instead of the 429).
    still = FrozenClock(datetime.now(UTC))
    plain, proxied = make_app(clock=still), make_app(clock=still, trusted_proxies=1)
    assert statuses(plain, "un.inconnu-px", "127.0.5.1", four)[-1] == 429
    assert statuses(proxied, "deux.inconnus-px", "127.0.5.2", four) == [200] * 4
    same64 = [f"2001:db8:1:2::{n:x}" for n in range(4)]
    assert statuses(proxied, "trois.inconnus-px", "127.0.5.3", same64)[-1] == 429


def test_a_locked_account_costs_what_an_unknown_identifier_costs(
    rt: Runtime, partner: Partner, monkeypatch: Any
) -> None:
    """slapd refuses a locked account before hashing: the login then spends the decoy's
    bind, which an unknown identifier's login spends too (the timing oracle of issue 18)."""
    from apexdir.directory.provision import decoy_dn
    from apexdir.workflows import auth

    dn = f"uid={partner.identifier},ou=people,{rt.settings.ldap.base_dn}"
    for _ in range(rt.settings.policy.directory_lockout_failures):
        ppolicy.authenticate(rt.settings.ldap, dn, WRONG)
    assert ppolicy.authenticate(rt.settings.ldap, dn, PASSWORD).reason == "locked"
    bound: list[str] = []
    real = ppolicy.authenticate

    def spy(settings: Any, who: str, password: str) -> Any:
        bound.append(who)
        return real(settings, who, password)

    monkeypatch.setattr(ppolicy, "authenticate", spy)
    for identifier in (partner.identifier, "personne.inconnue-px"):
        bound.clear()
        try:
            auth.login(rt, identifier, WRONG)
        except Exception as exc:
            assert "Identifiant ou mot de passe incorrect." in str(exc)
        assert decoy_dn(rt.layout) in bound, identifier
