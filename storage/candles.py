"""Candles: open, high, low, close, volume and trade count per exchange, pair and time interval.

Storage keeps one-minute candles, built from trades by the exchange's trade time on UTC minute
boundaries; coarser intervals (``5m``, ``15m``, ``1h``) are aggregated from them when asked.
Everything here is pure (no I/O): ``storage.store`` reads and writes the rows.

One operation builds every candle: ``Candle.merge``. A trade is a candle of one trade, a minute is
the merge of its trades, an hour the merge of its minutes. ``merge`` is commutative and
associative, so a candle does not depend on the order trades arrive in, how they were batched or
whether it was kept up to date trade by trade or rebuilt from the stored trades:

- open is the price of the minute's earliest trade and close of its latest, by exchange time
  (milliseconds); trades of the same millisecond are ordered by their trade id (numerically
  when it is a number, as most exchanges number their trades, else as text), so a late trade
  that arrives out of order still lands where it happened;
- high and low are compared as exact decimals; of equal prices written differently (``100.0``
  and ``100.00``) the shortest text wins, so even the text does not depend on the order;
- volume is the exact sum of the amounts (``Decimal`` without rounding), trades the count.

Prices and volume stay exact decimal strings, as everywhere in storage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    Context,
    Decimal,
    Inexact,
    InvalidOperation,
    localcontext,
)
from itertools import groupby
from typing import Any, Protocol

from exchanges.records import format_time

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)
MINUTE_MS = 60_000
INTERVALS: dict[str, int] = {
    "1m": MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
}
# volume sums never round: a rounding would raise instead of passing silently
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, Inexact])
# the longest trade id read as a number (Python refuses int() of more than 4300 digits)
_MAX_NUMERIC_ID = 40

TradeOrder = tuple[int, int, int, str]


class TradeLike(Protocol):
    """A stored trade row (or anything with these attributes)."""

    exchange: str
    pair: str
    time_ms: int
    trade_id: str
    price: str
    amount: str


def interval_ms(interval: str) -> int:
    """The length of ``1m``, ``5m``, ``15m`` or ``1h`` in milliseconds."""
    try:
        return INTERVALS[interval]
    except KeyError:
        raise ValueError(f"unknown interval {interval!r}: one of {', '.join(INTERVALS)}"
                         ) from None


def floor_to(ms: int, step: int) -> int:
    """The start of the ``step``-long UTC interval holding ``ms`` (epoch milliseconds)."""
    return ms - ms % step


def ceil_to(ms: int, step: int) -> int:
    """The first ``step`` boundary at or after ``ms``."""
    return -floor_to(-ms, step)


def trade_order(time_ms: int, trade_id: str) -> TradeOrder:
    """Where a trade falls within its minute: by time, then by trade id, numbers as numbers."""
    if trade_id.isascii() and trade_id.isdigit() and len(trade_id) <= _MAX_NUMERIC_ID:
        return (time_ms, 0, int(trade_id), trade_id)
    return (time_ms, 1, 0, trade_id)


def higher(a: str, b: str) -> str:
    """The higher of two exact prices; of equal ones the shortest text (then the smallest)."""
    da, db = Decimal(a), Decimal(b)
    if da != db:
        return a if da > db else b
    return min(a, b, key=_text_order)


def lower(a: str, b: str) -> str:
    """The lower of two exact prices; of equal ones the shortest text (then the smallest)."""
    da, db = Decimal(a), Decimal(b)
    if da != db:
        return a if da < db else b
    return min(a, b, key=_text_order)


def _text_order(text: str) -> tuple[int, str]:
    return (len(text), text)


def add_exact(a: Decimal, b: Decimal) -> Decimal:
    """``a + b`` with every digit kept."""
    return EXACT.add(a, b)


@dataclass(slots=True)
class Candle:
    """One candle of one feed; ``start_ms`` is its start, ``open_*``/``close_*`` name the trades
    (exchange time, trade id) its open and close came from, so later trades can be placed."""

    exchange: str
    pair: str
    start_ms: int
    open: str
    high: str
    low: str
    close: str
    volume: Decimal
    trades: int
    open_ms: int
    open_id: str
    close_ms: int
    close_id: str

    @classmethod
    def of_trades(cls, trades: Sequence[TradeLike], step: int = MINUTE_MS) -> Candle:
        """The candle of trades of one feed and one ``step``-long interval (at least one): the
        same as merging their single-trade candles, in one pass."""
        orders = [trade_order(trade.time_ms, trade.trade_id) for trade in trades]
        first = trades[orders.index(min(orders))]
        last = trades[orders.index(max(orders))]
        prices = [trade.price for trade in trades]
        values = [Decimal(price) for price in prices]
        top, bottom = max(values), min(values)
        with localcontext(EXACT):
            volume = sum((Decimal(trade.amount) for trade in trades), Decimal(0))
        return cls(first.exchange, first.pair, floor_to(first.time_ms, step), first.price,
                   min((p for p, v in zip(prices, values, strict=True) if v == top),
                       key=_text_order),
                   min((p for p, v in zip(prices, values, strict=True) if v == bottom),
                       key=_text_order),
                   last.price, volume, len(trades), first.time_ms, first.trade_id,
                   last.time_ms, last.trade_id)

    @classmethod
    def from_row(cls, row: Any) -> Candle:
        """A stored candle row (``storage.store.candles_table``)."""
        return cls(row.exchange, row.pair, row.time_ms, row.open, row.high, row.low, row.close,
                   Decimal(row.volume), row.trades, row.open_ms, row.open_id, row.close_ms,
                   row.close_id)

    def merge(self, other: Candle, start_ms: int | None = None) -> Candle:
        """The candle covering both (same exchange and pair), starting at ``start_ms`` (by
        default the earlier start)."""
        first = self if self.open_order() <= other.open_order() else other
        last = self if self.close_order() >= other.close_order() else other
        return Candle(
            self.exchange, self.pair,
            min(self.start_ms, other.start_ms) if start_ms is None else start_ms,
            first.open, higher(self.high, other.high), lower(self.low, other.low), last.close,
            add_exact(self.volume, other.volume), self.trades + other.trades,
            first.open_ms, first.open_id, last.close_ms, last.close_id,
        )

    def open_order(self) -> TradeOrder:
        return trade_order(self.open_ms, self.open_id)

    def close_order(self) -> TradeOrder:
        return trade_order(self.close_ms, self.close_id)

    @property
    def feed_start(self) -> tuple[str, str, int]:
        return (self.exchange, self.pair, self.start_ms)

    def row(self) -> dict[str, Any]:
        """The values of a ``candles`` row (see ``storage.store.candles_table``)."""
        return {
            "exchange": self.exchange,
            "pair": self.pair,
            "time_ms": self.start_ms,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": format(self.volume, "f"),
            "trades": self.trades,
            "open_ms": self.open_ms,
            "open_id": self.open_id,
            "close_ms": self.close_ms,
            "close_id": self.close_id,
        }

    def to_json(self) -> dict[str, Any]:
        """The API record: ``time`` the candle's start, prices and volume exact strings."""
        return {
            "exchange": self.exchange,
            "pair": self.pair,
            "time": format_time(EPOCH + self.start_ms * ONE_MS),
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": format(self.volume, "f"),
            "trades": self.trades,
        }


