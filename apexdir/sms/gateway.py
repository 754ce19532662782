"""Send text messages through an HTTP gateway (SmsSettings), with the standard library only.

The request body comes from `settings.body_template` so that any provider's JSON or form API
fits by configuration; the body holds the code being sent, so it is never logged here.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from typing import Protocol

import jinja2

from apexdir.config import SmsSettings
from apexdir.errors import ApexError, ConfigError, Unavailable


class SmsRefused(ApexError):
    """The gateway answered and refused the message (HTTP 4xx other than 408/429)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class SmsGateway(Protocol):
    def send(self, to: str, text: str) -> None: ...


class HttpSmsGateway:
    def __init__(self, settings: SmsSettings) -> None:
        if not settings.url:
            raise ConfigError("sms.url: not set, text messages are disabled")
        self.settings = settings
        self.url: str = settings.url
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
        try:
            self._template = env.from_string(settings.body_template)
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(f"sms.body_template: {exc}") from exc

    def body(self, to: str, text: str) -> bytes:
        try:
            return self._template.render(to=to, text=text).encode("utf-8")
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"sms.body_template: {exc} (only `to` and `text` exist)") from exc

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": self.settings.content_type}
        if self.settings.username:
            try:
                password = (
                    self.settings.password_file.read_text(encoding="utf-8").strip()
                    if self.settings.password_file
                    else ""
                )
            except OSError as exc:
                raise ConfigError(f"sms.password_file: cannot read {self.settings.password_file}:"
                                  f" {exc.strerror}") from exc  # fmt: skip
            pair = f"{self.settings.username}:{password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return headers

    def send(self, to: str, text: str) -> None:
        request = urllib.request.Request(
            self.url, data=self.body(to, text), headers=self._headers(),
            method=self.settings.method,
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            reason = f"{self.url}: HTTP {status} {exc.reason}"
            exc.close()
            # 408/429 and 5xx say "later"; the other 4xx say "this request is wrong".
            if status in (408, 429) or status >= 500:
                raise Unavailable(f"SMS gateway {reason}") from exc
            raise SmsRefused(f"SMS gateway {reason}", status=status) from exc
        except (urllib.error.URLError, OSError) as exc:
            why = getattr(exc, "reason", None) or exc
            raise Unavailable(f"SMS gateway {self.url}: cannot connect: {why}") from exc


def gateway_from_settings(settings: SmsSettings) -> SmsGateway | None:
    """The configured gateway, or None when `sms.url` is unset (SMS disabled)."""
    return HttpSmsGateway(settings) if settings.url else None
