"""Two slapd providers in multi-provider syncrepl, for the tests of this folder.

One replica set per xdist worker, shared by the tests of the folder: starting a fresh one
(two slapadds, two slapd starts, the first refresh of each consumer) cost 1.5–2 s of CPU
at every test. After each test the set is put back as the next test expects it: both
providers running and answering (a test may stop one, or hang it with SIGSTOP), nothing
of apexdir's process-wide state pointing at the old test (servers set aside, pooled
connections), the branches the tests write to empty on both providers — the wipe is made
on the first and waited for on the second (contextCSN equal on both), so that no test
sees its predecessor's deletes arrive (the change feed would journal them). A set that
cannot be put back is destroyed and the next test gets a new one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from apexdir.directory import bindpool, servers
from apexdir.directory.replication import ReplicaSet
from apexdir.errors import ApexError
from tests.conftest import wipe


class _Shared:
    """The worker's replica set, replaced when a test left it beyond repair."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made = 0
        self.current: ReplicaSet | None = None

    def get(self) -> ReplicaSet:
        if self.current is None:
            self.made += 1
            providers = ReplicaSet(self.root / f"set-{self.made}", count=2, dbnosync=True)
            try:
                providers.start()
            except BaseException:
                # The providers started before the one that failed would outlive the run
                # (slapd runs in a session of its own): seen with an ldapi path too long.
                providers.destroy()
                raise
            self.current = providers
        return self.current

    def discard(self) -> None:
        if self.current is not None:
            self.current.destroy()
            self.current = None


@pytest.fixture(scope="session")
def _shared_replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Shared]:
    shared = _Shared(tmp_path_factory.mktemp("replicas"))
    yield shared
    shared.discard()


@pytest.fixture
def replicas(_shared_replicas: _Shared) -> Iterator[ReplicaSet]:
    providers = _shared_replicas.get()
    yield providers
    try:
        restore(providers)
    except (ApexError, OSError) as exc:
        # Beyond repair (a provider that will not come back, or will not converge): the
        # next test starts from a new set rather than from this one's leftovers; the
        # warning (in the run's summary) says which test left it so.
        warnings.warn(f"replica set discarded after the test: {exc}", stacklevel=1)
        _shared_replicas.discard()


def restore(providers: ReplicaSet) -> None:
    """Both providers up, apexdir's process-wide state forgotten, the tree wiped on both."""
    for instance in providers.instances:
        pid = instance.pid()
        if pid is not None:  # a test that hung it continues it itself; if it failed first
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    providers.start()  # idempotent: starts again a provider a test stopped
    forget_process_state(providers)
    providers.wait_converged(timeout=20)
    wipe(providers.instances[0])
    providers.wait_converged(timeout=20)


def forget_process_state(providers: ReplicaSet) -> None:
    """What apexdir keeps per process about these URIs: a fresh set had new ports at every
    test, so no test met servers set aside or pooled connections left by the one before."""
    servers.forget()
    uris = set(providers.uris)
    # bindpool keeps a pool per configuration and offers no way to drop one (a process
    # keeps its configuration): the tests reach into it.
    with bindpool._POOLS_LOCK:
        for key, pool in list(bindpool._POOLS.items()):
            if uris & set(key[0]):
                pool.close()
                del bindpool._POOLS[key]
