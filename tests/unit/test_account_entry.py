"""The one builder of a new account's entry (directory.mapping.account_attrs)."""

from __future__ import annotations

from datetime import UTC, datetime

from apexdir.directory.mapping import AccountDraft, account_attrs, common_name
from apexdir.models import AccountType


def test_a_draft_makes_an_active_account_named_by_its_names() -> None:
    """cn is « Prénom Nom », times are GeneralizedTime, what is not given stays empty."""
    draft = AccountDraft(
        "anne.martin-px", "Anne", "Martin", "anne@example.fr", AccountType.COLLABORATEUR,
        "apexSiret=1,ou=structures,dc=x", validated_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
        created_by="agent", validated_by="agent", service_dn="apexServiceId=s,apexSiret=1",
    )  # fmt: skip
    attrs = account_attrs(draft)
    assert attrs["cn"] == common_name("Anne", "Martin") == "Anne Martin"
    assert attrs["objectClass"] == ["inetOrgPerson", "apexAccount"]
    assert attrs["apexStatus"] == "active"
    assert attrs["apexValidatedAt"] == "20261201090000Z"
    assert attrs["apexRequestedAt"] is None and attrs["userPassword"] is None
    assert attrs["apexDelegatedProfile"] == []
