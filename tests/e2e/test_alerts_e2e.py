"""Alerts end to end: the real server on the simulator, a real Socket.IO client and a webhook
receiver on loopback (json:// through Apprise)."""

from __future__ import annotations

import json
import statistics
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import socketio

from tests.conftest import wait_until
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e


def call(server, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes) else
                                      json.dumps(body).encode())
    request = urllib.request.Request(server.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode() or "null")


class Page:
    """A Socket.IO client noting when each alert and trade arrived."""

    def __init__(self, server) -> None:
        self.alerts: list[tuple[float, dict]] = []
        self.trades: list[tuple[float, dict]] = []
        self.statuses: list[dict] = []
        self.client = socketio.Client(reconnection=False)
        self.client.on("alert", lambda data: self.alerts.append((time.monotonic(), data)))
        self.client.on("trade", lambda batch: self.trades.extend(
            (time.monotonic(), trade) for trade in batch))
        self.client.on("status", lambda batch: self.statuses.extend(batch))
        self.client.connect(server.url, transports=["websocket"], wait_timeout=10)

    def wait_live(self, exchange: str, pair: str) -> None:
        wait_until(lambda: any(s["exchange"] == exchange and s["pair"] == pair
                               and s["state"] == "live" for s in self.statuses),
                   message=f"{exchange} {pair} live")

    def trade_at(self, price: str) -> float:
        found = wait_until(lambda: [t for t, trade in self.trades if trade["price"] == price],
                           message=f"trade {price}")
        return found[-1]


@pytest.fixture
def pages():
    made: list[Page] = []

    def connect(server) -> Page:
        page = Page(server)
        made.append(page)
        return page

    yield connect
    for page in made:
        page.client.disconnect()


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(**options: Any) -> Receiver:
        receiver = Receiver(**options)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


def test_a_rule_crossing_a_moving_price_fires_once_on_the_page_and_the_webhook(
        simulator, server_on_simulator, pages, receivers, tmp_path):
    receiver = receivers()
    server = server_on_simulator(PAIRS="BTC-USD", DATABASE_URL=f"sqlite:///{tmp_path}/m.db",
                                 ALERT_URLS=receiver.url("/phone"))
    page = pages(server)
    for exchange in ("bitfinex", "coinbase"):
        page.wait_live(exchange, "BTC-USD")
    # "tell me when BTC-USD crosses 45,000 on any exchange" (the market starts near 43,000)
    status, rule = call(server, "POST", "/api/alerts",
                        {"kind": "price_above", "pair": "BTC-USD", "value": "45000"})
    assert status == 201, rule
    for price in ("44800", "44950", "44999.99"):
        simulator.control("coinbase/trade", pair="BTC-USD", price=price, amount="0.1")
    page.trade_at("44999.99")
    assert page.alerts == []
    simulator.control("coinbase/trade", pair="BTC-USD", price="45010.5", amount="0.1")
    crossed_at = time.monotonic()
    wait_until(lambda: page.alerts, timeout=2, message="the alert on the page")
    wait_until(lambda: receiver.bodies, timeout=2 - (time.monotonic() - crossed_at),
               message="the alert at the webhook")
    arrived, alert = page.alerts[0]
    assert arrived - crossed_at < 2 and receiver.arrivals[0] - crossed_at < 2
    assert {k: alert[k] for k in ("rule_id", "kind", "exchange", "pair", "value")} == {
        "rule_id": rule["id"], "kind": "price_above", "exchange": "coinbase",
        "pair": "BTC-USD", "value": "45010.5"}
    assert alert["message"] == ("BTC-USD last 45010.5 on coinbase (any exchange): at or above "
                                "45000")
    assert alert["time"].endswith("Z") and isinstance(alert["id"], int)
    [body] = receiver.bodies
    assert body["path"] == "/phone" and body["message"] == alert["message"]

    # the price hovers at the level, on both exchanges: nothing more
    for exchange, price in (("coinbase", "44990"), ("bitfinex", "45003"), ("coinbase", "45020"),
                            ("bitfinex", "44980"), ("coinbase", "45001")):
        simulator.control(f"{exchange}/trade", pair="BTC-USD", price=price, amount="0.1")
    page.trade_at("45001")
    time.sleep(0.5)
    assert len(page.alerts) == 1 and len(receiver.bodies) == 1

    status, events = call(server, "GET", "/api/alerts/events?limit=10")
    assert status == 200 and events == [alert]
    health = server.health()["alerts"]
    assert (health["fired"], health["delivery"]["sent"], health["delivery"]["failed"]) == (1, 1,
                                                                                          0)

    # bad rules and foreign pages get told why, naming the field
    for body, field in (({"kind": "price_above", "pair": "BTC-USD"}, "value"),
                        ({"kind": "price_above", "pair": "nope!", "value": "1"}, "pair"),
                        ({"kind": "moon", "pair": "BTC-USD"}, "kind"),
                        ({"kind": "move_pct", "pair": "BTC-USD", "value": "1", "window_s": "x"},
                         "window_s"),
                        (b"{", "body")):
        status, answer = call(server, "POST", "/api/alerts", body)
        assert status == 400 and answer["error"].startswith(f"{field}: "), answer
    status, answer = call(server, "POST", "/api/alerts", {"kind": "crossed", "pair": "BTC-USD"},
                          headers={"Origin": "http://evil.example"})
    assert status == 403
    assert call(server, "DELETE", f"/api/alerts/{rule['id']}",
                headers={"Origin": server.url})[0] == 204
    assert call(server, "GET", "/api/alerts")[1]["rules"] == []


