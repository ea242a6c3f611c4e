"""OKX end to end: the real ``server.py`` against the simulated OKX, seen by a real Socket.IO
client; and the listener's keepalive against the simulator's 30 s rule, in this process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from exchanges.okx import Okx
from exchanges.records import FeedState
from tests.conftest import Collected, EventLog, Server, Simulator, wait_until

pytestmark = pytest.mark.e2e

FOO_REFUSAL = ("Wrong URL or channel:tickers,instId:FOO-USDT doesn't exist. Please use the "
               "correct URL, channel and parameters referring to API document. (code 60018)")


def okx_server(start_server: Callable[..., Server], simulator: Simulator, *, rest: bool = False,
               **env: str) -> Server:
    urls = {"OKX_WS_URL": simulator.ws_url("okx")}
    if rest:
        urls["OKX_REST_URL"] = simulator.http + "/okx"
    return start_server({"EXCHANGES": "okx", **urls, **env})


def wait_live(log: EventLog, pair: str | None) -> None:
    log.wait_for("status", exchange="okx", pair=pair, state="live")


def lives(log: EventLog) -> int:
    return len(log.of("status", exchange="okx", pair=None, state="live"))


def test_exact_values_and_a_refused_pair_while_the_others_stream(simulator, start_server,
                                                                  socket_client):
    server = okx_server(start_server, simulator, PAIRS="BTC-USDT,FOO-USDT,ETH-USDT")
    log = socket_client(server)
    wait_live(log, "BTC-USDT")
    wait_live(log, "ETH-USDT")
    error = log.wait_for("status", exchange="okx", pair="FOO-USDT", state="error")
    assert error["detail"] == FOO_REFUSAL

    simulator.control("okx/trade", pair="BTC-USDT", price="43210.5", amount="0.00012",
                      side="sell")
    trade = log.wait_for("trade", exchange="okx", price="43210.5")
    assert {k: trade[k] for k in ("pair", "symbol", "amount", "side")} == {
        "pair": "BTC-USDT", "symbol": "BTC-USDT", "amount": "0.00012", "side": "sell"}
    assert trade["time"].endswith("Z") and len(trade["time"]) == 24

    state = simulator.control("okx/ticker", pair="ETH-USDT", bid="2300.1", ask="2300.3",
                              last="2300.2")["state"]
    ticker = log.wait_for("ticker", exchange="okx", pair="ETH-USDT", last="2300.2")
    assert {k: ticker[k] for k in ("symbol", "bid", "ask", "bid_size", "ask_size")} == {
        "symbol": "ETH-USDT", "bid": "2300.1", "ask": "2300.3",
        "bid_size": state["bid_size"], "ask_size": state["ask_size"]}
    assert server.health()["feeds"]["okx"]["pairs"] == {"BTC-USDT": "BTC-USDT",
                                                        "ETH-USDT": "ETH-USDT"}
    assert "pair rejected exchange=okx pair=FOO-USDT" in server.process.output()


def test_a_drop_and_a_service_upgrade_notice_reconnect(simulator, start_server, socket_client):
    server = okx_server(start_server, simulator, PAIRS="BTC-USDT")
    log = socket_client(server)
    wait_live(log, "BTC-USDT")
    wait_live(log, None)

    before = lives(log)
    simulator.control("okx/drop")
    status = log.wait_for("status", exchange="okx", pair=None, state="reconnecting")
    assert "retrying in" in status["detail"]
    wait_until(lambda: lives(log) > before, message="live again after the drop")

    before = lives(log)
    simulator.control("okx/notice")
    notice = wait_until(lambda: [s for s in log.of("status", exchange="okx", pair=None,
                                                   state="reconnecting")
                                 if "notice 64008" in s["detail"]],
                        message="a reconnect for the notice")[-1]
    assert notice["detail"].startswith(
        "ReconnectRequested: OKX asked for a reconnect (notice 64008: The connection will soon "
        "be closed for a service upgrade. Please reconnect.)")
    wait_until(lambda: lives(log) > before, timeout=15, message="live again after the notice")

    simulator.control("okx/trade", pair="BTC-USDT", price="39999.9", amount="3")
    log.wait_for("trade", exchange="okx", price="39999.9")
    assert server.health()["feeds"]["okx"]["reconnects"] == 2


def test_rest_snapshot_and_the_instrument_list(simulator, start_server, socket_client):
    server = okx_server(start_server, simulator, rest=True, OKX_PAIRS="BTC-USDT,ETH-USDT,BTC-USD")
    log = socket_client(server)
    wait_live(log, "BTC-USDT")
    # the REST snapshot's recent trades: the websocket alone gives only the latest one
    wait_until(lambda: len(log.of("trade", exchange="okx", pair="ETH-USDT")) >= 25,
               message="the REST snapshot's trades")
    error = log.wait_for("status", exchange="okx", pair="BTC-USD", state="error")
    assert error["detail"] in (
        "BTC-USD is not listed on okx; did you mean BTC-USDT?",
        FOO_REFUSAL.replace("FOO-USDT", "BTC-USD"))
    assert simulator.control("stats")["okx"]["rest_requests"] >= 5  # list, 2 x (ticker, trades)


def test_the_default_pairs_are_usdt(simulator, start_server, socket_client):
    server = okx_server(start_server, simulator)
    log = socket_client(server)
    wait_live(log, "BTC-USDT")
    wait_live(log, "ETH-USDT")
    assert set(server.health()["feeds"]["okx"]["pairs"]) == {"BTC-USDT", "ETH-USDT"}


# Keepalive: the listener in this process, against the simulator's 30 s rule shortened to 1 s ----


class QuickOkx(Okx):
    """OKX pinging every 0.2 s: the 20 s of the real one, scaled to the shortened rule."""

    ping_interval = 0.2


@pytest.fixture
def run_okx() -> Iterator[Callable[..., tuple[Okx, Collected]]]:
    started: list[tuple[Okx, threading.Thread]] = []

    def run(listener_class: type[Okx], simulator: Simulator, **options: Any
            ) -> tuple[Okx, Collected]:
        published = Collected()
        listener = listener_class(["BTC-USDT"], published, url=simulator.ws_url("okx"),
                                  **options)
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.start()
        started.append((listener, thread))
        return listener, published

    yield run
    for listener, thread in started:
        listener.stop()
        thread.join(5)


def test_pings_keep_a_quiet_connection_open_and_without_them_okx_closes_it(
        simulator, run_okx, monkeypatch):
    monkeypatch.setattr("exchanges.base.TICK_INTERVAL", 0.05)
    simulator.control("okx/idle_timeout", seconds=1)

    # without a ping within the second, the server closes the quiet connection
    plain, plain_published = run_okx(Okx, simulator)
    (dropped,) = wait_until(lambda: plain_published.statuses(None, FeedState.RECONNECTING),
                            message="the quiet connection closed by the server")
    assert dropped.detail.startswith("ConnectionClosed: closed by the exchange")
    plain.stop()

    # pinging every 0.2 s, the pongs keep it open: still the first connection 2.5 s later
    quick, published = run_okx(QuickOkx, simulator)
    wait_until(lambda: published.statuses("BTC-USDT", FeedState.LIVE))
    wait_until(lambda: quick.stats()["connections"][0]["pings"] >= 12, timeout=10,
               message="twelve pings")
    assert quick.reconnects == 0
    assert not published.statuses(None, FeedState.RECONNECTING)
    assert simulator.control("stats")["okx"]["connections"] == 1
