"""The access review across providers (issue 21 item 10): a review opened through one
provider is answered through the other (the portal's nodes), and the daemon, reading the
first, sees the decisions and the completion — the review lives in the directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apexdir.directory.provision import initialize
from apexdir.directory.replication import ReplicaSet
from apexdir.directory.repository import Repository
from apexdir.rules import review as r
from apexdir.runtime import Runtime
from apexdir.workflows import review, review_jobs, rights
from apexdir.workflows.actors import AGENT, actor_for
from apexdir.workflows.catalogue import add_application, add_profile
from apexdir.workflows.services import create_service
from apexdir.workflows.structures import create_structure
from tests.conftest import make_settings
from tests.helpers import SIRET
from tests.replication.test_replication import add_account


def test_a_review_answered_on_the_other_provider(
    replicas: ReplicaSet, sinks: Any, tmp_path: Path
) -> None:
    one, two = replicas.instances
    first = Runtime(make_settings(one, sinks, tmp_path / "one.db", ldap={"uris": [one.uri]}))
    second = Runtime(make_settings(two, sinks, tmp_path / "two.db", ldap={"uris": [two.uri]}))
    try:
        initialize(first.directory, first.layout, first.settings.policy)
        create_structure(first, AGENT, siret=SIRET, category="Banques", name="Banque Exemple")
        service = create_service(first, AGENT, SIRET, "Paie")
        add_application(first, AGENT, "FICOBA", "Fichier des comptes bancaires")
        add_profile(first, AGENT, "FICOBA", "CONSULTATION")
        add_account(first, "alice.admin-px", "Alice", "Admin")
        collab = first.layout.account_dn("paul.paie-px")
        add_account(first, "paul.paie-px", "Paul", "Paie")
        first.directory.replace(
            collab,
            apexAccountType="collaborateur",
            apexServiceRef=first.layout.service_dn(SIRET, service.id),
        )
        rights.grant(first, AGENT, "paul.paie-px", "FICOBA", "CONSULTATION")
        opened = review.open_review(first, AGENT, SIRET)
        replicas.wait_converged()

        admin = actor_for(Repository(second.directory, second.layout).account("alice.admin-px"))
        sheet = review.sheet(second, admin)
        assert sheet is not None and sheet.review.id == opened.id and sheet.pending == 1
        done = review.decide(
            second, admin, {r.Pair("paul.paie-px", "FICOBA/CONSULTATION"): r.CONFIRMED}
        )
        assert done.completed
        replicas.wait_converged()

        seen = review.store(first).of_structure(SIRET)[-1]
        assert seen.status == r.COMPLETED and seen.decided()
        assert review_jobs.run(first, lambda: False)["reminded"] == 0  # nothing left to ask
    finally:
        first.close()
        second.close()
