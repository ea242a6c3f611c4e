"""REST snapshots: the exchanges' body parsers, the retry policy, and the listener's snapshot.

Bodies are the exchanges' documented examples (each names its source) and the wire shapes of
refusals published by client authors who probed the live APIs; expected records are written out
by hand from the bodies' text. No sockets: ``rest.get_json`` is replaced by a scripted fake.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from exchanges import rest
from exchanges.base import Connection, Feed, SnapshotIncomplete
from exchanges.bitfinex import Bitfinex, BitfinexSession
from exchanges.bitfinex import parse_rest_ticker as bitfinex_ticker
from exchanges.bitfinex import parse_rest_trades as bitfinex_trades
from exchanges.coinbase import Coinbase
from exchanges.coinbase import parse_rest_ticker as coinbase_ticker
from exchanges.coinbase import parse_rest_trades as coinbase_trades
from exchanges.parsing import MalformedFrame, decode
from exchanges.records import FeedState, Record, Side, Status, Ticker, Trade

T0 = datetime(2026, 11, 24, 17, 42, 3, 123456, tzinfo=UTC)  # every body's receive time
BTC_BITFINEX = Feed("BTC-USD", "tBTCUSD")
BTC_COINBASE = Feed("BTC-USD", "BTC-USD")

# docs.bitfinex.com/reference/rest-public-ticker: the ticker array (example values of the ws
# ticker page, the same fields); rest-public-trades: rows as in the ws trades snapshot
BITFINEX_TICKER = ("[7616.5,31.89055171,7617.5,43.358118629999986,-550.8,-0.0674,7617.1,"
                   "8314.71200815,8257.8,7500]")
BITFINEX_TRADES = "[[401597393,1574694475039,0.005,7244.9],[401597392,1574694470503,-0.01,7245.3]]"
# HTTP 500 body for a symbol Bitfinex doesn't list (a published REST probe, 2026-09)
BITFINEX_REFUSAL = '["error",10020,"symbol: invalid"]'

# docs.cdp.coinbase.com/api-reference/exchange-api/rest-api/products/get-product-ticker and
# get-product-trades (the Exchange docs' examples, as their official clients quote them)
COINBASE_TICKER = ('{"trade_id":4729088,"price":"333.99","size":"0.193","bid":"333.98",'
                   '"ask":"333.99","volume":"5957.11914015","time":"2015-11-14T20:46:03.511254Z"}')
COINBASE_TRADES = ('[{"time":"2014-11-07T22:19:28.578544Z","trade_id":74,"price":"10.00000000",'
                   '"size":"0.01000000","side":"buy"},{"time":"2014-11-07T01:08:43.642366Z",'
                   '"trade_id":73,"price":"100.00000000","size":"0.01000000","side":"sell"}]')
COINBASE_REFUSAL = '{"message":"NotFound"}'  # HTTP 404, unknown product


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def trade(exchange: str, symbol: str, time: datetime, trade_id: str, price: str, amount: str,
          side: Side) -> Trade:
    return Trade(exchange, "BTC-USD", symbol, time, trade_id, Decimal(price), Decimal(amount),
                 side)


# Bitfinex bodies ---------------------------------------------------------------------------


def test_bitfinex_ticker_body_is_a_ticker_at_the_receive_time():
    assert bitfinex_ticker(decode(BITFINEX_TICKER), BTC_BITFINEX, T0) == [
        Ticker("bitfinex", "BTC-USD", "tBTCUSD", T0, bid=Decimal("7616.5"), ask=Decimal("7617.5"),
               last=Decimal("7617.1"), bid_size=Decimal("31.89055171"),
               ask_size=Decimal("43.358118629999986"), volume_24h=Decimal("8314.71200815"),
               open_24h=Decimal("8167.9"), high_24h=Decimal("8257.8"), low_24h=Decimal("7500")),
    ]


def test_bitfinex_trades_body_comes_oldest_first_with_the_amount_sign_as_taker_side():
    assert bitfinex_trades(decode(BITFINEX_TRADES), BTC_BITFINEX, T0) == [
        trade("bitfinex", "tBTCUSD", datetime(2019, 11, 25, 15, 7, 50, 503000, tzinfo=UTC),
              "401597392", "7245.3", "0.01", Side.SELL),
        trade("bitfinex", "tBTCUSD", datetime(2019, 11, 25, 15, 7, 55, 39000, tzinfo=UTC),
              "401597393", "7244.9", "0.005", Side.BUY),
    ]


def test_bitfinex_rest_trade_equals_the_websocket_trade_so_they_dedupe():
    session = BitfinexSession({"tBTCUSD": "BTC-USD"})
    session.receive('{"event":"subscribed","channel":"trades","chanId":17470,'
                    '"symbol":"tBTCUSD","pair":"BTCUSD"}', T0)
    (from_ws,) = session.receive('[17470,"te",[401597393,1574694475039,0.005,7244.9]]', T0)
    assert from_ws == bitfinex_trades(decode(BITFINEX_TRADES), BTC_BITFINEX, T0)[-1]


@pytest.mark.parametrize(("parser", "body"), [
    (bitfinex_ticker, BITFINEX_REFUSAL),  # the error envelope, had it come with a 200
    (bitfinex_ticker, "[7616.5,31.8]"),
    (bitfinex_ticker, '{"bid":1}'),
    (bitfinex_trades, '{"trades":[]}'),
    (bitfinex_trades, "[[401597393,1574694475039,0,7244.9]]"),  # no taker side
], ids=["error-envelope", "short-ticker", "object-ticker", "object-trades", "zero-amount"])
def test_bitfinex_unreadable_bodies_are_malformed(parser: Callable[..., Any], body: str):
    with pytest.raises(MalformedFrame):
        parser(decode(body), BTC_BITFINEX, T0)


def test_bitfinex_asks_the_ticker_first_then_the_trades():
    requests = Bitfinex([], print).rest_snapshot_requests("tDOGE:USD", 25)
    assert [(r.path, r.parse) for r in requests] == [
        ("/v2/ticker/tDOGE:USD", bitfinex_ticker),
        ("/v2/trades/tDOGE:USD/hist?limit=25", bitfinex_trades),
    ]


# Coinbase bodies ---------------------------------------------------------------------------


def test_coinbase_ticker_body_is_a_ticker_at_the_last_trade_time():
    assert coinbase_ticker(decode(COINBASE_TICKER), BTC_COINBASE, T0) == [
        Ticker("coinbase", "BTC-USD", "BTC-USD", at("2015-11-14T20:46:03.511254+00:00"),
               bid=Decimal("333.98"), ask=Decimal("333.99"), last=Decimal("333.99"),
               volume_24h=Decimal("5957.11914015")),
    ]


def test_coinbase_trades_come_oldest_first_with_the_taker_side_opposite_the_makers():
    # the docs: "The side of a trade indicates the maker order side ... A buy side indicates
    # a down-tick because the maker was a buy order" -- so trade 74 (maker buy) is a taker sell
    assert coinbase_trades(decode(COINBASE_TRADES), BTC_COINBASE, T0) == [
        trade("coinbase", "BTC-USD", at("2014-11-07T01:08:43.642366+00:00"), "73",
              "100.00000000", "0.01000000", Side.BUY),
        trade("coinbase", "BTC-USD", at("2014-11-07T22:19:28.578544+00:00"), "74",
              "10.00000000", "0.01000000", Side.SELL),
    ]


def test_coinbase_rest_trade_equals_the_match_of_the_same_trade_so_they_dedupe():
    session = Coinbase([], print).new_session({"BTC-USD": "BTC-USD"})
    match = {"type": "match", "trade_id": 74, "sequence": 50, "maker_order_id": "m",
             "taker_order_id": "t", "time": "2014-11-07T22:19:28.578544Z",
             "product_id": "BTC-USD", "size": "0.01000000", "price": "10.00000000",
             "side": "buy"}
    (from_ws,) = session.receive(json.dumps(match), T0)
    assert from_ws == coinbase_trades(decode(COINBASE_TRADES), BTC_COINBASE, T0)[-1]
    assert from_ws.id == "74" and from_ws.side is Side.SELL


@pytest.mark.parametrize(("parser", "body"), [
    (coinbase_ticker, COINBASE_REFUSAL),
    (coinbase_ticker, '{"price":"1","bid":"1","ask":"2","time":"2015-11-14T20:46:03"}'),
    (coinbase_trades, COINBASE_TICKER),
    (coinbase_trades, '[{"time":"2014-11-07T22:19:28Z","trade_id":74,"price":"10",'
                      '"size":"0.01","side":"up"}]'),
    (coinbase_trades, '[{"time":"2014-11-07T22:19:28Z","trade_id":74,"price":"10",'
                      '"size":"0","side":"buy"}]'),
], ids=["refusal-body", "local-time", "object-trades", "unknown-side", "zero-size"])
def test_coinbase_unreadable_bodies_are_malformed(parser: Callable[..., Any], body: str):
    with pytest.raises(MalformedFrame):
        parser(decode(body), BTC_COINBASE, T0)


def test_coinbase_asks_the_ticker_then_the_trades():
    requests = Coinbase([], print).rest_snapshot_requests("BTC-USD", 10)
    assert [(r.path, r.parse) for r in requests] == [
        ("/products/BTC-USD/ticker", coinbase_ticker),
        ("/products/BTC-USD/trades?limit=10", coinbase_trades),
    ]


# Retry policy ------------------------------------------------------------------------------


def http_error(status: int, body: str = "{}") -> rest.HttpError:
    try:
        decoded = decode(body)
    except MalformedFrame:
        decoded = None
    return rest.HttpError("http://x/y", status, decoded, body)


@pytest.mark.parametrize("exc", [
    http_error(500), http_error(502), http_error(503), http_error(504), http_error(429),
    OSError("network unreachable"), TimeoutError("timed out"), ConnectionResetError(),
    urllib.error.URLError(OSError(-2, "Name or service not known")),
    http.client.RemoteDisconnected("closed"), http.client.IncompleteRead(b""),
], ids=lambda exc: getattr(exc, "status", None) or type(exc).__name__)
def test_outages_are_retried(exc: BaseException):
    assert rest.is_retryable(exc)


@pytest.mark.parametrize("exc", [
    http_error(400), http_error(401), http_error(403), http_error(404, COINBASE_REFUSAL),
    http_error(418), MalformedFrame("not JSON"), ValueError("our bug"), KeyError("ours"),
], ids=lambda exc: getattr(exc, "status", None) or type(exc).__name__)
def test_refusals_and_bugs_are_not_retried(exc: BaseException):
    assert not rest.is_retryable(exc)


def test_bitfinex_refuses_an_unknown_symbol_with_a_500_that_must_not_be_retried():
    bitfinex = Bitfinex([], print)
    assert bitfinex.rest_refusal(http_error(500, BITFINEX_REFUSAL)) == (
        "symbol: invalid (code 10020, HTTP 500)")
    assert bitfinex.rest_refusal(http_error(500, '["error",11010,"ratelimit: error"]')) is None
    assert bitfinex.rest_refusal(http_error(503, "<html>down</html>")) is None
    assert Coinbase([], print).rest_refusal(http_error(500, COINBASE_REFUSAL)) is None


def test_error_text_uses_the_exchanges_own_words():
    assert rest.error_text(http_error(404, COINBASE_REFUSAL)) == "NotFound (HTTP 404)"
    assert rest.error_text(http_error(500, BITFINEX_REFUSAL)) == (
        "symbol: invalid (code 10020, HTTP 500)")
    assert rest.error_text(http_error(502, "<html>\n Bad gateway</html>")) == (
        "<html> Bad gateway</html> (HTTP 502)")


class Script:
    """A fake ``rest.get_json``: each URL answers its queue of outcomes, in turn."""

    def __init__(self, outcomes: dict[str, list[Any]]) -> None:
        self.outcomes = {url: list(queue) for url, queue in outcomes.items()}
        self.calls: list[tuple[str, float]] = []

    def __call__(self, url: str, timeout: float) -> Any:
        self.calls.append((url, timeout))
        outcome = self.outcomes[url].pop(0) if len(self.outcomes[url]) > 1 else \
            self.outcomes[url][0]
        if isinstance(outcome, BaseException):
            raise outcome
        return decode(outcome)


class Clock:
    """A fake monotonic clock that sleeping moves forward."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fetch(script: Script, clock: Clock, *, budget: float = 10.0,
          refused: Callable[[rest.HttpError], str | None] = lambda error: None) -> Any:
    return rest.fetch_json("u", deadline=clock() + budget, attempt_timeout=4.0,
                           delays=iter([0.5, 1.0, 2.0, 4.0, 8.0]), sleep=clock.sleep,
                           refused=refused, clock=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_fetch_retries_outages_with_the_given_delays_then_returns(monkeypatch, clock):
    script = Script({"u": [http_error(503), OSError("reset"), http_error(429), "[1.10]"]})
    monkeypatch.setattr(rest, "get_json", script)
    assert fetch(script, clock) == [Decimal("1.10")]
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert [timeout for _, timeout in script.calls] == [4.0, 4.0, 4.0, 4.0]


def test_fetch_refuses_a_4xx_at_once(monkeypatch, clock):
    monkeypatch.setattr(rest, "get_json", Script({"u": [http_error(404, COINBASE_REFUSAL)]}))
    with pytest.raises(rest.Refused, match=r"^NotFound \(HTTP 404\)$"):
        fetch(Script({}), clock)
    assert clock.sleeps == []


def test_fetch_refuses_what_the_exchange_calls_a_refusal(monkeypatch, clock):
    monkeypatch.setattr(rest, "get_json", Script({"u": [http_error(500, BITFINEX_REFUSAL)]}))
    with pytest.raises(rest.Refused, match="symbol: invalid"):
        fetch(Script({}), clock, refused=Bitfinex([], print).rest_refusal)
    assert clock.sleeps == []


def test_fetch_gives_up_before_a_wait_would_pass_the_deadline(monkeypatch, clock):
    script = Script({"u": [http_error(503)]})
    monkeypatch.setattr(rest, "get_json", script)
    with pytest.raises(rest.DownloadFailed, match=r"\(HTTP 503\) \(3 attempts\)$") as excinfo:
        fetch(script, clock, budget=3.0)
    assert clock.sleeps == [0.5, 1.0]  # a third wait of 2 s would end past the deadline
    assert isinstance(excinfo.value.__cause__, rest.HttpError)
    assert [timeout for _, timeout in script.calls] == [3.0, 2.5, 1.5]  # cut to what is left


def test_fetch_does_not_retry_a_body_that_is_not_json(monkeypatch, clock):
    script = Script({"u": [MalformedFrame("not JSON: <html>")]})
    monkeypatch.setattr(rest, "get_json", script)
    with pytest.raises(MalformedFrame):
        fetch(script, clock)
    assert len(script.calls) == 1


# The listener's snapshot -------------------------------------------------------------------


BASE = "http://rest.test/bitfinex"


def bitfinex(published: list[Record], **kwargs: Any) -> Bitfinex:
    return Bitfinex(["BTC-USD"], published.append, rest_url=BASE, sleep=lambda s: None,
                    rand=lambda: 0.0, **kwargs)


def test_rest_url_defaults_to_the_exchange_only_when_the_websocket_url_does():
    assert Bitfinex([], print).rest_url == "https://api-pub.bitfinex.com"
    assert Coinbase([], print).rest_url == "https://api.exchange.coinbase.com"
    assert Bitfinex([], print, url="ws://127.0.0.1:9/bitfinex").rest_url is None
    assert Bitfinex([], print, url="ws://h/b", rest_url="http://h/b").rest_url == "http://h/b"


def test_snapshot_gives_tickers_and_trades_per_pair_and_errors_for_the_rest(monkeypatch):
    monkeypatch.setattr(rest, "get_json", Script({
        f"{BASE}/v2/ticker/tBTCUSD": [BITFINEX_TICKER],
        f"{BASE}/v2/trades/tBTCUSD/hist?limit=5": [BITFINEX_TRADES],
        f"{BASE}/v2/ticker/tFOOBAR": [http_error(500, BITFINEX_REFUSAL)],
        f"{BASE}/v2/ticker/tETHUSD": ["[1,2,3]"],
    }))
    records = bitfinex([]).snapshot(["btcusd", "foo-bar", "not a pair!", "tETHUSD", "BTC/USD"],
                                    trades_limit=5)
    now = records[0].time
    assert records == [
        Status("bitfinex", "not a pair!", FeedState.ERROR,
               "cannot read 'not a pair!' as a pair: use BASE-QUOTE, e.g. BTC-USD", now),
        *bitfinex_ticker(decode(BITFINEX_TICKER), BTC_BITFINEX, records[1].time),
        *bitfinex_trades(decode(BITFINEX_TRADES), BTC_BITFINEX, T0),
        Status("bitfinex", "FOO-BAR", FeedState.ERROR, "symbol: invalid (code 10020, HTTP 500)",
               records[4].time),
        Status("bitfinex", "ETH-USD", FeedState.ERROR, "IndexError: list index out of range",
               records[5].time),
    ]


def test_snapshot_that_cannot_download_a_pair_keeps_the_others(monkeypatch):
    down = urllib.error.URLError(OSError(-2, "Name or service not known"))
    monkeypatch.setattr(rest, "get_json", Script({
        f"{BASE}/v2/ticker/tBTCUSD": [BITFINEX_TICKER],
        f"{BASE}/v2/trades/tBTCUSD/hist?limit=25": [BITFINEX_TRADES],
        f"{BASE}/v2/ticker/tETHUSD": [down],
    }))
    with pytest.raises(SnapshotIncomplete) as excinfo:
        bitfinex([]).snapshot(["BTC-USD", "ETH-USD"], timeout=0.1)
    assert [type(r) for r in excinfo.value.records] == [Ticker, Trade, Trade]
    assert excinfo.value.failures == {
        "ETH-USD": "OSError: [Errno -2] Name or service not known (1 attempt)"}


def inline(target: Callable[..., Any], *args: Any) -> None:
    """A ``spawn`` that runs the task at once: the backfill before the first connection."""
    target(*args)


def test_run_publishes_the_snapshot_beside_the_stream_and_dedupes_the_streams_copy(monkeypatch):
    monkeypatch.setattr(rest, "get_json", Script({
        f"{BASE}/v2/conf/pub:list:pair:exchange": ['[["BTCUSD","FOOBAR"]]'],
        f"{BASE}/v2/ticker/tBTCUSD": [BITFINEX_TICKER],
        f"{BASE}/v2/trades/tBTCUSD/hist?limit=25": [BITFINEX_TRADES],
        f"{BASE}/v2/ticker/tFOOBAR": [http_error(500, BITFINEX_REFUSAL)],
    }))
    published: list[Record] = []
    listener = Bitfinex(["BTC-USD", "FOO-BAR"], published.append, rest_url=BASE, spawn=inline)
    streamed: list[list[str]] = []

    def stream(connection: Connection, feeds: list[Feed]) -> None:  # stands in for the websocket
        streamed.append([feed.pair for feed in feeds])
        listener.stop()

    monkeypatch.setattr(Connection, "_stream", stream)
    listener.run()
    assert streamed == [["BTC-USD", "FOO-BAR"]]
    snapshot = [*bitfinex_ticker(decode(BITFINEX_TICKER), BTC_BITFINEX, T0),
                *bitfinex_trades(decode(BITFINEX_TRADES), BTC_BITFINEX, T0)]
    # the ticker's time is the receive time: compare it apart
    assert [type(r) for r in published] == [Ticker, Trade, Trade]
    assert published[1:] == snapshot[1:]
    assert published[0] == Ticker(**{**_fields(snapshot[0]), "time": published[0].time})
    # the refusal is left to the subscription, and nothing claimed the feed was live
    assert listener.stats()["pairs"] == {"BTC-USD": "tBTCUSD", "FOO-BAR": "tFOOBAR"}
    # the stream's copy of a snapshot trade is dropped, a new trade is not
    newer = Trade(**{**_fields(snapshot[-1]), "id": "401597394"})
    listener.on_data(snapshot[-1])
    listener.on_data(newer)
    assert [r for r in published if isinstance(r, Trade)] == [*snapshot[1:], newer]


def test_a_snapshot_ticker_never_overwrites_the_streams(monkeypatch):
    monkeypatch.setattr(rest, "get_json", Script({
        f"{BASE}/v2/ticker/tBTCUSD": [BITFINEX_TICKER],
        f"{BASE}/v2/trades/tBTCUSD/hist?limit=25": ["[]"],
    }))
    published: list[Record] = []
    listener = Bitfinex(["BTC-USD"], published.append, rest_url=BASE)
    listener._resolve_pairs()
    streamed = Ticker("bitfinex", "BTC-USD", "tBTCUSD", T0, Decimal("1"), Decimal("2"),
                      Decimal("1.5"))
    listener.on_data(streamed)
    listener._publish_snapshot()  # arrives after the stream's first ticker: too old to show
    assert [r for r in published if isinstance(r, Ticker)] == [streamed]


def test_run_streams_even_when_the_snapshot_cannot_be_downloaded(monkeypatch, caplog):
    monkeypatch.setattr(rest, "get_json", Script({
        f"{BASE}/v2/conf/pub:list:pair:exchange": ['[["BTCUSD"]]'],
        f"{BASE}/v2/ticker/tBTCUSD": [OSError("no")]}))
    published: list[Record] = []
    listener = Bitfinex(["BTC-USD"], published.append, rest_url=BASE, connect_timeout=0.01,
                        sleep=lambda s: None, spawn=inline)
    streamed: list[bool] = []
    monkeypatch.setattr(Connection, "_stream",
                        lambda connection, feeds: (streamed.append(True), listener.stop()))
    listener.run()
    assert streamed == [True] and published == []
    assert [r.getMessage() for r in caplog.records] == [
        "rest snapshot incomplete exchange=bitfinex reason=BTC-USD: OSError: no (1 attempt)"]


def test_no_snapshot_without_a_rest_url(monkeypatch):
    script = Script({})
    monkeypatch.setattr(rest, "get_json", script)
    listener = Bitfinex(["BTC-USD"], print, url="ws://127.0.0.1:9/bitfinex", spawn=inline)
    monkeypatch.setattr(Connection, "_stream", lambda connection, feeds: listener.stop())
    listener.run()
    assert script.calls == []
    with pytest.raises(ValueError, match="no REST URL"):
        listener.snapshot()


def _fields(record: Ticker | Trade) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__}
