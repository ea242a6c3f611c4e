"""Alert rules and the alert history, in the market database (SQLite or PostgreSQL).

Two tables on ``storage.store.metadata`` (so ``Store`` creates them with the others):

- ``alert_rules``: one row per rule (``alerts.rules.Rule``), with where it stands (``armed``,
  ``last_fired_ms``) so a restart neither fires again for an event already told nor forgets a
  cooldown. ``file_key`` is set for the rules seeded from ``ALERTS_FILE`` (a digest of the rule),
  which makes seeding idempotent.
- ``alert_events``: every firing, with the value that fired it and the record's time. Its ``id``
  is given by the server before the row is written (the page gets the event at once), growing
  with time.

Values stay exact text; times are epoch milliseconds. Like ``Store``, everything here blocks:
call it through the dashboard's ``store_call`` (off the hub, one store call at a time).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from alerts.rules import Kind, Rule
from exchanges.records import format_time

from .store import Store, from_ms, metadata, to_ms

_RuleId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite numbers INTEGER PRIMARY KEY

alert_rules_table = Table(
    "alert_rules", metadata,
    Column("id", _RuleId, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),
    Column("pair", Text, nullable=True),
    Column("exchange", Text, nullable=True),
    Column("field", Text, nullable=True),
    Column("value", Text, nullable=True),
    Column("window_s", Float, nullable=True),
    Column("seconds", Float, nullable=True),
    Column("cooldown_s", Float, nullable=False),
    Column("hysteresis", Text, nullable=True),
    Column("severity", Text, nullable=False),
    Column("message", Text, nullable=True),
    Column("source", Text, nullable=False),
    Column("file_key", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("armed", Integer, nullable=False),
    Column("last_fired_ms", BigInteger, nullable=True),
    UniqueConstraint("file_key", name="uq_alert_rules_file_key"),
)

alert_events_table = Table(
    "alert_events", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("rule_id", BigInteger, nullable=False),
    Column("kind", Text, nullable=False),
    Column("exchange", Text, nullable=True),
    Column("pair", Text, nullable=True),
    Column("message", Text, nullable=False),
    Column("value", Text, nullable=True),
    Column("severity", Text, nullable=False),
    Column("time_ms", BigInteger, nullable=False),  # the record's time
    Column("fired_ms", BigInteger, nullable=False),  # the server's clock when it fired
    Index("ix_alert_events_time", "time_ms"),
)

StoredRule = tuple[Rule, bool, datetime | None]  # (rule, armed, last fired)


def rule_row(rule: Rule, created: datetime, file_key: str | None = None) -> dict[str, Any]:
    return {
        "kind": rule.kind.value, "pair": rule.pair, "exchange": rule.exchange,
        "field": rule.field, "value": _text(rule.value), "window_s": rule.window_s,
        "seconds": rule.seconds, "cooldown_s": rule.cooldown_s,
        "hysteresis": _text(rule.hysteresis), "severity": rule.severity,
        "message": rule.message, "source": rule.source, "file_key": file_key,
        "created_ms": to_ms(created), "armed": 1, "last_fired_ms": None,
    }


def event_json(event_id: int, rule: Rule, exchange: str | None, pair: str | None, value: str,
               message: str, time: datetime) -> dict[str, Any]:
    """The shape of an alert everywhere: the Socket.IO ``alert`` event, the history API."""
    return {"id": event_id, "rule_id": rule.id, "kind": rule.kind.value, "exchange": exchange,
            "pair": pair, "message": message, "value": value, "time": format_time(time),
            "severity": rule.severity}


class AlertStore:
    """Rules and history over a ``Store``'s engine; every method blocks."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def rules(self) -> list[StoredRule]:
        table = alert_rules_table
        with self._connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.id)).all()
        return [_stored_rule(row) for row in rows]

    def add_rule(self, rule: Rule, created: datetime) -> Rule:
        """Store a new rule; returns it with its id."""
        with self._begin() as conn:
            result = conn.execute(insert(alert_rules_table).values(rule_row(rule, created)))
            rule_id = result.inserted_primary_key[0]
        return rule.with_id(int(rule_id))

    def delete_rule(self, rule_id: int) -> bool:
        with self._begin() as conn:
            result = conn.execute(delete(alert_rules_table)
                                  .where(alert_rules_table.c.id == rule_id))
        return result.rowcount > 0

    def count_rules(self) -> int:
        with self._connect() as conn:
            return int(conn.execute(select(func.count()).select_from(alert_rules_table))
                       .scalar_one())

    def sync_file_rules(self, rules: Sequence[Rule], created: datetime) -> tuple[int, int]:
        """Make the ``file`` rules exactly ``rules``: insert those not stored yet (by their
        key), delete those no longer in the file, keep the others as they stand. Returns
        (added, removed); running it twice with the same rules adds and removes nothing."""
        table = alert_rules_table
        wanted = {rule.key(): rule for rule in rules}
        with self._begin() as conn:
            stored = {row.file_key: row.id for row in conn.execute(
                select(table.c.id, table.c.file_key).where(table.c.source == "file"))}
            gone = [rule_id for key, rule_id in stored.items() if key not in wanted]
            if gone:
                conn.execute(delete(table).where(table.c.id.in_(gone)))
            new = [rule_row(rule.with_id(0, "file"), created, key)
                   for key, rule in wanted.items() if key not in stored]
            if new:
                dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
                conn.execute(dialect.insert(table).on_conflict_do_nothing(
                    index_elements=["file_key"]), new)
        return len(new), len(gone)

    def save(self, events: Iterable[Mapping[str, Any]],
             states: Mapping[int, tuple[bool, datetime | None]]) -> None:
        """Store fired alerts (``event_json`` dicts plus ``fired_ms``) and rule states, in one
        transaction. An event already stored (a retried write) is left as it is."""
        rows = [{"id": e["id"], "rule_id": e["rule_id"], "kind": e["kind"],
                 "exchange": e["exchange"], "pair": e["pair"], "message": e["message"],
                 "value": e["value"], "severity": e["severity"],
                 "time_ms": to_ms(datetime.fromisoformat(e["time"])), "fired_ms": e["fired_ms"]}
                for e in events]
        table = alert_rules_table
        with self._begin() as conn:
            if rows:
                dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
                conn.execute(dialect.insert(alert_events_table).on_conflict_do_nothing(
                    index_elements=["id"]), rows)
            for rule_id, (armed, last_fired) in states.items():
                conn.execute(update(table).where(table.c.id == rule_id).values(
                    armed=int(armed),
                    last_fired_ms=None if last_fired is None else to_ms(last_fired)))

    def events(self, since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Fired alerts whose record time is at or after ``since``, newest first."""
        table = alert_events_table
        query = select(table).order_by(table.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(table.c.time_ms >= to_ms(since))
        with self._connect() as conn:
            rows = conn.execute(query).all()
        return [_event(row) for row in rows]

    def prune_events(self, before: datetime) -> int:
        with self._begin() as conn:
            result = conn.execute(delete(alert_events_table)
                                  .where(alert_events_table.c.fired_ms < to_ms(before)))
        return result.rowcount

    @contextmanager
    def _connect(self, begin: bool = False) -> Iterator[Connection]:
        """A connection (``begin``: a transaction) under the store's own guard: the tables
        are made on first use, and checked again after a failure."""
        store = self.store
        with store._guard():
            engine = store._connect_ready()
            with engine.begin() if begin else engine.connect() as conn:
                yield conn

    def _begin(self) -> Any:
        return self._connect(begin=True)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _stored_rule(row: Any) -> StoredRule:
    rule = Rule(
        kind=Kind(row.kind), pair=row.pair, exchange=row.exchange, field=row.field,
        value=None if row.value is None else Decimal(row.value), window_s=row.window_s,
        seconds=row.seconds, cooldown_s=row.cooldown_s,
        hysteresis=None if row.hysteresis is None else Decimal(row.hysteresis),
        severity=row.severity, message=row.message, id=int(row.id), source=row.source)
    last = None if row.last_fired_ms is None else from_ms(row.last_fired_ms)
    return rule, bool(row.armed), last


def _event(row: Any) -> dict[str, Any]:
    return {"id": int(row.id), "rule_id": int(row.rule_id), "kind": row.kind,
            "exchange": row.exchange, "pair": row.pair, "message": row.message,
            "value": row.value, "time": format_time(from_ms(row.time_ms)),
            "severity": row.severity}
