"""What the development sinks captured, read back: `apexdir dev mails` / `dev sms` and the
tests read the mails and texts stored by `apexdir.dev.sinks`, from any process."""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import json
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from apexdir.dev.store import DB_NAME, _connect, _flush_live, set_refusing

_COMPAT32 = BytesParser(policy=email.policy.compat32)


def _parts(raw: bytes) -> dict[str, Any]:
    """Subject, plain and HTML bodies, Message-ID of a received mail (compat32: fast)."""
    try:
        msg = _COMPAT32.parsebytes(raw)
        subject = str(email.header.make_header(email.header.decode_header(msg["Subject"] or "")))
        bodies: dict[str, str] = {}
        for part in msg.walk():
            kind = part.get_content_type()
            if kind in ("text/plain", "text/html") and kind not in bodies:
                bodies[kind] = _decoded(part)
        return {
            "subject": subject,
            "body": bodies.get("text/plain", ""),
            "html": bodies.get("text/html"),
            "message_id": str(msg["Message-ID"] or "").strip() or None,
        }
    except (LookupError, ValueError, email.errors.MessageError):
        # An unusual charset or a malformed header: the full parser copes with more.
        return _parts_default(raw)


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    # Lines travel as CRLF on the wire; readers and tests compare with plain "\n" texts.
    return data.decode(part.get_content_charset() or "us-ascii", "replace").replace("\r\n", "\n")


def _parts_default(raw: bytes) -> dict[str, Any]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    return {
        # policy.default decodes RFC 2047 encoded words.
        "subject": str(msg["Subject"] or ""),
        "body": _content(text) or "",
        "html": _content(html),
        "message_id": str(msg["Message-ID"] or "") or None,
    }


def _content(part: object) -> str | None:
    if not isinstance(part, EmailMessage):
        return None
    # Lines travel as CRLF on the wire; readers and tests compare with plain "\n" texts.
    return str(part.get_content()).replace("\r\n", "\n")


# -- reading what was captured ------------------------------------------------------------


def captured_mails(directory: Path, to: str | None = None) -> list[dict[str, Any]]:
    """Mails received, oldest first; `to` keeps those with that recipient (any case)."""
    _flush_live(directory)
    if not (Path(directory) / DB_NAME).exists():
        return []
    with _connect(directory) as conn:
        rows = conn.execute(
            "SELECT recipients, subject, body, date, message_id, raw FROM mails ORDER BY id"
        ).fetchall()
    found = []
    for recipients, subject, body, date, message_id, raw in rows:
        if raw is not None:
            parts = _parts(bytes(raw))
            subject, body, message_id = parts["subject"], parts["body"], parts["message_id"]
        found.append({"to": json.loads(recipients), "subject": subject, "body": body,
                      "date": date, "message_id": message_id})  # fmt: skip
    if to is not None:
        wanted = to.strip().lower()
        found = [m for m in found if wanted in (a.lower() for a in m["to"])]
    return found


def captured_sms(directory: Path, to: str | None = None) -> list[dict[str, Any]]:
    """Text messages received, oldest first; `to` keeps those sent to that number."""
    if not (Path(directory) / DB_NAME).exists():
        return []
    with _connect(directory) as conn:
        rows = conn.execute('SELECT "to", body, date FROM sms ORDER BY id').fetchall()
    found = [{"to": r[0], "body": r[1], "date": r[2]} for r in rows]
    if to is not None:
        found = [m for m in found if m["to"] == to.strip()]
    return found


def clear(directory: Path) -> None:
    """Forget every captured message (and stop refusing)."""
    set_refusing(directory, False)
    _flush_live(directory)
    if not (Path(directory) / DB_NAME).exists():
        return
    with _connect(directory) as conn:
        conn.execute("DELETE FROM mails")
        conn.execute("DELETE FROM sms")
