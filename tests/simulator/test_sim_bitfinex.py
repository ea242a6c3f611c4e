"""Bitfinex protocol peer, driven as plain calls: client frames in, exact frames out."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest
from sim_support import fixed_clock

from simulator import bitfinex
from simulator.catalogue import PRODUCTS
from simulator.market import Market, Side
from simulator.peer import Close, PeerOptions, Send

NOW = 1_700_000_000.0
OPTIONS = PeerOptions(heartbeat_interval=15.0, update_delay=0.1)


@pytest.fixture
def market() -> Market:
    return Market("bitfinex", PRODUCTS.values(), 3, fixed_clock)


@pytest.fixture
def peer(market: Market) -> bitfinex.BitfinexPeer:
    return bitfinex.BitfinexPeer(market, random.Random(5), OPTIONS, NOW)


def send(peer: bitfinex.BitfinexPeer, frame: Any, now: float = NOW) -> list[str]:
    actions = peer.receive(json.dumps(frame), now)
    assert all(isinstance(action, Send) and action.delay == 0 for action in actions)
    return [action.text for action in actions if isinstance(action, Send)]


def subscribe(peer: bitfinex.BitfinexPeer, channel: str, symbol: str = "tBTCUSD") -> int:
    ack, _ = send(peer, {"event": "subscribe", "channel": channel, "symbol": symbol})
    return json.loads(ack)["chanId"]


@pytest.mark.parametrize(
    ("pair", "symbol"),
    [
        ("BTC-USD", "tBTCUSD"),
        ("ETH-EUR", "tETHEUR"),
        ("BTC-USDT", "tBTCUST"),
        ("DOGE-USD", "tDOGE:USD"),
        ("DOGE-USDT", "tDOGE:UST"),
    ],
)
def test_symbols(pair: str, symbol: str):
    assert bitfinex.symbol_for(pair) == symbol


def test_info_on_connect(peer: bitfinex.BitfinexPeer):
    (action,) = peer.opened(NOW)
    assert isinstance(action, Send)
    info = json.loads(action.text)
    assert list(info) == ["event", "version", "serverId", "platform"]
    assert (info["event"], info["version"], info["platform"]) == ("info", 2, {"status": 1})
    assert len(info["serverId"]) == 36


def test_subscribe_ticker_acks_then_sends_the_ticker(peer: bitfinex.BitfinexPeer, market: Market):
    ack, ticker = send(peer, {"event": "subscribe", "channel": "ticker", "symbol": "tBTCUSD"})
    chan_id = json.loads(ack)["chanId"]
    assert ack == (
        f'{{"event":"subscribed","channel":"ticker","chanId":{chan_id},'
        '"symbol":"tBTCUSD","pair":"BTCUSD"}'
    )
    state = market.state("BTC-USD")
    change = state.last - state.open_24h
    relative = (change / state.open_24h).quantize(Decimal("0.0001"))
    row = [
        state.bid,
        state.bid_size,
        state.ask,
        state.ask_size,
        change,
        relative,
        state.last,
        state.volume_24h,
        state.high_24h,
        state.low_24h,
    ]
    assert json.loads(ticker, parse_float=Decimal) == [chan_id, row]
    assert "e" not in ticker.lower() and '"' not in ticker  # plain numbers, no strings


def test_subscribe_trades_sends_a_snapshot_newest_first(
    peer: bitfinex.BitfinexPeer, market: Market
):
    ack, snapshot = send(peer, {"event": "subscribe", "channel": "trades", "symbol": "tETHUSD"})
    chan_id = json.loads(ack)["chanId"]
    chan, rows = json.loads(snapshot, parse_float=Decimal)
    assert chan == chan_id
    recent = market.state("ETH-USD").recent
    assert [row[0] for row in rows] == [trade.id for trade in recent]
    for row, trade in zip(rows, recent, strict=True):
        assert row[2] == (trade.size if trade.side is Side.BUY else -trade.size)
        assert row[3] == trade.price


def test_chan_ids_are_distinct(peer: bitfinex.BitfinexPeer):
    ids = {
        subscribe(peer, channel, symbol)
        for channel in ("ticker", "trades")
        for symbol in ("tBTCUSD", "tETHUSD", "tSOLEUR")
    }
    assert len(ids) == 6


def test_symbol_without_t_is_accepted_and_acked_with_t(peer: bitfinex.BitfinexPeer):
    ack, _ = send(peer, {"event": "subscribe", "channel": "ticker", "symbol": "BTCUSD"})
    assert json.loads(ack)["symbol"] == "tBTCUSD"


@pytest.mark.parametrize(
    ("request_", "reply"),
    [
        (
            {"event": "subscribe", "channel": "ticker", "symbol": "tFOOBAR"},
            '{"channel":"ticker","symbol":"tFOOBAR","event":"error","msg":"symbol: invalid",'
            '"code":10300,"pair":"FOOBAR"}',
        ),
        (
            {"event": "subscribe", "channel": "book", "symbol": "tBTCUSD"},
            '{"event":"error","msg":"channel: unknown","code":10300}',
        ),
        ({"event": "nope"}, '{"event":"error","msg":"event: invalid","code":10000}'),
        ([1, 2], '{"event":"error","msg":"event: invalid","code":10000}'),
        ({"event": ["subscribe"]}, '{"event":"error","msg":"event: invalid","code":10000}'),
        (
            {"event": "unsubscribe", "chanId": 1},
            '{"event":"error","msg":"unsubscribe: invalid","code":10400,"chanId":1}',
        ),
    ],
    ids=["symbol", "channel", "event", "not-an-object", "event-not-a-string", "unsubscribe"],
)
def test_errors_leave_nothing_subscribed(peer: bitfinex.BitfinexPeer, request_: Any, reply: str):
    assert send(peer, request_) == [reply]
    assert peer.subscriptions() == []


def test_malformed_json_is_an_error_event(peer: bitfinex.BitfinexPeer):
    (action,) = peer.receive("{not json", NOW)
    assert isinstance(action, Send)
    assert json.loads(action.text) == {"event": "error", "msg": "event: invalid", "code": 10000}


def test_duplicate_subscribe(peer: bitfinex.BitfinexPeer):
    chan_id = subscribe(peer, "ticker")
    (reply,) = send(peer, {"event": "subscribe", "channel": "ticker", "symbol": "tBTCUSD"})
    assert reply == (
        '{"channel":"ticker","symbol":"tBTCUSD","event":"error","msg":"subscribe: dup",'
        f'"code":10301,"chanId":{chan_id},"pair":"BTCUSD"}}'
    )


def test_ping_pong_and_conf(peer: bitfinex.BitfinexPeer):
    assert send(peer, {"event": "ping", "cid": 1234}) == [
        '{"event":"pong","ts":1700000000000,"cid":1234}'
    ]
    assert send(peer, {"event": "conf", "flags": 65536}) == [
        '{"event":"conf","status":"OK","flags":65536}'
    ]


def test_unsubscribe(peer: bitfinex.BitfinexPeer):
    chan_id = subscribe(peer, "trades")
    assert send(peer, {"event": "unsubscribe", "chanId": chan_id}) == [
        f'{{"event":"unsubscribed","status":"OK","chanId":{chan_id}}}'
    ]
    assert peer.subscriptions() == []


def test_trade_goes_out_as_te_then_tu_then_ticker(peer: bitfinex.BitfinexPeer, market: Market):
    ticker_id = subscribe(peer, "ticker")  # subscribed first, still sent last
    trades_id = subscribe(peer, "trades")
    trade = market.pair("BTC-USD").trade(Decimal("43210.5"), Decimal("0.00012"), Side.SELL)
    te, tu, ticker = peer.on_trade("BTC-USD", trade, NOW + 1)
    row = f"[{trade.id},1704164645678,-0.00012,43210.5]"
    assert te == Send(f'[{trades_id},"te",{row}]')
    assert tu == Send(f'[{trades_id},"tu",{row}]', delay=0.1)
    assert isinstance(ticker, Send) and ticker.delay == 0.1
    chan_id, row = json.loads(ticker.text, parse_float=Decimal)
    assert (chan_id, row[6]) == (ticker_id, Decimal("43210.5"))
    assert peer.on_trade("ETH-USD", trade, NOW + 1) == []  # not subscribed to that pair


def test_buy_amount_is_positive(peer: bitfinex.BitfinexPeer, market: Market):
    trades_id = subscribe(peer, "trades")
    trade = market.pair("BTC-USD").trade(Decimal("43000"), Decimal("2.5"), Side.BUY)
    te, _ = peer.on_trade("BTC-USD", trade, NOW)
    assert te == Send(f'[{trades_id},"te",[{trade.id},1704164645678,2.5,43000]]')


def test_quote_change_sends_a_ticker_only_to_ticker_channels(
    peer: bitfinex.BitfinexPeer, market: Market
):
    subscribe(peer, "trades")
    assert peer.on_quote("BTC-USD", NOW) == []
    ticker_id = subscribe(peer, "ticker")
    market.pair("BTC-USD").set_quote(bid=Decimal("43000.1"), ask=Decimal("43000.3"))
    (ticker,) = peer.on_quote("BTC-USD", NOW)
    assert isinstance(ticker, Send)
    assert ticker.text.startswith(f"[{ticker_id},[43000.1,")


def test_heartbeat_after_idle_interval_per_channel(peer: bitfinex.BitfinexPeer, market: Market):
    ticker_id = subscribe(peer, "ticker")
    trades_id = subscribe(peer, "trades", "tETHUSD")
    assert peer.tick(NOW + 14.9) == []
    assert peer.tick(NOW + 15) == [Send(f'[{ticker_id},"hb"]'), Send(f'[{trades_id},"hb"]')]
    # a frame on one channel resets only that channel's timer
    trade = market.pair("ETH-USD").random_trade()
    peer.on_trade("ETH-USD", trade, NOW + 20)
    assert peer.tick(NOW + 30) == [Send(f'[{ticker_id},"hb"]')]


def test_info_command():
    (info,) = bitfinex.info_command({"code": "20060"})
    assert isinstance(info, Send)
    assert json.loads(info.text)["code"] == 20060
    info, close = bitfinex.info_command({"code": "20051"})
    assert info == Send(
        '{"event":"info","code":20051,"msg":"Stop/Restart Websocket Server (please reconnect)"}'
    )
    assert isinstance(close, Close)
    with pytest.raises(ValueError, match="20051"):
        bitfinex.info_command({"code": "1"})
