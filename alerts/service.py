"""The alert service: the hub's observer that evaluates rules, stores and delivers what fired.

On the hub's side (never blocking it):

- ``observe(record)`` is called by ``Hub.publish`` for every record, on the listener's task:
  the engine's O(rules for that pair) check, nothing else.
- ``flush()`` is called by ``Hub.flush`` on the hub's own task every ``FLUSH_MS``: it checks
  the ``feed_down`` timers, and for every alert that fired emits the Socket.IO ``alert`` event
  to every page, hands it to the notifier (a green task per URL) and queues it for storage.

Its own green tasks (``start``): one loads the rules (and seeds ``ALERTS_FILE``) from storage,
retrying while the database is down; one writes fired alerts and rule states through the same
serialized store call as the storage writer, retrying with backoff; one prunes the history
older than ``RETENTION_DAYS`` once an hour.

Rule changes from the HTTP API (``add_rule``, ``delete_rule``) are stored first, then take
effect in the engine at once.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from exchanges.records import format_time
from storage.alerts import AlertStore, event_json
from storage.store import Store, to_ms

from .delivery import Notifier
from .engine import AlertEngine, Firing
from .rules import Rule
from .seed import load_rules

log = logging.getLogger(__name__)

MAX_RULES = 500
MAX_PER_FLUSH = 20  # alerts sent per hub tick; more (a rule with no cooldown at 10k msg/s) wait
MAX_UNSAVED = 10_000  # alerts waiting for storage; beyond, the oldest are dropped and counted
SAVE_INTERVAL = 0.2
LOAD_RETRY = 5.0
BACKOFF_CAP = 30.0
PRUNE_EVERY = 3600.0
RULES_REFRESH = 5.0  # seconds between looks for rules another process changed


class RuleNotFound(LookupError):
    pass


class RuleLocked(ValueError):
    """A rule that ``ALERTS_FILE`` defines: edit the file instead."""


class TooManyRules(ValueError):
    pass


class AlertRules:
    """Rules and history in storage only: what the HTTP API needs where no rule is evaluated
    (a web node, whose collectors evaluate; they pick up changes within ``RULES_REFRESH``)."""

    def __init__(self, store: Store, store_call: Callable[..., Any], *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = AlertStore(store)
        self._store_call = store_call
        self._clock = clock

    def rules(self) -> list[dict[str, Any]]:
        """Every rule with where it stands (``armed``, ``last_fired``)."""
        return _rules_json(self._store_call(self.store.rules))

    def add_rule(self, rule: Rule) -> Rule:
        if self._store_call(self.store.count_rules) >= MAX_RULES:
            raise TooManyRules(f"at most {MAX_RULES} rules")
        stored = self._store_call(self.store.add_rule, rule.with_id(0, "api"), self._clock())
        log.info("alert rule added id=%d kind=%s pair=%s exchange=%s", stored.id,
                 stored.kind.value, stored.pair, stored.exchange or "any")
        return stored

    def delete_rule(self, rule_id: int) -> None:
        known = {rule.id: rule for rule, _, _ in self._store_call(self.store.rules)}
        rule = known.get(rule_id)
        if rule is None:
            raise RuleNotFound(f"no rule {rule_id}")
        if rule.source == "file":
            raise RuleLocked(f"rule {rule_id} comes from ALERTS_FILE: edit the file")
        self._store_call(self.store.delete_rule, rule_id)
        log.info("alert rule deleted id=%d", rule_id)

    def events(self, since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Fired alerts, newest first."""
        return self._store_call(self.store.events, since, limit)


