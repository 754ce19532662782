"""Issue 18 items 3 and 7: a reset link's public half tells nothing a relying party knows,
a stranger holding it cannot spend its tries, and a stranger's requests do not spend the
owner's reset budget."""

from __future__ import annotations

import pytest

from apexdir.errors import AuthenticationFailed, Conflict
from apexdir.runtime import Runtime
from apexdir.workflows import auth
from apexdir.workflows.guard import Origin
from tests.auth.conftest import Partner, reset_links
from tests.helpers import Cli

NEW = "N0uveau-Passw0rd!"


def _token(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_the_public_half_is_not_the_entry_uuid_and_changes_per_link(
    app_cli: Cli, rt: Runtime, partner: Partner
) -> None:
    entry = rt.directory.get(partner.dn, ["entryUUID"])
    assert entry is not None
    uuid = str(entry.get("entryUUID"))
    handles = []
    for _ in range(2):
        app_cli.ok("password", "forgot", partner.identifier)
        app_cli.deliver()
        handles.append(_token(reset_links(app_cli, partner.mail)[-1]).split(".")[0])
    assert uuid not in handles[0] and handles[0] != handles[1]
    # Whoever knows the account's entryUUID (every relying party: the OIDC `sub`) learns
    # nothing: a link built from it is no link.
    assert not auth.link_usable(rt, f"{uuid}.x")
    assert auth.link_usable(rt, _token(reset_links(app_cli, partner.mail)[-1]))


def test_wrong_secrets_with_the_genuine_handle_do_not_void_the_link(
    app_cli: Cli, rt: Runtime, partner: Partner
) -> None:
    app_cli.ok("password", "forgot", partner.identifier)
    app_cli.deliver()
    token = _token(reset_links(app_cli, partner.mail)[-1])
    handle = token.split(".")[0]
    for _ in range(rt.settings.policy.login_code_attempts + 2):
        with pytest.raises(AuthenticationFailed):
            auth.reset_with_link(rt, f"{handle}.mauvais-secret", NEW, NEW)
    assert auth.link_usable(rt, token)
    assert auth.reset_with_link(rt, token, NEW, NEW).identifier == partner.identifier
    with pytest.raises(AuthenticationFailed):  # single use
        auth.reset_with_link(rt, token, "Encore-N0uv34u!!", "Encore-N0uv34u!!")


def test_a_stranger_cannot_spend_the_owner_reset_budget(rt: Runtime, partner: Partner) -> None:
    stranger = Origin("127.0.8.1")
    budget = rt.settings.policy.reset_rate_per_identifier_per_hour
    for _ in range(budget):
        auth.forgot(rt, partner.identifier, captcha_ok=True, origin=stranger)
    with pytest.raises(Conflict):
        auth.forgot(rt, partner.identifier, captcha_ok=True, origin=stranger)
    assert auth.forgot(rt, partner.identifier, captcha_ok=True, origin=Origin("127.0.8.2"))
    owner = Origin("127.0.8.1", device="appareil-de-marie")
    assert auth.forgot(rt, partner.identifier, captcha_ok=True, origin=owner)


def test_a_link_token_never_reads_as_a_command_line_option(rt: Runtime) -> None:
    """The public half is hexadecimal: a token starting with « - » was taken by the CLI for
    an option (`apexdir password reset ID TOKEN`)."""
    from apexdir.workflows import tokens

    key = rt.settings.ldap.secrets_key()
    handles = [tokens.seal(key, bytes(16)) for _ in range(200)]
    assert all(h[0] != "-" and all(c in "0123456789abcdef" for c in h) for h in handles)
    assert all(tokens.unseal(key, h, 16) == bytes(16) for h in handles)
