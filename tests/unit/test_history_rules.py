"""The history's pure rules (issue 21 item 8): labels, who and whom as shown, periods."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from apexdir.errors import Invalid
from apexdir.rules import history as h


def test_who_is_shown_as_a_partner_sees_it() -> None:
    """An identifier; « Agent DGFiP » (the OS user to agents only); the person; APEX."""
    assert h.who("grant", "alice.admin-px", "bob-px", agent_names=False) == "alice.admin-px"
    assert h.who("grant", "agent:jdupont", "bob-px", agent_names=False) == "Agent DGFiP"
    assert h.who("grant", "agent:jdupont", "bob-px", agent_names=True) == "Agent DGFiP (jdupont)"
    assert h.who("auth.password-reset", "agent:portal", "bob-px", agent_names=False) == "bob-px"
    assert h.who("auth.locked", "agent:portal", "bob-px", agent_names=False) == "APEX Partenaires"


def test_whom_names_the_person_the_service_or_the_structure() -> None:
    assert h.whom("account.invite", "a1b2c3", {"mail": "x@example.org"}) == "x@example.org"
    assert h.whom("service.rename", "732/Paie", {"new_name": "RH"}) == "Service « Paie » → « RH »"
    assert h.whom("service.create", "732/Paie", {}) == "Service « Paie »"
    assert h.whom("structure.update", "73282932000074", {}) == "La structure"
    assert h.whom("grant", "bob-px", {"profile": "A/B"}) == "bob-px"
    assert h.what("grant", {"profile": "A/B"}) == "Profil applicatif attribué : A/B"


def test_every_catalogued_action_has_a_french_label() -> None:
    assert all(text[0].isupper() and not text.endswith(".") for text in h.LABELS.values())
    assert h.shared("grant") and not h.shared("auth.verified")  # logins stay on the node


def test_days_are_paris_days() -> None:
    """A day in winter starts at 23:00 UTC the day before and ends 22:59:59 UTC."""
    since, until = h.day_bounds(date(2026, 1, 15), date(2026, 1, 15))
    assert since == datetime(2026, 1, 14, 23, 0, tzinfo=UTC)
    assert until == datetime(2026, 1, 15, 22, 59, 59, tzinfo=UTC)
    assert h.day_bounds(None, None) == (None, None)
    assert h.paris(datetime(2026, 7, 1, 8, 5, tzinfo=UTC)) == "01/07/2026 à 10:05"


def test_criteria_refuse_a_backwards_period_and_an_unknown_action() -> None:
    with pytest.raises(Invalid, match="La date de début doit précéder la date de fin"):
        h.Criteria(since=datetime(2026, 2, 1, tzinfo=UTC), until=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(Invalid, match="Action inconnue"):
        h.Criteria(action="auth.verified")


def test_event_names_sort_as_time_and_give_it_back() -> None:
    early = h.new_event_id(datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=UTC))
    late = h.new_event_id(datetime(2026, 1, 1, 0, 0, 0, 6, tzinfo=UTC))
    assert early < late and early != h.new_event_id(datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=UTC))
    assert h.event_time(late) == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(Invalid):
        h.event_time("garbage")


def test_a_completed_form_is_shown_as_done_by_the_invitee() -> None:
    """The invitee has no identifier yet: « Qui » names the invitee, not the request's id."""
    from apexdir.rules.history import INVITEE, who

    assert who("account.complete", "3a088fa53729", "3a088fa53729", agent_names=False) == INVITEE
