"""Names people read and programs receive (nom, prénom, service, structure): no control
nor invisible format character, no markup bracket (issue 18, item 10). Pure rule."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apexdir.errors import Invalid
from apexdir.rules.text import display_name

HOSTILE = [
    ("\u202eyhtaC", "U+202E"),  # right-to-left override: shows as « Cathy »
    ("Ca\u200bthy", "U+200B"),  # zero-width space
    ("Ca\u200dthy", "U+200D"),  # zero-width joiner
    ("\u2066Cathy\u2069", "U+2066"),  # left-to-right isolate
    ("Cathy\u061c", "U+061C"),  # Arabic letter mark
    ("\ufeffCathy", "U+FEFF"),  # byte order mark
    ("Cathy\u00ad", "U+00AD"),  # soft hyphen
    ("Cathy\x00", "U+0000"),
    ("Cathy\x7f", "U+007F"),
    ("Cathy\x1b[31m", "U+001B"),
    ("<b>Cathy</b>", "« < » et « > »"),
    ("Cathy<script>", "« < » et « > »"),
    ("Cathy >", "« < » et « > »"),
]


@pytest.mark.parametrize(("value", "why"), HOSTILE)
def test_hostile_names_are_refused(value: str, why: str) -> None:
    with pytest.raises(Invalid, match=r"^Prénom : ") as caught:
        display_name("Prénom", value, max_length=64)
    assert why in str(caught.value)


@pytest.mark.parametrize(
    "value",
    ["Cathy", "Noël", "d'Alembert", "Petit-Silva", "de la Bruyère", "Łukasz", "Ἀλέξανδρος",
     "محمد", "王小明", "R&D (Paris)", "Service n° 2 : « Paie »"],
)  # fmt: skip
def test_real_names_pass(value: str) -> None:
    assert display_name("Nom", value, max_length=64) == value


def test_whitespace_folds_and_bounds() -> None:
    assert display_name("Nom", "  de\tla\u00a0Bruyère ", max_length=64) == "de la Bruyère"
    with pytest.raises(Invalid, match="obligatoire"):
        display_name("Nom", " \u3000 ", max_length=64)
    with pytest.raises(Invalid, match="64 caractères au plus"):
        display_name("Nom", "x" * 65, max_length=64)


@given(st.text(max_size=80))
def test_an_accepted_name_has_nothing_hidden(value: str) -> None:
    try:
        name = display_name("Nom", value, max_length=64)
    except Invalid:
        return
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in name)
    assert "<" not in name and ">" not in name
    assert name == " ".join(name.split()) and 0 < len(name) <= 64
