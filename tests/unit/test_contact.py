"""E-mail and mobile number rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apexdir.errors import Invalid
from apexdir.rules.contact import mask_mobile, normalize_mobile, validate_mail


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("marie.martin@example.fr", "marie.martin@example.fr"),
        ("Marie.Martin@Example.FR", "Marie.Martin@example.fr"),
        ("  marie@notaires.fr \n", "marie@notaires.fr"),
        ("marie+apex@sub.domain.example.com", "marie+apex@sub.domain.example.com"),
        ("o'neil@example.ie", "o'neil@example.ie"),
        ("m@x.io", "m@x.io"),
        ("contact@xn--tude-notariale-9jb.fr", "contact@xn--tude-notariale-9jb.fr"),
        ("a@b-c.d-e.fr", "a@b-c.d-e.fr"),
    ],
)
def test_valid_mails(value: str, expected: str) -> None:
    """Surrounding blanks go, the domain is lower-cased, the local part keeps its case."""
    assert validate_mail(value) == expected


MAIL_REASONS = {  # the catalogue code of each kind of mistake (apexdir.messages)
    "empty": "mail.empty",
    "at": "mail.one_at",
    "local-empty": "mail.no_local",
    "local": "mail.local_invalid",
    "dots": "mail.dots",
    "domain": "mail.domain_invalid",
}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("marie.example.fr", "at"),
        ("a@b@example.fr", "at"),
        ("@example.fr", "local-empty"),
        ("marie@localhost", "domain"),
        ("marie@", "domain"),
        ("marie@.fr", "domain"),
        ("marie@example.", "domain"),
        ("marie@exa..mple.fr", "domain"),
        ("marie@-example.fr", "domain"),
        ("marie@example-.fr", "domain"),
        ("marie@exa mple.fr", "domain"),
        ("marie@exa_mple.fr", "domain"),
        ("ma rie@example.fr", "local"),
        ("ma\trie@example.fr", "local"),
        ("ma\x00rie@example.fr", "local"),
        ("<marie@example.fr", "local"),
        ("marie,paul@example.fr", "local"),
        ('"marie"@example.fr', "local"),
        (".marie@example.fr", "dots"),
        ("marie.@example.fr", "dots"),
        ("ma..rie@example.fr", "dots"),
    ],
)
def test_invalid_mails_say_why(value: str, reason: str) -> None:
    """Each kind of mistake has its own message naming the address."""
    with pytest.raises(Invalid) as caught:
        validate_mail(value)
    error = caught.value
    assert (error.code, error.field) == (MAIL_REASONS[reason], "mail")
    if reason == "empty":
        assert str(error) == "Saisissez une adresse mail de la forme prenom.nom@exemple.fr."
    else:
        assert str(error).startswith("Adresse mail invalide : ")
        assert f"« {value.strip()} »" in str(error)


@pytest.mark.parametrize(
    ("value", "part"),
    [
        ("zoé@example.fr", "la partie avant le « @ »"),
        ("имя@example.fr", "la partie avant le « @ »"),
        ("contact@étude-notariale.fr", "le domaine"),
        ("a@例え.jp", "le domaine"),
        ("a@example.ｆｒ", "le domaine"),
    ],
)
def test_non_ascii_mails_are_refused(value: str, part: str) -> None:
    """The directory stores `mail` as an IA5String: slapd refuses anything but ASCII, so the
    rule does (an accented domain is given in its xn-- form)."""
    with pytest.raises(Invalid, match="ASCII") as caught:
        validate_mail(value)
    assert part in str(caught.value)


def test_mail_length_limits() -> None:
    """254 characters in all and 64 before the @ are the most accepted."""
    domain = ".".join(["a" * 60] * 3) + ".fr"  # 186 characters
    longest = "m" * 64 + "@" + domain + "." + "b" * (254 - 64 - 1 - len(domain) - 1)
    assert len(longest) == 254
    assert validate_mail(longest) == longest
    with pytest.raises(Invalid, match="dépasse 254 caractères \\(255\\)"):
        validate_mail(longest[:66] + "x" + longest[66:])
    with pytest.raises(Invalid, match="la partie avant"):
        validate_mail("m" * 65 + "@example.fr")
    with pytest.raises(Invalid, match="domaine"):
        validate_mail("m@" + "a" * 64 + ".fr")


@given(
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}", fullmatch=True).filter(
        lambda local: ".." not in local and not local.endswith(".")
    ),
    st.lists(st.from_regex(r"[A-Za-z0-9]{1,10}", fullmatch=True), min_size=2, max_size=4),
)
def test_ordinary_addresses_are_accepted_with_domain_lowercased(
    local: str, labels: list[str]
) -> None:
    """Any plain local part with a dotted domain passes; only the domain changes case."""
    domain = ".".join(labels)
    assert validate_mail(f"{local}@{domain}") == f"{local}@{domain.lower()}"


@given(st.text(max_size=40))
def test_validate_mail_only_ever_raises_invalid(value: str) -> None:
    """Garbage is refused with Invalid; anything accepted has one @ and no whitespace."""
    try:
        result = validate_mail(value)
    except Invalid:
        return
    assert result.count("@") == 1
    assert not any(char.isspace() for char in result)
    assert len(result) <= 254
    assert result.isascii()  # what slapd's IA5String accepts


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0612345678", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("06-12-34-56-78", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("+33 (0)6 12 34 56 78", "+33612345678"),
        (" 07 56 12 34 56 ", "+33756123456"),
        ("0781123456", "+33781123456"),
        ("0692 12 34 56", "+262692123456"),
        ("0690 12 34 56", "+590690123456"),
        ("0696 12 34 56", "+596696123456"),
        ("0639 01 23 45", "+262639012345"),
        ("+262 692 12 34 56", "+262692123456"),
        ("+32 470 12 34 56", "+32470123456"),
    ],
)
def test_mobile_numbers_are_normalised_to_e164(value: str, expected: str) -> None:
    """French mobiles in every usual notation, overseas and foreign mobiles give E.164."""
    assert normalize_mobile(value) == expected


MOBILE_REASONS = {
    "empty": ("mobile.empty", ""),
    "garbage": ("mobile.not_a_number", "« {} » n'est pas un numéro de téléphone. "),
    "invalid": ("mobile.invalid", "« {} » n'est pas un numéro valide. "),
    "landline": ("mobile.not_mobile", "« {} » n'est pas un numéro de mobile. "),
}
SAY_WHAT_TO_TYPE = "Saisissez un numéro de mobile à 10 chiffres, par exemple 06 12 34 56 78."


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("abc", "garbage"),
        ("06", "invalid"),
        ("06 12 34 56 7", "invalid"),
        ("06123456789", "invalid"),
        ("07 12 34 56 78", "invalid"),  # unallocated range
        ("01 23 45 67 89", "landline"),
        ("05 56 12 34 56", "landline"),
        ("09 12 34 56 78", "landline"),
        ("08 00 12 34 56", "landline"),
        ("+33 1 23 45 67 89", "landline"),
        ("+32 12 34 56 78", "landline"),
    ],
)
def test_landlines_and_garbage_are_refused(value: str, reason: str) -> None:
    """Only numbers that can receive an SMS are accepted, with a message saying why not."""
    with pytest.raises(Invalid) as caught:
        normalize_mobile(value)
    code, why = MOBILE_REASONS[reason]
    assert (caught.value.code, caught.value.field) == (code, "mobile")
    prefix = "Numéro de mobile invalide : " + why.format(value) if why else ""
    assert str(caught.value) == prefix + SAY_WHAT_TO_TYPE


@given(st.text(max_size=25))
def test_normalize_mobile_only_ever_raises_invalid(value: str) -> None:
    """Any input gives E.164 or Invalid; E.164 output is stable under normalisation."""
    try:
        result = normalize_mobile(value)
    except Invalid:
        return
    assert result.startswith("+")
    assert result[1:].isdigit()
    assert normalize_mobile(result) == result


@given(st.from_regex(r"0[67][0-9]{8}", fullmatch=True))
def test_normalised_french_mobiles_keep_their_digits(national: str) -> None:
    """A French 06/07 number, when accepted, is +33 followed by the national digits."""
    try:
        result = normalize_mobile(national)
    except Invalid:
        return  # unallocated ranges (07 1x…) are refused by the numbering plan
    if result.startswith("+33"):
        assert result == "+33" + national[1:]
        assert mask_mobile(result) == f"{national[:2]}-XX-XX-{national[6:8]}-{national[8:]}"


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+33612343234", "06-XX-XX-32-34"),
        ("+33612345678", "06-XX-XX-56-78"),
        ("+33756123456", "07-XX-XX-34-56"),
        ("+262692123456", "06-XX-XX-34-56"),
        ("+590690123456", "06-XX-XX-34-56"),
        ("+32470123456", "+32 XXXXX3456"),
    ],
)
def test_mask_mobile(e164: str, expected: str) -> None:
    """French numbers show the first 2 and last 4 national digits; others the last 4."""
    assert mask_mobile(e164) == expected


@pytest.mark.parametrize("value", ["", "garbage", "+33"])
def test_mask_mobile_refuses_what_is_not_a_number(value: str) -> None:
    """Masking never shows a raw value it could not read."""
    with pytest.raises(Invalid, match="impossible de le masquer"):
        mask_mobile(value)


def test_display_mobile_as_a_partner_writes_it() -> None:
    """E.164 as stored → national writing; nothing or junk as it is."""
    from apexdir.rules.contact import display_mobile

    assert display_mobile("+33612345678") == "06 12 34 56 78"
    assert display_mobile(None) == ""
    assert display_mobile("pas un numéro") == "pas un numéro"
