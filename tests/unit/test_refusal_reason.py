"""The reason of a refused creation: plain text, short, no link, no control character."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apexdir.errors import Invalid
from apexdir.rules.refusal import MAX_LENGTH, validate_reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Doublon", "Doublon"),
        ("  Personne\tinconnue\r\ndu service ", "Personne inconnue du service"),
        ("Structure « R&D » inconnue (art. 12, 1.5 jour) — voir l'administrateur", None),
        ("SIRET 732 829 320 00074 erroné", None),
        ("a < b et <3", None),
        ("x" * MAX_LENGTH, None),
    ],
)
def test_plain_reasons_are_kept_with_whitespace_folded(value: str, expected: str | None) -> None:
    assert validate_reason(value) == (expected or value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "obligatoire"),
        ("", "obligatoire"),
        (" \n\t ", "obligatoire"),
        ("x" * (MAX_LENGTH + 1), f"{MAX_LENGTH + 1} caractères, {MAX_LENGTH} au plus"),
        ("voir http://exemple.fr", "« http:// »"),
        ("voir HTTPS://exemple.fr", "« HTTPS:// »"),
        ("ftp://serveur/fichier", "« ftp:// »"),
        ("sur www.impots.fr", "« www. »"),
        ("sur ＷＷＷ．impots．fr", "« WWW. »"),
        ("sur impots.gouv.fr/espace", "« impots.gouv.fr »"),
        ("sur dgfip-aide.com", "« dgfip-aide.com »"),
        ("sur exemple。com", "« exemple.com »"),
        ("écrivez à aide@exemple.fr", "« exemple.fr »"),
        ("mailto:aide", "« mailto: »"),
        ("javascript:alert(1)", "« javascript: »"),
        ("serveur 192.168.1.10", "« 192.168.1.10 »"),
        ("tel : 01 23 45 67 89", "« 01 23 45 67 89 »"),
        ("Refus\x00", "U+0000"),
        ("Refus\x1b[2J", "U+001B"),
        ("Refus\x7f", "U+007F"),
        ("Refus\x85", "U+0085"),
        ("Refus\u202egnp.exe", "U+202E"),
        ("Refus\u200b", "U+200B"),
        ("Refus\udcff", "U+DCFF"),
        ("Refus\x0b", "U+000B"),
        ("<b>Refus</b>", "sans balise"),
        ("Refus <img src=x>", "sans balise"),
        ("Refus </p>", "sans balise"),
        ("<!-- commentaire -->", "sans balise"),
    ],
)
def test_refused_reasons_say_why(value: str | None, reason: str) -> None:
    with pytest.raises(Invalid, match=r"^Motif du refus") as caught:
        validate_reason(value)
    assert reason in str(caught.value)


@given(st.text(max_size=MAX_LENGTH + 20))
def test_an_accepted_reason_is_plain_short_text(value: str) -> None:
    """Whatever is accepted fits the mail: one line, no control, no scheme, no tag."""
    try:
        text = validate_reason(value)
    except Invalid:
        return
    assert 0 < len(text) <= MAX_LENGTH
    assert text == " ".join(text.split())
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text)
    assert not re.search(r"://|www\.|<[a-z/!?]", text, re.IGNORECASE)
