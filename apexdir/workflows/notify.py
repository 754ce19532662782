"""Queue a mail or a text: rendered now, sent by the daemon's outbox job."""

from __future__ import annotations

from typing import Any

from apexdir.runtime import Runtime


def queue_mail(rt: Runtime, template: str, to: list[str], **context: Any) -> int:
    from apexdir.mail.render import render

    rendered = render(template, **context)
    return rt.outbox.enqueue_mail(to, rendered.subject, rendered.text, rendered.html)


def queue_sms(rt: Runtime, to: str, text: str) -> int:
    return rt.outbox.enqueue_sms(to, text)


def link(rt: Runtime, path: str, token: str) -> str:
    """A portal link that ends with the token (the CLI accepts the whole link or the token)."""
    return f"{rt.settings.portal.base_url.rstrip('/')}/{path.strip('/')}/{token}"


def token_from(value: str) -> str:
    """The token of a whole link, or the value itself."""
    return value.strip().rstrip("/").rsplit("/", 1)[-1]
