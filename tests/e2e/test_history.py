"""Storage seen from outside: a restarted server shows the last known market; the history API."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request

import pytest

from tests.conftest import wait_until

pytestmark = pytest.mark.e2e

NOWHERE = {"BITFINEX_WS_URL": "ws://127.0.0.1:9/bitfinex", "COINBASE_WS_URL":
           "ws://127.0.0.1:9/coinbase", "BITFINEX_REST_URL": "http://127.0.0.1:9/bitfinex",
           "COINBASE_REST_URL": "http://127.0.0.1:9/coinbase"}


def get(server, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(server.url + path) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def stored(server, trades: int) -> bool:
    return server.health()["storage"]["written"] >= trades


@pytest.fixture
def database(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'market.db'}"


def test_a_restarted_server_shows_the_last_known_market_at_once(
        database, simulator, start_server, socket_client):
    env = {"DATABASE_URL": database, "PAIRS": "BTC-USD",
           "BITFINEX_WS_URL": simulator.ws_url("bitfinex"),
           "COINBASE_WS_URL": simulator.ws_url("coinbase")}
    server = start_server(env)
    log = socket_client(server)
    log.wait_for("status", exchange="coinbase", pair="BTC-USD", state="live")
    simulator.control("coinbase/trade", pair="BTC-USD", price="43333.33", amount="0.3",
                      side="sell")
    log.wait_for("trade", exchange="coinbase", price="43333.33")
    wait_until(lambda: server.health()["storage"]["buffered"] == 0
               and server.health()["storage"]["written"] > 0, message="the write")
    server.process.stop()

    # no exchange can be reached now: whatever the page gets comes from storage
    restarted = start_server({**env, **NOWHERE})
    page = socket_client(restarted)
    trade = page.wait_for("trade", exchange="coinbase", price="43333.33", timeout=3)
    assert (trade["amount"], trade["side"], trade["symbol"]) == ("0.3", "sell", "BTC-USD")
    ticker = page.wait_for("ticker", exchange="coinbase", pair="BTC-USD", timeout=3)
    assert ticker["last"] == "43333.33"
    assert "seeded from storage" in restarted.process.output()


def test_history_api_filters_limits_csv_and_errors(database, simulator, server_on_simulator,
                                                    socket_client):
    server = server_on_simulator(DATABASE_URL=database, PAIRS="BTC-USD,ETH-USD")
    log = socket_client(server)
    for exchange in ("bitfinex", "coinbase"):
        log.wait_for("status", exchange=exchange, pair="ETH-USD", state="live")
    for price in ("2000.1", "2000.2", "2000.3"):
        simulator.control("coinbase/trade", pair="ETH-USD", price=price, amount="1.10")
    simulator.control("bitfinex/trade", pair="BTC-USD", price="44000", amount="0.5")
    log.wait_for("trade", exchange="bitfinex", price="44000")
    wait_until(lambda: server.health()["storage"]["buffered"] == 0
               and "2000.3" in get(server, "/api/trades?exchange=coinbase")[1])

    status, body = get(server, "/api/trades?exchange=coinbase&pair=eth/usd&limit=2")
    assert status == 200
    rows = json.loads(body)
    assert [(r["price"], r["amount"], r["side"]) for r in rows] == [
        ("2000.3", "1.10", "buy"), ("2000.2", "1.10", "buy")]
    since = rows[0]["time"]
    status, body = get(server, f"/api/trades?exchange=coinbase&pair=ETH-USD&since={since}")
    assert [r["price"] for r in json.loads(body)] == ["2000.3"]

    status, body = get(server, "/api/trades?pair=BTC-USD&exchange=bitfinex&format=csv")
    assert status == 200
    table = list(csv.DictReader(io.StringIO(body)))
    assert table[0]["price"] == "44000" and table[0]["symbol"] == "tBTCUSD"

    status, body = get(server, "/api/tickers?exchange=coinbase&pair=ETH-USD&limit=1")
    assert json.loads(body)[0]["last"] == "2000.3"

    for query, message in (("limit=0", "limit:"), ("since=yesterday", "since:"),
                           ("exchange=mtgox", "exchange:"), ("pair=BTC", "pair:")):
        status, body = get(server, f"/api/trades?{query}")
        assert status == 400 and json.loads(body)["error"].startswith(message), body


def test_api_pairs_lists_every_feed_with_its_state(simulator, server_on_simulator, tmp_path):
    server = server_on_simulator(PAIRS="BTC-USD,FOO-BAR", DATABASE_URL=f"sqlite:///{tmp_path}/d")

    def feeds() -> dict:
        _, body = get(server, "/api/pairs")
        return {(f["exchange"], f["pair"]): f for f in json.loads(body)}

    wait_until(lambda: feeds().get(("coinbase", "BTC-USD"), {}).get("state") == "live")
    wait_until(lambda: feeds().get(("coinbase", "FOO-BAR"), {}).get("state") == "error")
    listed = feeds()
    assert listed["bitfinex", "BTC-USD"]["symbol"] == "tBTCUSD"
    assert listed["coinbase", "FOO-BAR"]["detail"] == "FOO-BAR is not a valid product"
