"""A deterministic random-walk market per (exchange, pair), in exact decimals.

Pure state machine: no threads, no sockets, no wall clock of its own (a ``clock`` is injected).
The engine calls ``PairMarket.random_trade()`` at the configured rate and ``trade()`` /
``set_quote()`` for values a test injects; protocol peers only read ``state()``. Given the same
seed, every pair walks through the same prices, sizes and ids in the same order, whatever the
timing, because each pair owns its own ``random.Random``.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

from simulator.catalogue import SIZE_STEP, Product

Clock = Callable[[], datetime]

HISTORY = 30  # trades kept per pair: what a Bitfinex trades snapshot returns
_STEP_VOLATILITY = 0.0003  # standard deviation of one trade's price move, relative
_HISTORY_SPACING = timedelta(seconds=20)


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
    """The random walk of one pair on one exchange.

    Prices move on the product's tick grid; sizes have at most 8 decimals. Not thread-safe:
    the engine holds its exchange lock around every call.
    """

    def __init__(self, product: Product, rng: random.Random, clock: Clock) -> None:
        self.product = product
        self._rng = rng
        self._clock = clock
        self._next_id = rng.randint(10**8, 2 * 10**9)
        self._sequence = rng.randint(10**9, 9 * 10**10)
        self._recent: deque[Trade] = deque(maxlen=HISTORY)
        # a day that opened near the catalogue price, moved a little, and trades around it now
        start = self._on_grid(product.start_price * self._factor(0.004))
        self._bid, self._ask = self._book_around(start)
        self._bid_size = self._random_size(start)
        self._ask_size = self._random_size(start)
        self._last = start
        self._open = self._on_grid(start * self._factor(0.02))
        self._high = self._on_grid(max(self._open, start) * (2 - self._factor(0.01, down=True)))
        self._low = self._on_grid(min(self._open, start) * self._factor(0.01, down=True))
        usd_volume = rng.uniform(5e6, 5e7)
        self._volume = (Decimal(repr(usd_volume)) / start).quantize(SIZE_STEP)
        self._volume_30d = (self._volume * Decimal(rng.randint(20, 35))).quantize(SIZE_STEP)
        first = clock() - _HISTORY_SPACING * HISTORY
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
        """Move the book one random step and print a taker trade at the touch."""
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

    # Private methods

    def _step(self, moment: datetime) -> Trade:
        mid = (self._bid + self._ask) / 2
        moved = mid * self._factor(_STEP_VOLATILITY)
        self._bid, self._ask = self._book_around(max(moved, self.product.tick * 10))
        self._bid_size = self._random_size(mid)
        self._ask_size = self._random_size(mid)
        side = Side.BUY if self._rng.random() < 0.5 else Side.SELL
        price = self._ask if side is Side.BUY else self._bid
        return self._print(moment, price, self._random_size(mid), side)

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

    def _factor(self, sigma: float, *, down: bool = False) -> Decimal:
        """``1 + N(0, sigma)`` as a Decimal; with ``down`` only ever below 1."""
        move = self._rng.gauss(0, sigma)
        return Decimal(repr(1 - abs(move) if down else 1 + move))

    def _book_around(self, mid: Decimal) -> tuple[Decimal, Decimal]:
        bid = self._on_grid(mid)
        return bid, bid + self.product.tick * self._rng.randint(1, 4)

    def _on_grid(self, price: Decimal) -> Decimal:
        return price.quantize(self.product.tick, rounding=ROUND_FLOOR)

    def _random_size(self, price: Decimal) -> Decimal:
        usd = Decimal(repr(self._rng.lognormvariate(5.5, 1.2)))  # median ~ $250 a trade
        size = max((usd / price).quantize(SIZE_STEP), SIZE_STEP).normalize()
        # normalize() writes 100 as 1E+2; keep the plain integer form
        return size.quantize(Decimal(1)) if size == size.to_integral_value() else size


class Market:
    """Every listed pair of one exchange, each walking on its own seeded generator."""

    def __init__(self, exchange: str, products: Iterable[Product], seed: int, clock: Clock) -> None:
        self.exchange = exchange
        self._pairs = {
            product.pair: PairMarket(
                product, random.Random(f"{seed}:{exchange}:{product.pair}"), clock
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