def add_trades(candles: dict[tuple[str, str, int], Candle], trades: Iterable[TradeLike]
               ) -> dict[tuple[str, str, int], Candle]:
    """Fold trades into one-minute candles keyed by (exchange, pair, start); returns ``candles``."""
    minutes: dict[tuple[str, str, int], list[TradeLike]] = defaultdict(list)
    for trade in trades:
        minutes[trade.exchange, trade.pair, trade.time_ms - trade.time_ms % MINUTE_MS].append(trade)
    for key, group in minutes.items():
        candle = Candle.of_trades(group)
        known = candles.get(key)
        candles[key] = candle if known is None else known.merge(candle)
    return candles


def minute_candles(trades: Iterable[TradeLike]) -> Iterator[Candle]:
    """The one-minute candles of trades sorted by (exchange, pair, time), one minute at a time
    (for a rebuild that streams every stored trade without holding them all)."""
    for _, group in groupby(trades, key=_feed_minute):
        yield Candle.of_trades(list(group))


def _feed_minute(trade: TradeLike) -> tuple[str, str, int]:
    return (trade.exchange, trade.pair, trade.time_ms - trade.time_ms % MINUTE_MS)


def aggregate(candles: Iterable[Candle], step: int) -> list[Candle]:
    """Merge one-minute candles into ``step``-long ones (UTC-aligned), sorted by start, then
    exchange and pair."""
    buckets: dict[tuple[str, str, int], Candle] = {}
    for candle in candles:
        start = floor_to(candle.start_ms, step)
        key = (candle.exchange, candle.pair, start)
        known = buckets.get(key)
        buckets[key] = (replace(candle, start_ms=start) if known is None
                        else known.merge(candle, start))
    return sorted(buckets.values(), key=lambda c: (c.start_ms, c.exchange, c.pair))
