"""What an application learns of an account: pure functions, no server."""

from __future__ import annotations

from apexdir.models import Account, AccountType
from apexdir.oidc.claims import claims, profiles_for
from apexdir.oidc.models import Client, digest


def account() -> Account:
    return Account(
        identifier="marie.martin-px",
        dn="uid=marie.martin-px,ou=people,dc=x",
        type=AccountType.COLLABORATEUR,
        last_name="Martin",
        first_name="Marie",
        mail="marie.martin@example.org",
        siret="73282932000074",
        structure_dn="apexSiret=73282932000074,ou=structures,dc=x",
        mobile="+33612345678",
        habilitations=["AUTRE/LECTURE", "FICOBA/CONSULTATION", "FICOBA2/ADMIN"],
    )


def test_profiles_of_the_clients_application_only() -> None:
    """`apex_profiles` names the profiles of this application, not of a look-alike code."""
    assert profiles_for(account(), "FICOBA") == ["CONSULTATION"]
    assert profiles_for(account(), "NONE") == []


def test_claims_by_scope_never_a_phone() -> None:
    """`profile` and `email` add the standard claims; no scope ever gives the phone."""
    bare = claims(account(), "uuid-1", "FICOBA", "openid")
    assert bare == {
        "sub": "uuid-1",
        "apex_type": "collaborateur",
        "apex_siret": "73282932000074",
        "apex_profiles": ["CONSULTATION"],
    }
    full = claims(account(), "uuid-1", "FICOBA", "openid profile email phone")
    assert full["preferred_username"] == "marie.martin-px" and full["name"] == "Marie Martin"
    assert full["email"] == "marie.martin@example.org"
    assert "+33612345678" not in str(full) and "phone_number" not in full


def test_client_checks() -> None:
    """Exact redirect addresses; the secret compared to its hash; public clients use none."""
    client = Client("FICOBA", "FICOBA", ["https://a.example/cb"], secret_hash=digest("s3cret"))
    assert client.check_redirect_uri("https://a.example/cb")
    assert not client.check_redirect_uri("https://a.example/cb/../x")
    assert client.check_client_secret("s3cret") and not client.check_client_secret("other")
    assert client.check_endpoint_auth_method("client_secret_basic", "token")
    assert not client.check_endpoint_auth_method("none", "token")
    public = Client("APP", "APP", ["https://a.example/cb"], public=True)
    assert public.check_endpoint_auth_method("none", "token")
    assert not public.check_client_secret("")
    assert client.get_allowed_scope("openid offline_access email") == "openid email"
