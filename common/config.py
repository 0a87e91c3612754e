"""The one Settings model: a TOML file for structure, LEADRELAY_* variables for overrides."""

from __future__ import annotations

import os
import sys
from datetime import date
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from common.model import campaign_key
from common.signing import decode_secret

CONFIG_ENV = "LEADRELAY_CONFIG"
DEFAULT_CONFIG_FILE = "leadrelay.toml"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    # X-Forwarded-For is believed only from these peers (our reverse proxy): the client
    # address for rate limits and failed-login limits.
    trusted_proxies: list[str] = ["127.0.0.1"]
    # Slow and hostile clients (common.serving): seconds for a request's head and for its
    # body, open connections at most, idle keep-alive, and the wait for requests in flight
    # when the process is told to stop.
    header_timeout: float = Field(10.0, gt=0, le=300)
    body_timeout: float = Field(30.0, gt=0, le=600)
    max_connections: int = Field(512, ge=1, le=100_000)
    # One client address holds at most this many of them, so one host cannot take every
    # slot; trusted_proxies are exempt (behind a proxy every client is the proxy, which
    # then bounds its clients itself).
    max_connections_per_address: int = Field(32, ge=1, le=100_000)
    keepalive_timeout: float = Field(15.0, gt=0, le=3600)
    shutdown_timeout: float = Field(10.0, ge=0, le=600)
    # /metrics answers only these peers (the connection's own address, never
    # X-Forwarded-For), and only requests no proxy forwarded: the scraper on this host.
    metrics_from: list[str] = ["127.0.0.1", "::1"]

    @field_validator("trusted_proxies", "metrics_from")
    @classmethod
    def _networks(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            ip_network(proxy, strict=False)  # ValueError names the bad entry
        return proxies


class IngestSettings(ServerSettings):
    port: int = Field(8081, ge=0, le=65535)
    cors_origins: list[str] = []
    default_phone_region: str = Field("RU", min_length=2, max_length=2)
    # Per client IP; a landing page rarely sends more than a lead a second.
    rate_limit_per_minute: int = Field(120, ge=1)
    idempotency_hours: int = Field(24, ge=1)
    # The same phone or email for the same campaign within this many minutes is a repeat:
    # an event on the first lead, not a second CRM deal. 0 turns it off everywhere;
    # `repeat_check_off` lists campaigns where every submission is a new lead.
    repeat_window_minutes: int = Field(30, ge=0, le=7 * 24 * 60)
    repeat_check_off: list[str] = []
    # /metrics names at most this many campaigns besides those under [routing.campaigns];
    # leads of any further campaign count as campaign="other" (the dashboard shows each).
    metrics_campaigns: int = Field(100, ge=0, le=10_000)


class WebhooksSettings(ServerSettings):
    port: int = Field(8082, ge=0, le=65535)
    # Open unmatched payments one CRM connection may hold. Past it a won deal naming no lead
    # of ours is deferred (kept in its webhook receipt only, the CRM still hears 200) and
    # /healthz says so: a leaked webhook secret cannot fill the disk through this table.
    max_unmatched_per_connection: int = Field(1000, ge=1, le=1_000_000)


class DispatcherSettings(ServerSettings):
    port: int = Field(8084, ge=0, le=65535)
    poll_interval: float = Field(0.2, gt=0, le=60)
    concurrency: int = Field(16, ge=1, le=1000)
    # With the delays below, 50 attempts keep a lead queued for at least 29 hours: a CRM
    # that is down for a night still gets every lead without a person (Svix and the
    # Standard Webhooks guidance retry for about a day).
    max_attempts: int = Field(50, ge=1, le=1000)
    lease_seconds: float = Field(3.0, gt=0)
    shutdown_grace: float = Field(10.0, ge=0)
    request_timeout: float = Field(20.0, gt=0, description="seconds for one CRM/Yandex call")
    retry_base_delay: float = Field(2.0, gt=0, description="first backoff, doubled per attempt")
    retry_max_delay: float = Field(3600.0, gt=0)


# What leadrelay.example.toml puts where a user must give a value of their own.
PLACEHOLDER = "REPLACE-ME"


def _not_a_placeholder(secret: SecretStr) -> SecretStr:
    if PLACEHOLDER.casefold() in secret.get_secret_value().casefold():
        raise ValueError(
            f"still the example's {PLACEHOLDER}: set a secret of your own (in the file or its"
            " LEADRELAY_… variable)"
        )
    return secret


# A secret that lets requests in: a webhook's token or signing secret, the dashboard's
# password, session key or API token. The example's placeholder is public, so a process
# configured with it stops instead of letting anyone in. (Secrets we send out, such as a
# CRM's API token, only fail at the other end and are not checked.)
GateSecret = Annotated[SecretStr, AfterValidator(_not_a_placeholder)]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_PASSWORD = "change-me"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class DashboardSettings(ServerSettings):
    port: int = Field(8083, ge=0, le=65535)
    username: str = "admin"
    password: GateSecret = SecretStr(DEFAULT_PASSWORD)
    # Signs session cookies; when absent, one is generated on first start and kept beside
    # the database (Store.kept_secret), so a restart logs nobody out.
    secret_key: GateSecret | None = None
    api_token: GateSecret | None = None
    # The business's time zone: the day of every lead, payment and cost (daily_stats, date
    # filters, Direct's costs) and the times shown. Changing it needs `leadrelay rebuild`.
    timezone: str = "Europe/Moscow"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Moscow") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _no_default_password_in_public(self) -> DashboardSettings:
        if self.host not in LOOPBACK and self.password.get_secret_value() == DEFAULT_PASSWORD:
            raise ValueError(
                f"password: set dashboard.password (or LEADRELAY_DASHBOARD__PASSWORD) before"
                f" serving the dashboard on {self.host}"
            )
        return self


OAUTH_KEYS = ("client_id", "client_secret", "redirect_uri")


class AmoCrmConnection(Section):
    kind: Literal["amocrm"]
    base_url: AnyHttpUrl
    # Either a long-lived token (it lives 1 day to 5 years; `token_expires`, when given, is
    # shown on the dashboard), or an OAuth integration: its access token lives 24 hours, so
    # the pair is kept in the database and refreshed (`leadrelay amocrm authorize` stores
    # the first one).
    token: SecretStr | None = None
    token_expires: date | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    redirect_uri: AnyHttpUrl | None = None
    pipeline_id: int | None = None
    webhook_token: GateSecret
    rate_limit: float = Field(7, gt=0)
    # Every this many seconds the dispatcher lists leads updated since the last look and
    # records the won (142) and lost (143) ones a webhook did not bring. 0 turns it off.
    reconcile_every: float = Field(600, ge=0)

    @model_validator(mode="after")
    def _one_way_to_authorize(self) -> AmoCrmConnection:
        given = [key for key in OAUTH_KEYS if getattr(self, key) is not None]
        if self.token is not None and given:
            raise ValueError(
                f"token: give either token (a long-lived token) or {', '.join(OAUTH_KEYS)}"
                f" (an OAuth integration), not both ({given[0]} is set too)"
            )
        if self.token is None and not given:
            raise ValueError(
                "token: required (a long-lived token), or client_id, client_secret and"
                " redirect_uri for an OAuth integration"
            )
        if given and (missing := [key for key in OAUTH_KEYS if key not in given]):
            raise ValueError(
                f"{missing[0]}: required for an OAuth integration (secrets can come from"
                f" LEADRELAY_CRM__<NAME>__{missing[0].upper()})"
            )
        if given and self.token_expires is not None:
            raise ValueError("token_expires: only for a long-lived token")
        return self

    @property
    def oauth(self) -> bool:
        """Authorized by an OAuth integration (tokens in the database), not a fixed token."""
        return self.client_id is not None


class Bitrix24Connection(Section):
    kind: Literal["bitrix24"]
    base_url: AnyHttpUrl
    application_token: GateSecret
    rate_limit: float = Field(2, gt=0)
    # Bitrix24 never sends an outgoing webhook twice: every this many seconds the
    # dispatcher lists the deals changed since the last look (crm.deal.list) and records
    # the won and lost ones the webhooks missed, once. 0 turns it off.
    reconcile_every: float = Field(600, ge=0)


class GenericConnection(Section):
    kind: Literal["generic"]
    url: AnyHttpUrl
    secret: GateSecret = Field(description="Standard Webhooks secret, whsec_<base64>")
    rate_limit: float = Field(10, gt=0)

    @model_validator(mode="after")
    def _secret_shape(self) -> GenericConnection:
        decode_secret(self.secret.get_secret_value())
        return self


CrmConnection = Annotated[
    AmoCrmConnection | Bitrix24Connection | GenericConnection, Field(discriminator="kind")
]


class YandexSettings(Section):
    base_url: AnyHttpUrl = AnyHttpUrl("https://api-metrika.yandex.net")
    token: SecretStr | None = None
    counter_id: int | None = None
    target: str = "paid"
    currency: str = Field("RUB", min_length=3, max_length=3)
    rate_limit: float = Field(1, gt=0)
    # Metrica links an offline conversion only to a visit at most 21 days before it processes
    # the file, and the counter's own visit_join_threshold (read hourly) may allow less. Set,
    # this narrows the window further; None: the counter's threshold and the 21 days alone.
    visit_join_days: int | None = Field(None, ge=1, le=365)
    # Metrica processes an accepted upload later ("up to 2 hours", its upload reference):
    # the dispatcher looks at the upload's status this many seconds after sending it, and
    # again as often until it is processed.
    check_every: float = Field(600, gt=0)
    # A deal won with no price yet is uploaded when its amount comes, or this many hours
    # after it was won without it (then at Price 0: Metrica keeps what it is first sent).
    amount_grace_hours: float = Field(24, ge=0, le=24 * 21)

    @property
    def enabled(self) -> bool:
        return self.token is not None and self.counter_id is not None


class DirectSettings(Section):
    """Yandex Direct API v5, read for the campaigns' costs (the Reports service)."""

    base_url: AnyHttpUrl = AnyHttpUrl("https://api.direct.yandex.com")
    token: SecretStr | None = None  # an OAuth token with the direct:api scope
    client_login: str = ""  # an agency's token reads this client's account
    include_vat: bool = True
    # Reports carry no currency: their money is in the account's currency, named here.
    currency: str = Field("RUB", min_length=3, max_length=3)
    language: str = "ru"  # Accept-Language: the language of error texts and campaign names
    rate_limit: float = Field(1, gt=0)  # requests per second to the Reports service
    # Today and the two days before are imported this often (their figures still change); 0 = only
    # on demand (`leadrelay costs import`).
    import_every: float = Field(3600, ge=0)
    # A Direct campaign (its id or its name) -> our campaign_id; unlisted ones attach to the
    # campaign_id equal to their id or name, else to the campaign of the leads whose
    # utm_campaign is their id or name (both without case).
    campaigns: dict[str, str] = {}

    @model_validator(mode="after")
    def _one_mapping_per_campaign(self) -> DirectSettings:
        seen: dict[str, str] = {}
        for key, campaign in self.campaigns.items():
            if not campaign.strip():
                raise ValueError(f"campaigns.{key}: give our campaign_id, not an empty text")
            if (other := seen.setdefault(campaign_key(key), key)) != key:
                raise ValueError(
                    f"campaigns.{key}: the same Direct campaign as {other!r}"
                    " (ids and names match without case)"
                )
        return self

    @property
    def enabled(self) -> bool:
        return self.token is not None


class TelegramAlerts(Section):
    """A Telegram bot: messages go to `{base_url}/bot{token}/sendMessage` (Bot API)."""

    base_url: AnyHttpUrl = AnyHttpUrl("https://api.telegram.org")
    token: SecretStr
    chat_ids: list[str] = Field(min_length=1)
    # Campaigns whose each new lead is announced here ("*": every campaign); none by default.
    new_leads: list[str] = []
    full_contacts: bool = False  # new-lead messages show the phone and e-mail unmasked


class EmailAlerts(Section):
    """An SMTP server: STARTTLS on 587 (`starttls`), or TLS from the first byte (`tls`, 465)."""

    host: str
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    tls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    recipients: list[str] = Field(min_length=1)
    timeout: float = Field(20.0, gt=0, le=300)
    new_leads: list[str] = []
    full_contacts: bool = False

    @model_validator(mode="after")
    def _one_kind_of_tls(self) -> EmailAlerts:
        if self.tls and self.starttls:
            raise ValueError("choose tls (implicit, port 465) or starttls (port 587), not both")
        return self


class AlertsSettings(Section):
    """Where problems (and, opt-in, new leads) are told: every configured channel receives
    the problems; thresholds below."""

    telegram: TelegramAlerts | None = None
    email: EmailAlerts | None = None
    # The words of the messages; a problem's own detail stays as the CRM or check reported it.
    language: Literal["ru", "en"] = "ru"
    # The oldest due task may wait this long before the queue counts as stalled.
    stalled_after_minutes: float = Field(15, gt=0)
    # A CRM credential (e.g. amoCRM's long-lived token) is announced this many days before
    # it expires.
    credential_expiry_days: int = Field(7, ge=0, le=365)
    # This many failures in a row (5xx, time-outs) make a connection "failing"; a refused
    # credential (401/403) counts at once.
    failing_streak: int = Field(5, ge=1, le=1000)


class PrivacySettings(Section):
    # 0 = keep; else the personal data of leads older than this many days is erased.
    erase_after_days: int = Field(0, ge=0)
    # PostgreSQL: after an erasure, VACUUM FULL the tables it touched, so their files keep no
    # old copy of the person (each table is locked while it is rewritten). false: a plain
    # VACUUM, which leaves the old bytes in free space until PostgreSQL reuses it.
    vacuum_full: bool = True


class RoutingSettings(Section):
    default_crm: str | None = None
    campaigns: dict[str, str] = {}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEADRELAY_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    # A SQLite file (the embedded default), or postgresql://user:pass@host/db.
    database: str = "data/leadrelay.db"
    busy_timeout: float = Field(5.0, gt=0, le=60, description="seconds a writer waits for the lock")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    ingest: IngestSettings = IngestSettings()
    webhooks: WebhooksSettings = WebhooksSettings()
    dispatcher: DispatcherSettings = DispatcherSettings()
    dashboard: DashboardSettings = DashboardSettings()
    crm: dict[str, CrmConnection] = {}
    yandex: YandexSettings = YandexSettings()
    direct: DirectSettings = DirectSettings()
    routing: RoutingSettings = RoutingSettings()
    alerts: AlertsSettings = AlertsSettings()
    privacy: PrivacySettings = PrivacySettings()

    @field_validator("database", mode="before")
    @classmethod
    def _database(cls, value: object) -> str:
        text = str(value).strip()
        if "://" in text and not text.startswith(POSTGRES_SCHEMES):
            scheme = text.split("://", 1)[0]
            raise ValueError(
                f"{scheme}:// is not supported: give a SQLite file path or a"
                " postgresql://user:password@host/dbname URL"
            )
        if not text:
            raise ValueError("give a SQLite file path or a postgresql:// URL")
        return text

    @property
    def on_postgres(self) -> bool:
        return self.database.startswith(POSTGRES_SCHEMES)

    @model_validator(mode="after")
    def _routes_name_connections(self) -> Settings:
        routes = {"routing.default_crm": self.routing.default_crm}
        routes |= {f"routing.campaigns.{c}": n for c, n in self.routing.campaigns.items()}
        for key, name in routes.items():
            if name is not None and name not in self.crm:
                raise ValueError(f"{key}: connection {name!r} is not defined under [crm]")
        seen: dict[str, str] = {}
        for campaign in self.routing.campaigns:
            if (other := seen.setdefault(campaign_key(campaign), campaign)) != campaign:
                raise ValueError(
                    f"routing.campaigns.{campaign}: the same campaign as {other!r}"
                    " (campaigns match without case)"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = config_path()
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file))

    def route_for(self, campaign_id: str) -> str | None:
        """The name of the CRM connection that receives this campaign's leads; campaigns
        match without case (see `campaign_key`)."""
        key = campaign_key(campaign_id)
        for campaign, connection in self.routing.campaigns.items():
            if campaign_key(campaign) == key:
                return connection
        return self.routing.default_crm


