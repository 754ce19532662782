"""Queue a mail or a text: rendered now, sent by the daemon's outbox job."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apexdir.rules.wording import DateTime
from apexdir.runtime import Runtime


def moment(rt: Runtime) -> DateTime:
    """Now, as the life-of-an-account mails tell it (Paris time): `date` and `heure`."""
    from zoneinfo import ZoneInfo

    now = rt.clock().astimezone(ZoneInfo("Europe/Paris"))
    return {"date": now.strftime("%d/%m/%Y"), "heure": now.strftime("%H:%M")}


@dataclass
class Mail:
    """A mail to queue: its template, recipients and context (`apexdir.mail.render`)."""

    template: str
    to: list[str]
    context: dict[str, Any] = field(default_factory=dict)


def personal_data(identifier: str, old: str, new: str | None, when: datetime) -> list[Mail]:
    """The personal-data confirmation of a change made at `when`: to the old address, and
    to the new one when the e-mail changed (the confirmation is a safeguard: someone else
    may have made the change). Whoever made it — the partner on the portal, an agent with
    the CLI, any LDAP client seen by the change feed — the same mails."""
    from zoneinfo import ZoneInfo

    recipients = [old]
    if new and new.lower() != old.lower():
        recipients.append(new)
    at = when.astimezone(ZoneInfo("Europe/Paris"))
    context = {"date": at.strftime("%d/%m/%Y"), "heure": at.strftime("%H:%M:%S")}
    return [
        Mail("personal_data", [address], {**context, "identifiant": identifier})
        for address in recipients
    ]


def queue_mail(
    rt: Runtime,
    template: str,
    to: list[str],
    *,
    topic: str | None = None,
    valid_until: datetime | None = None,
    **context: Any,
) -> int:
    """Queue mail `template`. A code or a link names its `topic` (`login:<identifier>`,
    `reset:<identifier>`: a newer one drops the older one still waiting) and its
    `valid_until` (never delivered after it)."""
    from apexdir.mail.render import priority, render

    rendered = render(template, **context)
    return rt.outbox.enqueue_mail(
        to, rendered.subject, rendered.text, rendered.html, priority(template),
        topic=topic, expires_at=valid_until,
    )  # fmt: skip


def queue_mail_or_undo(
    rt: Runtime, undo: Callable[[], object], template: str, to: list[str], **context: Any
) -> int:
    """Queue the mail that announces a write just made; if the spool cannot take it, undo
    the write and re-raise, so that nothing is half-done and the command can run again."""
    try:
        return queue_mail(rt, template, to, **context)
    except Exception:
        with contextlib.suppress(Exception):  # the original error is the one to report
            undo()
        raise


def announce_then(
    rt: Runtime, write: Callable[[], object], template: str, to: list[str], **context: Any
) -> int:
    """Queue the mail that announces a write that cannot be undone (a deletion), then
    make the write; if the write fails, the mail is cancelled before any delivery takes it
    and the error re-raised: the person is told exactly when it happened."""
    queued = queue_mail(rt, template, to, **context)
    try:
        write()
    except Exception:
        with contextlib.suppress(Exception):  # the original error is the one to report
            rt.outbox.cancel(queued, f"not sent: the {template} it announced failed")
        raise
    return queued


def queue_sms(
    rt: Runtime,
    to: str,
    text: str,
    *,
    topic: str | None = None,
    valid_until: datetime | None = None,
) -> int:
    from apexdir.mail.render import URGENT

    # Texts carry reset codes, which someone is waiting for: never behind a mass mailing.
    return rt.outbox.enqueue_sms(to, text, URGENT, topic=topic, expires_at=valid_until)


def link(rt: Runtime, path: str, token: str) -> str:
    """A portal link that ends with the token (the CLI accepts the whole link or the token)."""
    return f"{rt.settings.portal.base_url.rstrip('/')}/{path.strip('/')}/{token}"


def token_from(value: str) -> str:
    """The token of a whole link, or the value itself."""
    return value.strip().rstrip("/").rsplit("/", 1)[-1]
