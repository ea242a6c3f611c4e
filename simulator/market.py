"""Each venue's market per pair, quoting the process's one reference market, in exact decimals.

Pure state machine: no threads, no sockets, no wall clock of its own (a ``clock`` is injected).
Every venue (one ``Market`` per engine) reads the shared ``Reference`` price of the pair's base,
converts it to the quote, and adds three things of its own: a basis fixed per venue from the
seed (a few basis points), a slowly wandering noise, and its spread. So venues move together
and differ by basis points, and now and then one venue's bid rises above another's ask, as on
real markets. The engine calls ``PairMarket.random_trade()`` at the configured rate, which
re-centres the venue's book on the reference at that moment and prints a taker trade at the
touch; ``trade()`` / ``set_quote()`` set exactly the values a test injects; protocol peers only
read ``state()``. Given the same seed and the same clock readings, a pair prints the same
prices, sizes and ids, whatever else runs: each pair owns its own ``random.Random`` and the
reference is a pure function of the seed and the time.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum

from simulator.catalogue import SIZE_STEP, Product
from simulator.reference import Reference

Clock = Callable[[], datetime]

HISTORY = 30  # trades kept per pair: what a Bitfinex trades snapshot returns
_HISTORY_SPACING = timedelta(seconds=20)
# Tuned so that nine venues trading about twice a second per pair keep their mids within a few
# basis points, and the best bid across venues tops the best ask now and then (under 1 % to
# about 15 % of the time for BTC-USD, by seed; less for coins whose tick is a basis point or
# more), mostly when a quiet venue's book is a second or two behind the reference.
BASIS = 0.00015  # a venue's fixed basis is uniform in +-BASIS (relative: 1.5 basis points)
HALF_SPREAD = (0.0002, 0.0004)  # a venue's typical half spread, relative (2 to 4 bp)
NOISE = 0.00004  # standard deviation of a venue's own wander around reference + basis
NOISE_TIME = 20.0  # seconds for that wander to forget its past (Ornstein-Uhlenbeck time)
_MIN_TICKS = 10  # a book never goes below this many ticks


@dataclass(frozen=True, slots=True)
class Venue:
    """How one exchange sits against the reference: fixed for a run, drawn from the seed."""

    name: str
    basis: float = 0.0  # relative premium over the reference (0.0001 = 1 basis point)
    half_spread: float = sum(HALF_SPREAD) / 2  # relative distance of bid and ask from the mid

    @classmethod
    def draw(cls, name: str, seed: int) -> Venue:
        """The venue ``name`` of the market seeded ``seed``."""
        rng = random.Random(f"{seed}:{name}:venue")
        return cls(name, rng.uniform(-BASIS, BASIS), rng.uniform(*HALF_SPREAD))


class Side(StrEnum):
    """Which side the taker of a trade was on."""

    BUY = "buy"
    SELL = "sell"


class UnknownPair(KeyError):
    """The pair is not listed on this exchange; protocol modules turn it into their error."""


@dataclass(frozen=True, slots=True)
class Trade:
    """One executed trade, shared by every connection that sees it."""

    id: int
    time: datetime
    price: Decimal
    size: Decimal  # always positive; the direction is ``side``
    side: Side  # the taker's side
    sequence: int  # the pair's feed sequence number when it printed (Coinbase ``sequence``)


@dataclass(frozen=True, slots=True)
class PairState:
    """Everything a ticker of either exchange needs, read in one consistent copy."""

    pair: str
    bid: Decimal
    bid_size: Decimal
    ask: Decimal
    ask_size: Decimal
    last: Decimal
    open_24h: Decimal
    high_24h: Decimal
    low_24h: Decimal
    volume_24h: Decimal
    volume_30d: Decimal
    sequence: int  # bumped by every trade and book change, as Coinbase's per-product sequence
    last_trade: Trade
    recent: tuple[Trade, ...]  # newest first, at most HISTORY


class PairMarket:
    """One pair on one venue: the reference price plus the venue's basis, noise and spread.

    Prices live on the product's tick grid; sizes have at most 8 decimals. Not thread-safe:
    the engine holds its exchange lock around every call (the reference has its own lock).
    """

    def __init__(
        self,
        product: Product,
        rng: random.Random,
        clock: Clock,
        *,
        reference: Reference | None = None,
        venue: Venue | None = None,
    ) -> None:
        self.product = product
        self._rng = rng
        self._clock = clock
        self.reference = reference or Reference(rng.getrandbits(32), clock())
        self.venue = venue or Venue("")
        self._base, self._rate = self.reference.rate(product)
        self._next_id = rng.randint(10**8, 2 * 10**9)
        self._sequence = rng.randint(10**9, 9 * 10**10)
        self._recent: deque[Trade] = deque(maxlen=HISTORY)
        # the venue's day: the reference's, shifted by its basis; then its last few minutes
        first = clock() - _HISTORY_SPACING * HISTORY
        self._noise = rng.gauss(0.0, NOISE)
        self._noise_at = first
        self._bid, self._ask = self._book_around(self._mid(first))
        self._bid_size = self._random_size(self._bid)
        self._ask_size = self._random_size(self._bid)
        self._last = self._bid
        day = self.reference.day(self._base)
        shift = self._rate * (1 + self.venue.basis)
        self._open = self._on_grid(Decimal(repr(day.open * shift)))
        self._high = self._on_grid(Decimal(repr(day.high * shift)), ROUND_CEILING)
        self._low = self._on_grid(Decimal(repr(day.low * shift)))
        usd_volume = rng.uniform(5e6, 5e7)
        self._volume = (Decimal(repr(usd_volume)) / self._bid).quantize(SIZE_STEP)
        self._volume_30d = (self._volume * Decimal(rng.randint(20, 35))).quantize(SIZE_STEP)
        for index in range(HISTORY):
            self._step(first + _HISTORY_SPACING * index)

    # Public methods

    def state(self) -> PairState:
        """A consistent copy of the pair's book, last trade and 24 h statistics."""
        return PairState(
            pair=self.product.pair,
            bid=self._bid,
            bid_size=self._bid_size,
            ask=self._ask,
            ask_size=self._ask_size,
            last=self._last,
            open_24h=self._open,
            high_24h=self._high,
            low_24h=self._low,
            volume_24h=self._volume,
            volume_30d=self._volume_30d,
            sequence=self._sequence,
            last_trade=self._recent[0],
            recent=tuple(self._recent),
        )

    def random_trade(self) -> Trade:
        """Re-centre the book on the reference (plus basis and noise) and print a taker trade
        at the touch. A book or last price set by ``trade``/``set_quote`` lasts until then."""
        return self._step(self._clock())

    def trade(self, price: Decimal, size: Decimal, side: Side) -> Trade:
        """Print a trade with exactly these values (the control API's injection).

        The book is left alone unless the price lies outside it; then the side the trade went
        through moves to the trade price, so the book never shows a bid above a print's ask.
        """
        if price <= 0 or size <= 0:
            raise ValueError("price and size must be positive")
        if price > self._ask:
            self._ask = price
        elif price < self._bid:
            self._bid = price
        return self._print(self._clock(), price, size, side)

    def set_quote(
        self,
        *,
        bid: Decimal | None = None,
        ask: Decimal | None = None,
        last: Decimal | None = None,
        bid_size: Decimal | None = None,
        ask_size: Decimal | None = None,
    ) -> PairState:
        """Set the top of book and/or the last price without a trade (control API ``ticker``).

        Raises ``ValueError`` for a crossed book or a non-positive value, leaving state as it was.
        """
        new_bid = self._bid if bid is None else bid
        new_ask = self._ask if ask is None else ask
        given = [value for value in (bid, ask, last, bid_size, ask_size) if value is not None]
        if any(value <= 0 for value in given):
            raise ValueError("prices and sizes must be positive")
        if new_bid >= new_ask:
            raise ValueError(f"crossed book: bid {new_bid} >= ask {new_ask}")
        self._bid, self._ask = new_bid, new_ask
        self._bid_size = self._bid_size if bid_size is None else bid_size
        self._ask_size = self._ask_size if ask_size is None else ask_size
        if last is not None:
            self._last = last
            self._high = max(self._high, last)
            self._low = min(self._low, last)
        self._sequence += self._rng.randint(1, 5)
        return self.state()

    def reserve(self, count: int) -> tuple[int, int]:
        """Set aside ``count`` trade ids and sequence numbers for trades sent outside this
        market (fast mode's pre-formatted copies of its moments, ``simulator.fast``); returns
        the first of each. The market's own later trades number after them, so no id is used
        twice."""
        first_id, first_sequence = self._next_id, self._sequence + 1
        self._next_id += count
        self._sequence += count
        return first_id, first_sequence

    # Private methods

    def _step(self, moment: datetime) -> Trade:
        self._bid, self._ask = self._book_around(self._mid(moment))
        self._bid_size = self._random_size(self._bid)
        self._ask_size = self._random_size(self._bid)
        side = Side.BUY if self._rng.random() < 0.5 else Side.SELL
        price = self._ask if side is Side.BUY else self._bid
        return self._print(moment, price, self._random_size(self._bid), side)

    def _print(self, moment: datetime, price: Decimal, size: Decimal, side: Side) -> Trade:
        self._sequence += self._rng.randint(1, 40)
        trade = Trade(self._next_id, moment, price, size, side, self._sequence)
        self._next_id += self._rng.randint(1, 3)
        self._recent.appendleft(trade)
        self._last = price
        self._high = max(self._high, price)
        self._low = min(self._low, price)
        self._volume += size
        self._volume_30d += size
        return trade

    def _mid(self, moment: datetime) -> float:
        """Where this venue's mid is at ``moment``: reference, quote rate, basis and noise."""
        elapsed = (moment - self._noise_at).total_seconds()
        if elapsed > 0:  # Ornstein-Uhlenbeck: forget the old noise over NOISE_TIME seconds
            keep = math.exp(-elapsed / NOISE_TIME)
            fresh = self._rng.gauss(0.0, NOISE * math.sqrt(1 - keep * keep))
            self._noise = self._noise * keep + fresh
            self._noise_at = moment
        reference = self.reference.usd(self._base, moment) * self._rate
        return reference * (1 + self.venue.basis + self._noise)

    def _book_around(self, mid: float) -> tuple[Decimal, Decimal]:
        """Bid and ask about the venue's half spread from ``mid``, at least a tick apart."""
        tick = self.product.tick
        half = mid * self.venue.half_spread * self._rng.uniform(0.6, 1.4)
        bid = max(self._on_grid(Decimal(repr(mid - half))), tick * _MIN_TICKS)
        ask = self._on_grid(Decimal(repr(mid + half)), ROUND_CEILING)
        return bid, max(ask, bid + tick)

    def _on_grid(self, price: Decimal, rounding: str = ROUND_FLOOR) -> Decimal:
        tick = self.product.tick
        return (price / tick).to_integral_value(rounding=rounding) * tick

    def _random_size(self, price: Decimal) -> Decimal:
        usd = Decimal(repr(self._rng.lognormvariate(5.5, 1.2)))  # median ~ $250 a trade
        size = max((usd / price).quantize(SIZE_STEP), SIZE_STEP).normalize()
        # normalize() writes 100 as 1E+2; keep the plain integer form
        return size.quantize(Decimal(1)) if size == size.to_integral_value() else size