def config_path() -> Path | None:
    named = os.environ.get(CONFIG_ENV)
    if named:
        return Path(named)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.exists() else None


def describe_errors(error: ValidationError) -> list[str]:
    """One readable line per problem, each naming the key."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{key}: {message}" if key else message)
    return lines


def unknown_variables(environ: dict[str, str]) -> list[str]:
    """LEADRELAY_* variables that name no key (pydantic-settings ignores those at the top)."""
    known = set(Settings.model_fields)
    unknown = []
    for name in environ:
        if name.upper().startswith("LEADRELAY_") and name.upper() != CONFIG_ENV:
            key = name[len("LEADRELAY_") :].split("__", 1)[0].lower()
            if key not in known:
                unknown.append(name)
    return unknown


def load_settings(**overrides: Any) -> Settings:
    """Read the configuration, or stop the process with one line per problem."""
    if unknown := unknown_variables(dict(os.environ)):
        sys.exit(f"leadrelay: invalid configuration: {', '.join(unknown)}: no such key")
    path = config_path()
    if path is not None and not path.exists():
        sys.exit(f"leadrelay: configuration file {path} ({CONFIG_ENV}) does not exist")
    try:
        return Settings(**overrides)
    except ValidationError as error:
        lines = describe_errors(error)
        sys.exit("leadrelay: invalid configuration: " + "; ".join(lines))
    except ValueError as error:  # a TOML syntax error
        sys.exit(f"leadrelay: invalid configuration file {path}: {error}")
