"""The checks of one bulk-import line (apexdir.rules.import_rows), without any server."""

from __future__ import annotations

import pytest

from apexdir.errors import Invalid
from apexdir.rules import import_rows as rows


def test_an_account_type_is_one_of_three_written_any_case() -> None:
    """Types are read without case or surrounding spaces; anything else names the three."""
    assert rows.account_type(" Responsable ") == "responsable"
    with pytest.raises(Invalid, match="administrateur, responsable or collaborateur"):
        rows.account_type("agent")


def test_a_service_goes_with_every_type_but_the_administrateur() -> None:
    """An administrateur has no service; a responsable or a collaborateur must have one."""
    rows.check_service_given("administrateur", False)
    rows.check_service_given("collaborateur", True)
    with pytest.raises(Invalid, match="no service"):
        rows.check_service_given("administrateur", True)
    with pytest.raises(Invalid, match="service is required"):
        rows.check_service_given("responsable", False)


def test_profiles_are_delegated_to_responsables_only() -> None:
    """A delegation on another type is refused; no delegation is always fine."""
    rows.check_delegations("responsable", ["APP/P"])
    rows.check_delegations("collaborateur", [])
    with pytest.raises(Invalid, match="responsables only"):
        rows.check_delegations("collaborateur", ["APP/P"])


def test_a_required_identifier_is_refused_for_each_reason_in_turn() -> None:
    """Malformed, given twice in the file, in use, or a deleted account's: each says so."""
    existing, retired = {"jean.dupont-px"}, {"anne.martin-px"}
    problem = rows.given_identifier_problem
    assert problem("paul.durand-px", {}, existing, retired) is None
    assert "does not follow" in str(problem("Paul Durand", {}, existing, retired))
    reserved = {"paul.durand-px": 7}
    assert "line 7" in str(problem("paul.durand-px", reserved, existing, retired))
    assert "another account's" in str(problem("jean.dupont-px", {}, existing, retired))
    assert "never issued again" in str(problem("anne.martin-px", {}, existing, retired))


def test_identifiers_that_may_collide_share_a_stem_key() -> None:
    """A stem and its numbered variants file under one key."""
    assert rows.stem_key("jean.dupont2-px") == rows.stem_key("Jean.Dupont-px")


def test_names_and_service_identifiers_keep_to_their_bounds() -> None:
    """An application's name within 1..128 characters, a service identifier within 64."""
    assert rows.app_label("  Portail  ") == "Portail"
    for bad in ("", " ", "x" * (rows.APP_NAME_LENGTH + 1)):
        with pytest.raises(Invalid):
            rows.app_label(bad)
    assert rows.service_id("s-1") == "s-1"
    with pytest.raises(Invalid):
        rows.service_id("x" * (rows.SERVICE_ID_LENGTH + 1))
