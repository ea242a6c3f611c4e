"""The real ``server.py`` against the simulated exchanges, seen by a real Socket.IO client."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
import socketio

from tests.conftest import EventLog, wait_until

pytestmark = pytest.mark.e2e

BOTH = ("bitfinex", "coinbase")


def wait_live(log: EventLog, exchange: str, pair: str) -> None:
    log.wait_for("status", exchange=exchange, pair=pair, state="live")


def test_exact_values_from_both_exchanges_reach_the_client(simulator, server_on_simulator,
                                                           socket_client):
    server = server_on_simulator()
    log = socket_client(server)
    for exchange in BOTH:
        wait_live(log, exchange, "BTC-USD")
        wait_live(log, exchange, "ETH-USD")

    simulator.control("bitfinex/trade", pair="BTC-USD", price="43210.5", amount="0.00012",
                      side="buy")
    simulator.control("coinbase/trade", pair="ETH-USD", price="2301.07", amount="1.50000000",
                      side="sell")
    simulator.control("bitfinex/ticker", pair="ETH-USD", bid="2300.1", ask="2300.3",
                      last="2300.2")

    trade = log.wait_for("trade", exchange="bitfinex", price="43210.5")
    assert {k: trade[k] for k in ("pair", "symbol", "amount", "side")} == {
        "pair": "BTC-USD", "symbol": "tBTCUSD", "amount": "0.00012", "side": "buy"}
    assert trade["time"].endswith("Z") and len(trade["time"]) == 24

    trade = log.wait_for("trade", exchange="coinbase", price="2301.07")
    # the simulator sends the maker's side in `match`; the page must show the taker's
    assert {k: trade[k] for k in ("pair", "symbol", "amount", "side")} == {
        "pair": "ETH-USD", "symbol": "ETH-USD", "amount": "1.50000000", "side": "sell"}
    # Coinbase reports each trade in both `ticker` and `matches`: shown once
    wait_until(lambda: len(log.of("trade", exchange="coinbase", price="2301.07")) == 1)

    ticker = log.wait_for("ticker", exchange="bitfinex", pair="ETH-USD", last="2300.2")
    assert (ticker["bid"], ticker["ask"], ticker["symbol"]) == ("2300.1", "2300.3", "tETHUSD")
    ticker = log.wait_for("ticker", exchange="coinbase", pair="ETH-USD", last="2301.07")
    assert ticker["symbol"] == "ETH-USD"


def test_bitfinex_te_and_tu_show_each_trade_once(simulator, server_on_simulator, socket_client):
    server = server_on_simulator(EXCHANGES="bitfinex", PAIRS="BTC-USD")
    log = socket_client(server)
    wait_live(log, "bitfinex", "BTC-USD")
    trade_id = simulator.control("bitfinex/trade", pair="BTC-USD", price="40000",
                                 amount="2", side="sell")["trade_id"]
    log.wait_for("trade", exchange="bitfinex", id=str(trade_id))
    simulator.control("bitfinex/trade", pair="BTC-USD", price="40001", amount="1")  # after its tu
    log.wait_for("trade", exchange="bitfinex", price="40001")
    assert len(log.of("trade", id=str(trade_id))) == 1


def test_a_new_client_gets_the_current_state_at_once(simulator, server_on_simulator,
                                                     socket_client):
    server = server_on_simulator(PAIRS="BTC-USD,FOO-BAR")
    first = socket_client(server)
    wait_live(first, "coinbase", "BTC-USD")
    simulator.control("coinbase/trade", pair="BTC-USD", price="43000.01", amount="0.5")
    first.wait_for("ticker", exchange="coinbase", last="43000.01")
    first.wait_for("status", exchange="coinbase", pair="FOO-BAR", state="error")

    late = socket_client(server)  # nothing new happens on the exchanges from here
    late.wait_for("ticker", exchange="coinbase", pair="BTC-USD", last="43000.01", timeout=2)
    late.wait_for("trade", exchange="coinbase", price="43000.01", timeout=2)
    late.wait_for("status", exchange="coinbase", pair=None, state="live", timeout=2)
    late.wait_for("status", exchange="coinbase", pair="FOO-BAR", state="error", timeout=2)


def test_invalid_pairs_are_errors_while_the_others_stream(simulator, server_on_simulator,
                                                          socket_client):
    server = server_on_simulator(PAIRS="BTC-USD,FOO-BAR,not a pair!")
    log = socket_client(server)
    error = log.wait_for("status", exchange="coinbase", pair="FOO-BAR", state="error")
    assert error["detail"] == "FOO-BAR is not a valid product"
    error = log.wait_for("status", exchange="bitfinex", pair="FOO-BAR", state="error")
    assert error["detail"] == "symbol: invalid (code 10300)"
    for exchange in BOTH:
        error = log.wait_for("status", exchange=exchange, pair="not a pair!", state="error")
        assert error["detail"].startswith("cannot read 'not a pair!' as a pair")
        simulator.control(f"{exchange}/trade", pair="BTC-USD", price="41000.5", amount="0.1")
        log.wait_for("trade", exchange=exchange, pair="BTC-USD", price="41000.5")
    output = server.process.output()
    assert "pair rejected exchange=coinbase pair=FOO-BAR" in output
    assert "bad pair exchange=bitfinex pair='not a pair!'" in output


def test_a_pair_the_instrument_list_lacks_gets_a_suggestion(simulator, start_server,
                                                            socket_client):
    server = start_server({
        "PAIRS": "BTC-USD,BTC-GBP",
        **{f"{name.upper()}_WS_URL": simulator.ws_url(name) for name in BOTH},
        **{f"{name.upper()}_REST_URL": f"{simulator.http}/{name}" for name in BOTH},
    })
    log = socket_client(server)
    for exchange in BOTH:  # the simulated venues list BTC against USD, EUR and USDT
        # the list may come before the websocket's refusal or after it: either way it is named
        suggested = f"BTC-GBP is not listed on {exchange}; did you mean BTC-EUR?"
        wait_until(lambda exchange=exchange, suggested=suggested: [
            status for status in log.of("status", exchange=exchange, pair="BTC-GBP")
            if status["state"] == "error" and status["detail"].startswith(suggested)])
        simulator.control(f"{exchange}/trade", pair="BTC-USD", price="41000.5", amount="0.1")
        log.wait_for("trade", exchange=exchange, pair="BTC-USD", price="41000.5")
    assert "exchange=bitfinex pair=BTC-GBP" in server.process.output()


@pytest.mark.parametrize("exchange", BOTH)
def test_a_dropped_connection_is_retried_and_the_page_is_told(exchange, simulator,
                                                              server_on_simulator, socket_client):
    server = server_on_simulator(EXCHANGES=exchange, PAIRS="BTC-USD")
    log = socket_client(server)
    wait_live(log, exchange, "BTC-USD")
    simulator.control(f"{exchange}/drop")
    status = log.wait_for("status", exchange=exchange, pair=None, state="reconnecting")
    assert "retrying in" in status["detail"]
    live = len(log.of("status", exchange=exchange, pair=None, state="live"))
    wait_until(lambda: len(log.of("status", exchange=exchange, pair=None, state="live")) > live,
               message="live again")
    simulator.control(f"{exchange}/trade", pair="BTC-USD", price="39999.9", amount="3")
    log.wait_for("trade", exchange=exchange, price="39999.9")
    assert server.health()["feeds"][exchange]["reconnects"] == 1


@pytest.mark.parametrize("exchange", BOTH)
def test_a_silent_connection_is_declared_stale_and_replaced(exchange, simulator,
                                                            server_on_simulator, socket_client):
    server = server_on_simulator(EXCHANGES=exchange, PAIRS="ETH-USD", FEED_TIMEOUT="1.5")
    log = socket_client(server)
    wait_live(log, exchange, "ETH-USD")
    simulator.control(f"{exchange}/silence", seconds=2.5)
    stale = log.wait_for("status", exchange=exchange, pair=None, state="stale", timeout=5)
    assert stale["detail"] == "no message for 1.5 s"
    log.wait_for("status", exchange=exchange, pair=None, state="reconnecting")
    wait_until(lambda: simulator.control("stats")[exchange]["silent_for"] == 0, timeout=5)
    simulator.control(f"{exchange}/trade", pair="ETH-USD", price="2222.22", amount="1")
    log.wait_for("trade", exchange=exchange, price="2222.22", timeout=15)


@pytest.mark.parametrize("exchange", BOTH)
def test_malformed_frames_are_counted_and_skipped(exchange, simulator, server_on_simulator,
                                                  socket_client):
    server = server_on_simulator(EXCHANGES=exchange, PAIRS="BTC-USD")
    log = socket_client(server)
    wait_live(log, exchange, "BTC-USD")
    for garbage in ("not json {", "[1,2", '{"type": 5}', "[123456789, [1, 2]]", '"x"'):
        simulator.control(f"{exchange}/send", text=garbage)
    simulator.control(f"{exchange}/trade", pair="BTC-USD", price="40500", amount="0.25")
    log.wait_for("trade", exchange=exchange, price="40500")
    feed = server.health()["feeds"][exchange]
    assert feed["malformed"] >= 3
    assert (feed["state"], feed["reconnects"]) == ("live", 0)
    assert server.process.output().count("malformed frame skipped") == 1  # once per incident


def test_bitfinex_restart_notice_reconnects(simulator, server_on_simulator, socket_client):
    server = server_on_simulator(EXCHANGES="bitfinex", PAIRS="BTC-USD")
    log = socket_client(server)
    wait_live(log, "bitfinex", "BTC-USD")
    simulator.control("bitfinex/info", code=20051)
    status = log.wait_for("status", exchange="bitfinex", pair=None, state="reconnecting")
    assert "20051" in status["detail"]
    wait_until(lambda: server.health()["feeds"]["bitfinex"]["state"] == "live")


def test_healthz_reports_every_feed(server_on_simulator):
    server = server_on_simulator(PAIRS="ETH-USD")
    wait_until(lambda: all(feed["state"] == "live" for feed in server.health()["feeds"].values()))
    health = server.health()
    assert set(health["feeds"]) == set(BOTH)
    for feed in health["feeds"].values():
        assert feed["pairs"]["ETH-USD"] in ("tETHUSD", "ETH-USD")
        assert feed["messages"] > 0 and feed["last_message_age"] < 5
        assert {"malformed", "errors", "reconnects"} <= set(feed)


def test_the_page_and_its_assets_are_served_locally(server_on_simulator):
    server = server_on_simulator()
    with urllib.request.urlopen(server.url + "/") as response:
        page = response.read().decode()
    assert "http://" not in page and "https://" not in page
    for path in ("/bootstrap/static/css/bootstrap.min.css", "/static/vendor/socket.io.min.js",
                 "/static/vendor/uPlot.iife.min.js", "/static/js/dashboard.js"):
        assert path in page or path.startswith("/static/vendor/")
        with urllib.request.urlopen(server.url + path) as response:
            assert response.status == 200


def test_socketio_refuses_other_origins(server_on_simulator):
    server = server_on_simulator()
    request = urllib.request.Request(server.url + "/socket.io/?EIO=4&transport=polling",
                                     headers={"Origin": "http://evil.example"})
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request)
    assert excinfo.value.code == 400
    client = socketio.Client(reconnection=False)
    client.connect(server.url, transports=["websocket"])  # same origin is fine
    client.disconnect()


def test_the_server_listens_on_loopback_only_by_default(server_on_simulator):
    server = server_on_simulator()
    assert "dashboard on http://127.0.0.1:" in server.process.output()


def test_a_reconnecting_client_receives_exactly_what_it_missed(simulator, server_on_simulator,
                                                                socket_client):
    server = server_on_simulator(PAIRS="BTC-USD")
    first = socket_client(server)
    wait_live(first, "coinbase", "BTC-USD")
    wait_live(first, "bitfinex", "BTC-USD")
    simulator.control("coinbase/trade", pair="BTC-USD", price="40000.01", amount="1")
    seen = first.wait_for("trade", exchange="coinbase", price="40000.01")

    # while this client is away, two trades happen
    simulator.control("bitfinex/trade", pair="BTC-USD", price="40000.02", amount="2")
    simulator.control("coinbase/trade", pair="BTC-USD", price="40000.03", amount="3")
    first.wait_for("trade", exchange="coinbase", price="40000.03")

    back = socket_client(server, auth={"after": seen["seq"]})
    back.wait_for("trade", price="40000.03", timeout=2)
    assert [t["price"] for t in back.of("trade")] == ["40000.02", "40000.03"]
    assert back.of("trade")[0]["seq"] > seen["seq"]
