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
from simulator.market import Market, PairState, Trade


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


@dataclass(frozen=True, slots=True)
class Burst:
    """Send each of ``texts`` as one text frame, back to back: fast mode's frames of one slice
    for one connection (``simulator.fast``). Protocol modules never return it."""

    texts: list[str]
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Ping:
    """Send a protocol ping frame (RFC 6455 section 5.5.2) carrying ``payload``: the server's
    keepalive of an exchange that declares ``ExchangeSpec.protocol_ping``. Protocol modules
    never return it."""

    payload: bytes
    delay: float = 0.0


Action = Send | Close | Burst | Ping


@dataclass(frozen=True, slots=True)
class PeerOptions:
    """Timing knobs shared by all peers; each protocol uses the ones its exchange has."""

    heartbeat_interval: float = 15.0  # Bitfinex: idle seconds before a channel gets ``hb``
    subscribe_timeout: float = 5.0  # Coinbase: seconds a client has to send its subscribe
    update_delay: float = 0.1  # Bitfinex: seconds between a trade's ``te`` and its ``tu``
    # Exchanges with protocol pings (``ExchangeSpec.protocol_ping``): every one of them uses
    # these instead of its own interval and pong deadline; None keeps each exchange's own
    protocol_ping_interval: float | None = None
    pong_timeout: float | None = None


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

    # Fast mode (``simulator.fast``): the exchange's ``FastSpec`` renders each frame once for
    # every connection; a peer only says how its connection receives it.

    def fast_wrap(self, channel: str, pair: str) -> tuple[str, str] | None:
        """The text this connection puts before and after a fast frame's body of ``channel``
        and ``pair`` (Bitfinex: ``[chanId,`` and ``]``), or None when it is not subscribed.

        Asked again whenever the connection's subscriptions may have changed, never per frame.
        """
        return ("", "") if (channel, pair) in self.subscriptions() else None

    def fast_sent(self, channel: str, pair: str, now: float) -> None:
        """Fast frames of ``channel`` and ``pair`` went out at ``now``: a timer that waits for
        silence (a heartbeat, an idle close) starts again, as after any frame ``on_trade`` sent."""
        return None  # most exchanges time nothing by what they sent last


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


@dataclass(frozen=True, slots=True)
class FastStep:
    """One frame of an exchange's fast-mode cycle (``FastSpec.steps``)."""

    kind: str  # its key in what ``FastSpec.render`` returns
    channel: str  # the subscription that receives it, as ``Peer.subscriptions`` names it
    new_trade: bool = False  # it reports a new trade: a fresh id, sequence number and time
    has_trade: bool = False  # a client can read a trade from it (what fast mode counts as sent)


# (market, pair, state, now) -> {kind: frame body}; see ``FastSpec``
FastRender = Callable[[Market, str, PairState, float], Mapping[str, str]]


@dataclass(frozen=True)
class FastSpec:
    """How an exchange streams in fast mode (``python -m simulator --fast``, ``simulator.fast``).

    ``steps`` are the frames of one round, in the order ``Peer.on_trade`` sends them for a
    trade (several trades per round where the exchange's load mix wants it), repeated for as
    long as the stream runs. ``render`` writes the body of every step's ``kind`` with the
    module's own encoders from ``state``, a market moment whose last trade is the one reported,
    and ``now``, the moment of sending: exactly the frames ``on_trade`` would send, minus what
    ``Peer.fast_wrap`` puts around them per connection. Fast mode renders each market moment
    once, with stand-ins for the trade's id, sequence number and time (and ``now``), and fills in
    only those per frame; so a value derived from the id in any other way (an order id hashed
    from it) stays the moment's.
    """

    steps: tuple[FastStep, ...]
    render: FastRender


@dataclass(frozen=True, slots=True)
class ProtocolPing:
    """An exchange's own websocket keepalive: the server sends each connection a protocol ping
    (RFC 6455 section 5.5.2) with a fresh payload every ``interval`` seconds, and drops a
    connection once a ping has waited ``timeout`` seconds for the pong echoing its payload.
    An unsolicited pong, or one with another payload, answers nothing."""

    interval: float
    timeout: float

    def with_options(self, options: PeerOptions) -> ProtocolPing:
        """These timings, or the simulator-wide ones where ``options`` sets them."""
        return ProtocolPing(
            options.protocol_ping_interval or self.interval, options.pong_timeout or self.timeout
        )


@dataclass(frozen=True)
class ExchangeSpec:
    """What the server needs to offer one simulated exchange.

    ``commands`` are exchange-specific control routes (``/control/<name>/<command>``) whose
    actions go to every connection of the exchange, e.g. Bitfinex's ``info`` maintenance codes.
    A command raises ``ValueError`` for bad parameters. ``rest`` answers the exchange's REST
    GETs (``/<name>/...`` without a websocket upgrade) from the same market. ``fast`` is its
    stream in fast mode (None: the exchange has none). ``protocol_ping`` is its protocol-level
    keepalive, sent and checked by the server, not the peer (None: the exchange sends none).
    """

    name: str
    peer: PeerFactory
    commands: Mapping[str, Command] = field(default_factory=dict)
    rest: RestHandler | None = None
    products: tuple[Product, ...] = tuple(PRODUCTS.values())
    fast: FastSpec | None = None
    protocol_ping: ProtocolPing | None = None
