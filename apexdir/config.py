"""Configuration: one pydantic model per area, read from a TOML file then `APEXDIR_*` variables.

Environment overrides use `__` between levels: `APEXDIR_LDAP__URIS='["ldap://a","ldap://b"]'`,
`APEXDIR_SMTP__PORT=2525`. Relative paths are relative to the configuration file's folder.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from apexdir.errors import ConfigError, Invalid
from apexdir.rules.urls import web_address

DEFAULT_CONFIG = "apexdir.toml"
ENV_PREFIX = "APEXDIR_"
SECRETS_KEY_LABEL = b"apexdir one-time codes v2"

DEFAULT_CATEGORIES = [
    "Notaires, Géomètres-Experts",
    "Banques",
    "Partenaires EDI",
    "Tiers déclarants",
    "Ministères",
    "Organismes publics",
    "Bailleurs, Administrateurs de biens",
    "Economie collaborative et plateformes numériques",
    "Acteurs de médiation numérique",
    "Facturation électronique - Plateformes de dématérialisation partenaires",
    "Lutte contre la fraude fiscale et le blanchiment",
]


def read_key(setting: str, path: Path) -> str:
    """A secret key from its file: 32 characters or more, the error naming the setting."""
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc.strerror}") from exc
    if len(key) < 32:
        raise ConfigError(f"{setting}: the key must hold 32 characters or more")
    return key


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LdapSettings(_Section):
    uris: list[str] = Field(min_length=1, description="Directory servers, tried in order.")
    base_dn: str = Field(description="Base DN of the APEX directory.")
    bind_dn: str = Field(description="apexdir's own service account.")
    bind_password: SecretStr | None = Field(None, description="Prefer bind_password_file.")
    bind_password_file: Path | None = Field(None, description="File holding the bind password.")
    starttls: bool = Field(False, description="Upgrade ldap:// connections with StartTLS.")
    ca_file: Path | None = Field(None, description="CA certificates to verify the server with.")
    connect_timeout: float = Field(5.0, gt=0, description="Seconds to open a connection.")
    receive_timeout: float = Field(
        15.0, gt=0, description="Seconds to wait for an answer (daemon, CLI, bulk loads)."
    )
    interactive_timeout: float = Field(
        3.0,
        gt=0,
        description="Seconds the portal waits for an answer or a connection: a hung server "
        "is then a failed one (the next server is tried, or the partner gets the 503 page).",
    )
    page_size: int = Field(500, ge=1, description="Page size of paged searches.")
    secrets_key_file: Path | None = Field(
        None,
        description="File holding the key (32 characters or more) of the HMAC under which "
        "login and reset codes are kept in the directory; the same on every node, chmod 600. "
        "Unset: a key derived from the bind password.",
    )

    def interactive(self) -> LdapSettings:
        """These settings with the short deadlines of a person waiting (the portal)."""
        return self.model_copy(
            update={
                "receive_timeout": min(self.receive_timeout, self.interactive_timeout),
                "connect_timeout": min(self.connect_timeout, self.interactive_timeout),
            }
        )

    def secrets_key(self) -> bytes:
        """The HMAC key of one-time codes (apexdir/rules/onetime.py).

        Without a key file, the bind password (a random secret every node already shares,
        never in the directory in clear) keys it, so an entry, the accesslog or a backup
        can never be reversed offline; rotating the bind password then voids codes in flight.
        """
        if self.secrets_key_file is None:
            return hmac.new(self.password().encode(), SECRETS_KEY_LABEL, hashlib.sha256).digest()
        return read_key("ldap.secrets_key_file", self.secrets_key_file).encode()

    def password(self) -> str:
        if self.bind_password is not None:
            return self.bind_password.get_secret_value()
        if self.bind_password_file is not None:
            try:
                return self.bind_password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"ldap.bind_password_file: cannot read {self.bind_password_file}: "
                    f"{exc.strerror}"
                ) from exc
        raise ConfigError("ldap: set bind_password_file (or bind_password)")


class SmtpSettings(_Section):
    host: str = Field("localhost", description="SMTP relay.")
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = Field("none", description="Transport security.")
    username: str | None = None
    password_file: Path | None = None
    sender: str = Field("ne-pas-repondre@dgfip.finances.gouv.fr", description="From address.")
    timeout: float = Field(10.0, gt=0)

    def password(self) -> str | None:
        if self.password_file is None:
            return None
        return self.password_file.read_text(encoding="utf-8").strip()


class SmsSettings(_Section):
    url: str | None = Field(None, description="HTTP gateway endpoint; unset disables SMS.")
    method: Literal["POST", "PUT"] = "POST"
    username: str | None = None
    password_file: Path | None = None
    body_template: str = Field(
        '{"to": {{ to|tojson }}, "text": {{ text|tojson }}}',
        description="jinja2 template of the request body; `to` and `text` are given.",
    )
    content_type: str = "application/json"
    timeout: float = Field(10.0, gt=0)


class StateSettings(_Section):
    path: Path = Field(Path("var/state.db"), description="SQLite state store (spool, journal).")


class PolicySettings(_Section):
    password_min_length: int = 12
    password_max_length: int = 20
    password_history: int = 10
    password_max_age_days: int = 90
    password_expiry_warnings_days: list[int] = [15, 7, 1]
    # The portal's series (apexdir.workflows.guard): failures of one device, or of the
    # devices that never logged into an identifier, before the waits begin …
    lockout_failures: int = 5
    lockout_minutes: int = 15
    # … and slapd's own lock (ppolicy), the backstop for raw LDAP binds: above what the
    # portal's series let through in a window, so that no stranger can reach it there.
    directory_lockout_failures: int = 20
    invitation_validity_days: int = 7
    invitation_reminder_days: int = 3
    validator_reminder_days: int = 3
    purge_after_days: int = 30
    login_code_minutes: int = 10
    login_code_attempts: int = 5
    login_codes_per_window: int = 3  # codes issued to one account …
    login_code_window_minutes: int = 15  # … within this window, then a pause
    login_code_wrong_per_day: int = 10  # wrong codes for one account in 24 h, then a pause
    reset_validity_minutes: int = 15
    reset_rate_per_identifier_per_hour: int = 5
    reset_rate_global_per_minute: int = 60
    journal_retention_days: int = 400
    # Access review (issue 21 item 10): once a year the administrateurs of a structure
    # confirm its habilitations; what is left unconfirmed after review_days is reported to
    # the agents (and withdrawn by the daemon only when review_auto_revoke is true).
    review_interval_days: int = Field(365, ge=1, description="Days between two reviews.")
    review_days: int = Field(30, ge=1, description="Days a review stays open before overdue.")
    review_auto_revoke: bool = Field(
        False, description="Withdraw the habilitations still unconfirmed when overdue."
    )
    dormant_days: int = Field(
        365,
        ge=0,
        description="Days without a login after which the daemon suspends an account "
        "(reason « inactivité »); 0 never suspends.",
    )
    dormant_warning_days: int = Field(
        30, ge=1, description="The person is mailed this many days before that suspension."
    )


class PortalSettings(_Section):
    base_url: str = Field(
        "https://apex-partenaires.dgfip.finances.gouv.fr",
        description="Public address of the web portal; links in mails start with it.",
    )
    secret_key_file: Path | None = Field(
        None,
        description="File holding the key that signs session cookies and keys the captcha "
        "hashes (at least 32 characters); the same on every node.",
    )
    session_idle_minutes: int = Field(15, ge=1, description="Idle time-out of a session.")
    session_max_hours: int = Field(8, ge=1, description="Absolute time-out of a session.")
    captcha_minutes: int = Field(5, ge=1, description="Validity of a captcha challenge.")
    trusted_proxies: int = Field(
        0, ge=0, le=5, description="Reverse proxies in front of the portal (X-Forwarded-*)."
    )
    rate_per_client_per_minute: int = Field(
        60, ge=1, description="Anonymous POSTs (and captchas) one client address may make."
    )
    rate_global_per_minute: int | None = Field(
        None,
        description="Ignored (kept so that older files still load): a node-wide ceiling "
        "let a few addresses lock everyone out; guessing is slowed per series instead.",
    )
    support_url: str | None = Field(
        None,
        description="Address of the partners' assistance (a contact form or page), shown "
        "wherever the guide says « contactez votre assistance »; http:// or https://.",
    )
    support_mail: str | None = Field(
        None, description="Mail address of the partners' assistance, shown beside support_url."
    )
    dpo_mail: str | None = Field(
        None,
        description="Mail address of the data protection officer (délégué à la protection "
        "des données), shown on /confidentialite; unset, the page gives the postal address.",
    )
    dev_sinks_dir: Path | None = Field(
        None,
        description="Development only: where captcha answers are handed to the dev sinks. "
        "Refused unless base_url is a loopback http:// address.",
    )

    @model_validator(mode="after")
    def _dev_only(self) -> PortalSettings:
        if self.dev_sinks_dir is not None and not is_loopback_url(self.base_url):
            raise ValueError("dev_sinks_dir is for the development environment only")
        return self

    @field_validator("support_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        # Linked from every page that sends people to their assistance: never a script.
        if not value:
            return None
        try:
            return web_address(value, "support_url")
        except Invalid as exc:
            raise ValueError(exc.message) from exc

    def secret_key(self) -> str:
        if self.secret_key_file is None:
            raise ConfigError("portal: set secret_key_file")
        return read_key("portal.secret_key_file", self.secret_key_file)


def is_loopback_url(url: str) -> bool:
    """An http:// address on this machine: the only place where dev conveniences may run."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") in ("127.0.0.1", "localhost", "::1")