class Market:
    """Every listed pair of one venue, quoting the shared reference with the venue's basis.

    ``reference`` is the process's one reference market (``SimulatorServer`` passes the same
    instance to every engine); without one, the market gets its own, starting at ``clock()``.
    Each pair walks its noise and sizes on its own seeded generator.
    """

    def __init__(
        self,
        exchange: str,
        products: Iterable[Product],
        seed: int,
        clock: Clock,
        reference: Reference | None = None,
    ) -> None:
        self.exchange = exchange
        self.reference = reference or Reference(seed, clock())
        self.venue = Venue.draw(exchange, seed)
        self._pairs = {
            product.pair: PairMarket(
                product,
                random.Random(f"{seed}:{exchange}:{product.pair}"),
                clock,
                reference=self.reference,
                venue=self.venue,
            )
            for product in products
        }

    def knows(self, pair: str) -> bool:
        """Whether the exchange lists ``pair``; protocols reject subscriptions to anything else."""
        return pair in self._pairs

    def pair(self, pair: str) -> PairMarket:
        """The walk of ``pair``; raises ``UnknownPair`` if the exchange does not list it."""
        try:
            return self._pairs[pair]
        except KeyError:
            raise UnknownPair(pair) from None

    def state(self, pair: str) -> PairState:
        """Shortcut for ``pair(pair).state()``, which is what protocol peers read."""
        return self.pair(pair).state()