def test_a_stalled_feed_fires_feed_down(simulator, server_on_simulator, pages, tmp_path):
    server = server_on_simulator(PAIRS="BTC-USD", FEED_TIMEOUT="2",
                                 DATABASE_URL=f"sqlite:///{tmp_path}/m.db")
    page = pages(server)
    page.wait_live("coinbase", "BTC-USD")
    status, rule = call(server, "POST", "/api/alerts", {"kind": "feed_down",
                                                        "exchange": "coinbase", "seconds": 3})
    assert status == 201, rule
    simulator.control("coinbase/silence", seconds=30)
    silenced_at = time.monotonic()
    wait_until(lambda: page.alerts, timeout=12, message="feed_down")
    arrived, alert = page.alerts[0]
    assert arrived - silenced_at >= 3  # stale after up to FEED_TIMEOUT, then 3 s down
    assert (alert["kind"], alert["exchange"], alert["pair"], alert["rule_id"]) == (
        "feed_down", "coinbase", "BTC-USD", rule["id"])
    assert alert["message"].startswith("coinbase BTC-USD ")
    assert float(alert["value"]) >= 3
    time.sleep(1)
    assert len(page.alerts) == 1  # once per incident
    assert call(server, "GET", "/api/alerts/events")[1][0]["id"] == alert["id"]


def test_rules_and_history_survive_a_restart_and_the_seed_file_is_idempotent(
        simulator, server_on_simulator, pages, tmp_path):
    seed = tmp_path / "alerts.toml"
    seed.write_text('[[alert]]\nkind = "crossed"\npair = "BTC-USD"\n\n'
                    '[[alert]]\nkind = "feed_down"\nexchange = "bitfinex"\nseconds = 600\n')
    env = {"PAIRS": "BTC-USD", "DATABASE_URL": f"sqlite:///{tmp_path}/m.db",
           "ALERTS_FILE": str(seed)}
    server = server_on_simulator(**env)
    page = pages(server)
    page.wait_live("coinbase", "BTC-USD")
    status, rule = call(server, "POST", "/api/alerts", {"kind": "price_below",
                                                        "pair": "BTC-USD", "value": "40000",
                                                        "exchange": "coinbase",
                                                        "message": "buy the dip"})
    assert status == 201
    simulator.control("coinbase/trade", pair="BTC-USD", price="39990", amount="1")
    def of_rule(alerts: list) -> list[dict]:
        return [a for _, a in alerts if a["rule_id"] == rule["id"]]

    [alert] = wait_until(lambda: of_rule(page.alerts), timeout=2, message="the alert")
    wait_until(lambda: server.health()["alerts"]["unsaved"] == 0, message="the alert stored")
    before = call(server, "GET", "/api/alerts")[1]["rules"]
    assert len(before) == 3
    server.process.stop()

    again = server_on_simulator(**env)
    listed = call(again, "GET", "/api/alerts")[1]["rules"]
    assert listed == before  # the seed file added nothing twice; the state came back
    mine = next(r for r in listed if r["id"] == rule["id"])
    assert (mine["armed"], mine["message"]) == (False, "buy the dip")
    assert alert in call(again, "GET", "/api/alerts/events")[1]
    # the price is still below 40000: the event already told is not told again
    page = pages(again)
    page.wait_live("coinbase", "BTC-USD")
    simulator.control("coinbase/trade", pair="BTC-USD", price="39980", amount="1")
    page.trade_at("39980")
    time.sleep(0.5)
    assert of_rule(page.alerts) == []


