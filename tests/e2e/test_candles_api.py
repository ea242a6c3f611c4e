"""``GET /api/candles`` on the real server fed by the simulator: the candles of the stored trades,
exact, by the exchange's trade time, in every interval, as JSON and CSV; bad parameters get 400."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
from collections import defaultdict
from decimal import Decimal, localcontext
from typing import Any

import pytest

from tests.conftest import wait_until

pytestmark = pytest.mark.e2e

COLUMNS = ["time", "exchange", "pair", "open", "high", "low", "close", "volume", "trades"]


def get(server, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(server.url + path, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def get_json(server, path: str) -> Any:
    status, body = get(server, path)
    assert status == 200, body
    return json.loads(body)


def start_of(time: str, interval: str) -> str:
    """The start of the candle holding a record time (``2026-11-24T17:42:03.123Z``)."""
    minute = int(time[14:16])
    floor = {"1m": minute, "5m": minute - minute % 5, "15m": minute - minute % 15, "1h": 0}
    return f"{time[:14]}{floor[interval]:02d}:00.000Z"


def candles_of(trades: list[dict[str, Any]], interval: str) -> list[dict[str, Any]]:
    """The oracle: candles straight from stored trade records, oldest first."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for trade in trades:
        groups[start_of(trade["time"], interval), trade["exchange"], trade["pair"]].append(trade)
    candles = []
    for (start, exchange, pair), group in sorted(groups.items()):
        group.sort(key=lambda t: (t["time"], int(t["id"])))
        prices = [Decimal(t["price"]) for t in group]
        with localcontext() as exact:
            exact.prec = 100
            volume = sum((Decimal(t["amount"]) for t in group), Decimal(0))
        candles.append({
            "exchange": exchange, "pair": pair, "time": start,
            "open": group[0]["price"], "close": group[-1]["price"],
            "high": group[prices.index(max(prices))]["price"],
            "low": group[prices.index(min(prices))]["price"],
            "volume": format(volume, "f"), "trades": len(group)})
    return candles


def test_candles_api_answers_the_candles_of_the_stored_trades(simulator, start_server, tmp_path):
    server = start_server({
        "DATABASE_URL": f"sqlite:///{tmp_path / 'market.db'}", "EXCHANGES": "coinbase",
        "PAIRS": "BTC-USD,ETH-USD", "COINBASE_WS_URL": simulator.ws_url("coinbase"),
        "COINBASE_REST_URL": simulator.http + "/coinbase"})
    wait_until(lambda: all(feed["state"] == "live" for feed in get_json(server, "/api/pairs"))
               and len(get_json(server, "/api/pairs")) == 2, message="both feeds live")

    injected = [simulator.control("coinbase/trade", pair="BTC-USD", price=price, amount=amount,
                                  side=side)
                for price, amount, side in (("99999.99", "0.30000000000000004", "buy"),
                                            ("0.01", "1.10", "sell"),
                                            ("43210.50", "0.00000001", "buy"))]
    injected.append(simulator.control("coinbase/trade", pair="ETH-USD", price="2000.10",
                                      amount="2"))

    def stored() -> list[dict[str, Any]]:
        return get_json(server, "/api/trades?exchange=coinbase&limit=5000")

    ids = {str(answer["trade_id"]) for answer in injected}
    wait_until(lambda: ids <= {t["id"] for t in stored()}
               and server.health()["storage"]["buffered"] == 0, message="the injected trades")
    trades = stored()  # the REST snapshot's past trades and ours

    for interval in ("1m", "5m", "15m", "1h"):
        candles = get_json(server, f"/api/candles?exchange=coinbase&pair=btc/usd"
                                   f"&interval={interval}&limit=5000")
        assert candles == candles_of([t for t in trades if t["pair"] == "BTC-USD"],
                                     interval), interval
    # our extreme prices are the high and low of the minutes they were printed in, exactly
    minutes = {c["time"]: c for c in get_json(server, "/api/candles?pair=BTC-USD&limit=5000")}
    high = minutes[start_of(injected[0]["time"][:23] + "Z", "1m")]
    low = minutes[start_of(injected[1]["time"][:23] + "Z", "1m")]
    assert (high["high"], low["low"]) == ("99999.99", "0.01")

    # no filter: every feed's candles, by time then pair; the default interval is 1m
    everything = get_json(server, "/api/candles?limit=5000")
    assert everything == candles_of(trades, "1m")
    assert {c["pair"] for c in everything} == {"BTC-USD", "ETH-USD"}
    # limit: the newest, still oldest first; since: by the candle's start
    assert get_json(server, "/api/candles?limit=2") == everything[-2:]
    last = everything[-1]["time"]
    assert get_json(server, f"/api/candles?since={last}") == [
        c for c in everything if c["time"] == last]
    assert get_json(server, f"/api/candles?pair=ETH-USD&until={last}&interval=1h") == [
        c for c in candles_of(trades, "1h") if c["pair"] == "ETH-USD" and c["time"] < last]

    status, body = get(server, "/api/candles?exchange=coinbase&format=csv&limit=5000")
    assert status == 200
    table = list(csv.reader(io.StringIO(body)))
    assert table[0] == COLUMNS
    assert table[1:] == [[str(c[name]) for name in COLUMNS] for c in everything]

    for query, message in (("interval=2m", "interval: '2m' is not one of 1m, 5m, 15m, 1h"),
                           ("limit=0", "limit:"), ("limit=5001", "limit:"),
                           ("since=yesterday", "since:"), ("exchange=mtgox", "exchange:"),
                           ("pair=BTC", "pair:"), ("format=xml", "format:"),
                           (f"since={last}&until={last}", "until:")):
        status, body = get(server, f"/api/candles?{query}")
        assert status == 400 and json.loads(body)["error"].startswith(message), (query, body)
