"""The listener contract of ``exchanges/base.py`` on the real wire: Bitfinex's listener, run in
this process on threads, against the simulated Bitfinex on loopback.

Sharding (25 channels a connection), application keepalives and the acknowledgement timeout
belong to the base class; Bitfinex is the exchange that exercises them all: its limit is the
tightest, it answers ``{"event":"ping"}``, and it acks each subscription.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import pytest

from exchanges.bitfinex import Bitfinex, BitfinexSession
from exchanges.records import FeedState, Record, Status
from tests.conftest import Collected, Simulator, wait_until

pytestmark = pytest.mark.e2e

# 13 pairs: one more than a connection of 25 channels carries at two channels a pair
MANY = ("BTC-USD", "ETH-USD", "SOL-USD", "LTC-USD", "XRP-USD", "DOGE-USD", "ADA-USD",
        "BTC-EUR", "ETH-EUR", "SOL-EUR", "LTC-EUR", "XRP-EUR", "DOGE-EUR")


@pytest.fixture
def run_listener() -> Iterator[Callable[..., tuple[Bitfinex, Collected]]]:
    started: list[tuple[Bitfinex, threading.Thread]] = []

    def run(listener_class: type[Bitfinex], simulator: Simulator, pairs: Sequence[str],
            **options: Any) -> tuple[Bitfinex, Collected]:
        published = Collected()
        listener = listener_class(pairs, published, url=simulator.ws_url("bitfinex"),
                                  **options)
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.start()
        started.append((listener, thread))
        return listener, published

    yield run
    for listener, thread in started:
        listener.stop()
        thread.join(5)


def test_pairs_beyond_one_connections_limit_stream_over_two(simulator, run_listener):
    listener, published = run_listener(Bitfinex, simulator, MANY)
    for pair in MANY:
        wait_until(lambda pair=pair: published.statuses(pair, FeedState.LIVE),
                   message=f"{pair} live")
    assert simulator.control("stats")["bitfinex"]["connections"] == 2
    assert [len(c["pairs"]) for c in listener.stats()["connections"]] == [12, 1]
    assert not [r for r in published.records
                if isinstance(r, Status) and r.state is FeedState.ERROR]
    wait_until(lambda: published.statuses(None, FeedState.LIVE)[-1].detail
               == f"2 connections to {simulator.ws_url('bitfinex')}")

    # a trade on the pair of the second connection arrives like any other
    trade = simulator.control("bitfinex/trade", pair="DOGE-EUR", price="0.0781",
                              amount="1000", side="sell")
    wait_until(lambda: [r for r in published.records
                        if getattr(r, "id", None) == str(trade["trade_id"])])

    # both connections drop: each pair says so, then both come back
    simulator.control("bitfinex/drop")
    for pair in ("BTC-USD", "DOGE-EUR"):
        wait_until(lambda pair=pair: published.statuses(pair, FeedState.RECONNECTING))
    wait_until(lambda: simulator.control("stats")["bitfinex"]["connections"] == 2, timeout=15)
    wait_until(lambda: len(published.statuses("DOGE-EUR", FeedState.LIVE)) >= 2, timeout=15)


class PingingBitfinex(Bitfinex):
    """Bitfinex with its documented optional ping (``{"event":"ping","cid":N}``) every 0.2 s."""

    ping_interval = 0.2
    pongs: list[dict[str, Any]]

    def ping_frame(self) -> str:
        return json.dumps({"event": "ping", "cid": 7})

    def new_session(self, feeds: Mapping[str, str]) -> BitfinexSession:
        pongs = self.pongs = []

        class Session(BitfinexSession):
            def receive(self, frame: str, received_at: datetime) -> list[Record]:
                if '"pong"' in frame:
                    pongs.append(json.loads(frame))
                return super().receive(frame, received_at)

        return Session(feeds)


def test_keepalives_are_sent_on_schedule_and_answered(simulator, run_listener, monkeypatch):
    monkeypatch.setattr("exchanges.base.TICK_INTERVAL", 0.05)
    listener, published = run_listener(PingingBitfinex, simulator, ["BTC-USD"])
    wait_until(lambda: published.statuses("BTC-USD", FeedState.LIVE))
    wait_until(lambda: len(listener.pongs) >= 3, message="three pongs")
    assert {pong["cid"] for pong in listener.pongs} == {7}
    assert listener.stats()["connections"][0]["pings"] >= 3


class ForgetfulBitfinex(Bitfinex):
    """Bitfinex that never sends ETH-USD's subscribe frames: no ack, no data for it."""

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [frame for frame in super().subscribe_frames(symbols) if "tETHUSD" not in frame]


def test_a_pair_neither_acked_nor_streaming_is_reported_after_the_ack_timeout(
        simulator, run_listener):
    _, published = run_listener(ForgetfulBitfinex, simulator, ["BTC-USD", "ETH-USD"],
                                       ack_timeout=1.0)
    (error,) = wait_until(lambda: published.statuses("ETH-USD", FeedState.ERROR))
    assert error.detail == "no data for ETH-USD after 1 s: is it listed on bitfinex?"
    assert published.statuses("BTC-USD", FeedState.LIVE)
    assert not published.statuses("BTC-USD", FeedState.ERROR)
