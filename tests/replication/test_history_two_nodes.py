"""Issue 21 item 8: a structure's history is complete whichever node served the action —
two apexdir nodes, each with its own state store and its own provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apexdir.directory.provision import initialize
from apexdir.directory.replication import ReplicaSet
from apexdir.rules.history import Criteria
from apexdir.runtime import Runtime
from apexdir.workflows import history
from apexdir.workflows.actors import AGENT
from apexdir.workflows.services import create_service, rename_service
from apexdir.workflows.structures import create_structure
from tests.conftest import make_settings
from tests.helpers import SIRET


@pytest.fixture
def nodes(replicas: ReplicaSet, sinks: Any, tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    """Node A talks to provider 1 only, node B to provider 2 only; separate state stores."""
    runtimes = []
    for n, name in enumerate(("a", "b")):
        settings = make_settings(replicas.instances[n], sinks, tmp_path / f"{name}.db",
                                 ldap={"uris": [replicas.uris[n]]})  # fmt: skip
        runtimes.append(Runtime(settings, operator=f"agent-{name}"))
    a, b = runtimes
    initialize(a.directory, a.layout, a.settings.policy)
    replicas.wait_converged()
    yield a, b
    for runtime in runtimes:
        runtime.close()


def actions(rt: Runtime) -> list[tuple[str, str | None]]:
    found, cut = history.events(rt, AGENT, Criteria(), siret=SIRET)
    assert not cut
    return [(e.action, e.actor) for e in found]


def test_an_action_served_by_node_a_is_in_the_history_read_on_node_b(
    nodes: tuple[Runtime, Runtime], replicas: ReplicaSet
) -> None:
    """Served by A, read on B (and the other way round); neither node's journal has the other's."""
    a, b = nodes
    create_structure(a, AGENT, siret=SIRET, category="Banques", name="Banque Exemple")
    create_service(a, AGENT, SIRET, "Comptabilité")
    replicas.wait_converged()
    by_a = "agent:agent-a"
    assert actions(b) == [("service.create", by_a), ("structure.create", by_a)]
    assert b.journal.entries() == []  # B's own journal knows nothing: the directory does

    rename_service(b, AGENT, SIRET, "Comptabilité", "Compta")
    replicas.wait_converged()
    assert actions(a)[0] == ("service.rename", "agent:agent-b")
    assert [r["action"] for r in a.journal.entries()] == ["structure.create", "service.create"]
    assert actions(a) == actions(b)
