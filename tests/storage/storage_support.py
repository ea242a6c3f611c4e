"""Record builders and database helpers shared by the storage tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from exchanges.records import Side, Ticker, Trade

T0 = datetime(2026, 11, 24, 17, 42, 3, 123456, tzinfo=UTC)  # to_json shows .123Z


def at(ms: int) -> datetime:
    """T0 plus ``ms`` milliseconds."""
    return T0 + timedelta(milliseconds=ms)


def ticker(exchange: str = "bitfinex", pair: str = "BTC-USD", ms: int = 0, last: str = "43210.50",
           bid: str = "43210.4", ask: str = "43210.6", bid_size: str | None = "0.00000001",
           ask_size: str | None = None, volume_24h: str | None = None,
           open_24h: str | None = None) -> Ticker:
    return Ticker(exchange, pair, "t" + pair.replace("-", ""), at(ms), Decimal(bid), Decimal(ask),
                  Decimal(last), _decimal(bid_size), _decimal(ask_size), _decimal(volume_24h),
                  _decimal(open_24h))


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def trade(trade_id: str, exchange: str = "coinbase", pair: str = "BTC-USD", ms: int = 0,
          price: str = "43210.50", amount: str = "0.30000000000000004",
          side: Side = Side.BUY) -> Trade:
    return Trade(exchange, pair, pair, at(ms), trade_id, Decimal(price), Decimal(amount), side)


def count_rows(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
