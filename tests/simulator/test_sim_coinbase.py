"""Coinbase Exchange protocol peer, driven as plain calls: client frames in, exact frames out."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest
from sim_support import fixed_clock

from simulator import wire
from simulator.catalogue import PRODUCTS
from simulator.coinbase import CoinbasePeer
from simulator.market import Market, Side
from simulator.peer import Close, PeerOptions, Send

NOW = 1_700_000_000.0
OPTIONS = PeerOptions(subscribe_timeout=5.0)
TICKER_FIELDS = [
    "type",
    "sequence",
    "product_id",
    "price",
    "open_24h",
    "volume_24h",
    "low_24h",
    "high_24h",
    "volume_30d",
    "best_bid",
    "best_bid_size",
    "best_ask",
    "best_ask_size",
    "side",
    "time",
    "trade_id",
    "last_size",
]
MATCH_FIELDS = [
    "type",
    "trade_id",
    "maker_order_id",
    "taker_order_id",
    "side",
    "size",
    "price",
    "product_id",
    "sequence",
    "time",
]


@pytest.fixture
def market() -> Market:
    return Market("coinbase", PRODUCTS.values(), 3, fixed_clock)


@pytest.fixture
def peer(market: Market) -> CoinbasePeer:
    return CoinbasePeer(market, random.Random(5), OPTIONS, NOW)


def send(peer: CoinbasePeer, frame: Any, now: float = NOW) -> list[dict[str, Any]]:
    actions = peer.receive(json.dumps(frame), now)
    assert all(isinstance(action, Send) for action in actions)
    return [json.loads(action.text) for action in actions if isinstance(action, Send)]


def test_nothing_is_sent_on_connect(peer: CoinbasePeer):
    assert peer.opened(NOW) == []


def test_subscribe_with_root_product_ids(peer: CoinbasePeer, market: Market):
    frames = send(
        peer,
        {
            "type": "subscribe",
            "product_ids": ["ETH-USD", "BTC-USD"],
            "channels": ["ticker", "matches"],
        },
    )
    ack, *rest = frames
    assert ack == {
        "type": "subscriptions",
        "channels": [
            {"name": "ticker", "product_ids": ["ETH-USD", "BTC-USD"]},
            {"name": "matches", "product_ids": ["ETH-USD", "BTC-USD"]},
        ],
    }
    # the current ticker per product at once, then last_match per product
    assert [(frame["type"], frame["product_id"]) for frame in rest] == [
        ("ticker", "ETH-USD"),
        ("ticker", "BTC-USD"),
        ("last_match", "ETH-USD"),
        ("last_match", "BTC-USD"),
    ]
    last = market.state("BTC-USD").last_trade
    assert rest[3]["trade_id"] == last.id
    assert list(rest[3]) == MATCH_FIELDS


def test_subscribe_with_channel_objects_and_ack_lists_everything(peer: CoinbasePeer):
    send(peer, {"type": "subscribe", "channels": [{"name": "ticker", "product_ids": ["BTC-USD"]}]})
    ack, *_ = send(
        peer,
        {
            "type": "subscribe",
            "product_ids": ["SOL-EUR"],
            "channels": [{"name": "ticker", "product_ids": ["ETH-USDT"]}, "heartbeat"],
        },
    )
    assert ack == {
        "type": "subscriptions",
        "channels": [
            {"name": "ticker", "product_ids": ["BTC-USD", "ETH-USDT"]},
            {"name": "heartbeat", "product_ids": ["SOL-EUR"]},
        ],
    }


def test_unknown_product_rejects_the_whole_message(peer: CoinbasePeer):
    frames = send(
        peer,
        {"type": "subscribe", "product_ids": ["BTC-USD", "FOO-BAR"], "channels": ["ticker"]},
    )
    assert frames == [
        {
            "type": "error",
            "message": "Failed to subscribe",
            "reason": "FOO-BAR is not a valid product",
        },
        {"type": "subscriptions", "channels": []},
    ]
    assert peer.subscriptions() == []


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        ({"type": "subscribe", "product_ids": ["BTC-USD"]}, "No channels provided"),
        (
            {
                "type": "subscribe",
                "product_ids": ["BTC-USD"],
                "channels": [{"name": "ticker", "product_ids": []}],
            },
            " is not a valid product",
        ),
        (
            {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["level2"]},
            "level2 is not a valid channel",
        ),
        (
            {"type": "subscribe", "channels": ["heartbeat"]},
            "You need to specify at least one product ID for channel heartbeat",
        ),
        ({"type": "hello"}, "type has to be either subscribe or unsubscribe"),
    ],
    ids=["no-channels", "empty-product-ids", "unknown-channel", "heartbeat-no-product", "type"],
)
def test_refused_subscribes(peer: CoinbasePeer, request_: Any, reason: str):
    assert send(peer, request_)[0] == {
        "type": "error",
        "message": "Failed to subscribe",
        "reason": reason,
    }
    assert peer.subscriptions() == []


def test_malformed_json(peer: CoinbasePeer):
    (action,) = peer.receive("{nope", NOW)
    assert action == Send('{"type":"error","message":"Malformed JSON"}')


def test_trade_sends_match_with_maker_side_then_ticker_with_taker_side(
    peer: CoinbasePeer, market: Market
):
    send(peer, {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["matches", "ticker"]})
    market.pair("BTC-USD").set_quote(bid=Decimal("43210.10"), ask=Decimal("43210.60"))
    trade = market.pair("BTC-USD").trade(Decimal("43210.5"), Decimal("0.00012"), Side.BUY)
    match_action, ticker_action = peer.on_trade("BTC-USD", trade, NOW)
    assert isinstance(match_action, Send) and isinstance(ticker_action, Send)
    match, ticker = json.loads(match_action.text), json.loads(ticker_action.text)
    assert list(match) == MATCH_FIELDS and list(ticker) == TICKER_FIELDS
    assert {key: match[key] for key in MATCH_FIELDS if not key.endswith("order_id")} == {
        "type": "match",
        "trade_id": trade.id,
        "side": "sell",  # the maker sold to a taker who bought
        "size": "0.00012",
        "price": "43210.5",
        "product_id": "BTC-USD",
        "sequence": trade.sequence,
        "time": "2024-01-02T03:04:05.678901Z",
    }
    state = market.state("BTC-USD")
    text = wire.decimal_text
    assert ticker == {
        "type": "ticker",
        "sequence": trade.sequence,
        "product_id": "BTC-USD",
        "price": "43210.5",
        "open_24h": text(state.open_24h),
        "volume_24h": text(state.volume_24h),
        "low_24h": text(state.low_24h),
        "high_24h": text(state.high_24h),
        "volume_30d": text(state.volume_30d),
        "best_bid": "43210.10",
        "best_bid_size": text(state.bid_size),
        "best_ask": "43210.60",
        "best_ask_size": text(state.ask_size),
        "side": "buy",  # the taker's side
        "time": "2024-01-02T03:04:05.678901Z",
        "trade_id": trade.id,
        "last_size": "0.00012",
    }


def test_order_ids_are_uuids_shared_by_every_connection(market: Market):
    peers = [CoinbasePeer(market, random.Random(seed), OPTIONS, NOW) for seed in (1, 2)]
    for peer in peers:
        send(peer, {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["matches"]})
    trade = market.pair("BTC-USD").trade(Decimal("43000"), Decimal("1"), Side.SELL)
    matches = [peer.on_trade("BTC-USD", trade, NOW)[0] for peer in peers]
    assert matches[0] == matches[1]
    assert isinstance(matches[0], Send)
    match = json.loads(matches[0].text)
    assert match["side"] == "buy"
    assert len(match["maker_order_id"]) == 36 and match["maker_order_id"] != match["taker_order_id"]


def test_no_frames_for_unsubscribed_pairs(peer: CoinbasePeer, market: Market):
    send(peer, {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["matches"]})
    trade = market.pair("ETH-USD").random_trade()
    assert peer.on_trade("ETH-USD", trade, NOW) == []
    assert peer.on_quote("BTC-USD", NOW) == []  # matches only: a book change says nothing


def test_heartbeat_once_per_second_per_product(peer: CoinbasePeer, market: Market):
    send(
        peer,
        {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-EUR"], "channels": ["heartbeat"]},
    )
    first = [json.loads(action.text) for action in peer.tick(NOW) if isinstance(action, Send)]
    state = market.state("BTC-USD")
    assert first[0] == {
        "type": "heartbeat",
        "sequence": state.sequence,
        "last_trade_id": state.last_trade.id,
        "product_id": "BTC-USD",
        "time": "2023-11-14T22:13:20.000000Z",
    }
    assert [frame["product_id"] for frame in first] == ["BTC-USD", "ETH-EUR"]
    assert peer.tick(NOW + 0.95) == []
    assert len(peer.tick(NOW + 1.0)) == 2


def test_no_subscribe_within_timeout_closes(peer: CoinbasePeer):
    assert peer.tick(NOW + 4.9) == []
    (action,) = peer.tick(NOW + 5.0)
    assert isinstance(action, Close) and action.code == 1000
    assert peer.tick(NOW + 6) == []  # closes once


def test_subscribe_stops_the_timeout(peer: CoinbasePeer):
    send(peer, {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["matches"]})
    assert peer.tick(NOW + 60) == []


def test_unsubscribe(peer: CoinbasePeer):
    send(
        peer,
        {
            "type": "subscribe",
            "product_ids": ["BTC-USD", "ETH-USD"],
            "channels": ["ticker", "heartbeat"],
        },
    )
    assert send(
        peer, {"type": "unsubscribe", "product_ids": ["BTC-USD"], "channels": ["ticker"]}
    ) == [
        {
            "type": "subscriptions",
            "channels": [
                {"name": "ticker", "product_ids": ["ETH-USD"]},
                {"name": "heartbeat", "product_ids": ["BTC-USD", "ETH-USD"]},
            ],
        }
    ]
    assert send(peer, {"type": "unsubscribe", "channels": ["heartbeat", "ticker"]}) == [
        {"type": "subscriptions", "channels": []}
    ]
    assert peer.tick(NOW + 10) == []
