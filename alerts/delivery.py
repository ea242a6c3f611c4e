"""Alerts to the outside: notification URLs (``ALERT_URLS``) through Apprise.

One Apprise URL syntax covers ntfy (``ntfy://ntfy.sh/topic``), Telegram, Discord, Slack, email
and plain JSON webhooks (``json://host:port/path`` POSTs ``{"title", "message", "type", ...}``
over HTTP, ``jsons://`` over HTTPS).

Delivery never delays the stream: ``submit`` (on the hub's task) only spawns one green task per
alert and URL, at most ``max_in_flight`` at a time (more are dropped and counted). Each task
calls that one URL's Apprise plugin itself, never ``Apprise.notify``, which would hand the
URLs to a pool of native threads: under eventlet, sockets are green and must only be used
from green tasks. An attempt is bounded by ``timeout`` seconds to connect and to each read;
a failed one is retried after 1 s, then 2 s (``attempts`` in all). A URL whose delivery fails
is logged once per incident (and once when it recovers) and counted in ``stats`` for
``/healthz``; Apprise's own per-attempt log lines are kept out of the log.

The plugins are built at start-up (Apprise loads its plugin modules from disk on first use,
which would block the hub if done on the first alert).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF = 1.0
MAX_IN_FLIGHT = 64
SEVERITY_TYPES = {"info": "info", "warning": "warning", "critical": "failure"}

# Apprise's warnings of the attempt running in this green task (or thread): the reason we log
_captured: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "apprise_messages", default=None)


class DeliveryError(ValueError):
    """A notification URL Apprise can't use; the message names it."""


class _AppriseLog(logging.Filter):
    """Keeps Apprise's INFO and WARNING lines (one per attempt) out of the log, collecting the
    warnings of the current attempt as its failure reason; DEBUG lines pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            bucket = _captured.get()
            if bucket is not None:
                bucket.append(record.getMessage())
        return record.levelno < logging.INFO


def redact(url: str) -> str:
    """A notification URL for the log: scheme, host and port only (paths and users may hold
    tokens)."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}"


def build_plugin(url: str, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """The Apprise plugin for ``url``, with our timeouts unless the URL sets its own
    (``cto``/``rto``); raises ``DeliveryError`` for a URL Apprise doesn't know."""
    import apprise  # imported here: a dashboard without ALERT_URLS never loads it

    plugin = apprise.Apprise.instantiate(url, asset=apprise.AppriseAsset(async_mode=False))
    if plugin is None:
        raise DeliveryError(f"{redact(url)!r} is not a notification URL Apprise can use "
                            "(e.g. ntfy://ntfy.sh/topic, json://host:port/path)")
    query = url.partition("?")[2]
    if "cto=" not in query:
        plugin.socket_connect_timeout = timeout
    if "rto=" not in query:
        plugin.socket_read_timeout = timeout
    return plugin


class Target:
    """One notification URL: its plugin and its counters."""

    def __init__(self, url: str, plugin: Any) -> None:
        self.label = redact(url)
        self.plugin = plugin
        self.sent = 0
        self.failed = 0
        self.last_error: str | None = None
        self.failing_since: float | None = None  # monotonic, during an incident
        self.incident_failures = 0

    def stats(self) -> dict[str, Any]:
        return {"url": self.label, "state": "failing" if self.failing_since else "ok",
                "sent": self.sent, "failed": self.failed, "last_error": self.last_error}


class Notifier:
    """Deliver alerts to every target, each delivery in a green task of its own."""

    def __init__(self, urls: Sequence[str], spawn: Callable[..., Any],
                 sleep: Callable[[float], None], *, timeout: float = DEFAULT_TIMEOUT,
                 attempts: int = DEFAULT_ATTEMPTS, backoff: float = DEFAULT_BACKOFF,
                 max_in_flight: int = MAX_IN_FLIGHT,
                 clock: Callable[[], float] = time.monotonic,
                 plugin_for: Callable[[str, float], Any] = build_plugin) -> None:
        self._spawn = spawn
        self._sleep = sleep
        self._clock = clock
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_in_flight = max_in_flight
        self.targets = [Target(url, plugin_for(url, timeout)) for url in urls]
        if self.targets:
            apprise_log = logging.getLogger("apprise")
            if not any(isinstance(f, _AppriseLog) for f in apprise_log.filters):
                apprise_log.addFilter(_AppriseLog())
        self.in_flight = 0
        self.retries = 0
        self.dropped = 0

    def submit(self, event: dict[str, Any]) -> None:
        """Deliver ``event`` (an alert as the page gets it) to every URL; never blocks."""
        for target in self.targets:
            if self.in_flight >= self.max_in_flight:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 100 == 0:
                    log.warning("alert delivery dropped url=%s dropped=%d reason=%d deliveries "
                                "already in flight", target.label, self.dropped, self.in_flight)
                continue
            self.in_flight += 1
            self._spawn(self._deliver, target, event)

    def _deliver(self, target: Target, event: dict[str, Any]) -> None:
        """The body of one delivery's task: attempts with backoff, then the verdict."""
        reason = "not delivered"
        try:
            for attempt in range(1, self.attempts + 1):
                ok, reason = self._attempt(target, event)
                if ok:
                    self._delivered(target)
                    return
                if attempt < self.attempts:
                    self.retries += 1
                    self._sleep(self.backoff * 2 ** (attempt - 1))
            self._failed(target, reason)
        except Exception as exc:  # a bug of ours or of a plugin: counted, the task ends
            log.exception("alert delivery failed url=%s", target.label)
            self._failed(target, f"{type(exc).__name__}: {exc}")
        finally:
            self.in_flight -= 1

    def _attempt(self, target: Target, event: dict[str, Any]) -> tuple[bool, str]:
        bucket: list[str] = []
        token = _captured.set(bucket)
        try:
            title = f"Alert: {event.get('pair') or event.get('exchange') or event['kind']}"
            ok = target.plugin.notify(
                body=event["message"], title=title,
                notify_type=SEVERITY_TYPES.get(event.get("severity", "info"), "info"))
        except Exception as exc:  # a plugin should report, not raise; take it as a failure
            ok, bucket = False, [*bucket, f"{type(exc).__name__}: {exc}"]
        finally:
            _captured.reset(token)
        reason = " ".join(" ".join(bucket).split())[:300] or "refused"
        return bool(ok), reason

    def _delivered(self, target: Target) -> None:
        target.sent += 1
        if target.failing_since is not None:
            log.warning("alert delivery recovered url=%s after=%.1fs failed=%d", target.label,
                        self._clock() - target.failing_since, target.incident_failures)
            target.failing_since = None

    def _failed(self, target: Target, reason: str) -> None:
        target.failed += 1
        target.last_error = reason
        if target.failing_since is None:
            target.failing_since = self._clock()
            target.incident_failures = 0
            log.warning("alert delivery failing url=%s attempts=%d reason=%s", target.label,
                        self.attempts, reason)
        target.incident_failures += 1

    def stats(self) -> dict[str, Any]:
        return {
            "urls": len(self.targets),
            "sent": sum(target.sent for target in self.targets),
            "failed": sum(target.failed for target in self.targets),
            "retries": self.retries,
            "dropped": self.dropped,
            "in_flight": self.in_flight,
            "targets": [target.stats() for target in self.targets],
        }
