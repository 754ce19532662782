"""The link and phone filter of a refusal reason against its known bypasses (issue 18,
item 9): look-alike dots, spaced dots, defanged links, phone numbers in French and
international shapes — each listed, then generated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apexdir.errors import Invalid
from apexdir.rules.refusal import validate_reason

# Every bypass the attack pass found, and their close cousins.
LINKS = [
    "Rendez-vous sur evil·com",  # U+00B7 middle dot
    "Rendez-vous sur evil[.]com/connexion",
    "Rendez-vous sur evil(.)com",
    "Rendez-vous sur evil{.}com",
    "Rendez-vous sur evil .com",
    "Rendez-vous sur evil\u00a0.com",  # NBSP before the dot
    "Rendez-vous sur evil.\u00a0com",  # NBSP after the dot
    "Rendez-vous sur evil \u00a0. com",
    "Rendez-vous sur evil\u2027com",  # hyphenation point
    "Rendez-vous sur evil\u0387com",  # Greek ano teleia
    "Rendez-vous sur evil\u2e31com",  # word separator middle dot
    "Rendez-vous sur evil\u2024com",  # one dot leader
    "Rendez-vous sur evil\ufe52com",  # small full stop
    "Rendez-vous sur evil\u30fbcom",  # katakana middle dot
    "Rendez-vous sur evil\u2219com",  # bullet operator
    "Rendez-vous sur evil\u22c5com",  # dot operator
    "Rendez-vous sur evil[dot]com",
    "Rendez-vous sur evil (dot) com",
    "Rendez-vous sur evil dot com",
    "Rendez-vous sur evil DOT com",
    "Rendez-vous sur evil point com",
    "Rendez-vous sur evil[point]fr",
    "Rendez-vous sur hxxp://evil",
    "Rendez-vous sur hxxps[:]//evil",
    "Rendez-vous sur HXXPS://evil",
    "Rendez-vous sur https[:]//evil",
    "Rendez-vous sur evil[.]gouv[.]fr",
    "Écrivez à aide[@]evil[.]fr",
    "Serveur 10[.]0[.]0[.]1",
]
PHONES = [
    "Appelez le 01 89 00 00 00",
    "Appelez le 0189000000",
    "Appelez le 01.89.00.00.00",
    "Appelez le 01-89-00-00-00",
    "Appelez le 06\u00a012\u00a034\u00a056\u00a078",
    "Appelez le 01 890 000 00",
    "Appelez le ０１ ８９ ００ ００ ００",  # fullwidth digits
    "Appelez le +33 1 89 00 00 00",
    "Appelez le +33 (0)1 89 00 00 00",
    "Appelez le +33189000000",
    "Appelez le 0033 1 89 00 00 00",
    "Appelez le +1 202 555 0100",
    "Appelez le +44 20 7946 0958",
    "Appelez le 12 01 89 00 00 00 poste 3",
    "Tel:0189000000",
]
# What a validator writes and must keep writing.
PLAIN = [
    "Doublon. Voir le service comptable.",
    "SIRET 732 829 320 00074 erroné",
    "SIRET 73282932000074 erroné",
    "SIREN 732 829 320 inconnu",
    "Article 12, alinéa 3 : 1.5 jour de retard",
    "Demande du 12/03/2026 en double",
    "Code postal 95100, 2 demandes",
    "Structure « R&D » inconnue",
    "Référence 2026-000123",
    "Ce point sera revu",
    "Montant de 1 000 000 euros",
]


@pytest.mark.parametrize("value", LINKS)
def test_disguised_links_are_refused(value: str) -> None:
    with pytest.raises(Invalid, match="ni lien"):
        validate_reason(value)


@pytest.mark.parametrize("value", PHONES)
def test_phone_numbers_are_refused(value: str) -> None:
    with pytest.raises(Invalid, match="numéro de téléphone"):
        validate_reason(value)


@pytest.mark.parametrize("value", PLAIN)
def test_plain_reasons_still_pass(value: str) -> None:
    assert validate_reason(value) == " ".join(value.split())


DOT_LIKES = "·\u2027\u0387\u2e31\u2024\ufe52\u30fb\uff65\u2219\u22c5\u3002\uff0e\uff61."
DEFANGS = ["[.]", "(.)", "{.}", "[dot]", "(dot)", " dot ", " point ", " [.] ", " . "]
TLDS = ["com", "fr", "net", "org", "io", "eu", "info"]
# A label with a long run of digits reads as a phone number, which is refused first, rightly
# (Hypothesis drew « x001000000 »): the labels keep fewer than six digits.
labels = (
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
    .filter(lambda s: sum(c.isdigit() for c in s) < 6)
    .map(lambda s: "x" + s)
)
around = st.sampled_from(["", "Voir ", "Allez sur ", "(", "« "])


@given(labels, st.sampled_from(list(DOT_LIKES) + DEFANGS), st.sampled_from(TLDS), around)
def test_any_dot_look_alike_makes_a_host(label: str, dot: str, tld: str, before: str) -> None:
    """A label, any dot-like or defanged dot, a top-level domain: always a link."""
    with pytest.raises(Invalid, match="ni lien"):
        validate_reason(f"{before}{label}{dot}{tld}/connexion")


separators = st.sampled_from(["", " ", ".", "-", "\u00a0", "\u202f"])


@given(
    st.integers(1, 9),
    st.lists(st.integers(0, 99), min_size=4, max_size=4),
    separators,
    around,
)
def test_any_french_number_shape(first: int, pairs: list[int], sep: str, before: str) -> None:
    """0X XX XX XX XX with any separator, anywhere in the text."""
    number = f"0{first}" + "".join(f"{sep}{p:02d}" for p in pairs)
    with pytest.raises(Invalid, match="numéro de téléphone"):
        validate_reason(f"{before}{number} merci")


@given(
    st.sampled_from(["+33", "+1", "+44", "+49", "+212", "0033", "00 33"]),
    st.text(alphabet="0123456789", min_size=8, max_size=11),
    separators,
)
def test_any_international_number(prefix: str, digits: str, sep: str) -> None:
    number = prefix + " " + sep.join(digits[i : i + 2] for i in range(0, len(digits), 2))
    with pytest.raises(Invalid, match="numéro de téléphone"):
        validate_reason(f"Appelez le {number}")