class OutboxSettings(_Section):
    max_attempts: int = 8
    backoff_seconds: float = 30.0
    batch_size: int = 200
    urgent_retry_seconds: float = Field(
        1.0,
        gt=0,
        description="Codes and reset links: tried again this often while they are valid "
        "(then failed); the daemon wakes for them, whatever outbox_seconds.",
    )


class DaemonSettings(_Section):
    outbox_seconds: int = 10
    expiry_cron: str = "0 6 * * *"
    pending_cron: str = "30 6 * * *"
    changes_seconds: int = 30
    housekeeping_cron: str = "0 3 * * *"
    review_cron: str = "45 6 * * *"
    dormancy_cron: str = "15 6 * * *"
    lease_seconds: int = 60
    agents_mail: str | None = Field(
        None,
        description="Mailbox of the DGFiP agents who validate administrators: reminded of "
        "administrator creations waiting for validation; unset means journal only.",
    )


class LoggingSettings(_Section):
    format: Literal["text", "json"] = Field(
        "text", description="One line per event; json for a log collector."
    )
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class MetricsSettings(_Section):
    """Prometheus endpoints (`/metrics`), off unless an address is given. Serve them on a
    private interface: they tell volumes, not secrets, but are nobody else's business."""

    portal_bind: str | None = Field(None, description="HOST:PORT of `apexdir serve`'s metrics.")
    daemon_bind: str | None = Field(None, description="HOST:PORT of the daemon's metrics.")


