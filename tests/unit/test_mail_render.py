"""Mail templates: the exact wording of SPEC §8, strict variables, escaped HTML."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import Any

import jinja2
import pytest

from apexdir.mail.render import (
    BULK,
    CATALOGUE,
    NORMAL,
    TEMPLATES,
    URGENT,
    RenderedMail,
    build_message,
    message_bytes,
    priority,
    render,
)

SIGNATURE = "\n\nBien cordialement,\nLa Direction générale des Finances publiques\n"

# Bodies exactly as SPEC §8 writes them (placeholders filled), signature appended.
EXPECTED: dict[str, tuple[dict[str, Any], str, str]] = {
    "precreation": (
        {"lien": "https://apex.example/precreation/TOKEN"},
        "APEX Partenaires – Informations complémentaires concernant la création de votre "
        "compte personnel",
        "Bonjour,\n\nLa création d'un compte a été initiée afin de vous permettre d'accéder à "
        "des applications de la DGFIP.\n\nVeuillez cliquer sur le lien ci-dessous pour compléter "
        "et finaliser la création de votre compte :\n\nURL : https://apex.example/precreation/"
        "TOKEN\n\nSi vous n'êtes pas concerné par ce mail, veuillez l'ignorer.",
    ),
    "validation": (
        {"identifiant": "marie.martin-px"},
        "APEX Partenaires – Validation de création de votre compte",
        "Bonjour,\n\nVotre demande de création de compte a été acceptée.\n\nVeuillez trouver "
        "ci-joint votre identifiant de connexion : marie.martin-px\n\nPour rappel, votre mot de "
        "passe est celui que vous avez défini lorsque vous avez complété la demande de création "
        "de votre compte.",
    ),
    "attribution": (
        {"application": "App DGFIP"},
        "APEX Partenaires – Attribution de profils applicatifs",
        'Bonjour,\n\nUn nouveau profil applicatif sur l\'application "App DGFIP" vous a été '
        "attribué.\n\nSi vous n'êtes pas responsable de ce mail, merci de l'ignorer.",
    ),
    "code": (
        {"code": "397110"},
        "APEX Partenaires – Code de vérification",
        "Bonjour,\n\nSaisissez ce code de vérification 397110 pour vous connecter à Apex "
        "partenaires.\n\nSi vous n'êtes pas destinataire de ce mail, merci de l'ignorer.",
    ),
    "reset": (
        {"lien": "https://apex.example/reset/TOKEN"},
        "APEX Partenaires – Réinitialisation de votre mot de passe",
        "Bonjour,\n\nSuite à votre demande, nous vous invitons à cliquer sur le lien ci-dessous "
        "afin de réinitialiser en toute sécurité le mot de passe de votre espace Partenaires :"
        "\n\nURL : https://apex.example/reset/TOKEN\n\nSi vous n'êtes pas concerné par ce mail, "
        "veuillez l'ignorer.",
    ),
    "personal_data": (
        {"date": "13/02/2024", "heure": "09:43:41", "identifiant": "marie.martin-px"},
        "APEX Partenaires - Confirmation modification de vos données personnelles",
        "Bonjour,\n\nUne modification de vos informations personnelles a été effectuée sur votre "
        "espace Apex Partenaires le 13/02/2024 à 09:43:41 (marie.martin-px).\n\nSi vous n'êtes "
        "pas à l'origine de cette demande, veuillez vous rapprocher dans les plus bref délais de "
        "l'assistance.",
    ),
}

SAMPLES: dict[str, dict[str, Any]] = {
    "refusal": {"motif": "Structure inconnue"},
    "identifier_reminder": {"identifiant": "marie.martin-px"},
    "delegation": {"application": "App DGFIP"},
    "invitation_reminder": {"lien": "https://apex.example/p/T", "date_expiration": "22/01/2026"},
    "invitation_expired": {"mail": "paul@example.org", "date": date(2026, 1, 8)},
    "validator_reminder": {"count": 2, "mails": ["a@example.org", "b@example.org"]},
    "request_submitted": {
        "nom": "Marie Martin",
        "mail": "marie@example.org",
        "type": "collaborateur",
        "a_valider": True,
    },
    "password_expiry_warning": {
        "identifiant": "marie.martin-px",
        "jours": 7,
        "date_expiration": "22/01/2026",
    },
    "password_expired": {"identifiant": "marie.martin-px"},
    "account_locked": {"identifiant": "marie.martin-px", "minutes": 15},
    "login_codes_capped": {"identifiant": "marie.martin-px"},
    "migration_invite": {"identifiant": "marie.martin-px", "lien": "https://apex.example/m/T"},
    "account_deleted": {
        "identifiant": "remi.temporaire-px",
        "date": "13/02/2024",
        "heure": "09:43",
    },
    "withdrawal": {"application": "App DGFIP"},
    "review_reminder": {
        "structure": "Banque Exemple",
        "siret": "73282932000074",
        "count": 3,
        "date_limite": "31/03/2026",
        "lien": "https://apex.example/structure/revue",
        "premier": True,
    },
    "review_overdue": {
        "structure": "Banque Exemple",
        "siret": "73282932000074",
        "count": 2,
        "date_limite": "31/03/2026",
        "retrait": False,
    },
    "account_suspended": {
        "identifiant": "marie.martin-px",
        "date": "13/02/2024",
        "heure": "09:43",
        "motif": "Départ de la structure",
    },
    "account_reactivated": {
        "identifiant": "marie.martin-px",
        "date": "14/02/2024",
        "heure": "10:00",
    },
    "dormancy_warning": {
        "identifiant": "marie.martin-px",
        "depuis": datetime(2026, 2, 13, 8, 43, tzinfo=UTC),
        "jamais_utilise": False,
        "date_suspension": datetime(2027, 2, 13, 8, 43, tzinfo=UTC),
    },
    "dormancy_suspended": {
        "identifiant": "marie.martin-px",
        "depuis": datetime(2026, 2, 13, 8, 43, tzinfo=UTC),
        "jamais_utilise": True,
        "date": "13/02/2027",
        "heure": "09:43",
    },
    "structure_closed": {
        "designation": "Banque Exemple",
        "siret": "73282932000074",
        "date": "13/02/2024",
        "heure": "09:43",
        "motif": "Cessation de l’activité",
    },
    "structure_reopened": {
        "designation": "Banque Exemple",
        "siret": "73282932000074",
        "date": "13/02/2024",
        "heure": "09:43",
    },
    **{name: context for name, (context, _, _) in EXPECTED.items()},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spec_texts_are_exact(name: str) -> None:
    """Subject and text body of each SPEC §8 mail, character for character."""
    context, subject, body = EXPECTED[name]
    rendered = render(name, **context)
    assert rendered.subject == subject
    assert rendered.text == body + SIGNATURE


def test_subject_dashes() -> None:
    """Every subject uses an en dash except the personal-data one, as in the guide."""
    for name, subject in ((n, m.subject) for n, m in CATALOGUE.items()):
        dash = "-" if name == "personal_data" else "–"
        assert subject.startswith(f"APEX Partenaires {dash} "), name


def test_catalogue_and_templates_match() -> None:
    """Each mail has its .txt and .html; no template is left outside the catalogue."""
    names = {p.stem for p in TEMPLATES.iterdir() if not p.name.startswith("_")}
    assert names == set(CATALOGUE) == set(SAMPLES)
    for name in CATALOGUE:
        assert (TEMPLATES / f"{name}.txt").is_file() and (TEMPLATES / f"{name}.html").is_file()


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_mail_renders_in_the_same_voice(name: str) -> None:
    """Greeting, signature, declared variables present in both bodies."""
    rendered = render(name, **SAMPLES[name])
    assert rendered.subject == CATALOGUE[name].subject
    assert rendered.text.startswith("Bonjour,\n\n")
    assert rendered.text.endswith(SIGNATURE)
    assert "\n\n\n" not in rendered.text
    assert "<p>Bonjour,</p>" in rendered.html
    assert "La Direction générale des Finances publiques</p>" in rendered.html
    for variable in CATALOGUE[name].variables:
        value = SAMPLES[name][variable]
        if isinstance(value, str):
            assert value in rendered.text and value in rendered.html, variable


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_missing_variable_raises(name: str) -> None:
    """StrictUndefined: a forgotten variable is an error, never a blank in a sent mail."""
    context = dict(SAMPLES[name])
    context.pop(CATALOGUE[name].variables[0])
    with pytest.raises(jinja2.UndefinedError):
        render(name, **context)


def test_unknown_mail() -> None:
    """A name outside the catalogue is refused with the list of known names."""
    with pytest.raises(ValueError, match=r"unknown mail 'nope'.*precreation"):
        render("nope")


def test_html_is_escaped_text_is_not() -> None:
    """Values are escaped in the HTML body and kept verbatim in the text body."""
    motif = 'SIRET <b>"faux"</b> & co'
    rendered = render("refusal", motif=motif)
    assert f'Motif indiqué par le valideur : "{motif}"\n' in rendered.text
    assert "SIRET &lt;b&gt;&#34;faux&#34;&lt;/b&gt; &amp; co" in rendered.html
    assert "<b>" not in rendered.html
    link = render("reset", lien="https://apex.example/r?a=1&b=2")
    assert 'href="https://apex.example/r?a=1&amp;b=2"' in link.html


def test_plural_and_dates() -> None:
    """One pending request / one day read in the singular; dates print as jj/mm/aaaa."""
    one = render("validator_reminder", count=1, mails=["a@example.org"])
    assert "Une demande de création de compte est en attente de votre validation" in one.text
    assert "\n\n- a@example.org\n\n" in one.text
    many = render("validator_reminder", **SAMPLES["validator_reminder"])
    assert "2 demandes de création de compte sont en attente" in many.text
    day = render("password_expiry_warning", identifiant="x-px", jours=1,
                 date_expiration=datetime(2026, 1, 15, 23, 30, tzinfo=UTC))  # fmt: skip
    # 23:30 UTC is already the 16th in Paris.
    assert "expirera dans 1 jour, le 16/01/2026." in day.text
    expired = render("invitation_expired", **SAMPLES["invitation_expired"])
    assert "initiée le 08/01/2026 pour l'adresse paul@example.org" in expired.text


def test_build_message() -> None:
    """multipart/alternative, UTF-8, the headers a relay and a mail client expect."""
    rendered = render("code", code="123456")
    when = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    sender = "ne-pas-repondre@dgfip.finances.gouv.fr"
    msg = build_message(rendered, ["a@example.org", "b@example.org"], sender, "<abc@apexdir>", when)
    assert msg.get_content_type() == "multipart/alternative"
    raw = msg.as_bytes(policy=email.policy.SMTP)
    raw.decode("ascii")  # 7-bit on the wire: any relay takes it
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == "APEX Partenaires – Code de vérification"
    assert parsed["From"] == "ne-pas-repondre@dgfip.finances.gouv.fr"
    assert parsed["To"] == "a@example.org, b@example.org"
    assert parsed["Message-ID"] == "<abc@apexdir>"
    assert parsed["Date"] == "Thu, 15 Jan 2026 09:00:00 +0000"
    assert parsed["Auto-Submitted"] == "auto-generated"
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n") == rendered.text
    assert plain.get_content_charset() == "utf-8"
    assert "<strong>123456</strong>" in html.get_content()


@pytest.mark.parametrize("name", sorted(CATALOGUE))
@pytest.mark.parametrize("with_html", [True, False])
def test_message_bytes_equals_build_message(name: str, with_html: bool) -> None:
    """The hand-written wire form parses to the same headers and bodies as build_message."""
    rendered = render(name, **SAMPLES[name])
    if not with_html:
        rendered = RenderedMail(rendered.subject, rendered.text, "")
    when = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    args = (rendered, ["a@example.org", "b@example.org"], "APEX <ne-pas-repondre@dgfip.fr>",
            "<abc@apexdir>", when)  # fmt: skip
    raw = message_bytes(*args)
    raw.decode("ascii")  # 7-bit on the wire: any relay takes it
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b""), "CRLF line ends only"
    ours = email.message_from_bytes(raw, policy=email.policy.default)
    reference = email.message_from_bytes(
        build_message(*args).as_bytes(policy=email.policy.SMTP), policy=email.policy.default
    )
    assert isinstance(ours, EmailMessage) and isinstance(reference, EmailMessage)
    for header in ("Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted",
                   "MIME-Version"):  # fmt: skip
        assert ours[header] == reference[header], header
    assert ours["Subject"] == CATALOGUE[name].subject
    assert ours.get_content_type() == reference.get_content_type()
    for kind in ("plain", "html"):
        mine, theirs = ours.get_body((kind,)), reference.get_body((kind,))
        assert (mine is None) == (theirs is None)
        if mine is not None and theirs is not None:
            assert mine.get_content() == theirs.get_content()
            assert mine.get_content_charset() == "utf-8"
            assert mine["Content-Transfer-Encoding"] == "quoted-printable"
    plain = ours.get_body(("plain",))
    assert plain is not None and plain.get_content().replace("\r\n", "\n") == rendered.text


def test_message_bytes_internationalized_address_falls_back() -> None:
    """An address the fast path cannot write goes through the email package (SMTPUTF8)."""
    rendered = render("code", code="123456")
    raw = message_bytes(rendered, ["élodie@example.org"], "s@example.org", "<m@apexdir>")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["To"] == "élodie@example.org"


def test_priorities() -> None:
    """Codes and reset links first, mass mailings last, everything else in between."""
    assert priority("code") == priority("reset") == URGENT
    assert priority("password_expiry_warning") == priority("migration_invite") == BULK
    assert priority("validation") == NORMAL
    assert URGENT < NORMAL < BULK


def test_closing_mail_without_a_reason() -> None:
    """The closing mail quotes the agent's reason when there is one, and only then."""
    context = {**SAMPLES["structure_closed"], "motif": None}
    text = render("structure_closed", **context).text
    assert "Motif" not in text
    assert "Banque Exemple (SIRET 73282932000074)" in text
    assert "Rien n'a été supprimé" in text
    with_reason = render("structure_closed", **SAMPLES["structure_closed"]).text
    assert 'Motif indiqué : "Cessation de l’activité"' in with_reason
