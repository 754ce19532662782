"""Look-alike identifiers (issue 12, item 2): fullwidth or case variants are the same key
for the rate limits; what is not ASCII after NFKC is unknown, silently."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from apexdir.errors import Conflict
from apexdir.runtime import Runtime
from apexdir.workflows import auth
from tests.auth.conftest import Partner, sms_codes
from tests.helpers import Cli


def _fullwidth(text: str, positions: int) -> str:
    """`text` with its first `positions` letters in fullwidth forms."""
    out = []
    for i, ch in enumerate(text):
        out.append(chr(ord(ch) + 0xFEE0) if i < positions and ch.isalpha() else ch)
    return "".join(out)


def test_variants_share_the_per_identifier_limit(
    rt: Runtime, app_cli: Cli, sinks: Any, make_partner: Callable[..., Partner]
) -> None:
    """Each variant slapd matches as the same uid counts against the same budget."""
    partner = make_partner("Cathy", "Noel", mobile="06 12 34 56 78")
    budget = rt.settings.policy.reset_rate_per_identifier_per_hour
    variants = [_fullwidth(partner.identifier, n) for n in range(budget)]
    variants = [v.upper() if i % 2 else v for i, v in enumerate(variants)]
    for variant in variants:
        auth.forgot(rt, variant, captcha_ok=True)
    with pytest.raises(Conflict):
        auth.forgot(rt, _fullwidth(partner.identifier, budget + 1), captcha_ok=True)
    # Every variant reached the account: one text each, the newest superseding the others.
    assert len(sms_codes(app_cli, sinks, partner.mobile or "")) == 1
    texts = [m for m in rt.outbox.list() if m["kind"] == "sms"]
    assert [m["status"] for m in texts] == ["dropped"] * (budget - 1) + ["sent"]


@pytest.mark.parametrize("lookalike", ["саthy.noel-px", "cathy.noël-px", "cathy.noel-px\u200b"])
def test_non_ascii_identifiers_reach_no_account(
    rt: Runtime, app_cli: Cli, sinks: Any, make_partner: Callable[..., Partner], lookalike: str
) -> None:
    """Cyrillic letters, accents, zero-width spaces: the generic answer, nothing sent."""
    partner = make_partner("Cathy", "Noel", mobile="06 12 34 56 78")
    answer = auth.forgot(rt, lookalike, captcha_ok=True)
    assert answer == auth.forgot(rt, "nobody.at-all-px", captcha_ok=True)
    assert sms_codes(app_cli, sinks, partner.mobile or "") == []


def test_clean_identifier() -> None:
    """NFKC then case folding; control characters and non-ASCII give None."""
    assert auth.clean_identifier(" ＭARIE.martin-px ") == "marie.martin-px"
    assert auth.clean_identifier("marie.martin-px\x7f") is None
    assert auth.clean_identifier("maríe.martin-px") is None
    assert auth.clean_identifier("x" * 200) is None
