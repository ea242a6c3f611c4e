"""The engine with fake links: who gets which actions, and when the market moves by itself."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal

from sim_support import fixed_clock

from simulator.engine import Engine
from simulator.market import Side
from simulator.peer import Action, Peer, PeerOptions, Send
from simulator.registry import EXCHANGES

NOW = 1_700_000_000.0


class FakeLink:
    """Records what the engine delivers instead of sending it."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.actions: list[Action] = []
        self.aborted = False

    def deliver(self, actions: Iterable[Action]) -> None:
        self.actions.extend(actions)

    def abort(self) -> None:
        self.aborted = True

    def texts(self) -> list[str]:
        texts = [action.text for action in self.actions if isinstance(action, Send)]
        self.actions.clear()
        return texts


def make_engine(rate: float = 0.0) -> Engine:
    options = PeerOptions(heartbeat_interval=15.0)
    return Engine(EXCHANGES["coinbase"], seed=4, rate=rate, options=options, clock=fixed_clock)


def subscribe(engine: Engine, product: str) -> FakeLink:
    link = engine.open(FakeLink, NOW)
    message = {"type": "subscribe", "product_ids": [product], "channels": ["matches"]}
    engine.receive(link, json.dumps(message), NOW)
    link.texts()  # ack and last_match
    return link


def test_injected_trade_reaches_only_subscribers_of_that_pair():
    engine = make_engine()
    btc, eth = subscribe(engine, "BTC-USD"), subscribe(engine, "ETH-USD")
    trade = engine.inject_trade("BTC-USD", Decimal("43000.01"), Decimal("0.1"), Side.BUY, NOW)
    (match,) = btc.texts()
    assert json.loads(match)["trade_id"] == trade.id
    assert eth.texts() == []


def test_random_trades_happen_at_the_rate_and_only_on_watched_pairs():
    engine = make_engine(rate=10)
    link = subscribe(engine, "BTC-USD")
    unwatched = engine.state("ETH-USD")
    engine.tick(NOW + 1, elapsed=1.0)
    assert len(link.texts()) == 10
    assert engine.state("ETH-USD") == unwatched
    engine.set_rate(0)
    engine.tick(NOW + 2, elapsed=1.0)
    assert link.texts() == []


def test_closed_links_get_nothing_and_leave_the_stats():
    engine = make_engine()
    link = subscribe(engine, "BTC-USD")
    assert engine.stats(NOW)["connections"] == 1
    engine.close(link)
    engine.inject_trade("BTC-USD", Decimal("43000.01"), Decimal("0.1"), Side.SELL, NOW)
    assert link.texts() == []
    assert engine.stats(NOW)["connections"] == 0


def test_silence_lasts_the_given_seconds():
    engine = make_engine()
    engine.silence(2.0, NOW)
    assert engine.is_silent(NOW + 1.9)
    assert not engine.is_silent(NOW + 2.0)
