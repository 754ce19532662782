"""The OpenID Connect provider on two nodes, each with its own slapd provider in
multi-provider replication: a code issued by one node is redeemed at the other, and its
replay at the first is refused once both converged (the state is the directory's only)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from joserfc import jwt
from joserfc.jwk import KeySet

from apexdir.directory.replication import ReplicaSet
from apexdir.runtime import Runtime
from apexdir.workflows import rights
from apexdir.workflows.actors import AGENT
from apexdir.workflows.catalogue import add_application, add_profile
from apexdir.workflows.oidc import register_client
from apexdir.workflows.structures import create_structure
from tests.helpers import SIRET
from tests.portal.conftest import portal_settings
from tests.replication.test_replication import add_account, only, rt  # noqa: F401

CALLBACK = "https://ficoba.example/callback"


@pytest.fixture
def nodes(
    rt: Runtime,  # noqa: F811
    replicas: ReplicaSet,
    tmp_path: Path,
) -> Iterator[list[Flask]]:
    """Two portals, each bound to one slapd provider only."""
    from apexdir.portal import create_app

    apps = []
    for instance in replicas.instances:
        settings = only(rt.settings, instance).settings
        apps.append(create_app(portal_settings(settings, tmp_path)))
    yield apps
    for app in apps:
        app.extensions["apexdir"].close()


def test_a_code_from_one_node_is_redeemed_at_the_other(
    rt: Runtime,  # noqa: F811
    replicas: ReplicaSet,
    nodes: list[Flask],
) -> None:
    """Authorize at node A, token at node B, userinfo at A; the replay at A is refused."""
    create_structure(rt, AGENT, siret=SIRET, category="Banques", name="Banque Exemple")
    add_application(rt, AGENT, "FICOBA", "Ficoba")
    add_profile(rt, AGENT, "FICOBA", "CONSULTATION")
    add_account(rt, "marie.martin-px", "Marie", "Martin")
    rights.grant(rt, AGENT, "marie.martin-px", "FICOBA", "CONSULTATION")
    client = register_client(rt, AGENT, "FICOBA", [CALLBACK])
    a, b = (node.test_client() for node in nodes)
    keys = a.get("/oidc/jwks").json  # the first use makes the signing keys, on A
    replicas.wait_converged(timeout=20)

    with a.session_transaction() as session:  # a portal session that passed both steps
        now = time.time()
        session.update(user="marie.martin-px", started=now, seen=now, gen="")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": CALLBACK,
        "scope": "openid profile",
        "state": "s",
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    answer = a.get("/oidc/authorize?" + urlencode(params))
    assert answer.status_code == 302, answer.text
    code = parse_qs(urlsplit(answer.location).query)["code"][0]
    replicas.wait_converged(timeout=20)

    basic = base64.b64encode(f"FICOBA:{client['client_secret']}".encode()).decode()
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "code_verifier": verifier}  # fmt: skip
    headers = {"Authorization": f"Basic {basic}"}
    token = b.post("/oidc/token", data=form, headers=headers)
    assert token.status_code == 200, token.text
    claims = jwt.decode(token.json["id_token"], KeySet.import_key_set(keys)).claims
    assert claims["preferred_username"] == "marie.martin-px"
    replicas.wait_converged(timeout=20)

    bearer: dict[str, Any] = {"Authorization": f"Bearer {token.json['access_token']}"}
    assert a.get("/oidc/userinfo", headers=bearer).json["sub"] == claims["sub"]
    replay = a.post("/oidc/token", data=form, headers=headers)
    assert replay.status_code == 400 and replay.json["error"] == "invalid_grant"
