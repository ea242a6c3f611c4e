"""The parts of the listener contract that are pure: merging top of book, suggesting a pair."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from exchanges.base import QuoteBook, suggestion
from exchanges.records import Quote, Side, Ticker, Trade

T0 = datetime(2026, 11, 24, 17, 42, 3, 123456, tzinfo=UTC)
T1 = datetime(2026, 11, 24, 17, 42, 4, tzinfo=UTC)
D = Decimal


def quote(**values: str) -> Quote:
    return Quote("binance", "BTC-USDT", "BTCUSDT", T0, **{k: D(v) for k, v in values.items()})


def trade(price: str, at: datetime = T1) -> Trade:
    return Trade("binance", "BTC-USDT", "BTCUSDT", at, "1", D(price), D("0.5"), Side.BUY)


def test_a_book_without_a_last_price_gives_no_ticker_until_a_trade():
    book = QuoteBook("binance")
    assert book.quote(quote(bid="100.1", ask="100.3", bid_size="2")) is None
    assert book.trade(trade("100.2")) == Ticker(
        "binance", "BTC-USDT", "BTCUSDT", T1, D("100.1"), D("100.3"), D("100.2"), D("2"))


def test_each_part_changes_only_itself():
    book = QuoteBook("binance")
    book.quote(quote(bid="100.1", ask="100.3"))
    book.trade(trade("100.2"))
    ticker = book.quote(quote(ask="100.25"))  # a frame with the ask alone
    assert ticker is not None
    assert (ticker.bid, ticker.ask, ticker.last, ticker.time) == (
        D("100.1"), D("100.25"), D("100.2"), T0)


def test_rest_seeds_what_the_stream_has_not_said_and_never_overwrites_it():
    book = QuoteBook("binance")
    book.quote(quote(bid="100.1", ask="100.3"))
    rest = Ticker("binance", "BTC-USDT", "BTCUSDT", T0, D("99"), D("99.5"), D("99.2"),
                  volume_24h=D("1234.5"), open_24h=D("98"), high_24h=D("101"), low_24h=D("97"))
    seeded = book.seed(rest)  # completes the ticker: bid/ask from the stream, the rest from REST
    assert seeded is not None
    assert (seeded.bid, seeded.ask, seeded.last, seeded.volume_24h, seeded.open_24h) == (
        D("100.1"), D("100.3"), D("99.2"), D("1234.5"), D("98"))
    assert book.seed(rest) is None  # complete already: an older REST ticker says nothing new
    later = book.trade(trade("100.2"))
    assert later is not None and (later.last, later.high_24h) == (D("100.2"), D("101"))


def test_books_of_two_pairs_are_apart():
    book = QuoteBook("binance")
    book.quote(quote(bid="1", ask="2"))
    other = Quote("binance", "ETH-USDT", "ETHUSDT", T0, bid=D("3"), ask=D("4"))
    assert book.quote(other) is None


def test_suggestion_prefers_a_dollar_quote_for_a_dollar_quote():
    listed = {"BTC-EUR", "BTC-USDC", "BTC-USDT", "ETH-USDT"}
    assert suggestion("BTC-USD", listed) == "BTC-USDT"
    assert suggestion("ETH-USD", listed) == "ETH-USDT"
    assert suggestion("BTC-GBP", listed) == "BTC-EUR"
    assert suggestion("SOL-USD", listed) is None
