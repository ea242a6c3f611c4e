"""The real ``python -m simulator`` process on loopback, driven as the e2e tests will drive it.

Clients are ``websocket-client`` connections (the library the listeners use) and control calls
are plain ``urllib`` GETs. The market rate is 0, so every frame asserted here is caused by the
test itself; values the test did not choose (sizes, 24 h statistics) are read back from the
control API's ``state`` and compared exactly.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import websocket
from sim_support import (
    HEARTBEAT_INTERVAL,
    SUBSCRIBE_TIMEOUT,
    Simulator,
    recv_json,
    recv_text,
    start_simulator,
)


def epoch_ms(iso: str) -> int:
    moment = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def assert_no_frame(ws: websocket.WebSocket, seconds: float) -> None:
    ws.settimeout(seconds)
    try:
        frame = ws.recv()
    except websocket.WebSocketTimeoutException:
        return
    finally:
        ws.settimeout(3)
    pytest.fail(f"expected silence, got {frame!r}")


def bitfinex_subscribe(ws: websocket.WebSocket, channel: str, symbol: str) -> int:
    ws.send(json.dumps({"event": "subscribe", "channel": channel, "symbol": symbol}))
    ack = recv_json(ws)
    assert (ack["event"], ack["channel"], ack["symbol"]) == ("subscribed", channel, symbol)
    recv_json(ws)  # the ticker or the trades snapshot
    return ack["chanId"]


def test_prints_one_url_line_and_unknown_paths_are_404(sim: Simulator):
    assert sim.url.startswith("ws://127.0.0.1:")
    with pytest.raises(websocket.WebSocketBadStatusException) as excinfo:
        websocket.create_connection(f"{sim.url}/nosuchexchange", timeout=3)
    assert excinfo.value.status_code == 404


def test_bitfinex_frames_for_an_injected_ticker_and_trade(sim: Simulator):
    ws = sim.connect("bitfinex")
    info = recv_json(ws)
    assert (info["event"], info["version"], info["platform"]) == ("info", 2, {"status": 1})
    ticker_id = bitfinex_subscribe(ws, "ticker", "tBTCUSD")
    trades_id = bitfinex_subscribe(ws, "trades", "tBTCUSD")

    quote = sim.ok(
        "bitfinex/ticker",
        pair="BTC-USD",
        bid="43000.1",
        ask="43000.3",
        last="43000.2",
        bid_size="1.5",
        ask_size="2.25",
    )["state"]
    change = Decimal("43000.2") - Decimal(quote["open_24h"])
    relative = (change / Decimal(quote["open_24h"])).quantize(Decimal("0.0001"))
    assert json.loads(recv_text(ws), parse_float=Decimal) == [
        ticker_id,
        [
            Decimal("43000.1"),
            Decimal("1.5"),
            Decimal("43000.3"),
            Decimal("2.25"),
            change,
            relative,
            Decimal("43000.2"),
            Decimal(quote["volume_24h"]),
            Decimal(quote["high_24h"]),
            Decimal(quote["low_24h"]),
        ],
    ]

    trade = sim.ok("bitfinex/trade", pair="BTC-USD", price="43000.2", amount="0.00012", side="sell")
    row = f"[{trade['trade_id']},{epoch_ms(trade['time'])},-0.00012,43000.2]"
    assert recv_text(ws) == f'[{trades_id},"te",{row}]'
    assert recv_text(ws) == f'[{trades_id},"tu",{row}]'
    ticker = recv_text(ws)
    assert ticker.startswith(f"[{ticker_id},[43000.1,1.5,43000.3,2.25,")
    after = json.loads(ticker, parse_float=Decimal)[1]
    assert after[6:8] == [Decimal("43000.2"), Decimal(quote["volume_24h"]) + Decimal("0.00012")]


def test_bitfinex_rejects_unknown_symbol_and_stays_open(sim: Simulator):
    ws = sim.connect("bitfinex")
    recv_json(ws)
    ws.send(json.dumps({"event": "subscribe", "channel": "ticker", "symbol": "tFOOBAR"}))
    assert recv_text(ws) == (
        '{"channel":"ticker","symbol":"tFOOBAR","event":"error","msg":"symbol: invalid",'
        '"code":10300,"pair":"FOOBAR"}'
    )
    ws.send("this is not json")
    assert recv_json(ws) == {"event": "error", "msg": "event: invalid", "code": 10000}
    ws.send(json.dumps({"event": "ping", "cid": 42}))
    pong = recv_json(ws)
    assert (pong["event"], pong["cid"]) == ("pong", 42)


def test_bitfinex_heartbeat_after_idle_interval(sim: Simulator):
    ws = sim.connect("bitfinex")
    recv_json(ws)
    chan_id = bitfinex_subscribe(ws, "ticker", "tETHUSD")
    started = time.monotonic()
    assert ws.recv() == f'[{chan_id},"hb"]'
    assert time.monotonic() - started >= HEARTBEAT_INTERVAL * 0.8


def test_coinbase_frames_for_an_injected_trade(sim: Simulator):
    ws = sim.connect("coinbase")
    ws.send(
        json.dumps(
            {"type": "subscribe", "product_ids": ["ETH-USD"], "channels": ["ticker", "matches"]}
        )
    )
    assert ws.recv() == (
        '{"type":"subscriptions","channels":[{"name":"ticker","product_ids":["ETH-USD"]},'
        '{"name":"matches","product_ids":["ETH-USD"]}]}'
    )
    before = sim.ok("coinbase/market", pair="ETH-USD")["state"]
    first_ticker, last_match = recv_json(ws), recv_json(ws)
    assert (first_ticker["type"], first_ticker["price"]) == ("ticker", before["last"])
    assert (last_match["type"], last_match["trade_id"]) == ("last_match", before["last_trade_id"])

    sim.ok("coinbase/ticker", pair="ETH-USD", bid="2301.30", ask="2301.40")
    quoted = recv_json(ws)  # the ticker endpoint also sends one ticker with the new book
    assert (quoted["type"], quoted["best_bid"], quoted["best_ask"]) == (
        "ticker",
        "2301.30",
        "2301.40",
    )
    trade = sim.ok("coinbase/trade", pair="ETH-USD", price="2301.37", amount="0.5", side="buy")
    state = trade["state"]
    match = recv_json(ws)
    assert match == {
        "type": "match",
        "trade_id": trade["trade_id"],
        "maker_order_id": match["maker_order_id"],
        "taker_order_id": match["taker_order_id"],
        "side": "sell",
        "size": "0.5",
        "price": "2301.37",
        "product_id": "ETH-USD",
        "sequence": trade["sequence"],
        "time": trade["time"],
    }
    assert recv_text(ws) == json.dumps(
        {
            "type": "ticker",
            "sequence": trade["sequence"],
            "product_id": "ETH-USD",
            "price": "2301.37",
            "open_24h": state["open_24h"],
            "volume_24h": state["volume_24h"],
            "low_24h": state["low_24h"],
            "high_24h": state["high_24h"],
            "volume_30d": state["volume_30d"],
            "best_bid": "2301.30",
            "best_bid_size": state["bid_size"],
            "best_ask": "2301.40",
            "best_ask_size": state["ask_size"],
            "side": "buy",
            "time": trade["time"],
            "trade_id": trade["trade_id"],
            "last_size": "0.5",
        },
        separators=(",", ":"),
    )


def test_coinbase_rejects_unknown_product(sim: Simulator):
    ws = sim.connect("coinbase")
    ws.send(
        json.dumps(
            {"type": "subscribe", "product_ids": ["BTC-USD", "FOO-BAR"], "channels": ["ticker"]}
        )
    )
    assert ws.recv() == (
        '{"type":"error","message":"Failed to subscribe","reason":"FOO-BAR is not a valid product"}'
    )
    assert ws.recv() == '{"type":"subscriptions","channels":[]}'


def test_coinbase_closes_a_client_that_never_subscribes(sim: Simulator):
    ws = sim.connect("coinbase")
    started = time.monotonic()
    opcode, frame = ws.recv_data_frame(True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(frame.data[:2], "big") == 1000
    assert SUBSCRIBE_TIMEOUT * 0.8 <= time.monotonic() - started < SUBSCRIBE_TIMEOUT + 1


def test_drop_aborts_without_a_close_frame(sim: Simulator):
    ws = sim.connect("bitfinex")
    recv_json(ws)
    assert sim.ok("bitfinex/drop") == {"exchange": "bitfinex", "dropped": 1, "mode": "abort"}
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionResetError)):
        ws.recv_data_frame(True)


def test_drop_close_sends_a_normal_close_frame(sim: Simulator):
    ws = sim.connect("coinbase")
    ws.send(
        json.dumps({"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["heartbeat"]})
    )
    recv_json(ws)
    assert sim.ok("coinbase/drop", mode="close")["dropped"] == 1
    while True:  # heartbeats may still be ahead of the close frame
        opcode, frame = ws.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
    assert int.from_bytes(frame.data[:2], "big") == 1000


def test_silence_sends_nothing_then_resumes(sim: Simulator):
    watching = sim.connect("coinbase")
    watching.send(
        json.dumps(
            {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["heartbeat", "matches"]}
        )
    )
    assert [recv_json(watching)["type"] for _ in range(3)] == [
        "subscriptions",
        "last_match",
        "heartbeat",
    ]
    sim.ok("coinbase/silence", seconds="0.8")
    sim.ok("coinbase/trade", pair="BTC-USD", price="43000", amount="1", side="buy")
    newcomer = sim.connect("coinbase")
    newcomer.send(
        json.dumps({"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["matches"]})
    )
    assert_no_frame(watching, 0.6)  # no match for the trade, no heartbeat
    assert_no_frame(newcomer, 0.01)  # no subscriptions ack either
    assert recv_json(watching)["type"] == "heartbeat"  # still open, speaking again
    newcomer.send(json.dumps({"type": "unsubscribe", "channels": ["matches"]}))
    assert recv_json(newcomer) == {"type": "subscriptions", "channels": []}
    assert sim.ok("stats")["coinbase"]["frames_silenced"] >= 3


def test_send_raw_text_to_every_connection(sim: Simulator):
    sockets = [sim.connect("bitfinex"), sim.connect("bitfinex")]
    for ws in sockets:
        recv_json(ws)
    garbage = '{"event": broken & ünïcode +'
    assert sim.ok("bitfinex/send", text=garbage)["sent_to"] == 2
    assert [ws.recv() for ws in sockets] == [garbage, garbage]


def test_bitfinex_restart_info_then_close(sim: Simulator):
    ws = sim.connect("bitfinex")
    recv_json(ws)
    sim.ok("bitfinex/info", code="20051")
    assert recv_json(ws) == {
        "event": "info",
        "code": 20051,
        "msg": "Stop/Restart Websocket Server (please reconnect)",
    }
    opcode, frame = ws.recv_data_frame(True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(frame.data[:2], "big") == 1012


def test_rate_makes_random_trades_for_subscribed_pairs(sim: Simulator):
    ws = sim.connect("coinbase")
    ws.send(json.dumps({"type": "subscribe", "product_ids": ["SOL-USD"], "channels": ["matches"]}))
    recv_json(ws)
    recv_json(ws)  # last_match
    sim.ok("coinbase/rate", value="50")
    try:
        matches = [recv_json(ws) for _ in range(3)]
    finally:
        sim.ok("coinbase/rate", value="0")
    assert [match["type"] for match in matches] == ["match"] * 3
    ids = [match["trade_id"] for match in matches]
    assert ids == sorted(set(ids))


def test_stats_count_connections_and_subscriptions(sim: Simulator):
    ws = sim.connect("bitfinex")
    recv_json(ws)
    bitfinex_subscribe(ws, "trades", "tDOGE:USD")
    stats = sim.ok("stats")["bitfinex"]
    assert (stats["connections"], stats["subscriptions"], stats["channels"]) == (
        1,
        1,
        {"trades": ["DOGE-USD"]},
    )
    assert stats["frames_sent"] >= 3


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("nope/trade", {}, 404),
        ("bitfinex/nope", {}, 404),
        ("bitfinex/trade", {"pair": "FOO-BAR", "price": "1", "amount": "1"}, 400),
        ("bitfinex/trade", {"pair": "BTC-USD", "price": "abc", "amount": "1"}, 400),
        ("bitfinex/trade", {"pair": "BTC-USD", "price": "1", "amount": "1", "side": "up"}, 400),
        ("coinbase/ticker", {"pair": "BTC-USD", "bid": "2", "ask": "1"}, 400),
        ("coinbase/info", {"code": "20051"}, 404),
        ("bitfinex/info", {"code": "1"}, 400),
        ("bitfinex/silence", {"seconds": "-1"}, 400),
    ],
)
def test_control_refuses_bad_requests(
    sim: Simulator, path: str, params: dict[str, str], status: int
):
    code, body = sim.control(path, **params)
    assert code == status and body["error"]


def test_exits_zero_on_stdin_eof():
    process, _ = start_simulator("--exit-on-stdin-eof", stdin=subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=5) == 0


def test_exits_zero_on_sigint_too():
    process, _ = start_simulator()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=5)
    assert process.returncode == 0 and "Traceback" not in err
