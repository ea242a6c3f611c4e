"""Every setting of the dashboard, read once from the environment into a typed, frozen object.

``server.py`` loads ``.env`` (python-dotenv), calls ``Settings.from_env(os.environ)``, applies the
command-line flags and passes the result on; no other module reads the environment. A bad value
stops the server at start-up with the variable's name in the message. ``.env.example`` documents
each variable.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exchanges import LISTENERS

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
# ASYNC_MODE: what runs the green tasks (dashboard.concurrency is the only adapter to it)
ASYNC_MODES = ("eventlet", "gevent")
# ROLE (--role): everything in one process, or collectors and web nodes over MESSAGE_QUEUE
ROLES = ("all", "collector", "web")
# one CSP source of FRAME_ANCESTORS: 'self', a scheme (https:), or [scheme://]host[:port] with
# an optional leading *. wildcard; nothing that could end the directive (; ,) or inject a header
_FRAME_SOURCE = re.compile(
    r"'self'|[a-z][a-z0-9+.-]*:|(?:[a-z][a-z0-9+.-]*://)?(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*"
    r"(?::(?:[0-9]{1,5}|\*))?(?:/[a-z0-9._~/-]*)?", re.IGNORECASE)
# pairs of an exchange when neither PAIRS nor <NAME>_PAIRS is set and it declares none of its own
DEFAULT_PAIRS = ("BTC-USD", "ETH-USD")


class SettingsError(ValueError):
    """A setting has a value we can't use; the message names the variable."""


