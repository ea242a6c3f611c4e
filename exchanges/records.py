"""The normalized records every exchange module produces: the one place field names live.

A record is one fact about one feed: a ``Ticker`` (top of book and last price), a ``Trade``
(one execution, with the taker's side) or a ``Status`` (a feed's state changed). Prices and
amounts are ``Decimal``s built from the exchange's own text and leave the process as strings
through ``to_json()``, so no float noise ever reaches the page.

A record is never changed once made: the hub, storage and every browser share one object.
``Ticker`` and ``Trade`` are still not declared frozen, because they are built for every message
and a frozen dataclass's ``__init__`` stores each field through ``object.__setattr__``, which
made construction 2.5 times slower (1.3 µs instead of 0.5 µs per ``Ticker``, bench/normalize.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Side(StrEnum):
    """The taker's side of a trade: ``buy`` means the aggressor bought (an up-tick)."""

    BUY = "buy"
    SELL = "sell"


class FeedState(StrEnum):
    """Where a feed is in its lifecycle, as the page shows it."""

    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    STALE = "stale"
    ERROR = "error"


def format_time(moment: datetime) -> str:
    """Render a UTC time as ISO-8601 with milliseconds and ``Z``: ``2026-11-24T17:42:03.123Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_decimal(value: Decimal | None) -> str | None:
    """Render a decimal in plain notation (``0.00012``, never ``1.2E-4``), keeping its digits."""
    return None if value is None else format(value, "f")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def time_from_ms(ms: int | Decimal) -> datetime:
    """Turn epoch milliseconds (the unit Bitfinex and most exchanges use) into a UTC time.

    Raises ``ValueError`` for a number no clock can show, which parsers report as malformed.
    """
    try:
        return datetime.fromtimestamp(int(ms) / 1000, UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"timestamp out of range: {ms}") from exc


def time_from_us(us: int) -> datetime:
    """Turn epoch microseconds (Bitstamp ``microtimestamp``) into a UTC time, exactly."""
    try:
        return _EPOCH + timedelta(microseconds=int(us))
    except OverflowError as exc:
        raise ValueError(f"timestamp out of range: {us}") from exc


def time_from_ns(ns: int) -> datetime:
    """Turn epoch nanoseconds (Gemini ``E``) into a UTC time, truncated to the microsecond."""
    return time_from_us(int(ns) // 1000)


@dataclass(slots=True)
class Ticker:
    """Top of book and last traded price of one pair on one exchange, with its 24 h statistics.

    ``volume_24h`` is the traded amount of the last 24 hours in the base currency, and
    ``open_24h``, ``high_24h``, ``low_24h`` the prices of that window, where the exchange sends
    them (in its ticker channel or its REST ticker); ``None`` otherwise.
    """

    exchange: str
    pair: str
    symbol: str
    time: datetime
    bid: Decimal
    ask: Decimal
    last: Decimal
    bid_size: Decimal | None = None
    ask_size: Decimal | None = None
    volume_24h: Decimal | None = None
    open_24h: Decimal | None = None
    high_24h: Decimal | None = None
    low_24h: Decimal | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "pair": self.pair,
            "symbol": self.symbol,
            "time": format_time(self.time),
            "bid": format_decimal(self.bid),
            "ask": format_decimal(self.ask),
            "last": format_decimal(self.last),
            "bid_size": format_decimal(self.bid_size),
            "ask_size": format_decimal(self.ask_size),
            "volume_24h": format_decimal(self.volume_24h),
            "open_24h": format_decimal(self.open_24h),
            "high_24h": format_decimal(self.high_24h),
            "low_24h": format_decimal(self.low_24h),
        }


# The fields of a ticker that a ``Quote`` may carry, in the order ``Ticker`` declares them.
TICKER_VALUES = ("bid", "ask", "last", "bid_size", "ask_size", "volume_24h", "open_24h",
                 "high_24h", "low_24h")


@dataclass(slots=True)
class Quote:
    """Part of a pair's top of book: what one frame of an exchange without a full ticker says.

    Binance's ``bookTicker``, Bitstamp's order book or Bybit's level-1 book give bid and ask but
    no last price; their trades give the last price. A session returns a ``Quote`` with the
    fields it knows (``None``: not in this frame); the listener's ``QuoteBook`` lays it over what
    it knew of the pair and publishes a complete ``Ticker``. Never published as it is.
    """

    exchange: str
    pair: str
    symbol: str
    time: datetime
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    bid_size: Decimal | None = None
    ask_size: Decimal | None = None
    volume_24h: Decimal | None = None
    open_24h: Decimal | None = None
    high_24h: Decimal | None = None
    low_24h: Decimal | None = None


@dataclass(slots=True)
class Trade:
    """One execution. ``amount`` is positive; ``side`` is the taker's side."""

    exchange: str
    pair: str
    symbol: str
    time: datetime
    id: str
    price: Decimal
    amount: Decimal
    side: Side

    def to_json(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "pair": self.pair,
            "symbol": self.symbol,
            "time": format_time(self.time),
            "id": self.id,
            "price": format_decimal(self.price),
            "amount": format_decimal(self.amount),
            "side": self.side.value,
        }


@dataclass(frozen=True, slots=True)
class Status:
    """A feed's state changed. ``pair`` is ``None`` for the exchange connection as a whole."""

    exchange: str
    pair: str | None
    state: FeedState
    detail: str
    time: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "pair": self.pair,
            "state": self.state.value,
            "detail": self.detail,
            "time": format_time(self.time),
        }


# What a session returns; a ``Quote`` is merged by the listener and never leaves it.
Record = Ticker | Trade | Status | Quote

