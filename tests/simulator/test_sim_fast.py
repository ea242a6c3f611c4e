"""Fast mode (``simulator/fast.py``): every exchange's pre-formatted frames are its own encoders'
frames, peers route them as their protocol says, and ``python -m simulator --fast`` streams at
the rate asked, stamping each trade with its send time and answering commands on stdin.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import websocket
from sim_support import REPO, fixed_clock
from websockets.frames import Frame, Opcode

from simulator import fast
from simulator.__main__ import parse_args
from simulator.engine import Engine
from simulator.market import Market
from simulator.peer import Action, Burst, Peer, PeerOptions, Send
from simulator.registry import EXCHANGES
from simulator.server import text_frames

T = 1_700_000_000.25  # a send time with an exact binary fraction: every rounding agrees
TRADE_ID, SEQUENCE = 4_400_000_123, 88_000_000_456

# One pair per exchange, and the frames that subscribe to every channel of its fast round.
SUBSCRIBE: dict[str, tuple[str, list[str]]] = {
    "bitfinex": ("BTC-USD", ['{"event":"subscribe","channel":"trades","symbol":"tBTCUSD"}',
                             '{"event":"subscribe","channel":"ticker","symbol":"tBTCUSD"}']),
    "coinbase": ("BTC-USD", ['{"type":"subscribe","product_ids":["BTC-USD"],'
                             '"channels":["ticker","matches","heartbeat"]}']),
    "kraken": ("BTC-USD", ['{"method":"subscribe","params":{"channel":"trade",'
                           '"symbol":["BTC/USD"]}}',
                           '{"method":"subscribe","params":{"channel":"ticker",'
                           '"symbol":["BTC/USD"]}}']),
    "bybit": ("BTC-USDT", ['{"op":"subscribe","args":["publicTrade.BTCUSDT",'
                           '"orderbook.1.BTCUSDT"]}']),
    "okx": ("BTC-USDT", ['{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"},'
                         '{"channel":"tickers","instId":"BTC-USDT"}]}']),
    "gemini": ("BTC-USD", ['{"id":1,"method":"subscribe","params":["btcusd@trade",'
                           '"btcusd@bookTicker"]}']),
    "bitstamp": ("BTC-USD", ['{"event":"bts:subscribe","data":{"channel":"live_trades_btcusd"}}',
                             '{"event":"bts:subscribe","data":{"channel":"order_book_btcusd"}}']),
    "binance": ("BTC-USDT", ['{"method":"SUBSCRIBE","params":["btcusdt@trade",'
                             '"btcusdt@bookTicker"],"id":1}']),
    "binanceus": ("BTC-USD", ['{"method":"SUBSCRIBE","params":["btcusd@trade",'
                              '"btcusd@bookTicker"],"id":1}']),
}
# Fields hashed or derived from a trade's id in other ways than writing it: fast mode keeps the
# market moment's (``FastSpec``), so they are left out of the comparison.
FROM_THE_ID = {
    "coinbase": {"maker_order_id", "taker_order_id"},
    "binanceus": {"b", "a"},
    "bitstamp": {"buy_order_id", "sell_order_id"},
}


class FakeLink:
    """Records what the engine delivers, bursts frame by frame."""

    backlog = 0

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.actions: list[Action] = []

    def deliver(self, actions: Iterable[Action]) -> None:
        self.actions.extend(actions)

    def abort(self) -> None:
        pass

    def texts(self) -> list[str]:
        texts: list[str] = []
        for action in self.actions:
            if isinstance(action, Send):
                texts.append(action.text)
            elif isinstance(action, Burst):
                texts.extend(action.texts)
        self.actions.clear()
        return texts


def subscribed(name: str) -> tuple[Engine, FakeLink, str]:
    engine = Engine(EXCHANGES[name], seed=7, rate=0.0, options=PeerOptions(), clock=fixed_clock)
    link = engine.open(FakeLink, T)
    pair, frames = SUBSCRIBE[name]
    for frame in frames:
        engine.receive(link, frame, T)
    link.texts()  # greetings, acks and snapshots
    return engine, link, pair


def without(value: Any, keys: set[str]) -> Any:
    if isinstance(value, dict):
        return {key: without(item, keys) for key, item in value.items() if key not in keys}
    if isinstance(value, list):
        return [without(item, keys) for item in value]
    return value


def test_every_served_exchange_has_a_fast_round():
    assert set(SUBSCRIBE) == set(EXCHANGES)
    for name, spec in EXCHANGES.items():
        assert spec.fast is not None, name
        assert spec.fast.steps[0].new_trade, name  # a round starts with its trade
        assert any(step.has_trade for step in spec.fast.steps), name


@pytest.mark.parametrize("name", sorted(EXCHANGES))
def test_a_template_filled_in_is_what_the_exchange_encoder_writes(name):
    spec = EXCHANGES[name].fast
    assert spec is not None
    market = Market(name, EXCHANGES[name].products, 7, fixed_clock)
    pair = SUBSCRIBE[name][0]
    state = market.state(pair)
    templates = {kind: fast.template(text)[0]
                 for kind, text in spec.render(market, pair, fast.stand_in(state),
                                               fast.STAND_IN_TIME).items()}
    us = int(T * 1_000_000)
    values = [write(TRADE_ID, SEQUENCE, us) for _, write in fast._SLOTS]
    moment = datetime.fromtimestamp(T, UTC)
    real = replace(state, sequence=SEQUENCE, last_trade=replace(
        state.last_trade, id=TRADE_ID, sequence=SEQUENCE, time=moment))
    expected = spec.render(market, pair, real, T)
    assert set(templates) == set(expected) == {step.kind for step in spec.steps}
    new_trade = {step.kind for step in spec.steps if step.new_trade}
    keys = FROM_THE_ID.get(name, set())
    for kind, text in expected.items():
        filled = templates[kind].format(*values)
        assert kind not in new_trade or str(TRADE_ID) in filled, (kind, filled)
        if keys:
            assert without(json.loads(filled), keys) == without(json.loads(text), keys)
        else:
            assert filled == text


@pytest.mark.parametrize("name", sorted(EXCHANGES))
def test_each_connection_gets_two_rounds_with_fresh_trade_ids(name):
    engine, link, pair = subscribed(name)
    spec = EXCHANGES[name].fast
    assert spec is not None
    feed = fast.FastFeed(engine, pair, spec)
    engine.fast_publish([feed] * (2 * len(spec.steps)), clock=lambda: T)
    texts = link.texts()
    assert len(texts) == 2 * len(spec.steps)
    frames = [json.loads(text) for text in texts]
    trades = sum(step.new_trade for step in spec.steps)
    assert feed.trades == 2 * trades
    ids = [text for text, step in zip(texts, spec.steps * 2, strict=True) if step.new_trade]
    assert len(set(ids)) == len(ids)  # every trade frame differs: its id at least
    assert engine.fast_pairs() == [pair]
    if name == "bitfinex":  # each frame on its own channel id, as the subscription acked it
        chan_ids = {frame[0] for frame in frames}
        assert len(chan_ids) == 2 and all(isinstance(chan_id, int) for chan_id in chan_ids)
    if name.startswith("binance"):  # a combined stream wraps each payload with its stream name
        assert {frame["stream"].partition("@")[2] for frame in frames} == {"trade", "bookTicker"}


def test_a_streaming_bitfinex_channel_gets_no_heartbeat():
    engine, link, pair = subscribed("bitfinex")
    spec = EXCHANGES["bitfinex"].fast
    assert spec is not None
    feed = fast.FastFeed(engine, pair, spec)
    later = T + 20  # past the 15 s of silence that calls for a heartbeat
    engine.fast_publish([feed] * len(spec.steps), clock=lambda: later)
    link.texts()
    assert link.peer.tick(later + 1) == []
    assert len(link.peer.tick(later + 16)) == 2  # silent again: both channels get "hb"


def test_fast_ids_never_meet_the_market_own():
    market = Market("coinbase", EXCHANGES["coinbase"].products, 7, fixed_clock)
    pair_market = market.pair("BTC-USD")
    before = pair_market.state()
    first_id, first_sequence = pair_market.reserve(100)
    assert first_id > before.last_trade.id and first_sequence > before.sequence
    trade = pair_market.random_trade()
    assert trade.id >= first_id + 100 and trade.sequence >= first_sequence + 100


def test_text_frames_are_websocket_text_frames():
    texts = ["", "x", "é" * 70, "y" * 300, "z" * 70_000]
    expected = b"".join(Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
                        for text in texts)
    assert text_frames(texts) == expected


def test_fast_options_need_fast_mode():
    with pytest.raises(SystemExit):
        parse_args(["--total-rate", "100"])
    with pytest.raises(SystemExit):
        parse_args(["--exchanges", "nosuchexchange"])
    args = parse_args(["--fast", "--total-rate", "max", "--exchanges", "coinbase,bitfinex"])
    assert (args.total_rate, args.exchanges) == (float("inf"), ["coinbase", "bitfinex"])


# The real process -----------------------------------------------------------------------------


def command(process: subprocess.Popen[str], **fields: Any) -> dict[str, Any]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(fields) + "\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def trade_time(exchange: str, frame: Any) -> float | None:
    """Epoch seconds of the trade a frame reports, or None for another frame."""
    if exchange == "bitfinex" and isinstance(frame, list) and frame[1:2] == ["te"]:
        return frame[2][1] / 1000
    if exchange == "coinbase" and isinstance(frame, dict) and frame.get("type") == "match":
        moment = datetime.strptime(frame["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
        return moment.replace(tzinfo=UTC).timestamp()
    return None


def trade_id(exchange: str, frame: Any) -> int:
    return frame[2][0] if exchange == "bitfinex" else frame["trade_id"]


def test_the_process_streams_the_rate_asked_with_trades_stamped_when_sent():
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--fast", "--exchanges", "bitfinex,coinbase",
         "--stdin-commands", "--seed", "7", "--log-level", "WARNING"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    sockets: dict[str, websocket.WebSocket] = {}
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        assert started["exchanges"] == ["bitfinex", "coinbase"]
        for exchange in ("bitfinex", "coinbase"):
            ws = sockets[exchange] = websocket.create_connection(
                f"{started['url']}/{exchange}", timeout=3)
            for frame in SUBSCRIBE[exchange][1]:
                ws.send(frame)
        deadline = time.monotonic() + 5
        while command(process, cmd="stats")["subscribed"] < 5:  # 2 Bitfinex + 3 Coinbase
            assert time.monotonic() < deadline, "the subscriptions never arrived"
            time.sleep(0.05)
        assert command(process, cmd="rate", value=400) == {"rate": 400}
        time.sleep(0.3)  # the pacer looks at what is subscribed every 0.1 s
        first = command(process, cmd="stats")
        seen: dict[str, list[int]] = {"bitfinex": [], "coinbase": []}
        lags: list[float] = []
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            for exchange, ws in sockets.items():
                frame = json.loads(ws.recv())
                sent_at = trade_time(exchange, frame)
                if sent_at is not None:
                    lags.append(time.time() - sent_at)
                    seen[exchange].append(trade_id(exchange, frame))
        last = command(process, cmd="stats")
        assert command(process, cmd="rate", value=0) == {"rate": 0}
        assert command(process, cmd="nonsense") == {"error": "unknown command 'nonsense'"}

        for ids in seen.values():
            assert ids and ids == sorted(ids) and len(set(ids)) == len(ids)
        assert min(lags) >= 0 and max(lags) < 1.0  # stamped when sent, read soon after
        rate = (last["paced"] - first["paced"]) / ((last["due"] - first["due"]) / 400)
        assert 300 < rate < 500  # paced frames per second of schedule, both feeds together
        assert last["feeds"] == ["bitfinex:BTC-USD", "coinbase:BTC-USD"]
        assert last["trades"] > first["trades"] and last["behind"] < 400
        assert last["frames"] >= last["paced"] + 5  # acks and snapshots came first
    finally:
        for ws in sockets.values():
            ws.close(timeout=0.5)
        assert process.stdin is not None
        process.stdin.close()  # end of stdin ends the process
        code = process.wait(timeout=10)
        err = process.stderr.read() if process.stderr else ""
    assert code == 0, err
    assert "Traceback" not in err, err
