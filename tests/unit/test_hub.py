from datetime import UTC, datetime
from decimal import Decimal

from dashboard.hub import Hub
from exchanges.records import FeedState, Side, Status, Ticker, Trade

T0 = datetime(2026, 11, 24, 17, 0, 0, tzinfo=UTC)


def ticker(pair: str, last: str) -> Ticker:
    return Ticker("bitfinex", pair, "t" + pair.replace("-", ""), T0,
                  Decimal(last) - 1, Decimal(last) + 1, Decimal(last))


def trade(trade_id: str) -> Trade:
    return Trade("coinbase", "BTC-USD", "BTC-USD", T0, trade_id, Decimal("1.5"), Decimal("2"),
                 Side.BUY)


class Recorder:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, list]] = []

    def __call__(self, event, batch) -> None:
        self.emitted.append((event, batch))


def test_tickers_are_conflated_per_feed_and_trades_all_kept_in_order():
    emitted = Recorder()
    hub = Hub(emitted)
    for last in ("100", "101", "102"):
        hub.publish(ticker("BTC-USD", last))
    hub.publish(ticker("ETH-USD", "50"))
    for trade_id in ("1", "2", "3"):
        hub.publish(trade(trade_id))
    hub.flush()
    assert [event for event, _ in emitted.emitted] == ["ticker", "trade"]
    tickers = emitted.emitted[0][1]
    assert [(t["pair"], t["last"]) for t in tickers] == [("BTC-USD", "102"), ("ETH-USD", "50")]
    assert [t["id"] for t in emitted.emitted[1][1]] == ["1", "2", "3"]


def test_flush_with_nothing_new_emits_nothing():
    emitted = Recorder()
    hub = Hub(emitted)
    hub.flush()
    hub.publish(trade("1"))
    hub.flush()
    hub.flush()
    assert len(emitted.emitted) == 1


def test_status_changes_are_all_sent_in_order_and_snapshot_keeps_the_latest_per_feed():
    emitted = Recorder()
    hub = Hub(emitted)
    hub.publish(Status("coinbase", None, FeedState.CONNECTING, "connecting", T0))
    hub.publish(Status("coinbase", None, FeedState.LIVE, "connected", T0))
    hub.publish(Status("coinbase", "FOO-BAR", FeedState.ERROR, "not a valid product", T0))
    hub.publish(ticker("BTC-USD", "100"))
    hub.flush()
    assert [s["state"] for s in emitted.emitted[0][1]] == ["connecting", "live", "error"]
    snapshot = hub.snapshot()
    assert [(s["pair"], s["state"]) for s in snapshot["status"]] == [(None, "live"),
                                                                     ("FOO-BAR", "error")]
    assert [t["last"] for t in snapshot["ticker"]] == ["100"]


def test_snapshot_keeps_a_bounded_number_of_recent_trades():
    hub = Hub(Recorder(), recent_trades=3)
    for trade_id in range(10):
        hub.publish(trade(str(trade_id)))
        hub.flush()
    assert [t["id"] for t in hub.snapshot()["trade"]] == ["7", "8", "9"]


def test_trades_are_numbered_in_arrival_order_even_within_one_microsecond():
    emitted = Recorder()
    hub = Hub(emitted, clock_us=lambda: 1_000)
    for trade_id in ("a", "b", "c"):
        hub.publish(trade(trade_id))
    hub.flush()
    assert [t["seq"] for t in emitted.emitted[0][1]] == [1_000, 1_001, 1_002]


def test_a_reconnecting_client_gets_exactly_the_trades_after_its_last_seq():
    now = [10]
    hub = Hub(Recorder(), recent_trades=4, clock_us=lambda: now[0])
    for trade_id in "abcdef":
        now[0] += 10
        hub.publish(trade(trade_id))
        hub.flush()
    seqs = {t["id"]: t["seq"] for t in hub.snapshot()["trade"]}  # c, d, e, f remain
    assert [t["id"] for t in hub.trades_after(seqs["d"])] == ["e", "f"]
    assert hub.trades_after(seqs["f"]) == []
    assert hub.trades_after(30) == hub.snapshot()["trade"]  # saw b (seq 30): c.. are in memory
    assert hub.trades_after(20) is None  # saw a only: b was forgotten, storage must answer


def test_sinks_get_every_ticker_and_trade_not_only_the_conflated_ones():
    stored: list = []
    hub = Hub(Recorder(), sinks=(stored.extend,))
    hub.publish(ticker("BTC-USD", "100"))
    hub.publish(ticker("BTC-USD", "101"))
    hub.publish(trade("1"))
    hub.publish(Status("coinbase", None, FeedState.LIVE, "connected", T0))
    hub.flush()
    assert stored == [ticker("BTC-USD", "100"), ticker("BTC-USD", "101"), trade("1")]