class AlertService(AlertRules):
    """Rules in storage and in the engine; what fired to the pages, storage and the outside."""

    def __init__(self, store: Store, store_call: Callable[..., Any], *,
                 spawn: Callable[..., Any], sleep: Callable[[float], None],
                 emit: Callable[[str, Any], None], exchanges: Sequence[str],
                 alerts_file: str | None = None, alert_urls: Sequence[str] = (),
                 retention_days: float = 7.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 notifier: Notifier | None = None) -> None:
        super().__init__(store, store_call, clock=clock)
        self._spawn = spawn
        self._sleep = sleep
        self._emit = emit
        self._edits = 0  # rule changes made here, so a refresh never undoes one it overlapped
        self.exchanges = tuple(exchanges)
        self.alerts_file = alerts_file
        self.retention = timedelta(days=retention_days)
        self.engine = AlertEngine(clock)
        self.notifier = notifier or Notifier(alert_urls, spawn, sleep)
        self.loaded = False
        self._last_id = 0
        self._backlog: deque[Firing] = deque()  # fired, beyond MAX_PER_FLUSH in one tick
        self._unsaved: deque[dict[str, Any]] = deque()
        self._unsaved_states: dict[int, tuple[bool, datetime | None]] = {}
        self._saving: list[dict[str, Any]] = []  # events in the store call running now
        self._failing_since: float | None = None
        # counters for /healthz
        self.fired = 0
        self.delayed = 0
        self.unsaved_dropped = 0
        self.save_failures = 0
        self.errors = 0
        self.last_error: str | None = None

    # -- the hub's side ---------------------------------------------------------------------------

    def observe(self, record: Any) -> None:
        """Every record the hub publishes (on the listener's task): evaluate, never raise."""
        try:
            self.engine.observe(record)
        except Exception:
            self._bug("alert evaluation failed")

    def flush(self) -> None:
        """On the hub's task, every tick: send what fired, queue it and rule states to store."""
        try:
            self.engine.tick()
            fired, states = self.engine.drain()
        except Exception:
            self._bug("alert evaluation failed")
            return
        if states:
            self._unsaved_states.update(states)
        waiting = len(self._backlog)  # already counted as delayed
        self._backlog.extend(fired)
        sent = 0
        while self._backlog and sent < MAX_PER_FLUSH:
            self._send(self._backlog.popleft())
            sent += 1
        self.delayed += len(self._backlog) - max(0, waiting - sent)

    def _send(self, firing: Firing) -> None:
        now_us = time.time_ns() // 1000
        self._last_id = max(self._last_id + 1, now_us)
        event = event_json(self._last_id, firing.rule, firing.exchange, firing.pair,
                           firing.value, firing.message, firing.time)
        self.fired += 1
        log.info("alert fired id=%d rule=%d kind=%s exchange=%s pair=%s value=%s reason=%s",
                 event["id"], firing.rule.id, event["kind"], event["exchange"], event["pair"],
                 event["value"], event["message"])
        try:
            self._emit("alert", event)
        except Exception:
            self._bug("alert emit failed")
        try:
            self.notifier.submit(event)
        except Exception:
            self._bug("alert delivery failed to start")
        self._unsaved.append({**event, "fired_ms": to_ms(firing.fired_at)})
        excess = len(self._unsaved) - MAX_UNSAVED
        for _ in range(max(0, excess)):
            self._unsaved.popleft()
            self.unsaved_dropped += 1

    def _bug(self, what: str) -> None:
        self.errors += 1
        if self.errors == 1 or self.errors % 1000 == 0:  # a bug per record must not flood
            log.exception("%s errors=%d", what, self.errors)

    # -- tasks ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the loader, the saver and the pruner; call once, from ``Dashboard.start``."""
        self._spawn(self.run_load)
        self._spawn(self.run_save)
        self._spawn(self.run_prune)
        self._spawn(self.run_refresh)

    def run_load(self) -> None:
        """Seed ``ALERTS_FILE`` and load every rule, retrying while storage fails."""
        failing_since: float | None = None
        while not self.loaded:
            try:
                self.load()
            except (SQLAlchemyError, OSError) as exc:
                if failing_since is None:  # once per incident; the retries are quiet
                    failing_since = time.monotonic()
                    log.warning("alert rules unavailable retry=%.0fs reason=%s", LOAD_RETRY,
                                _one_line(exc))
                self._sleep(LOAD_RETRY)
            except Exception:
                log.exception("alert rules failed to load")
                self._sleep(LOAD_RETRY)
        if failing_since is not None:
            log.warning("alert rules available after=%.1fs", time.monotonic() - failing_since)

    def load(self) -> None:
        if self.alerts_file:
            rules = load_rules(self.alerts_file)  # checked by the settings at start-up
            added, removed = self._store_call(self.store.sync_file_rules, rules, self._clock())
            log.info("alert rules seeded file=%s rules=%d added=%d removed=%d",
                     self.alerts_file, len(rules), added, removed)
        stored = self._store_call(self.store.rules)
        self.engine.load(stored)
        self.loaded = True
        log.info("alert rules loaded rules=%d", len(stored))

    def run_refresh(self) -> None:
        """Take up rules added or deleted by another process on the same database (a web node
        of a collector) every ``RULES_REFRESH`` seconds; quiet while storage fails."""
        while True:
            self._sleep(RULES_REFRESH)
            if not self.loaded:
                continue
            try:
                self.refresh()
            except (SQLAlchemyError, OSError):
                pass  # the saver and the API say when storage fails
            except Exception:
                self._bug("alert rules refresh failed")

    def refresh(self) -> None:
        edits = self._edits
        stored = self._store_call(self.store.rules)
        if edits != self._edits:
            return  # a rule changed here meanwhile: the listing may predate it; next round
        known = {rule.id for rule, _, _ in self.engine.rules()}
        listed = {rule.id for rule, _, _ in stored}
        for rule, armed, last_fired in stored:
            if rule.id not in known:
                self.engine.add(rule, armed, last_fired)
        for rule_id in known - listed:
            self.engine.remove(rule_id)
            self._unsaved_states.pop(rule_id, None)

    def run_save(self) -> None:
        """Store fired alerts and rule states, in order, forever (the saver's task)."""
        delay = SAVE_INTERVAL
        while True:
            self._sleep(delay)
            try:
                delay = self.save_once()
            except Exception:
                self._bug("alert save failed")
                delay = BACKOFF_CAP

    def save_once(self) -> float:
        """One store call with everything waiting; returns the seconds to wait before the next."""
        if not (self._unsaved or self._unsaved_states):
            return SAVE_INTERVAL
        events = self._saving = list(self._unsaved)
        self._unsaved.clear()
        states, self._unsaved_states = self._unsaved_states, {}
        try:
            self._store_call(self.store.save, events, states)
        except (SQLAlchemyError, OSError) as exc:
            self._unsaved.extendleft(reversed(events))
            for rule_id, state in states.items():
                self._unsaved_states.setdefault(rule_id, state)
            self.save_failures += 1
            self.last_error = _one_line(exc)
            if self._failing_since is None:
                self._failing_since = time.monotonic()
                log.warning("alert history failing unsaved=%d reason=%s", len(self._unsaved),
                            self.last_error)
            return min(BACKOFF_CAP, SAVE_INTERVAL * 2 ** min(self.save_failures, 8))
        finally:
            self._saving = []
        if self._failing_since is not None:
            log.warning("alert history recovered after=%.1fs saved=%d",
                        time.monotonic() - self._failing_since, len(events))
            self._failing_since = None
        return SAVE_INTERVAL

    def run_prune(self) -> None:
        while True:
            self._sleep(PRUNE_EVERY)
            try:
                pruned = self._store_call(self.store.prune_events, self._clock() - self.retention)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("alert history prune failed reason=%s", _one_line(exc))
                continue
            if pruned:
                log.info("alert history pruned events=%d", pruned)

    # -- the HTTP API's side (request tasks) ------------------------------------------------------

    def rules(self) -> list[dict[str, Any]]:
        if not self.loaded:
            return super().rules()
        return _rules_json(self.engine.rules())

    def add_rule(self, rule: Rule) -> Rule:
        self._edits += 1
        stored = super().add_rule(rule)
        self.engine.add(stored)
        return stored

    def delete_rule(self, rule_id: int) -> None:
        self._edits += 1
        super().delete_rule(rule_id)
        self.engine.remove(rule_id)
        self._unsaved_states.pop(rule_id, None)

    def events(self, since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Fired alerts, newest first: stored ones and those still on their way to storage."""
        stored = super().events(since, limit)
        waiting = [*self._saving, *self._unsaved]
        if since is not None:
            waiting = [e for e in waiting if datetime.fromisoformat(e["time"]) >= since]
        merged = {e["id"]: {k: v for k, v in e.items() if k != "fired_ms"} for e in waiting}
        for event in stored:
            merged.setdefault(event["id"], event)
        return sorted(merged.values(), key=lambda e: e["id"], reverse=True)[:limit]

    def stats(self) -> dict[str, Any]:
        """The ``alerts`` section of ``/healthz``."""
        return {
            "state": "failing" if self._failing_since is not None else "ok",
            "loaded": self.loaded,
            "rules": len(self.engine),
            "fired": self.fired,
            "delayed": self.delayed,
            "unsaved": len(self._unsaved) + len(self._saving),
            "unsaved_dropped": self.unsaved_dropped,
            "save_failures": self.save_failures,
            "errors": self.errors,
            "last_error": self.last_error,
            "delivery": self.notifier.stats(),
        }


def _rules_json(stored: list[tuple[Rule, bool, datetime | None]]) -> list[dict[str, Any]]:
    return [{**rule.to_json(), "armed": armed,
             "last_fired": None if last is None else format_time(last)}
            for rule, armed, last in sorted(stored, key=lambda item: item[0].id)]


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc) or type(exc).__name__
    return " ".join(text.split())[:300]
