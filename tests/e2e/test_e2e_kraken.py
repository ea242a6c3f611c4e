"""Kraken end to end: the real ``server.py`` against the simulated Kraken (WS v2 and REST), seen
by a real Socket.IO client; and the listener's keepalive pings against the simulator, in this
process."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

import pytest

from exchanges.kraken import Kraken, KrakenSession
from exchanges.records import FeedState, Record
from tests.conftest import Collected, EventLog, Simulator, wait_until

pytestmark = pytest.mark.e2e


def wait_live(log: EventLog, pair: str | None) -> None:
    log.wait_for("status", exchange="kraken", pair=pair, state="live")


def lives(log: EventLog) -> int:
    return len(log.of("status", exchange="kraken", pair=None, state="live"))


def test_kraken_streams_exact_values_refuses_a_pair_pauses_and_reconnects(
        simulator, start_server, socket_client):
    server = start_server({
        "EXCHANGES": "kraken", "PAIRS": "BTC-USD,DOGE-EUR,BTC-GBP",
        "KRAKEN_WS_URL": simulator.ws_url("kraken"),
        "KRAKEN_REST_URL": simulator.http + "/kraken",
    })
    log = socket_client(server)
    wait_live(log, "BTC-USD")
    wait_live(log, "DOGE-EUR")
    wait_live(log, None)

    # BTC-GBP: refused by the websocket ("Currency pair not supported BTC/GBP") and missing
    # from AssetPairs; whichever comes first, the page ends up told what is listed
    wait_until(lambda: [s for s in log.of("status", exchange="kraken", pair="BTC-GBP",
                                          state="error")
                        if s["detail"] in (
                            "BTC-GBP is not listed on kraken; did you mean BTC-EUR?",
                            "BTC-GBP is not listed on kraken; did you mean BTC-EUR? "
                            "(kraken said: Currency pair not supported BTC/GBP)")],
               message="BTC-GBP refused with a suggestion")
    assert server.health()["feeds"]["kraken"]["pairs"] == {"BTC-USD": "BTC/USD",
                                                           "DOGE-EUR": "DOGE/EUR"}

    # a trade: exact digits, the taker's side, the v2 symbol
    trade_id = simulator.control("kraken/trade", pair="BTC-USD", price="43210.5",
                                 amount="0.00012", side="sell")["trade_id"]
    trade = log.wait_for("trade", exchange="kraken", id=str(trade_id))
    assert {k: trade[k] for k in ("pair", "symbol", "amount", "side")} == {
        "pair": "BTC-USD", "symbol": "BTC/USD", "amount": "0.00012", "side": "sell"}
    assert trade["time"].endswith("Z") and len(trade["time"]) == 24

    # a new best bid and ask (event_trigger bbo): a complete ticker with the 24 h statistics
    state = simulator.control("kraken/ticker", pair="DOGE-EUR", bid="0.07801", ask="0.07807",
                              last="0.07804")["state"]
    ticker = log.wait_for("ticker", exchange="kraken", pair="DOGE-EUR", last="0.07804")
    assert {k: ticker[k] for k in ("symbol", "bid", "ask", "bid_size", "ask_size", "volume_24h",
                                   "open_24h", "high_24h", "low_24h")} == {
        "symbol": "DOGE/EUR", "bid": "0.07801", "ask": "0.07807",
        "bid_size": state["bid_size"], "ask_size": state["ask_size"],
        "volume_24h": state["volume_24h"], "open_24h": state["open_24h"],
        "high_24h": state["high_24h"], "low_24h": state["low_24h"]}

    # maintenance on the status channel: stale; online again: live
    simulator.control("kraken/status", system="maintenance")
    stale = log.wait_for("status", exchange="kraken", pair=None, state="stale")
    assert stale["detail"] == "Kraken maintenance (status channel): markets are offline"
    before = lives(log)
    simulator.control("kraken/status", system="online")
    wait_until(lambda: lives(log) > before, message="live after maintenance")

    # a dropped connection is retried and streams again
    before = lives(log)
    simulator.control("kraken/drop")
    status = log.wait_for("status", exchange="kraken", pair=None, state="reconnecting")
    assert "retrying in" in status["detail"]
    wait_until(lambda: lives(log) > before, message="live again after the drop")
    trade_id = simulator.control("kraken/trade", pair="DOGE-EUR", price="0.07805",
                                 amount="1500", side="buy")["trade_id"]
    trade = log.wait_for("trade", exchange="kraken", id=str(trade_id))
    assert (trade["pair"], trade["price"], trade["side"], trade["amount"]) == (
        "DOGE-EUR", "0.07805", "buy", "1500")
    assert server.health()["feeds"]["kraken"]["reconnects"] == 1
    output = server.process.output()
    assert "exchange=kraken pair=BTC-GBP" in output


# Keepalive: the listener in this process, its 30 s ping interval shortened -------------------


class QuickKraken(Kraken):
    """Kraken pinging every 0.2 s instead of 30 s, noting the pongs its sessions receive."""

    ping_interval = 0.2
    pongs: list[dict[str, Any]]

    def new_session(self, feeds: Mapping[str, str]) -> KrakenSession:
        pongs = self.pongs = []

        class Session(KrakenSession):
            def receive(self, frame: str, received_at: datetime) -> list[Record]:
                if '"method":"pong"' in frame:
                    pongs.append(json.loads(frame))
                return super().receive(frame, received_at)

        return Session(feeds)


@pytest.fixture
def run_kraken() -> Iterator[Callable[[Simulator], tuple[QuickKraken, Collected]]]:
    started: list[tuple[Kraken, threading.Thread]] = []

    def run(simulator: Simulator) -> tuple[QuickKraken, Collected]:
        published = Collected()
        listener = QuickKraken(["ETH-USD"], published, url=simulator.ws_url("kraken"))
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.start()
        started.append((listener, thread))
        return listener, published

    yield run
    for listener, thread in started:
        listener.stop()
        thread.join(5)


def test_pings_go_out_on_schedule_and_kraken_answers_each(simulator, run_kraken, monkeypatch):
    monkeypatch.setattr("exchanges.base.TICK_INTERVAL", 0.05)
    listener, published = run_kraken(simulator)
    wait_until(lambda: published.statuses("ETH-USD", FeedState.LIVE))
    wait_until(lambda: len(listener.pongs) >= 3, message="three pongs")
    pongs = list(listener.pongs)
    assert [pong["req_id"] for pong in pongs] == list(range(100, 100 + len(pongs)))
    assert all(set(pong) == {"method", "req_id", "time_in", "time_out"} for pong in pongs)
    assert listener.stats()["connections"][0]["pings"] >= len(pongs)
    assert listener.reconnects == 0
