"""One-minute candles on SQLite and on a real PostgreSQL server: built from trades by their
exchange time on UTC minute boundaries, corrected by late trades, exact, aggregated to 5m, 15m
and 1h, and the same whether kept up to date batch by batch or rebuilt from the stored trades."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

import pytest
import sqlalchemy as sa
from storage_support import count_rows

from exchanges.records import Side, Trade
from storage.candles import (
    EXACT,
    Candle,
    add_trades,
    aggregate,
    ceil_to,
    floor_to,
    higher,
    interval_ms,
    lower,
    trade_order,
)
from storage.store import Store, candles_table, to_ms, trades_table

NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return NOON + timedelta(seconds=seconds)


def trade(trade_id: str, when: datetime, price: str, amount: str = "1",
          exchange: str = "coinbase", pair: str = "BTC-USD") -> Trade:
    return Trade(exchange, pair, pair, when, trade_id, Decimal(price), Decimal(amount), Side.BUY)


def ohlc(candle: dict[str, Any]) -> tuple[Any, ...]:
    return (candle["time"], candle["open"], candle["high"], candle["low"], candle["close"],
            candle["volume"], candle["trades"])


def stored_rows(store: Store) -> list[tuple[Any, ...]]:
    """Every candle row as stored, without its id, sorted."""
    table = candles_table
    columns = [c for c in table.columns if c.name != "id"]
    with store.engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(sa.select(*columns)))


# -- the pure parts --------------------------------------------------------------------------------


def test_intervals_are_utc_aligned_and_unknown_ones_refused():
    assert [interval_ms(name) for name in ("1m", "5m", "15m", "1h")] == [
        60_000, 300_000, 900_000, 3_600_000]
    with pytest.raises(ValueError, match="unknown interval '2m'"):
        interval_ms("2m")
    ms = to_ms(at(3 * 3600 + 7 * 60 + 30.5))  # 15:07:30.500
    assert floor_to(ms, 300_000) == to_ms(at(3 * 3600 + 5 * 60))
    assert ceil_to(ms, 300_000) == to_ms(at(3 * 3600 + 10 * 60))
    assert ceil_to(to_ms(NOON), 3_600_000) == floor_to(to_ms(NOON), 3_600_000) == to_ms(NOON)


def test_trades_of_one_millisecond_are_ordered_by_their_trade_id_numbers_as_numbers():
    assert trade_order(5, "9") < trade_order(5, "10") < trade_order(6, "1")
    assert trade_order(5, "10") < trade_order(5, "a-uuid") < trade_order(5, "b-uuid")
    assert trade_order(5, "007") != trade_order(5, "7")  # distinct ids never tie
    assert trade_order(5, "٣")[1] == 1  # a non-ASCII digit is text, not a number
    assert trade_order(5, "9" * 5000)[1] == 1  # too long for int(): compared as text


def test_equal_prices_written_differently_keep_the_same_text_whatever_the_order():
    assert higher("100.0", "100.00") == higher("100.00", "100.0") == "100.0"
    assert lower("100.00", "1E+2") == lower("1E+2", "100.00") == "1E+2"
    assert higher("99.99", "100") == "100" and lower("99.99", "100") == "99.99"


def test_a_minute_is_the_same_whatever_order_and_batches_its_trades_come_in():
    trades = [trade(str(n), at(n), price, amount) for n, (price, amount) in enumerate(
        [("100.0", "0.1"), ("101.5", "0.2"), ("100.00", "0.30000000000000004"), ("99", "3"),
         ("101.50", "1E+1"), ("99.0", "0.000000000000000000000000000001")])]
    rows = [_row(t) for t in trades]
    one_batch = add_trades({}, rows)
    rng = random.Random(3)
    for _ in range(20):
        shuffled = rng.sample(rows, len(rows))
        cut = rng.randrange(len(rows))
        incremental = add_trades(add_trades({}, shuffled[:cut]), shuffled[cut:])
        assert incremental == one_batch
    (candle,) = one_batch.values()
    assert candle.to_json() == {
        "exchange": "coinbase", "pair": "BTC-USD", "time": "2026-11-24T12:00:00.000Z",
        "open": "100.0", "high": "101.5", "low": "99", "close": "99.0",
        "volume": "13.600000000000000040000000000001", "trades": 6}


# -- in the database, both backends ----------------------------------------------------------------


def test_candles_split_on_utc_minute_boundaries_by_exchange_time(store: Store):
    store.write([
        trade("1", at(-0.001), "10"),  # 11:59:59.999
        trade("2", at(0), "20"),  # 12:00:00.000 opens the next minute
        trade("3", at(59.999), "30"),  # still 12:00
        trade("4", at(60), "40"),
        trade("5", NOON.replace(microsecond=999) + timedelta(minutes=2), "50"),  # .000999
    ])

    assert [ohlc(c) for c in store.candles()] == [
        ("2026-11-24T11:59:00.000Z", "10", "10", "10", "10", "1", 1),
        ("2026-11-24T12:00:00.000Z", "20", "30", "20", "30", "2", 2),
        ("2026-11-24T12:01:00.000Z", "40", "40", "40", "40", "1", 1),
        ("2026-11-24T12:02:00.000Z", "50", "50", "50", "50", "1", 1),
    ]


def test_late_trades_correct_open_close_high_low_of_their_minute(store: Store):
    store.write([trade("20", at(20), "100.5", "0.1"), trade("30", at(30), "101", "0.2")])
    assert ohlc(store.candles()[0])[1:] == ("100.5", "101", "100.5", "101", "0.3", 2)

    store.write([trade("10", at(10), "99.25", "0.05")])  # earlier than the open: the new open
    assert ohlc(store.candles()[0])[1:] == ("99.25", "101", "99.25", "101", "0.35", 3)

    store.write([trade("25", at(25), "102", "1"), trade("59", at(59.5), "100", "2")])
    assert ohlc(store.candles()[0])[1:] == ("99.25", "102", "99.25", "100", "3.35", 5)

    # the same millisecond: ordered by trade id (as numbers), not by arrival
    store.write([trade("60", at(59.5), "100.75", "1"), trade("8", at(10), "98", "1")])
    assert ohlc(store.candles()[0])[1:] == ("98", "102", "98", "100.75", "5.35", 7)
    store.write([trade("9", at(10), "97", "1")])
    assert ohlc(store.candles()[0])[1:] == ("98", "102", "97", "100.75", "6.35", 8)


def test_volume_is_the_exact_sum_and_prices_keep_their_text(store: Store):
    amounts = ["0.30000000000000004", "0.30000000000000004", "0.30000000000000004",
               "12345678901234567890.123456789", "0.000000000000000000000000000001"]
    store.write([trade(str(n), at(n), price, amount) for n, (price, amount) in
                 enumerate(zip(["43210.50", "0.00012", "43210.5", "1E+5", "43210.500"],
                               amounts, strict=True))])

    (candle,) = store.candles()

    assert candle == {
        "exchange": "coinbase", "pair": "BTC-USD", "time": "2026-11-24T12:00:00.000Z",
        "open": "43210.50", "high": "100000", "low": "0.00012", "close": "43210.500",
        "volume": "12345678901234567891.023456789000000120000000000001", "trades": 5}
    with localcontext(EXACT):
        assert Decimal(candle["volume"]) == sum(map(Decimal, amounts))


def test_a_replayed_trade_counts_once(store: Store):
    store.write([trade("1", at(1), "10", "1"), trade("1", at(1), "10", "1")])
    store.write([trade("1", at(1), "10", "1"), trade("2", at(2), "11", "1")])
    store.write([trade("2", at(2), "11", "1")])

    assert ohlc(store.candles()[0])[1:] == ("10", "11", "10", "11", "2", 2)


def test_feeds_have_their_own_candles_and_filters(store: Store):
    store.write([
        trade("1", at(1), "10", exchange="coinbase", pair="BTC-USD"),
        trade("1", at(2), "20", exchange="bitfinex", pair="BTC-USD"),
        trade("1", at(3), "30", exchange="coinbase", pair="ETH-USD"),
        trade("2", at(61), "11", exchange="coinbase", pair="BTC-USD"),
    ])

    def feeds(**filters: Any) -> list[tuple[str, str, str, str]]:
        return [(c["time"][11:16], c["exchange"], c["pair"], c["close"])
                for c in store.candles(**filters)]

    # oldest first; one start: by exchange, then pair
    assert feeds() == [("12:00", "bitfinex", "BTC-USD", "20"),
                       ("12:00", "coinbase", "BTC-USD", "10"),
                       ("12:00", "coinbase", "ETH-USD", "30"),
                       ("12:01", "coinbase", "BTC-USD", "11")]
    assert feeds(exchange="coinbase", pair="BTC-USD") == [
        ("12:00", "coinbase", "BTC-USD", "10"), ("12:01", "coinbase", "BTC-USD", "11")]
    assert feeds(pair="ETH-USD") == [("12:00", "coinbase", "ETH-USD", "30")]
    assert feeds(exchange="kraken") == []
    # limit: the newest ones, still oldest first
    assert feeds(limit=2) == [("12:00", "coinbase", "ETH-USD", "30"),
                              ("12:01", "coinbase", "BTC-USD", "11")]
    assert feeds(limit=0) == []
    assert feeds(interval="1h", limit=2) == [("12:00", "coinbase", "BTC-USD", "11"),
                                             ("12:00", "coinbase", "ETH-USD", "30")]


def test_since_and_until_select_candles_by_their_start(store: Store):
    store.write([trade(str(n), at(n * 60 + 30), str(100 + n)) for n in range(20)])

    def starts(**filters: Any) -> list[str]:
        return [c["time"][11:16] for c in store.candles(**filters)]

    assert starts(since=at(60), until=at(180)) == ["12:01", "12:02"]
    # a candle starting before since is left out, even if it overlaps it
    assert starts(since=at(61), until=at(181)) == ["12:02", "12:03"]
    assert starts(interval="5m") == ["12:00", "12:05", "12:10", "12:15"]
    assert starts(interval="5m", since=at(60)) == ["12:05", "12:10", "12:15"]
    assert starts(interval="5m", since=at(300), until=at(601)) == ["12:05", "12:10"]
    assert starts(interval="5m", until=at(600)) == ["12:00", "12:05"]
    assert starts(interval="15m", limit=1) == ["12:15"]
    assert starts(interval="1h", since=at(1)) == []


def test_coarser_intervals_merge_the_minutes(store: Store):
    rng = random.Random(11)
    trades = []
    for n in range(400):
        when = at(rng.uniform(-1800, 5400))  # 11:30 to 13:30
        trades.append(trade(str(n), when, f"{rng.randint(9000, 11000)}.{rng.randint(0, 99):02d}",
                            f"0.{rng.randint(1, 10**8):08d}",
                            pair=rng.choice(["BTC-USD", "ETH-USD"])))
    store.write(trades)

    for interval in ("1m", "5m", "15m", "1h"):
        assert [(*ohlc(c), c["pair"]) for c in store.candles(interval=interval, limit=None)
                ] == expected_candles(trades, interval_ms(interval)), interval
    hours = store.candles(interval="1h", pair="BTC-USD")
    assert [c["time"] for c in hours] == ["2026-11-24T11:00:00.000Z", "2026-11-24T12:00:00.000Z",
                                          "2026-11-24T13:00:00.000Z"]
    assert sum(c["trades"] for c in store.candles(interval="15m", limit=None)) == 400


def expected_candles(trades: list[Trade], step: int) -> list[tuple[Any, ...]]:
    """The oracle, straight from the definition: trades grouped by feed and interval start,
    sorted by (time, id as a number); no code shared with storage.candles."""
    groups: dict[tuple[int, str, str], list[Trade]] = defaultdict(list)
    for t in trades:
        ms = to_ms(t.time)
        groups[ms - ms % step, t.exchange, t.pair].append(t)
    result = []
    for (start, _, pair), group in sorted(groups.items()):
        group.sort(key=lambda t: (to_ms(t.time), int(t.id)))
        with localcontext(EXACT):
            volume = sum((t.amount for t in group), Decimal(0))
        result.append((
            (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=start))
            .strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            str(group[0].price), str(max(t.price for t in group)),
            str(min(t.price for t in group)), str(group[-1].price), format(volume, "f"),
            len(group), pair))
    return result


def test_kept_up_to_date_equals_rebuilt_from_the_stored_trades(store: Store):
    rng = random.Random(5)
    trades = []
    for n in range(600):
        when = at(rng.uniform(0, 900)).replace(microsecond=rng.choice([0, 1000, 999_999]))
        trades.append(trade(str(rng.randrange(10**6)) if n % 5 else f"id-{n}", when,
                            f"{rng.randint(100, 105)}.{rng.choice(['5', '50', '25'])}",
                            f"0.{rng.randint(1, 999)}", exchange=rng.choice(["a", "b"]),
                            pair=rng.choice(["BTC-USD", "ETH-USD"])))
    arrivals = trades + rng.sample(trades, 100)  # replays
    rng.shuffle(arrivals)  # late trades everywhere
    while arrivals:
        size = rng.randint(1, 60)
        store.write(arrivals[:size])
        arrivals = arrivals[size:]
    kept = stored_rows(store)
    answers = {i: store.candles(interval=i, limit=None) for i in ("1m", "5m", "15m", "1h")}
    assert len(kept) > 50

    with store.engine.begin() as conn:
        conn.execute(sa.delete(candles_table))
    assert store.rebuild_candles() == len(kept)

    assert stored_rows(store) == kept
    for interval, answer in answers.items():
        assert store.candles(interval=interval, limit=None) == answer
    assert sum(c["trades"] for c in answers["1h"]) == count_rows(store.engine, "trades")


def test_rebuild_replaces_only_the_feeds_and_minutes_asked(store: Store):
    store.write([trade(str(n), at(n * 60), "10") for n in range(5)]
                + [trade("1", at(0), "20", exchange="bitfinex")])
    with store.engine.begin() as conn:  # damage every candle
        conn.execute(sa.update(candles_table).values(close="0", trades=99))

    # 12:01:30 to 12:02:30 means the whole minutes 12:01 and 12:02
    assert store.rebuild_candles("coinbase", "BTC-USD", since=at(90), until=at(150)) == 2

    assert [(c["exchange"], c["time"][11:16], c["close"], c["trades"])
            for c in store.candles(limit=None)] == [
        ("bitfinex", "12:00", "0", 99), ("coinbase", "12:00", "0", 99),
        ("coinbase", "12:01", "10", 1), ("coinbase", "12:02", "10", 1),
        ("coinbase", "12:03", "0", 99), ("coinbase", "12:04", "0", 99)]
    assert store.rebuild_candles() == 6
    assert all(c["trades"] == 1 for c in store.candles(limit=None))
    # a candle whose trades are gone goes too
    with store.engine.begin() as conn:
        conn.execute(sa.delete(trades_table).where(trades_table.c.exchange == "bitfinex"))
    assert store.rebuild_candles() == 5
    assert {c["exchange"] for c in store.candles()} == {"coinbase"}


def test_a_database_from_before_candles_is_backfilled_once(store: Store):
    store.write([trade(str(n), at(n * 40), "10") for n in range(4)])
    kept = stored_rows(store)
    with store.engine.begin() as conn:  # as an earlier version left it: trades, no candles
        conn.execute(sa.delete(candles_table))

    assert store.backfill_candles() == 3

    assert stored_rows(store) == kept
    assert store.backfill_candles() == 0  # there are candles now: nothing to do


def test_prune_deletes_the_candles_that_ended_before_the_cutoff(store: Store):
    store.write([trade(str(n), at(n * 30), "10") for n in range(6)])  # 12:00 .. 12:02:30

    store.prune(at(90))  # 12:01:30: the 12:00 candle ended, 12:01 did not

    assert [c["time"][11:16] for c in store.candles()] == ["12:01", "12:02"]
    assert [t["id"] for t in store.trades()] == ["5", "4", "3"]
    store.prune(at(180))
    assert store.candles() == []


def test_bad_arguments_are_refused(store: Store):
    with pytest.raises(ValueError, match="unknown interval"):
        store.candles(interval="1d")
    with pytest.raises(ValueError, match="limit"):
        store.candles(limit=-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.candles(since=datetime(2026, 1, 1))
    assert store.candles() == [] and store.candles(interval="1h") == []
    assert store.rebuild_candles() == 0 and store.backfill_candles() == 0


def test_a_candle_row_round_trips():
    candle = Candle.of_trades([_row(trade("5", at(1), "1.50", "2"))])
    assert Candle.from_row(_Attributes(candle.row())) == candle
    assert aggregate([candle], 3_600_000)[0].start_ms == to_ms(NOON)


class _Attributes:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _row(t: Trade) -> Any:
    """A trade as the stored row candles are built from."""
    return _Attributes({"exchange": t.exchange, "pair": t.pair, "time_ms": to_ms(t.time),
                        "trade_id": t.id, "price": format(t.price, "f"),
                        "amount": format(t.amount, "f")})
