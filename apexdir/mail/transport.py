"""The only code that talks SMTP: one connection per batch, errors turned into our own.

`Unavailable` means the server cannot be reached or dropped us (every message of the batch
should wait for a retry); `DeliveryRefused` means the server answered and refused this one
message (the caller retries it later, the session stays usable for the next ones).
"""

from __future__ import annotations

from collections.abc import Coroutine
from email.message import EmailMessage
from types import TracebackType
from typing import Any

import aiosmtplib
from aiosmtplib.response import SMTPResponse

from apexdir.config import SmtpSettings
from apexdir.errors import ApexError, ConfigError, Unavailable


class DeliveryRefused(ApexError):
    """The SMTP server refused one message (sender, every recipient, or the data).

    Its SMTP reply code is `reply_code`: `code` is `ApexError`'s catalogue key, which
    `messages.render` would look up."""

    def __init__(
        self, message: str, *, reply_code: int | None, recipients: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.reply_code = reply_code
        self.recipients = list(recipients or [])

    @property
    def permanent(self) -> bool:
        """5xx: retrying the same message will most likely be refused again."""
        return self.reply_code is not None and self.reply_code >= 500


class SmtpSession:
    """`async with SmtpSession(settings) as smtp: await smtp.send(msg)` — one connection."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._client: aiosmtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"SMTP server {self.settings.host}:{self.settings.port}"

    async def __aenter__(self) -> SmtpSession:
        s = self.settings
        try:
            password = s.password()
        except OSError as exc:
            raise ConfigError(f"smtp.password_file: cannot read {s.password_file}: "
                              f"{exc.strerror}") from exc  # fmt: skip
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=s.timeout,
            use_tls=s.security == "tls",
            # False, not None: None would upgrade opportunistically, and "none" must mean none.
            start_tls=s.security == "starttls",
            username=s.username if s.username else None,
            password=password if s.username else None,
        )
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise Unavailable(f"{self.where}: authentication refused: {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise Unavailable(f"{self.where}: cannot connect: {_describe(exc)}") from exc
        self._client = client
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            # Everything sent was already accepted; a failed goodbye changes nothing.
            client.close()

    async def send(self, msg: EmailMessage) -> dict[str, str]:
        """Send one message; returns the recipients the server refused while accepting others.

        Raises `DeliveryRefused` when the server refused the message, `Unavailable` when the
        connection is gone (the session is then unusable).
        """
        if self._client is None:
            raise Unavailable(f"{self.where}: not connected")
        return await self._answer(self._client.send_message(msg))

    async def send_bytes(self, sender: str, recipients: list[str], data: bytes) -> dict[str, str]:
        """`send` for a message already in its wire form (`apexdir.mail.render.message_bytes`):
        the envelope is given, nothing is parsed again. Same answers and errors as `send`."""
        if self._client is None:
            raise Unavailable(f"{self.where}: not connected")
        return await self._answer(self._client.sendmail(sender, recipients, data))

    async def _answer(
        self, sending: Coroutine[Any, Any, tuple[dict[str, SMTPResponse], str]]
    ) -> dict[str, str]:
        try:
            refused, _ = await sending
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            # Report the mildest code: one temporary refusal means a retry may succeed.
            raise DeliveryRefused(
                f"recipients refused: {text}",
                reply_code=min(codes, default=None),
                recipients=[r.recipient for r in exc.recipients],
            ) from exc
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            self._client = None
            raise Unavailable(f"{self.where}: connection lost: {_describe(exc)}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == 421:
                # 421: the server is closing the channel; nothing more will go through it.
                self._client = None
                raise Unavailable(f"{self.where}: {exc.code} {exc.message}") from exc
            raise DeliveryRefused(
                f"refused: {exc.code} {exc.message}", reply_code=exc.code
            ) from exc
        except ValueError as exc:
            # aiosmtplib checks addresses before sending anything: a malformed one never passes.
            raise DeliveryRefused(f"invalid address: {exc}", reply_code=550) from exc
        return {address: f"{r.code} {r.message}" for address, r in refused.items()}


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())