def stream_latency(simulator, page, prices: list[str]) -> list[float]:
    """Seconds from each trade the simulator prints to its arrival on the page."""
    latencies = []
    for price in prices:
        sent = time.monotonic()
        simulator.control("bitfinex/trade", pair="ETH-USD", price=price, amount="0.5")
        latencies.append(page.trade_at(price) - sent)
    return latencies


def test_webhooks_that_hang_or_fail_slow_nothing_else(simulator, server_on_simulator, pages,
                                                     receivers, tmp_path):
    hanging = receivers(hang=30)
    failing = receivers(status=500)
    server = server_on_simulator(PAIRS="BTC-USD,ETH-USD",
                                 DATABASE_URL=f"sqlite:///{tmp_path}/m.db",
                                 ALERT_URLS=f"{hanging.url()},{failing.url()}")
    page = pages(server)
    page.wait_live("bitfinex", "ETH-USD")
    page.wait_live("coinbase", "BTC-USD")
    before = stream_latency(simulator, page, [f"21{i:02d}.5" for i in range(10)])
    status, _ = call(server, "POST", "/api/alerts", {
        "kind": "price_above", "pair": "BTC-USD", "exchange": "coinbase", "value": "50000",
        "hysteresis": "0", "cooldown_s": 0})
    assert status == 201
    for _ in range(10):  # ten crossings, ten alerts, twenty deliveries that hang or fail
        simulator.control("coinbase/trade", pair="BTC-USD", price="50001", amount="0.1")
        simulator.control("coinbase/trade", pair="BTC-USD", price="49999", amount="0.1")
    wait_until(lambda: len(page.alerts) == 10, timeout=5, message="ten alerts")
    during = stream_latency(simulator, page, [f"22{i:02d}.5" for i in range(10)])
    # a delivery that blocked the stream would show as its 5 s timeout
    assert max(during) < max(1.0, 3 * max(before)), (before, during)
    assert statistics.median(during) < max(0.3, 3 * statistics.median(before)), (before, during)
    wait_until(lambda: len(hanging.bodies) >= 10, timeout=5, message="the hanging deliveries")
    delivery = server.health()["alerts"]["delivery"]
    assert delivery["in_flight"] >= 10  # waiting on the hanging receiver, off the stream
    # 500: three attempts (1 s, then 2 s apart) per alert, then counted as failed
    wait_until(lambda: server.health()["alerts"]["delivery"]["failed"] >= 10, timeout=15,
               message="the failed deliveries counted")
    assert len(failing.bodies) >= 30
    targets = {t["url"]: t for t in server.health()["alerts"]["delivery"]["targets"]}
    assert targets[f"json://127.0.0.1:{failing.port}"]["state"] == "failing"
    failing_lines = [line for line in server.process.output().splitlines()
                     if "alert delivery failing" in line and str(failing.port) in line]
    assert len(failing_lines) == 1, failing_lines  # once per incident
    after = stream_latency(simulator, page, [f"23{i:02d}.5" for i in range(5)])
    assert max(after) < max(1.0, 3 * max(before)), (before, after)
