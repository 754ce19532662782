"""The scheduler lease in the real directory: one holder, compare-and-swap, takeover."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apexdir.clock import FrozenClock
from apexdir.directory.server import SlapdInstance
from apexdir.runtime import Runtime
from apexdir.workflows.lease import Lease, LeaseValue, new_holder
from tests.conftest import admin


@pytest.fixture
def clean_lease(slapd: SlapdInstance) -> Iterator[None]:
    """The lease entry outlives the per-test wipe: start and end with no lease."""
    with admin(slapd) as directory:
        directory.replace(slapd.layout.lease_dn, apexLease=None)
    yield
    with admin(slapd) as directory:
        directory.replace(slapd.layout.lease_dn, apexLease=None)


def test_one_holder_at_a_time_and_takeover_after_expiry(rt: Runtime, clean_lease: None) -> None:
    """A holds and renews; B waits; once A stops renewing, B takes over and A is out."""
    clock = FrozenClock()
    a = Lease(rt.directory, rt.layout.lease_dn, holder="node-a:1:aa", seconds=10, clock=clock)
    b = Lease(rt.directory, rt.layout.lease_dn, holder="node-b:2:bb", seconds=10, clock=clock)
    assert a.acquire() and a.held()
    assert not b.acquire() and not b.held()
    assert b.seen is not None and b.seen.holder == "node-a:1:aa"
    clock.advance(seconds=5)
    assert a.acquire(), "renewed"
    assert a.read() == LeaseValue.parse("node-a:1:aa 20260115090015Z")
    clock.advance(seconds=9)
    assert not b.acquire(), "still A's: renewed 9 s ago"
    clock.advance(seconds=1)
    assert b.acquire(), "expired: B takes it"
    assert not a.acquire() and not a.held(), "A sees B's lease"
    b.release()
    assert a.read() is None


def test_compare_and_swap_refuses_a_stale_read(rt: Runtime, clean_lease: None) -> None:
    """Two takers that read the same value: only the first swap succeeds."""
    clock = FrozenClock()
    a = Lease(rt.directory, rt.layout.lease_dn, holder="a", seconds=10, clock=clock)
    b = Lease(rt.directory, rt.layout.lease_dn, holder="b", seconds=10, clock=clock)
    assert a.read() is None
    assert a.claim(None, clock()) is True
    assert b.claim(None, clock()) is False, "the single-valued attribute is already set"
    clock.advance(seconds=30)
    stale = b.read()
    assert a.acquire(), "A renews (its own expired lease) first"
    assert b.claim(stale, clock()) is False, "B's delete of the old value finds nothing"
    assert a.read().holder == "a"  # type: ignore[union-attr]


def test_holder_names_host_process_and_a_random_part() -> None:
    """Two daemons on one host never share a holder name."""
    first, second = new_holder(), new_holder()
    assert first != second and first.count(":") == 2
    assert LeaseValue.parse("garbage").expires_at.year == 1970, "unreadable counts as expired"
