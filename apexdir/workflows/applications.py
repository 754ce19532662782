"""Service accounts of DGFiP applications: how an application authenticates partners.

The contract (examples/application_auth.py is the copy-ready version):

1. the application binds as its own account `cn=<CODE>,ou=apps,ou=system,<base>`;
2. it finds the partner with the filter `(uid=<identifier>)` under `ou=people` (the value
   escaped, RFC 4515) and reads `memberOf` (his profiles: `cn=<PROFILE>,apexAppCode=<APP>,…`)
   and `apexStatus`; the ACL lets it read nothing else — no phone, no pending request;
3. it binds as the partner's DN with the password the partner typed: slapd checks it and
   ppolicy refuses locked and expired accounts; deleted accounts and pending creations
   have no entry, so they cannot bind either.

The service account's secret is random (192 bits) and stored as {SSHA}: a salted fast hash
is enough for a secret nobody chose, and keeps the application's binds cheap. Only apexdir's
account sets it (slapd's ACL: the account itself may only bind with it), and its policy is
`cn=apps` (provision.apps_policy_dn): no expiry, at least 32 characters, no change by the
account itself, and a short lockout (20 failures, 60 s) that caps online guessing.
"""

from __future__ import annotations

from typing import Any

from apexdir.directory.hashing import random_secret, ssha
from apexdir.directory.provision import apps_policy_dn
from apexdir.directory.repository import Repository
from apexdir.rules.permissions import Action, Actor, require
from apexdir.runtime import Runtime
from apexdir.workflows.catalogue import ANYWHERE, normalize_code

SECRET_BYTES = 24


def credentials(rt: Runtime, actor: Actor, code: str) -> dict[str, Any]:
    """Create the application's service account, or give it a new secret (rotation).

    The secret is returned once and never stored in clear nor journaled; the previous one
    stops working at once.
    """
    require(actor, Action.CATALOGUE_MANAGE, ANYWHERE)
    code = normalize_code(code)
    repo = Repository(rt.directory, rt.layout)
    application = repo.application(code)
    secret = random_secret(SECRET_BYTES)
    dn = rt.layout.app_account_dn(code)
    rotated = repo.set_app_credentials(
        code,
        ssha(secret),
        apps_policy_dn(rt.layout),
        f"Compte de service de l'application {application.name}",
    )
    rt.journal.record(
        "app.credentials",
        code,
        actor=actor.identifier,
        operator=rt.operator,
        details={"rotated": rotated, "dn": dn},
    )
    return {
        "code": code,
        "dn": dn,
        "password": secret,
        "rotated": rotated,
        "people_dn": rt.layout.people_dn,
        "ldap_uris": list(rt.settings.ldap.uris),
    }
