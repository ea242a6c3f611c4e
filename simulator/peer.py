"""The sans-I/O contract between the server and one protocol module.

A peer is one client connection's protocol state (subscriptions, channel ids, timers) on one
simulated exchange. It never touches a socket or a clock: the server feeds it client frames,
market events and the current time, and it answers with ``Action``s that the connection's
sender thread carries out. That keeps each exchange's wire rules testable as plain function
calls, and makes adding an exchange one new module with one ``Peer`` subclass.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from simulator.catalogue import PRODUCTS, Product
from simulator.market import Market, Trade


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``text`` as one text frame, ``delay`` seconds from when the action was produced."""

    text: str
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with a normal close frame (after the frames queued before it)."""

    code: int = 1000
    reason: str = ""
    delay: float = 0.0


Action = Send | Close


@dataclass(frozen=True, slots=True)
class PeerOptions:
    """Timing knobs shared by all peers; each protocol uses the ones its exchange has."""

    heartbeat_interval: float = 15.0  # Bitfinex: idle seconds before a channel gets ``hb``
    subscribe_timeout: float = 5.0  # Coinbase: seconds a client has to send its subscribe
    update_delay: float = 0.1  # Bitfinex: seconds between a trade's ``te`` and its ``tu``


class Peer(ABC):
    """One connection's protocol state; every method is called under the exchange's lock.

    Subclasses implement the abstract methods. ``now`` is wall-clock epoch seconds; delays in
    returned actions are relative to the moment of the call.
    """

    def __init__(
        self, market: Market, rng: random.Random, options: PeerOptions, now: float
    ) -> None:
        self.market = market
        self.rng = rng  # per connection, seeded by the server: channel ids and the like
        self.options = options
        self.opened_at = now

    @abstractmethod
    def opened(self, now: float) -> list[Action]:
        """Frames the exchange sends as soon as the socket opens (Bitfinex ``info``)."""

    @abstractmethod
    def receive(self, text: str, now: float) -> list[Action]:
        """Handle one client frame (any text, possibly not JSON) and answer it."""

    @abstractmethod
    def tick(self, now: float) -> list[Action]:
        """Timers: heartbeats due, deadlines passed. Called by the server clock every ~50 ms."""

    @abstractmethod
    def on_trade(self, pair: str, trade: Trade, now: float) -> list[Action]:
        """Frames this connection gets for a new trade on ``pair`` (nothing if not subscribed)."""

    @abstractmethod
    def on_quote(self, pair: str, now: float) -> list[Action]:
        """Frames this connection gets when the book or last price of ``pair`` was set."""

    @abstractmethod
    def subscriptions(self) -> list[tuple[str, str]]:
        """Current (channel, pair) subscriptions, for stats and to know which pairs trade."""


@dataclass(frozen=True, slots=True)
class RestReply:
    """The answer to one REST GET: an HTTP status and the JSON body (decimals as numbers)."""

    status: int
    body: Any


PeerFactory = Callable[[Market, random.Random, PeerOptions, float], Peer]
Command = Callable[[Mapping[str, str]], list[Action]]
# A REST GET: (market, path segments after the exchange's own, query) -> reply; pure, and
# called under the exchange's lock like a peer.
RestHandler = Callable[[Market, Sequence[str], Mapping[str, str]], RestReply]


@dataclass(frozen=True)
class ExchangeSpec:
    """What the server needs to offer one simulated exchange.

    ``commands`` are exchange-specific control routes (``/control/<name>/<command>``) whose
    actions go to every connection of the exchange, e.g. Bitfinex's ``info`` maintenance codes.
    A command raises ``ValueError`` for bad parameters. ``rest`` answers the exchange's REST
    GETs (``/<name>/...`` without a websocket upgrade) from the same market.
    """

    name: str
    peer: PeerFactory
    commands: Mapping[str, Command] = field(default_factory=dict)
    rest: RestHandler | None = None
    products: tuple[Product, ...] = tuple(PRODUCTS.values())
