"""Dormant accounts across providers (issue 21 item 7): a login served by any provider is
seen by the daemon's search on the other, since lastbind's `authTimestamp` replicates."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

from apexdir.clock import from_generalized_time
from apexdir.directory import dormancy as marks
from apexdir.directory.provision import initialize
from apexdir.directory.replication import ReplicaSet
from apexdir.rules.dormancy import threshold
from apexdir.runtime import Runtime
from apexdir.workflows.actors import AGENT
from apexdir.workflows.dormancy import policy_of
from apexdir.workflows.structures import create_structure
from tests.conftest import make_settings
from tests.helpers import PASSWORD, SIRET
from tests.replication.test_replication import add_account


def test_a_login_on_the_second_provider_counts_on_the_first(
    replicas: ReplicaSet, sinks: Any, tmp_path: Path
) -> None:
    """A raw bind on ldap2 (an application's check of the partner's password) writes
    authTimestamp there; ldap1, where the daemon reads, has the same value after
    replication (the daemon's search on ldap1 then compares the login's time)."""
    one, two = replicas.instances
    settings = make_settings(one, sinks, tmp_path / "state.db", ldap={"uris": [one.uri]})
    rt = Runtime(settings, operator="tester")
    try:
        initialize(rt.directory, rt.layout, settings.policy)
        create_structure(rt, AGENT, siret=SIRET, category="Banques", name="Banque Exemple")
        dn = add_account(rt, "marie.martin-px", "Marie", "Martin")
        replicas.wait_converged()
        later = rt.clock() + timedelta(days=400)
        bound = threshold(later, policy_of(settings))
        assert [c.account.dn for c in marks.candidates(rt.directory, rt.layout, bound)] == [dn]

        done = subprocess.run(["ldapwhoami", "-x", "-H", two.uri, "-D", dn, "-w", PASSWORD],
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        replicas.wait_converged()
        stamps = []
        for instance in (one, two):
            with replicas.admin(instance) as directory:
                entry = directory.get(dn, ["authTimestamp"])
            assert entry is not None and entry.get("authTimestamp"), instance.uri
            stamps.append(from_generalized_time(entry.get("authTimestamp")))
        assert stamps[0] == stamps[1]
    finally:
        rt.close()
