"""Render a mail of the catalogue into its subject, text and HTML bodies.

The wording of SPEC §8 is contractual: the templates hold it verbatim, subjects live in
`CATALOGUE` (the one place that lists mails), and a missing variable is an error
(StrictUndefined) rather than a blank in a mail sent to a partner.
"""

from __future__ import annotations

import binascii
import email.header
import email.policy
import email.utils
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from functools import cache, lru_cache
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
    "request_submitted": MailDefinition(
        "APEX Partenaires – Demande de création de compte à valider",
        ("nom", "mail", "type", "a_valider"),
        "to the validators (and the responsable who invited): `nom` (`mail`) submitted the "
        "form of a `type` account; `a_valider` when the recipient may validate it",
    ),
    "validator_reminder": MailDefinition(
        "APEX Partenaires – Demandes de création de compte en attente de validation",
        ("count", "mails"),
        "to a validator: `count` requests wait, `mails` lists the invitees",
    ),
    "review_reminder": MailDefinition(
        "APEX Partenaires – Revue annuelle des habilitations de votre structure",
        ("structure", "siret", "count", "date_limite", "lien", "premier"),
        "to the administrateurs: the yearly review is open (`premier`) or still waits; "
        "`count` habilitations to confirm before `date_limite` at `lien` (issue 21 item 10)",
    ),
    "review_overdue": MailDefinition(
        "APEX Partenaires – Revue des habilitations non terminée",
        ("structure", "siret", "count", "date_limite", "retrait"),
        "to the agents' mailbox: a structure left `count` habilitations unconfirmed after "
        "`date_limite`; `retrait` when they were withdrawn (policy.review_auto_revoke)",
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
    "account_deleted": MailDefinition(
        "APEX Partenaires – Suppression de votre compte APEX Partenaires",
        ("identifiant", "date", "heure"),
        "the account was deleted; its identifier is never issued again (SPEC §10)",
    ),
    "withdrawal": MailDefinition(
        "APEX Partenaires – Retrait de profils applicatifs",
        ("application",),
        "a profile was withdrawn from its holder (SPEC §10), the pair of « Attribution »",
    ),
    "account_suspended": MailDefinition(
        "APEX Partenaires – Suspension de votre compte APEX Partenaires",
        ("identifiant", "date", "heure", "motif"),
        "the account was suspended (reversible); `motif` may be None (SPEC §10)",
    ),
    "account_reactivated": MailDefinition(
        "APEX Partenaires – Réactivation de votre compte APEX Partenaires",
        ("identifiant", "date", "heure"),
        "the suspension was lifted (SPEC §10)",
    ),
    "dormancy_warning": MailDefinition(
        "APEX Partenaires – Suspension prochaine de votre compte pour inactivité",
        ("identifiant", "depuis", "jamais_utilise", "date_suspension"),
        "no login since `depuis` (its creation when `jamais_utilise`): the account is "
        "suspended on `date_suspension` unless the person logs in before (SPEC §10)",
    ),
    "dormancy_suspended": MailDefinition(
        "APEX Partenaires – Suspension de votre compte APEX Partenaires pour inactivité",
        ("identifiant", "depuis", "jamais_utilise", "date", "heure"),
        "the daemon suspended the account after the warning: no login since `depuis` (its "
        "creation when `jamais_utilise`); the administrateur can reactivate it (SPEC §10)",
    ),
    "migration_invite": MailDefinition(
        "APEX Partenaires – Définition du mot de passe de votre compte",
        ("identifiant", "lien"),
        "an account migrated from APEX v1 must choose its password",
    ),
    "structure_closed": MailDefinition(
        "APEX Partenaires – Fermeture de votre structure sur APEX Partenaires",
        ("designation", "siret", "date", "heure", "motif"),
        "to each administrateur: an agent closed the structure; `motif` may be None (SPEC §10)",
    ),
    "structure_reopened": MailDefinition(
        "APEX Partenaires – Réouverture de votre structure sur APEX Partenaires",
        ("designation", "siret", "date", "heure"),
        "to each administrateur: the structure is open again (SPEC §10)",
    ),
}


