"""Alert rules and history in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from alerts.rules import parse_rule
from storage.alerts import AlertStore, event_json

T0 = datetime(2026, 11, 24, 12, 0, 0, 123000, tzinfo=UTC)


def rule(**fields):
    return parse_rule(fields)


def test_rules_round_trip_exactly_and_are_deleted(store, make_store):
    alerts = AlertStore(store)
    first = alerts.add_rule(rule(kind="price_above", pair="BTC-USD", value="45000.10",
                                 hysteresis="0.5", message="the big one"), T0)
    second = alerts.add_rule(rule(kind="move_pct", pair="ETH-USD", exchange="coinbase",
                                  value="2.5", window_s=120, cooldown_s=0), T0)
    assert second.id > first.id > 0
    # another store on the same database: what a restarted server reads
    stored = AlertStore(make_store()).rules()
    assert [(r, armed, last) for r, armed, last in stored] == [(first, True, None),
                                                               (second, True, None)]
    assert stored[0][0].value == Decimal("45000.10") and stored[0][0].hysteresis == Decimal("0.5")
    assert alerts.count_rules() == 2
    assert alerts.delete_rule(first.id) and not alerts.delete_rule(first.id)
    assert [r.id for r, _, _ in alerts.rules()] == [second.id]


def test_events_and_rule_states_are_saved_together_and_read_newest_first(store):
    alerts = AlertStore(store)
    made = alerts.add_rule(rule(kind="price_above", pair="BTC-USD", value="100"), T0)
    events = [{**event_json(1_000 + i, made, "coinbase", "BTC-USD", f"10{i}", f"hit {i}",
                            T0 + timedelta(seconds=i)), "fired_ms": 5} for i in range(3)]
    alerts.save(events[:2], {made.id: (False, T0)})
    alerts.save(events[1:], {})  # a retried write: the event already stored stays as it is
    read = alerts.events()
    assert [e["id"] for e in read] == [1002, 1001, 1000]
    assert read[0] == {"id": 1002, "rule_id": made.id, "kind": "price_above",
                       "exchange": "coinbase", "pair": "BTC-USD", "message": "hit 2",
                       "value": "102", "time": "2026-11-24T12:00:02.123Z", "severity": "info"}
    assert [e["id"] for e in alerts.events(since=T0 + timedelta(seconds=1), limit=1)] == [1002]
    [(_, armed, last)] = alerts.rules()
    assert (armed, last) == (False, T0)
    assert alerts.prune_events(datetime.fromtimestamp(0.006, UTC)) == 3
    assert alerts.events() == []


def test_file_rules_are_seeded_once_and_follow_the_file(store):
    alerts = AlertStore(store)
    keep = rule(kind="price_above", pair="BTC-USD", value="45000").with_id(0, "file")
    drop = rule(kind="feed_down", exchange="coinbase").with_id(0, "file")
    own = alerts.add_rule(rule(kind="crossed", pair="BTC-USD"), T0)
    assert alerts.sync_file_rules([keep, drop], T0) == (2, 0)
    assert alerts.sync_file_rules([keep, drop], T0) == (0, 0)  # a restart: nothing new
    kept_id = next(r.id for r, _, _ in alerts.rules() if r.kind == "price_above")
    new = rule(kind="spread_above", pair="BTC-USD", value="5").with_id(0, "file")
    assert alerts.sync_file_rules([keep, new], T0) == (1, 1)
    rules = {r.id: r for r, _, _ in alerts.rules()}
    assert sorted(r.kind.value for r in rules.values()) == ["crossed", "price_above",
                                                           "spread_above"]
    assert kept_id in rules and rules[kept_id].source == "file" and own.id in rules
