"""Every exchange at once against the simulator: a good pair and a bad pair on each.

The real ``server.py`` streams all nine simulated venues, each with its REST API, as
``--demo`` does; one Socket.IO client sees every good pair go live with tickers and trades, every
unlisted pair reported with the venue's suggestion, and nothing else disturbed.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from exchanges import LISTENERS
from tests.conftest import EventLog, Server, Simulator, wait_until

pytestmark = pytest.mark.e2e

# (a pair the venue lists, one it doesn't, what the venue suggests instead)
USDT_ONLY = ("BTC-USDT", "BTC-USD", "BTC-USDT")
PAIRS = {name: ("BTC-USD", "BTC-GBP", "BTC-EUR") for name in LISTENERS}
PAIRS.update(binance=USDT_ONLY, okx=USDT_ONLY, bybit=USDT_ONLY,
             binanceus=("BTC-USD", "BTC-USDT", "BTC-USD"))


def test_nine_venues_stream_together_and_each_names_its_bad_pair(
        simulator: Simulator, start_server: Callable[..., Server],
        socket_client: Callable[[Server], EventLog]):
    assert set(PAIRS) == set(LISTENERS), "a venue without a case here"
    env = {"EXCHANGES": ",".join(PAIRS)}
    for name, (good, bad, _) in PAIRS.items():
        env[f"{name.upper()}_WS_URL"] = simulator.ws_url(name)
        env[f"{name.upper()}_REST_URL"] = f"{simulator.http}/{name}"
        env[f"{name.upper()}_PAIRS"] = f"{good},{bad}"
    server = start_server(env)
    log = socket_client(server)

    # one exact trade per venue reaches the client, with the taker's side it was printed with
    # (Binance and Gemini say a pair is live on its first data, not on their acks)
    for index, (name, (good, _, _)) in enumerate(PAIRS.items()):
        wait_until(lambda name=name, good=good: any(
            good in pairs for pairs in simulator.control("stats")[name]["channels"].values()),
            timeout=20, message=f"{name} subscribed to {good}")
        price = str(Decimal("40000.5") + index)
        side = "buy" if index % 2 else "sell"
        simulator.control(f"{name}/trade", pair=good, price=price, amount="0.25", side=side)
        # the value is exact; its text is the venue's (Gemini and Bitstamp pad with zeros)
        (trade,) = wait_until(lambda name=name, good=good, price=price: [
            trade for trade in log.of("trade", exchange=name, pair=good)
            if Decimal(trade["price"]) == Decimal(price)], message=f"the trade on {name}")
        assert (Decimal(trade["amount"]), trade["side"]) == (Decimal("0.25"), side)
        log.wait_for("status", exchange=name, pair=good, state="live")
        log.wait_for("ticker", exchange=name, pair=good)

    for name, (_, bad, suggested) in PAIRS.items():
        expected = f"{bad} is not listed on {name}; did you mean {suggested}?"
        wait_until(lambda name=name, bad=bad, expected=expected: [
            status for status in log.of("status", exchange=name, pair=bad)
            if status["state"] == "error" and status["detail"].startswith(expected)],
            timeout=20, message=f"{name} naming {bad}")

    health = server.health()["feeds"]
    for name, (good, _, _) in PAIRS.items():
        assert list(health[name]["pairs"]) == [good], name  # the bad pair is no longer asked for
        assert health[name]["state"] == "live", (name, health[name]["detail"])
        assert health[name]["malformed"] == 0, name
