"""One simulated exchange while the server runs: its market, its connections and their peers.

The engine is the only place where market and protocol state meet threads. Every public
method takes the exchange's lock, so the reader threads (client frames), the clock thread
(random trades, heartbeats) and control requests (injections) see one consistent market and
peers never run concurrently. Actions are handed to each connection's ``Link``, which queues
them without blocking; the socket writes happen on the link's own sender thread. In fast mode
(``simulator.fast``) the pacer thread hands the engine pre-formatted frames the same way.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Protocol, TypeVar

from simulator.market import Market, PairState, Side, Trade
from simulator.peer import (
    Action,
    Burst,
    ExchangeSpec,
    FastStep,
    Peer,
    PeerOptions,
    ProtocolPing,
    RestReply,
)
from simulator.reference import Reference

# What a REST request gets while ``fail_rest`` is in force: an overloaded exchange.
REST_FAILURE = RestReply(503, {"message": "Service Unavailable (simulated)"})


class Link(Protocol):
    """The server side of one websocket, as the engine needs it."""

    peer: Peer

    def deliver(self, actions: Iterable[Action]) -> None:
        """Queue actions for the sender thread; must not block."""

    def abort(self) -> None:
        """Shut the TCP connection at once, without a close frame."""


L = TypeVar("L", bound=Link)
# fast mode: (channel, pair) -> [(link, text before the body, text after it)]
Routes = dict[tuple[str, str], list[tuple[Link, str, str]]]


class FastFeed(Protocol):
    """One pair's fast-mode stream as the engine drives it (``simulator.fast.FastFeed``)."""

    pair: str

    def next_frame(self, market: Market, now: float) -> tuple[FastStep, str]:
        """The next step of the round and its body, rendered for a frame sent at ``now``."""

    def reached(self, step: FastStep) -> None:
        """The frame of ``step`` went to at least one connection."""


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class Engine:
    """Live state of one simulated exchange (see the module docstring for the threading rules)."""

    def __init__(
        self,
        spec: ExchangeSpec,
        *,
        seed: int,
        rate: float,
        options: PeerOptions,
        clock: Callable[[], datetime] = _wall_clock,
        reference: Reference | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        # ``reference``: the market all engines of the process quote (their own one if None)
        self.market = Market(spec.name, spec.products, seed, clock, reference)
        self._seed = seed
        self._options = options
        # the protocol pings the server sends this exchange's connections (None: none)
        self.protocol_ping: ProtocolPing | None = (
            spec.protocol_ping.with_options(options) if spec.protocol_ping else None)
        self._lock = threading.Lock()
        self._links: list[Link] = []
        self._rate = rate
        self._pace = random.Random(f"{seed}:{spec.name}:pace")  # when random trades happen
        self._connections_opened = 0
        self._pings_of_closed = 0  # keepalives counted by peers whose connections have closed
        self._protocol_pings = 0  # protocol pings the server sent (``protocol_ping``)
        self._protocol_pongs = 0  # ... that a pong with their payload answered
        self._pong_timeouts = 0  # connections closed because a ping went unanswered
        self._silent_until = 0.0
        self._sent = 0
        self._silenced = 0
        self._fast_sent = 0  # fast-mode frames written (``Burst``s), part of ``_sent``
        self._changes = 0  # connections opened, closed or heard from: fast routes may differ
        self._routes: Routes = {}
        self._routes_at = -1  # ``_changes`` when ``_routes`` was built
        self._rest_requests = 0
        self._rest_failures_left = 0
        self._rest_failure = REST_FAILURE

    # Connections

    def open(self, link_factory: Callable[[Peer], L], now: float) -> L:
        """Create the peer for a new connection, wrap it in a link and send its greeting."""
        with self._lock:
            self._connections_opened += 1
            self._changes += 1
            rng = random.Random(f"{self._seed}:{self.name}:connection:{self._connections_opened}")
            peer = self.spec.peer(self.market, rng, self._options, now)
            link = link_factory(peer)
            self._links.append(link)
            link.deliver(peer.opened(now))
            return link

    def close(self, link: Link) -> None:
        """Forget a connection whose socket has closed (called from its reader thread)."""
        with self._lock:
            if link in self._links:
                self._changes += 1
                self._links.remove(link)
                self._pings_of_closed += _pings(link.peer)

    def receive(self, link: Link, text: str, now: float) -> None:
        """Hand one client frame to the connection's peer and queue its answer."""
        with self._lock:
            self._changes += 1  # the frame may have changed the connection's subscriptions
            link.deliver(link.peer.receive(text, now))

    # REST

    def rest(self, parts: list[str], params: dict[str, str]) -> RestReply:
        """Answer one REST GET from the current market (404 if the exchange has no REST)."""
        with self._lock:
            self._rest_requests += 1
            if self._rest_failures_left > 0:
                self._rest_failures_left -= 1
                return self._rest_failure
            if self.spec.rest is None:
                return RestReply(404, {"error": f"{self.name} has no REST API here"})
            return self.spec.rest(self.market, parts, params)

    def fail_rest(self, count: int, status: int) -> None:
        """Make the next ``count`` REST requests fail with HTTP ``status`` (retry tests)."""
        with self._lock:
            self._rest_failures_left = count
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = f"HTTP {status}"
            self._rest_failure = RestReply(status, {"message": f"{phrase} (simulated)"})

    # Clock

    def tick(self, now: float, elapsed: float) -> None:
        """Advance timers and print random trades; called by the server clock every ~50 ms.

        Each subscribed pair trades ``rate`` times a second on average; a pair nobody watches
        does not move, so a seeded run's prices depend only on what was subscribed.
        """
        with self._lock:
            if self._rate > 0:
                for pair in self._watched_pairs():
                    expected = self._rate * elapsed
                    count = int(expected) + (self._pace.random() < expected % 1)
                    for _ in range(count):
                        self._publish_trade(pair, self.market.pair(pair).random_trade(), now)
            for link in self._links:
                link.deliver(link.peer.tick(now))

    # Control

    def inject_trade(
        self, pair: str, price: Decimal, size: Decimal, side: Side, now: float
    ) -> Trade:
        """Print a trade with exactly these values and send it to every subscriber."""
        with self._lock:
            trade = self.market.pair(pair).trade(price, size, side)
            self._publish_trade(pair, trade, now)
            return trade

    def set_quote(self, pair: str, now: float, **values: Decimal | None) -> PairState:
        """Set top of book / last price (see ``PairMarket.set_quote``) and send tickers."""
        with self._lock:
            state = self.market.pair(pair).set_quote(**values)
            for link in self._links:
                link.deliver(link.peer.on_quote(pair, now))
            return state

    def state(self, pair: str) -> PairState:
        """The pair's current market state (raises ``UnknownPair``)."""
        with self._lock:
            return self.market.state(pair)

    def broadcast(self, actions: list[Action]) -> int:
        """Queue the same actions on every connection; returns how many got them."""
        with self._lock:
            for link in self._links:
                link.deliver(actions)
            return len(self._links)

    def links(self) -> list[Link]:
        """A copy of the open connections, for drops that must not run under the lock."""
        with self._lock:
            return list(self._links)

    def silence(self, seconds: float, now: float) -> None:
        """Make every connection, existing or new, send nothing until ``now + seconds``."""
        with self._lock:
            self._silent_until = now + seconds

    def is_silent(self, now: float) -> bool:
        """Whether frames due now must be swallowed (asked by the sender threads)."""
        with self._lock:
            return now < self._silent_until

    def set_rate(self, rate: float) -> None:
        """Random trades per second per subscribed pair; 0 leaves the market to injections."""
        with self._lock:
            self._rate = rate

    def count_sent(self, silenced: bool, frames: int = 1, fast: bool = False) -> None:
        """Tally frames the sender wrote, or swallowed because of ``silence``; ``fast``: they
        were fast mode's."""
        with self._lock:
            if silenced:
                self._silenced += frames
            else:
                self._sent += frames
                if fast:
                    self._fast_sent += frames

    def count_protocol(self, *, pings: int = 0, pongs: int = 0, timeouts: int = 0) -> None:
        """Tally protocol pings sent, pings answered by their pong, and connections closed for
        a pong that never came (called by the links, outside the lock)."""
        with self._lock:
            self._protocol_pings += pings
            self._protocol_pongs += pongs
            self._pong_timeouts += timeouts

    # Fast mode (``simulator.fast``)

    def fast_publish(self, feeds: Sequence[FastFeed], clock: Callable[[], float] = time.time
                     ) -> None:
        """Send each feed's next frame, in order, to every connection subscribed to its channel
        and pair, wrapped as the connection's peer asks (``Peer.fast_wrap``): one ``Burst`` per
        connection, queued behind what it already has."""
        with self._lock:
            routes = self._fast_routes()
            bursts: dict[Link, list[str]] = {}
            used: set[tuple[str, str]] = set()
            now = clock()
            for feed in feeds:
                now = clock()
                step, body = feed.next_frame(self.market, now)
                route = (step.channel, feed.pair)
                targets = routes.get(route)
                if not targets:
                    continue
                feed.reached(step)
                used.add(route)
                for link, prefix, suffix in targets:
                    text = prefix + body + suffix if prefix or suffix else body
                    if (texts := bursts.get(link)) is None:
                        bursts[link] = [text]
                    else:
                        texts.append(text)
            for link, texts in bursts.items():
                link.deliver([Burst(texts)])
            for channel, pair in used:
                for link, _, _ in routes[channel, pair]:
                    link.peer.fast_sent(channel, pair, now)

    def fast_pairs(self) -> list[str]:
        """The pairs some connection is subscribed to, sorted: fast mode's feeds."""
        with self._lock:
            return sorted({pair for _, pair in self._fast_routes()})

    def fast_backlog(self) -> int:
        """The most fast frames one connection has queued and not written yet."""
        with self._lock:
            return self._backlog()

    def fast_stats(self) -> dict[str, int]:
        """Fast mode's counters: frames written (all, and the fast ones), the most fast frames
        one connection has queued but not written yet, connections and subscriptions."""
        with self._lock:
            return {
                "frames": self._sent,
                "fast_frames": self._fast_sent,
                "backlog": self._backlog(),
                "connections": len(self._links),
                "subscriptions": sum(len(link.peer.subscriptions()) for link in self._links),
            }

    def stats(self, now: float) -> dict[str, object]:
        """Counters for ``/control/stats``; tests poll it to know a connection is registered."""
        with self._lock:
            subscriptions = [sub for link in self._links for sub in link.peer.subscriptions()]
            channels: dict[str, set[str]] = {}
            for channel, pair in subscriptions:
                channels.setdefault(channel, set()).add(pair)
            return {
                "connections": len(self._links),
                "subscriptions": len(subscriptions),
                "channels": {name: sorted(pairs) for name, pairs in sorted(channels.items())},
                "frames_sent": self._sent,
                "frames_silenced": self._silenced,
                "rate": self._rate,
                "silent_for": round(max(0.0, self._silent_until - now), 3),
                "rest_requests": self._rest_requests,
                "rest_failures_left": self._rest_failures_left,
                # client keepalives received, where the protocol has them (``Peer.pings``)
                "pings": self._pings_of_closed + sum(_pings(link.peer) for link in self._links),
                # the server's protocol pings, where the exchange has them (``protocol_ping``):
                # sent, answered by a pong with their payload, and connections closed unanswered
                "protocol_pings": self._protocol_pings,
                "protocol_pongs": self._protocol_pongs,
                "pong_timeouts": self._pong_timeouts,
            }

    # Private methods

    def _fast_routes(self) -> Routes:
        """Who gets a fast frame of each (channel, pair); rebuilt after connections changed."""
        if self._routes_at != self._changes:
            routes: Routes = {}
            for link in self._links:
                for channel, pair in dict.fromkeys(link.peer.subscriptions()):
                    wrap = link.peer.fast_wrap(channel, pair)
                    if wrap is not None:
                        routes.setdefault((channel, pair), []).append((link, *wrap))
            self._routes, self._routes_at = routes, self._changes
        return self._routes

    def _backlog(self) -> int:
        return max((getattr(link, "backlog", 0) for link in self._links), default=0)

    def _watched_pairs(self) -> list[str]:
        pairs = {pair for link in self._links for _, pair in link.peer.subscriptions()}
        return sorted(pairs)

    def _publish_trade(self, pair: str, trade: Trade, now: float) -> None:
        for link in self._links:
            link.deliver(link.peer.on_trade(pair, trade, now))


def _pings(peer: Peer) -> int:
    """The application pings a peer has received; 0 for a protocol without them."""
    return getattr(peer, "pings", 0)