def split_list(text: str) -> tuple[str, ...]:
    """Read a comma list, dropping blanks: ``"a, b,"`` → ``("a", "b")``."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"  # HOST: the address to listen on; loopback unless told otherwise
    port: int = 5000  # PORT
    exchanges: tuple[str, ...] = ("bitfinex", "coinbase")  # EXCHANGES, comma list
    # PAIRS, comma list, in the order the page shows them; kept as typed so that a bad one is
    # reported per exchange, not fatal. None: each exchange's default (``pairs_for``)
    pairs: tuple[str, ...] | None = None
    # <NAME>_PAIRS: one exchange's own list, instead of PAIRS (BINANCE_PAIRS=BTC-USDT,ETH-USDT)
    exchange_pairs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # SECRET_KEY: a random per-process value when unset (sessions don't survive restarts)
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    log_level: str = "INFO"  # LOG_LEVEL
    feed_timeout: float = 30.0  # FEED_TIMEOUT: seconds of silence before a feed is reconnected
    flush_ms: int = 50  # FLUSH_MS: how often the hub sends a batch to the browsers
    max_rows: int = 500  # MAX_ROWS: rows the page keeps per list
    # CLIENT_QUEUE_LIMIT: batches queued for one browser before it is resynchronized from a
    # snapshot instead (see dashboard.backpressure); a reading client's queue stays near 0
    client_queue_limit: int = 100
    ws_urls: Mapping[str, str] = field(default_factory=dict)  # <NAME>_WS_URL overrides
    rest_urls: Mapping[str, str] = field(default_factory=dict)  # <NAME>_REST_URL overrides
    # DATABASE_URL: where records are stored; SQLite under data/ in the working directory by
    # default (no set-up), or postgresql://user@host/db
    database_url: str = "sqlite:///data/market.db"
    retention_days: float = 7.0  # RETENTION_DAYS: older rows are pruned in the background
    demo: bool = False  # --demo: run against the built-in simulated exchanges
    # MAX_CLIENTS: browser connections served at once; one more is refused with HTTP 503. None:
    # derived from the open-files limit at start (``dashboard.connections.default_max_clients``)
    max_clients: int | None = None
    # FRAME_ANCESTORS: who may embed the page in a frame, as CSP sources ("'self'",
    # "https://wall.example"); empty: nobody ('none', and X-Frame-Options DENY)
    frame_ancestors: tuple[str, ...] = ()
    log_format: str = "text"  # LOG_FORMAT: "text" for people, "json" (one object a line)
    async_mode: str = "eventlet"  # ASYNC_MODE (--async-mode): eventlet or gevent
    role: str = "all"  # ROLE (--role): all, collector or web (see dashboard.roles)
    # MESSAGE_QUEUE: redis://[:password@]host:port/db that collectors publish to and web nodes
    # read from; needed by --role collector and --role web, unused by --role all
    message_queue: str | None = field(default=None, repr=False)
    # MESSAGE_QUEUE_CHANNEL: the pub/sub channel and key prefix; one per cluster sharing a Redis
    queue_channel: str = "dashboard"
    # COLLECTOR_ID: names a collector to the web nodes; default host name and its exchanges
    collector_id: str | None = None
    # ALERTS_FILE: a TOML file of alert rules seeded at every start (``alerts.seed``)
    alerts_file: str | None = None
    # ALERT_URLS: comma list of notification URLs (Apprise: ntfy://..., json://host:port/path)
    alert_urls: tuple[str, ...] = field(default=(), repr=False)  # URLs may hold tokens
    # ALERTS_TOKEN: the bearer token that allows rule changes when HOST is not loopback
    alerts_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from environment variables, validating each one."""
        values: dict[str, object] = {}
        if "HOST" in env:
            values["host"] = env["HOST"].strip() or cls.host
        if "PORT" in env:
            values["port"] = _int(env, "PORT", 0, 65535)
        if "EXCHANGES" in env:
            values["exchanges"] = split_list(env["EXCHANGES"])
        if "PAIRS" in env:
            values["pairs"] = split_list(env["PAIRS"])
        if env.get("SECRET_KEY"):
            values["secret_key"] = env["SECRET_KEY"]
        if "LOG_LEVEL" in env:
            values["log_level"] = env["LOG_LEVEL"].strip().upper()
        if "FEED_TIMEOUT" in env:
            values["feed_timeout"] = _float(env, "FEED_TIMEOUT", 1.0, 3600.0)
        if "FLUSH_MS" in env:
            values["flush_ms"] = _int(env, "FLUSH_MS", 10, 5000)
        if "MAX_ROWS" in env:
            values["max_rows"] = _int(env, "MAX_ROWS", 10, 10000)
        if "CLIENT_QUEUE_LIMIT" in env:
            values["client_queue_limit"] = _int(env, "CLIENT_QUEUE_LIMIT", 3, 100000)
        if env.get("DATABASE_URL", "").strip():
            values["database_url"] = env["DATABASE_URL"].strip()
        if "RETENTION_DAYS" in env:
            values["retention_days"] = _float(env, "RETENTION_DAYS", 0.01, 36500.0)
        values["ws_urls"] = _per_exchange(env, "WS_URL")
        values["rest_urls"] = _per_exchange(env, "REST_URL")
        values["exchange_pairs"] = {name: split_list(text) for name, text in
                                    _per_exchange(env, "PAIRS").items()}
        if env.get("MAX_CLIENTS", "").strip():
            values["max_clients"] = _int(env, "MAX_CLIENTS", 1, 1_000_000)
        if "FRAME_ANCESTORS" in env:
            values["frame_ancestors"] = tuple(env["FRAME_ANCESTORS"].split())
        if env.get("LOG_FORMAT", "").strip():
            values["log_format"] = env["LOG_FORMAT"].strip().lower()
        if env.get("ASYNC_MODE", "").strip():
            values["async_mode"] = env["ASYNC_MODE"].strip().lower()
        if env.get("ROLE", "").strip():
            values["role"] = env["ROLE"].strip().lower()
        if env.get("MESSAGE_QUEUE", "").strip():
            values["message_queue"] = env["MESSAGE_QUEUE"].strip()
        if env.get("MESSAGE_QUEUE_CHANNEL", "").strip():
            values["queue_channel"] = env["MESSAGE_QUEUE_CHANNEL"].strip()
        if env.get("COLLECTOR_ID", "").strip():
            values["collector_id"] = env["COLLECTOR_ID"].strip()
        if env.get("ALERTS_FILE", "").strip():
            values["alerts_file"] = env["ALERTS_FILE"].strip()
        if "ALERT_URLS" in env:
            values["alert_urls"] = split_list(env["ALERT_URLS"])
        if env.get("ALERTS_TOKEN", "").strip():
            values["alerts_token"] = env["ALERTS_TOKEN"].strip()
        return cls(**values).validated()  # type: ignore[arg-type]

    def pairs_for(self, exchange: str) -> tuple[str, ...]:
        """The pairs one exchange streams: ``<NAME>_PAIRS``, else ``PAIRS``, else its own
        default (USDT pairs where the exchange lists no USD), else ``DEFAULT_PAIRS``."""
        own = self.exchange_pairs.get(exchange)
        if own:
            return own
        if self.pairs:
            return self.pairs
        return LISTENERS[exchange].default_pairs or DEFAULT_PAIRS

    def validated(self) -> Settings:
        """Check values that flags and the environment can both set; return self."""
        unknown = [name for name in self.exchanges if name not in LISTENERS]
        if unknown:
            known = ", ".join(sorted(LISTENERS))
            raise SettingsError(f"EXCHANGES: unknown exchange {unknown[0]!r} (known: {known})")
        if not self.exchanges:
            raise SettingsError("EXCHANGES: name at least one exchange")
        if self.pairs == ():
            raise SettingsError("PAIRS: name at least one pair")
        for name, pairs in self.exchange_pairs.items():
            if not pairs:
                raise SettingsError(f"{name.upper()}_PAIRS: name at least one pair")
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL: {self.log_level!r} is not one of {LOG_LEVELS}")
        if not self.database_url.startswith(("sqlite:", "postgresql:", "postgresql+", "postgres:")):
            raise SettingsError(f"DATABASE_URL: {self.database_url!r} is not a sqlite:// or "
                                "postgresql:// URL")
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"LOG_FORMAT: {self.log_format!r} is not one of {LOG_FORMATS}")
        self._validate_roles()
        for source in self.frame_ancestors:
            if source.lower() in ("'none'", "none") and len(self.frame_ancestors) == 1:
                continue
            if not _FRAME_SOURCE.fullmatch(source):
                raise SettingsError(f"FRAME_ANCESTORS: {source!r} is not a CSP source such as "
                                    "'self' or https://wall.example (space-separated)")
        for name, url in self.ws_urls.items():
            if not url.startswith(("ws://", "wss://")):
                raise SettingsError(f"{name.upper()}_WS_URL: {url!r} is not a ws:// or wss:// URL")
        for name, url in self.rest_urls.items():
            if not url.startswith(("http://", "https://")):
                raise SettingsError(
                    f"{name.upper()}_REST_URL: {url!r} is not an http:// or https:// URL")
        self._validate_alerts()
        return self

    def _validate_alerts(self) -> None:
        """ALERTS_FILE must hold valid rules and every ALERT_URLS entry must be a URL Apprise
        can use: a screen left alone must not find out at its first alert."""
        if self.alerts_file:
            from alerts.seed import AlertsFileError, load_rules

            try:
                load_rules(self.alerts_file, LISTENERS)
            except AlertsFileError as exc:
                raise SettingsError(f"ALERTS_FILE: {exc}") from None
        if self.alert_urls:
            from alerts.delivery import DeliveryError, build_plugin

            for url in self.alert_urls:
                try:
                    build_plugin(url)
                except DeliveryError as exc:
                    raise SettingsError(f"ALERT_URLS: {exc}") from None


    def _validate_roles(self) -> None:
        """ASYNC_MODE, ROLE and the message queue they need (issue 12)."""
        if self.async_mode not in ASYNC_MODES:
            raise SettingsError(f"ASYNC_MODE: {self.async_mode!r} is not one of {ASYNC_MODES}")
        if self.role not in ROLES:
            raise SettingsError(f"ROLE: {self.role!r} is not one of {ROLES}")
        if self.role != "all" and not self.message_queue:
            raise SettingsError(f"MESSAGE_QUEUE: --role {self.role} needs a redis:// URL")
        if self.message_queue and not self.message_queue.startswith(
                ("redis://", "rediss://", "unix://")):
            raise SettingsError("MESSAGE_QUEUE: not a redis://, rediss:// or unix:// URL")
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", self.queue_channel):
            raise SettingsError(f"MESSAGE_QUEUE_CHANNEL: {self.queue_channel!r} is not 1-64 "
                                "letters, digits or _.:-")


def setting_names(suffix: str) -> dict[str, str]:
    """The per-exchange variable names for ``suffix``, from the registry of listeners:
    ``{"bitfinex": "BITFINEX_WS_URL", ...}``."""
    return {name: f"{name.upper()}_{suffix}" for name in LISTENERS}


def _per_exchange(env: Mapping[str, str], suffix: str) -> dict[str, str]:
    """``<NAME>_<SUFFIX>`` per known exchange, where set and not blank."""
    return {name: env[variable].strip() for name, variable in setting_names(suffix).items()
            if env.get(variable, "").strip()}


def _int(env: Mapping[str, str], name: str, low: int, high: int) -> int:
    return _number(env, name, int, "a whole number", low, high)


def _float(env: Mapping[str, str], name: str, low: float, high: float) -> float:
    return _number(env, name, float, "a number", low, high)


def _number(env: Mapping[str, str], name: str, kind: type, what: str, low: float,
            high: float) -> Any:
    """Read ``env[name]`` as ``kind`` within low..high; raise ``SettingsError`` naming it."""
    try:
        value = kind(env[name])
    except ValueError:
        raise SettingsError(f"{name}: {env[name]!r} is not {what}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}: {value:g} is outside {low:g}..{high:g}")
    return value