class Settings(_Section):
    ldap: LdapSettings
    smtp: SmtpSettings = SmtpSettings()
    sms: SmsSettings = SmsSettings()
    state: StateSettings = StateSettings()
    policy: PolicySettings = PolicySettings()
    portal: PortalSettings = PortalSettings()
    outbox: OutboxSettings = OutboxSettings()
    daemon: DaemonSettings = DaemonSettings()
    logging: LoggingSettings = LoggingSettings()
    metrics: MetricsSettings = MetricsSettings()
    categories: list[str] = Field(default_factory=lambda: list(DEFAULT_CATEGORIES))
    source: Path | None = Field(None, exclude=True)


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """APEXDIR_SECTION__KEY=value → {"section": {"key": value}}; JSON lists are decoded."""
    import json

    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "APEXDIR_CONFIG":
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        value: Any = raw
        if raw[:1] in "[{":
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve_paths(settings: Settings, root: Path) -> None:
    for section in (settings.ldap, settings.smtp, settings.sms, settings.state, settings.portal):
        for name, value in section:
            if isinstance(value, Path) and not value.is_absolute():
                setattr(section, name, root / value)


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    return Path(explicit or os.environ.get("APEXDIR_CONFIG") or DEFAULT_CONFIG)


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Read and validate the configuration; every error names the file and the key."""
    file = config_path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: configuration file not found (run `apexdir dev up`, or pass --config)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    data = _merge(data, _env_overrides(dict(os.environ if environ is None else environ)))
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigError(f"{file}: invalid configuration", details=problems) from None
    settings.source = file.resolve()
    _resolve_paths(settings, file.resolve().parent)
    return settings
