"""Render a mail of the catalogue into its subject, text and HTML bodies.

The wording of SPEC §8 is contractual: the templates hold it verbatim, subjects live in
`CATALOGUE` (the one place that lists mails), and a missing variable is an error
(StrictUndefined) rather than a blank in a mail sent to a partner.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

TEMPLATES = Path(__file__).with_name("templates")
# Partners read dates in French local time, whatever the server's zone.
PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class MailDefinition:
    subject: str
    variables: tuple[str, ...]
    purpose: str


CATALOGUE: dict[str, MailDefinition] = {
    "precreation": MailDefinition(
        "APEX Partenaires – Informations complémentaires concernant la création de votre "
        "compte personnel",
        ("lien",),
        "invitation to complete an account creation (SPEC §5.3)",
    ),
    "validation": MailDefinition(
        "APEX Partenaires – Validation de création de votre compte",
        ("identifiant",),
        "creation accepted, gives the identifier (SPEC §5.6)",
    ),
    "refusal": MailDefinition(
        "APEX Partenaires – Refus de création de votre compte",
        ("motif",),
        "creation refused, with the reason (SPEC §5.6)",
    ),
    "identifier_reminder": MailDefinition(
        "APEX Partenaires – Rappel de votre identifiant de connexion",
        ("identifiant",),
        "re-send of the identifier (SPEC §5.7)",
    ),
    "attribution": MailDefinition(
        "APEX Partenaires – Attribution de profils applicatifs",
        ("application",),
        "a profile was granted (SPEC §6)",
    ),
    "delegation": MailDefinition(
        "APEX Partenaires – Délégation de profils applicatifs",
        ("application",),
        "a profile was delegated to a responsable (SPEC §6)",
    ),
    "code": MailDefinition(
        "APEX Partenaires – Code de vérification",
        ("code",),
        "6-digit login code (SPEC §7)",
    ),
    "reset": MailDefinition(
        "APEX Partenaires – Réinitialisation de votre mot de passe",
        ("lien",),
        "forgotten-password link (SPEC §7)",
    ),
    "personal_data": MailDefinition(
        # A plain hyphen here, as in the guide: the only subject written that way.
        "APEX Partenaires - Confirmation modification de vos données personnelles",
        ("date", "heure", "identifiant"),
        "personal data changed; date jj/mm/aaaa, heure hh:mm:ss (SPEC §7)",
    ),
    "invitation_reminder": MailDefinition(
        "APEX Partenaires – Rappel : finalisation de la création de votre compte personnel",
        ("lien", "date_expiration"),
        "the invitee has not completed the form yet",
    ),
    "invitation_expired": MailDefinition(
        "APEX Partenaires – Expiration d'une demande de création de compte",
        ("mail", "date"),
        "to the creator: the invitation sent to `mail` on `date` expired",
    ),
    "validator_reminder": MailDefinition(
        "APEX Partenaires – Demandes de création de compte en attente de validation",
        ("count", "mails"),
        "to a validator: `count` requests wait, `mails` lists the invitees",
    ),
    "password_expiry_warning": MailDefinition(
        "APEX Partenaires – Expiration prochaine de votre mot de passe",
        ("identifiant", "jours", "date_expiration"),
        "the password expires in `jours` days",
    ),
    "login_codes_capped": MailDefinition(
        "APEX Partenaires – Connexion suspendue",
        ("identifiant",),
        "too many login codes asked for or mistyped: logins pause (told once a day)",
    ),
    "account_locked": MailDefinition(
        "APEX Partenaires – Verrouillage de votre compte",
        ("identifiant", "minutes"),
        "repeated wrong passwords locked the account (told to its owner only)",
    ),
    "password_expired": MailDefinition(
        "APEX Partenaires – Expiration de votre mot de passe",
        ("identifiant",),
        "the password expired: use « Mot de passe oublié »",
    ),
    "migration_invite": MailDefinition(
        "APEX Partenaires – Définition du mot de passe de votre compte",
        ("identifiant", "lien"),
        "an account migrated from APEX v1 must choose its password",
    ),
}

SUBJECTS: dict[str, str] = {name: mail.subject for name, mail in CATALOGUE.items()}


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def date_fr(value: Any) -> str:
    """jj/mm/aaaa; an aware datetime is shown in Paris time, a string passes through."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(PARIS).strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html",), default_for_string=False, default=False
        ),
        keep_trailing_newline=True,
    )
    env.filters["date_fr"] = date_fr
    return env


def render(name: str, **context: Any) -> RenderedMail:
    """Render mail `name` of `CATALOGUE`; a missing variable raises `jinja2.UndefinedError`."""
    try:
        definition = CATALOGUE[name]
    except KeyError:
        raise ValueError(f"unknown mail {name!r} (known: {', '.join(CATALOGUE)})") from None
    env = _environment()
    values = {**context, "subject": definition.subject}
    return RenderedMail(
        subject=definition.subject,
        text=env.get_template(f"{name}.txt").render(values),
        html=env.get_template(f"{name}.html").render(values),
    )


def build_message(
    rendered: RenderedMail,
    to: list[str],
    sender: str,
    message_id: str,
    sent_at: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative UTF-8 message ready for SMTP."""
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = email.utils.format_datetime(sent_at or datetime.now(UTC))
    msg["Message-ID"] = message_id
    # RFC 3834: tells vacation responders and ticketing systems not to answer a no-reply sender.
    msg["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps the message 7-bit, so any relay accepts it without 8BITMIME.
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg
