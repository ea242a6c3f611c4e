"""``Store`` on SQLite and on a real PostgreSQL server: what goes in comes out exactly."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from storage_support import T0, at, count_rows, ticker, trade

from exchanges.records import FeedState, Side, Status
from storage.store import Store, engine_url, metadata


def test_tickers_round_trip_as_their_exact_json(store: Store):
    written = [
        ticker(ms=0, last="43210.50", bid="0.00000001", ask="1E+3", bid_size="0.00000001",
               ask_size=None),
        ticker(ms=1, last="0.30000000000000004", bid="-0", ask="12345678901234567890.123456789",
               bid_size=None, ask_size="2.000", volume_24h="1234.56780", open_24h="43000.1"),
        ticker(exchange="coinbase", ms=2, last="0.00012"),
    ]
    assert store.write(written) == 3

    stored = store.tickers()

    assert stored == [record.to_json() for record in reversed(written)]
    assert [list(row) for row in stored] == [list(r.to_json()) for r in reversed(written)]
    assert stored[2]["last"] == "43210.50"
    assert stored[2]["bid"] == "0.00000001"
    assert stored[2]["ask"] == "1000"
    assert stored[1]["last"] == "0.30000000000000004"
    assert stored[1]["ask_size"] == "2.000"
    assert stored[1]["volume_24h"] == "1234.56780"
    assert stored[0]["volume_24h"] is None
    assert (stored[1]["open_24h"], stored[0]["open_24h"]) == ("43000.1", None)
    assert stored[2]["time"] == "2026-11-24T17:42:03.123Z"


def test_trades_round_trip_as_their_exact_json(store: Store):
    written = [
        trade("1", price="43210.50", amount="0.00000001", side=Side.SELL),
        trade("2", ms=999, price="0.30000000000000004", amount="1.10"),
    ]
    store.write(written)

    stored = store.trades()

    assert stored == [record.to_json() for record in reversed(written)]
    assert stored[0]["time"] == "2026-11-24T17:42:04.122Z"
    assert stored[1] == {"exchange": "coinbase", "pair": "BTC-USD", "symbol": "BTC-USD",
                         "time": "2026-11-24T17:42:03.123Z", "id": "1", "price": "43210.50",
                         "amount": "0.00000001", "side": "sell"}


def test_a_replayed_trade_is_stored_once(store: Store):
    first = trade("77", price="100.0")
    store.write([first, trade("77", price="999")])  # a duplicate in the same batch
    store.write([trade("77", price="555"), trade("78")])  # and in a later one
    # the same id on another pair or exchange is another trade
    store.write([trade("77", pair="ETH-USD"), trade("77", exchange="bitfinex")])

    stored = store.trades(limit=None)

    assert sorted((t["exchange"], t["pair"], t["id"], t["price"]) for t in stored) == [
        ("bitfinex", "BTC-USD", "77", "43210.50"),
        ("coinbase", "BTC-USD", "77", "100.0"),
        ("coinbase", "BTC-USD", "78", "43210.50"),
        ("coinbase", "ETH-USD", "77", "43210.50"),
    ]


def test_write_takes_only_tickers_and_trades(store: Store):
    status = Status("coinbase", None, FeedState.LIVE, "", T0)

    assert store.write([status, "junk", trade("1"), ticker()]) == 2
    assert store.write([status]) == 0
    assert len(store.trades()) == 1
    assert len(store.tickers()) == 1


def test_queries_filter_by_feed_and_time_newest_first(store: Store):
    store.write([
        trade("a", ms=0), trade("b", ms=10), trade("c", ms=20), trade("d", ms=30),
        trade("e", ms=20, pair="ETH-USD"), trade("f", ms=20, exchange="bitfinex"),
        ticker(ms=5), ticker(ms=15), ticker(ms=15, pair="ETH-USD"), ticker(ms=25),
    ])

    def ids(rows):
        return [row["id"] for row in rows]

    assert ids(store.trades()) == ["d", "f", "e", "c", "b", "a"]  # same time: later write first
    assert ids(store.trades(exchange="coinbase", pair="BTC-USD")) == ["d", "c", "b", "a"]
    assert ids(store.trades(pair="ETH-USD")) == ["e"]
    assert ids(store.trades(exchange="bitfinex")) == ["f"]
    # since inclusive, until exclusive, at millisecond resolution
    assert ids(store.trades(pair="BTC-USD", since=at(10), until=at(30))) == ["f", "c", "b"]
    assert ids(store.trades(since=at(30))) == ["d"]
    assert ids(store.trades(until=at(10))) == ["a"]
    # b's time is 17:42:03.133456, shown and stored as .133: since .133956 still takes it
    assert ids(store.trades(since=at(10) + timedelta(microseconds=500), until=at(20))) == ["b"]
    assert ids(store.trades(since=at(11), until=at(20))) == []
    assert ids(store.trades(limit=2)) == ["d", "f"]
    assert ids(store.trades(limit=0)) == []
    assert ids(store.trades(exchange="kraken")) == []
    assert [t["time"] for t in store.tickers(pair="BTC-USD", since=at(10))] == [
        "2026-11-24T17:42:03.148Z", "2026-11-24T17:42:03.138Z"]
    assert len(store.tickers(limit=None)) == 4


def test_naive_times_and_negative_limits_are_refused(store: Store):
    with pytest.raises(ValueError, match="timezone-aware"):
        store.trades(since=T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="limit"):
        store.tickers(limit=-1)


def test_recent_trades_are_the_newest_in_time_order(store: Store):
    store.write([trade(str(n), ms=n * 10) for n in range(10)])

    assert [t["id"] for t in store.recent_trades(3)] == ["7", "8", "9"]
    assert [t["id"] for t in store.recent_trades()] == [str(n) for n in range(10)]


def test_latest_tickers_is_the_newest_per_feed(store: Store):
    store.write([
        ticker("bitfinex", "BTC-USD", ms=10, last="1"),
        ticker("bitfinex", "BTC-USD", ms=30, last="3"),
        ticker("coinbase", "BTC-USD", ms=20, last="20"),
        ticker("bitfinex", "ETH-USD", ms=5, last="5"),
    ])
    store.write([
        ticker("bitfinex", "BTC-USD", ms=20, last="2"),  # arrived late: older than ms=30
        ticker("coinbase", "BTC-USD", ms=20, last="21"),  # same time: the later write wins
    ])

    latest = store.latest_tickers()

    assert [(t["exchange"], t["pair"], t["last"]) for t in latest] == [
        ("bitfinex", "BTC-USD", "3"), ("bitfinex", "ETH-USD", "5"), ("coinbase", "BTC-USD", "21")]
    assert latest[0] == ticker("bitfinex", "BTC-USD", ms=30, last="3").to_json()


def test_pairs_lists_every_feed_seen(store: Store):
    assert store.pairs() == []
    store.write([ticker("bitfinex", "BTC-USD"), ticker("bitfinex", "BTC-USD", ms=1),
                 trade("1", "coinbase", "ETH-USD"), trade("2", "bitfinex", "BTC-USD"),
                 trade("3", "bitfinex", "SOL-USD"), ticker("bitfinex", "ETH-USDT")])

    assert store.pairs() == [("bitfinex", "BTC-USD"), ("bitfinex", "ETH-USDT"),
                             ("bitfinex", "SOL-USD"), ("coinbase", "ETH-USD")]


def test_empty_store_answers_every_query(store: Store):
    assert store.tickers() == []
    assert store.trades() == []
    assert store.recent_trades() == []
    assert store.latest_tickers() == []
    assert store.prune(T0) == 0


def test_prune_deletes_older_rows_in_batches(store: Store):
    # prune_batch is 3 in this fixture: 8 old trades and 7 old tickers take several rounds
    store.write([trade(f"old{n}", ms=n) for n in range(8)]
                + [ticker(ms=n) for n in range(7)]
                + [trade("edge", ms=100), ticker(ms=100), trade("new", ms=200)])

    assert store.prune(at(100), max_batches=1) == 6  # one round: 3 per table
    assert store.prune(at(100)) == 9
    assert store.prune(at(100)) == 0

    assert [t["id"] for t in store.trades()] == ["new", "edge"]
    assert len(store.tickers()) == 1


def test_tables_come_back_if_they_go_missing(store: Store):
    store.write([trade("1")])
    metadata.drop_all(store.engine)

    with pytest.raises(sa.exc.SQLAlchemyError):
        store.write([trade("2")])
    store.write([trade("3")])

    assert [t["id"] for t in store.trades()] == ["3"]


def test_sqlite_store_makes_its_directory_and_runs_in_wal_mode(tmp_path: Path):
    path = tmp_path / "new" / "dir" / "market.db"
    store = Store(f"sqlite:///{path}", busy_timeout=2.5)
    try:
        store.write([trade("1"), ticker()])
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
    finally:
        store.close()
    # the data is a plain SQLite file another process can read, decimals as text
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT price, amount, typeof(price) FROM trades").fetchall() == [
            ("43210.50", "0.30000000000000004", "text")]

    reopened = Store(f"sqlite:///{path}")
    try:
        assert [t["id"] for t in reopened.trades()] == ["1"]
    finally:
        reopened.close()


def test_sqlite_store_works_from_many_threads(tmp_path: Path):
    """Each call may run on another OS thread (tpool): pooled connections must allow it."""
    from concurrent.futures import ThreadPoolExecutor

    store = Store(f"sqlite:///{tmp_path / 'market.db'}")
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: store.write([trade(str(n), ms=n)]), range(40)))
            counts = list(pool.map(lambda _: len(store.trades(limit=None)), range(8)))
        assert count_rows(store.engine, "trades") == 40
        assert all(0 < n <= 40 for n in counts)
    finally:
        store.close()


def test_postgres_urls_get_the_psycopg_3_driver():
    assert engine_url("postgresql://u:p@h:5432/db").drivername == "postgresql+psycopg"
    assert engine_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert engine_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+psycopg2"
    assert engine_url("sqlite:///data/market.db").drivername == "sqlite"
    assert "p@" not in repr(Store("postgresql://u:secret@127.0.0.1:1/db"))


def test_decimals_survive_every_digit(store: Store):
    values = ["0.00000001", "43210.50", "0.30000000000000004", "100", "1.0E+2",
              "0.000000000000000000000001", "98765432109876543210.98765432109876543210"]
    store.write([trade(str(n), price=value, amount=value) for n, value in enumerate(values)])

    stored = sorted(store.trades(limit=None), key=lambda t: int(t["id"]))

    assert [t["price"] for t in stored] == [format(Decimal(v), "f") for v in values]
    assert stored[4]["price"] == "100"
    assert stored[5]["amount"] == "0.000000000000000000000001"


def test_a_database_of_an_older_version_gains_the_new_ticker_columns(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:  # the tickers table as the first release made it
        old.execute("CREATE TABLE tickers (id INTEGER PRIMARY KEY, exchange TEXT NOT NULL, "
                    "pair TEXT NOT NULL, symbol TEXT NOT NULL, time_ms BIGINT NOT NULL, "
                    "bid TEXT NOT NULL, ask TEXT NOT NULL, last TEXT NOT NULL, bid_size TEXT, "
                    "ask_size TEXT, volume TEXT)")
        old.execute("INSERT INTO tickers (exchange, pair, symbol, time_ms, bid, ask, last) "
                    "VALUES ('bitfinex', 'BTC-USD', 'tBTCUSD', 0, '1', '2', '1.5')")
    store = Store(f"sqlite:///{path}")
    try:
        assert store.write([ticker(ms=1, open_24h="1.25")]) == 1
        stored = store.tickers()
        assert [row["open_24h"] for row in stored] == ["1.25", None]
    finally:
        store.close()
