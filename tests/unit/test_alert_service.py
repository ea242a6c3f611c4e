"""The alert service between the hub, storage, the pages and delivery (no event loop: plain
calls stand in for the green tasks)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from alerts.rules import parse_rule
from alerts.service import MAX_PER_FLUSH, AlertRules, AlertService
from dashboard.hub import Hub
from exchanges.records import Side, Trade
from storage.store import Store

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
KEYS = {"id", "rule_id", "kind", "exchange", "pair", "message", "value", "time", "severity"}


class FakeNotifier:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def submit(self, event: dict) -> None:
        self.events.append(event)

    def stats(self) -> dict:
        return {"urls": 0}


def trade(price: str, trade_id: str = "1") -> Trade:
    return Trade("coinbase", "BTC-USD", "BTC-USD", T0, trade_id, Decimal(price), Decimal("1"),
                 Side.BUY)


@pytest.fixture
def parts(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/alerts.db")
    emitted: list[tuple[str, object]] = []
    notifier = FakeNotifier()
    service = AlertService(store, lambda f, *a, **k: f(*a, **k), spawn=lambda f, *a: None,
                           sleep=lambda s: None, emit=lambda e, d: emitted.append((e, d)),
                           exchanges=("coinbase", "bitfinex"), clock=lambda: T0,
                           notifier=notifier)  # type: ignore[arg-type]
    service.load()
    hub = Hub(lambda event, batch: emitted.append((event, batch)), observers=(service,))
    yield service, hub, emitted, notifier
    store.close()


def test_a_firing_reaches_the_pages_delivery_and_storage_once(parts):
    service, hub, emitted, notifier = parts
    made = service.add_rule(parse_rule({"kind": "price_above", "pair": "BTC-USD",
                                        "value": "45000"}))
    for price in ("44990", "45010", "45005", "44999"):
        hub.publish(trade(price))
    hub.flush()
    alerts = [data for event, data in emitted if event == "alert"]
    assert len(alerts) == 1 and set(alerts[0]) == KEYS
    alert = alerts[0]
    assert (alert["rule_id"], alert["value"], alert["exchange"], alert["time"]) == (
        made.id, "45010", "coinbase", "2026-11-24T12:00:00.000Z")
    assert notifier.events == [alert]
    assert service.events() == [alert]  # before it is written: from memory
    assert service.save_once() > 0
    assert service.store.events() == [alert]  # written
    assert service.events() == [alert]
    [(rule, armed, last)] = service.store.rules()
    assert (rule.id, armed, last) == (made.id, False, T0)
    assert service.stats()["fired"] == 1 and service.stats()["unsaved"] == 0


def test_a_flapping_rule_sends_a_bounded_number_per_tick(parts):
    service, hub, emitted, _ = parts
    service.add_rule(parse_rule({"kind": "price_above", "pair": "BTC-USD", "value": "100",
                                 "hysteresis": "0", "cooldown_s": 0}))
    for i in range(100):
        hub.publish(trade("100" if i % 2 == 0 else "99", str(i)))
    hub.flush()
    assert sum(1 for event, _ in emitted if event == "alert") == MAX_PER_FLUSH
    assert service.stats()["delayed"] == 50 - MAX_PER_FLUSH
    hub.flush()
    hub.flush()
    assert sum(1 for event, _ in emitted if event == "alert") == 50
    ids = [data["id"] for event, data in emitted if event == "alert"]
    assert ids == sorted(set(ids))


def test_an_evaluation_bug_never_reaches_the_listener(parts):
    service, hub, _, _ = parts

    def broken(record):
        raise RuntimeError("bug")

    service.engine.observe = broken  # type: ignore[method-assign]
    hub.publish(trade("1"))
    hub.flush()
    assert service.stats()["errors"] == 1


def test_rules_come_back_from_storage_with_their_state(parts, tmp_path):
    service, hub, _, _ = parts
    service.add_rule(parse_rule({"kind": "price_below", "pair": "BTC-USD", "value": "40000"}))
    hub.publish(trade("39000"))
    hub.flush()
    service.save_once()
    again = AlertService(Store(f"sqlite:///{tmp_path}/alerts.db"), lambda f, *a, **k: f(*a, **k),
                         spawn=lambda f, *a: None, sleep=lambda s: None,
                         emit=lambda e, d: None, exchanges=("coinbase",), clock=lambda: T0,
                         notifier=FakeNotifier())  # type: ignore[arg-type]
    again.load()
    [rule] = again.rules()
    assert (rule["kind"], rule["armed"], rule["last_fired"]) == ("price_below", False,
                                                               "2026-11-24T12:00:00.000Z")
    again.store.store.close()


def test_the_hub_shows_observers_every_record_and_flushes_them_every_tick():
    class Observer:
        def __init__(self) -> None:
            self.records: list = []
            self.flushes = 0

        def observe(self, record) -> None:
            self.records.append(record)

        def flush(self) -> None:
            self.flushes += 1

    def failing_emit(event, batch):
        raise OSError("emit failed")

    observer = Observer()
    hub = Hub(failing_emit, observers=(observer,))
    hub.flush()  # nothing pending: still told
    trades = [trade("1", "a"), trade("2", "b")]
    for record in trades:
        hub.publish(record)
    with pytest.raises(OSError):
        hub.flush()  # the hub's own emit failed: the observers still get their tick
    assert observer.records == trades and observer.flushes == 2


def test_rules_changed_by_another_process_are_taken_up(parts, tmp_path):
    service, hub, emitted, _ = parts
    # a web node: the API on the same database, no engine of its own
    web = AlertRules(Store(f"sqlite:///{tmp_path}/alerts.db"), lambda f, *a, **k: f(*a, **k))
    made = web.add_rule(parse_rule({"kind": "price_above", "pair": "BTC-USD", "value": "100"}))
    hub.publish(trade("150"))
    hub.flush()
    assert [e for e, _ in emitted if e == "alert"] == []  # not known here yet
    service.refresh()
    hub.publish(trade("151"))
    hub.flush()
    assert [d["rule_id"] for e, d in emitted if e == "alert"] == [made.id]
    web.delete_rule(made.id)
    service.refresh()
    assert service.rules() == [] and len(service.engine) == 0
    web.store.store.close()
