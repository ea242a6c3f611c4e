"""One reference price per base currency, shared by every simulated venue of the process.

Real venues quote one market: BTC costs about the same everywhere, venues differ by a few basis
points, and a quote currency is the USD price times an exchange rate. So the simulator walks
one USD price per base (``BTC``, ``ETH``, ...) here, and each venue's ``PairMarket`` only adds
its own basis, noise and spread on top (see ``simulator.market``).

The walk is a pure function of (seed, base, time since ``origin``): time is cut into
``STEP``-second steps, and the log price follows a slowly mean-reverting Gaussian walk drawn
from generators seeded per base and per minute-long block of steps. Whichever engine asks
first, from whichever thread, and in whatever order, every venue sees the same price for the
same moment, and a run with the same seed replays the same path relative to its start.
Moments before ``origin`` (the history a venue shows at start-up) come from an independent
walk backwards from the same starting point. Thread-safe: engines on different threads share
one instance.
"""

from __future__ import annotations

import math
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from simulator.catalogue import BASE_USD, QUOTE_RATES, Product, split_pair

STEP = 0.25  # seconds per step of the reference walk
VOLATILITY = 0.0001  # relative standard deviation per sqrt(second): about 3 % a day, like BTC
_HALF_LIFE = 7 * 86400.0  # seconds for a deviation of the log price from the catalogue to halve
_BLOCK = 240  # steps generated at once (one minute), each block from its own seeded generator
_CACHED_BLOCKS = 16  # per base and direction: the present, and the history venues show at start
# the day a venue reports at start (open/high/low 24 h), around the price at ``origin``
_DAY_OPEN_SPREAD = 0.02
_DAY_RANGE_SPREAD = 0.01


@dataclass(frozen=True, slots=True)
class DayRange:
    """Open, high and low of the 24 h before ``origin``, in USD, shared by every venue."""

    open: float
    high: float
    low: float


class _Walk:
    """The log price at step ``n >= 0`` of one base in one direction of time.

    The log prices at block boundaries form a coarse chain (one draw per block, the exact
    Ornstein-Uhlenbeck transition over ``_BLOCK`` steps, from one generator in order), so
    reaching a moment days away costs one draw per minute. Inside a block the steps come from
    the block's own generator, bent linearly to end where the chain says (a bridge), so a block
    reads the same whenever it is built.
    """

    def __init__(self, key: str, decay: float, sigma: float) -> None:
        self._key = key
        self._decay = decay
        self._sigma = sigma
        self._block_decay = decay**_BLOCK
        self._block_sigma = sigma * math.sqrt((1 - decay ** (2 * _BLOCK)) / (1 - decay**2))
        self._chain = random.Random(f"{key}:blocks")
        self._starts = [0.0]  # the log price at the first step of each block reached so far
        self._blocks: OrderedDict[int, list[float]] = OrderedDict()

    def at(self, n: int) -> float:
        index, offset = divmod(n, _BLOCK)
        while len(self._starts) <= index + 1:
            drawn = self._chain.gauss(0.0, self._block_sigma)
            self._starts.append(self._starts[-1] * self._block_decay + drawn)
        values = self._blocks.get(index)
        if values is None:
            values = self._generate(index)
        else:
            self._blocks.move_to_end(index)
        return values[offset]

    def _generate(self, index: int) -> list[float]:
        rng = random.Random(f"{self._key}:{index}")
        value = self._starts[index]
        path = []
        for _ in range(_BLOCK):
            path.append(value)
            value = value * self._decay + rng.gauss(0.0, self._sigma)
        miss = self._starts[index + 1] - value  # bend the free path to end on the chain
        values = [point + miss * step / _BLOCK for step, point in enumerate(path)]
        self._blocks[index] = values
        if len(self._blocks) > _CACHED_BLOCKS:
            self._blocks.popitem(last=False)
        return values


class Reference:
    """The USD price of every base at any moment; one instance per simulator process."""

    def __init__(self, seed: int, origin: datetime, *, volatility: float = VOLATILITY) -> None:
        self.seed = seed
        self.origin = origin
        self._decay = 0.5 ** (STEP / _HALF_LIFE)
        self._sigma = volatility * math.sqrt(STEP)
        self._lock = threading.Lock()
        self._start: dict[str, float] = {base: float(price) for base, price in BASE_USD.items()}
        self._walks: dict[tuple[str, int], _Walk] = {}
        self._days: dict[str, DayRange] = {}

    def usd(self, base: str, moment: datetime) -> float:
        """The reference USD price of ``base`` at ``moment`` (before or after ``origin``)."""
        step = math.floor((moment - self.origin).total_seconds() / STEP)
        direction = 1 if step >= 0 else -1
        with self._lock:
            walk = self._walk(base, direction)
            return self._start[base] * math.exp(walk.at(abs(step)))

    def rate(self, product: Product) -> tuple[str, float]:
        """``(base, quote units per USD)`` for a listed product.

        Bases and quotes of the catalogue use its prices and rates. A venue may list a product
        the catalogue lacks: its base then starts at the product's price (converted when the
        quote is known), and an unknown quote gets the rate that makes the product's start
        price the reference price.
        """
        base, quote = split_pair(product.pair)
        start = float(product.start_price)
        with self._lock:
            if base not in self._start:
                self._start[base] = start / float(QUOTE_RATES.get(quote, Decimal(1)))
            known = QUOTE_RATES.get(quote)
            return base, float(known) if known is not None else start / self._start[base]

    def day(self, base: str) -> DayRange:
        """The 24 h before ``origin`` (same for every venue, each adds its own basis)."""
        now = self.usd(base, self.origin)
        with self._lock:
            if base not in self._days:
                rng = random.Random(f"{self.seed}:reference:{base}:day")
                opened = now * math.exp(rng.gauss(0.0, _DAY_OPEN_SPREAD))
                high = max(opened, now) * (1 + abs(rng.gauss(0.0, _DAY_RANGE_SPREAD)))
                low = min(opened, now) * (1 - abs(rng.gauss(0.0, _DAY_RANGE_SPREAD)))
                self._days[base] = DayRange(opened, high, low)
            return self._days[base]

    def _walk(self, base: str, direction: int) -> _Walk:
        walk = self._walks.get((base, direction))
        if walk is None:
            if base not in self._start:
                raise KeyError(f"no reference price for {base}")
            key = f"{self.seed}:reference:{base}:{direction}"
            walk = self._walks[base, direction] = _Walk(key, self._decay, self._sigma)
        return walk
