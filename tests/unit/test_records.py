from datetime import UTC, datetime
from decimal import Decimal

from exchanges.records import (
    FeedState,
    Side,
    Status,
    Ticker,
    Trade,
    format_time,
    time_from_ms,
)

T0 = datetime(2026, 11, 24, 17, 42, 3, 123456, tzinfo=UTC)


def test_time_is_iso_utc_with_milliseconds_and_z():
    assert format_time(T0) == "2026-11-24T17:42:03.123Z"
    assert format_time(time_from_ms(1574694475039)) == "2019-11-25T15:07:55.039Z"


def test_trade_json_keeps_exact_decimals():
    trade = Trade("bitfinex", "BTC-USD", "tBTCUSD", T0, "401597393",
                  Decimal("7244.90"), Decimal("1E-8"), Side.SELL)
    assert trade.to_json() == {
        "exchange": "bitfinex", "pair": "BTC-USD", "symbol": "tBTCUSD",
        "time": "2026-11-24T17:42:03.123Z", "id": "401597393",
        "price": "7244.90", "amount": "0.00000001", "side": "sell",
    }


def test_ticker_json_has_no_float_noise():
    ticker = Ticker("coinbase", "ETH-USD", "ETH-USD", T0, Decimal("0.1") + Decimal("0.2"),
                    Decimal("1285.27"), Decimal("1285.22"))
    assert ticker.to_json()["bid"] == "0.3"
    assert ticker.to_json()["bid_size"] is None


def test_status_json():
    status = Status("coinbase", None, FeedState.RECONNECTING, "retrying in 1.0 s", T0)
    assert status.to_json() == {"exchange": "coinbase", "pair": None, "state": "reconnecting",
                                "detail": "retrying in 1.0 s", "time": "2026-11-24T17:42:03.123Z"}


# The parsers' fast constructors ------------------------------------------------------------