# Spool priorities (apexdir.state.outbox sends the lowest first): a person waiting at the
# login page for a code must never wait behind a mass mailing.
URGENT, NORMAL, BULK = 0, 1, 2
_URGENT = frozenset({"code", "reset"})
# Sent by the thousand by the scheduled jobs and by migrations.
_BULK = frozenset({"password_expiry_warning", "password_expired", "migration_invite",
                   "invitation_reminder", "validator_reminder", "dormancy_warning",
                   "dormancy_suspended", "review_reminder"})  # fmt: skip


def priority(name: str) -> int:
    """The spool priority of mail `name`: codes and reset links first, mass mails last."""
    if name in _URGENT:
        return URGENT
    return BULK if name in _BULK else NORMAL


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


# -- the wire form, built directly -------------------------------------------------------
# `build_message` + `EmailMessage.as_bytes` spends most of a delivery pass parsing and
# refolding headers (email.policy's header registry). `message_bytes` writes the same
# structure — headers, multipart/alternative, UTF-8 quoted-printable parts — by hand, with
# the C quoted-printable encoder and the encoded subject computed once per subject.
# tests/unit/test_mail_render.py checks that both parse to the same message.

_CRLF = "\r\n"


@lru_cache(maxsize=64)
def _subject_header(subject: str) -> str:
    if subject.isascii() and len(subject) < 900 and "\n" not in subject and "\r" not in subject:
        return subject
    # compat32's Header folds RFC 2047 words at 76 characters, never inside a UTF-8 sequence.
    return email.header.Header(subject, "utf-8", header_name="Subject").encode(linesep=_CRLF)


@lru_cache(maxsize=256)
def _qp_part(subtype: str, body: str) -> bytes:
    # Lines travel as CRLF; binascii keeps the line ends it is given and soft-breaks at 76.
    crlf = body.replace("\r\n", "\n").replace("\r", "\n").replace("\n", _CRLF)
    if not crlf.endswith(_CRLF):
        crlf += _CRLF  # the CRLF before a boundary belongs to the boundary
    encoded = binascii.b2a_qp(crlf.encode("utf-8"), istext=True)
    head = (f"Content-Type: text/{subtype}; charset=\"utf-8\"{_CRLF}"
            f"Content-Transfer-Encoding: quoted-printable{_CRLF}{_CRLF}")  # fmt: skip
    return head.encode("ascii") + encoded


def _plain_header(value: str) -> bool:
    return value.isascii() and "\r" not in value and "\n" not in value


def message_bytes(
    rendered: RenderedMail,
    to: list[str],
    sender: str,
    message_id: str,
    sent_at: datetime | None = None,
) -> bytes:
    """The message of `build_message` as the bytes sent after SMTP DATA (CRLF, 7-bit)."""
    if not all(_plain_header(v) for v in (sender, message_id, *to)):
        # Internationalized addresses (rare): the email package knows how to write them.
        return build_message(rendered, to, sender, message_id, sent_at).as_bytes(
            policy=email.policy.SMTP
        )
    date_text = email.utils.format_datetime(sent_at or datetime.now(UTC))
    headers = [
        f"Subject: {_subject_header(rendered.subject)}",
        f"From: {sender}",
        f"To: {', '.join(to)}",
        f"Date: {date_text}",
        f"Message-ID: {message_id}",
        # RFC 3834, as in build_message.
        "Auto-Submitted: auto-generated",
        "MIME-Version: 1.0",
    ]
    text = _qp_part("plain", rendered.text)
    if not rendered.html:
        head = _CRLF.join(headers) + _CRLF
        return head.encode("ascii") + text
    # "=_" never occurs in quoted-printable text ("=" is always followed by hex or a line
    # end), so the boundary cannot appear inside a part.
    boundary = f"=_{uuid.uuid4().hex}"
    headers.append(f'Content-Type: multipart/alternative;{_CRLF} boundary="{boundary}"')
    delimiter = f"{_CRLF}--{boundary}{_CRLF}".encode("ascii")
    return b"".join(
        (
            (_CRLF.join(headers) + _CRLF).encode("ascii"),
            delimiter,
            text,
            delimiter,
            _qp_part("html", rendered.html),
            f"{_CRLF}--{boundary}--{_CRLF}".encode("ascii"),
        )
    )


@lru_cache(maxsize=16)
def envelope_sender(sender: str) -> str:
    """The bare address of `smtp.sender` (which may carry a display name) for MAIL FROM."""
    return email.utils.parseaddr(sender)[1] or sender
