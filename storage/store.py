"""The market history on disk: every ticker and trade the hub saw, in SQLite or PostgreSQL, and
the one-minute candles of those trades (``storage.candles``), kept up to date as they are written.

One code path over SQLAlchemy Core serves both databases; the URL picks one
(``sqlite:///data/market.db``, ``postgresql://user@host/db``). Prices and amounts are stored as
the exact text ``to_json()`` sends (``format(d, "f")``), never as floats or numerics, and times
as epoch milliseconds, the resolution ``to_json()`` shows, so a record read back is the JSON the
page got when it was live, byte for byte.

``Store`` is synchronous and blocking on purpose: every method does disk or network I/O in C
(sqlite3, libpq). On the event loop it must run through ``concurrency.run_blocking`` (an OS
thread from ``eventlet.tpool``), and only one such call at a time: see ``serialized`` in
``storage.writer`` for why and how. Nothing here logs, sleeps or emits, so it is safe to call
from any OS thread; the caller logs what a call returned or raised.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    literal_column,
    pool,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateIndex, CreateTable

from exchanges.records import Ticker, Trade, format_decimal, format_time

from .candles import (
    MINUTE_MS,
    Candle,
    add_trades,
    aggregate,
    ceil_to,
    floor_to,
    interval_ms,
    minute_candles,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)

metadata = MetaData()

# SQLite only auto-numbers a column declared exactly INTEGER PRIMARY KEY; PostgreSQL gets BIGSERIAL
_Id = BigInteger().with_variant(Integer(), "sqlite")

tickers_table = Table(
    "tickers", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("exchange", Text, nullable=False),
    Column("pair", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("bid", Text, nullable=False),
    Column("ask", Text, nullable=False),
    Column("last", Text, nullable=False),
    Column("bid_size", Text, nullable=True),
    Column("ask_size", Text, nullable=True),
    Column("volume", Text, nullable=True),  # Ticker.volume_24h
    Column("open_24h", Text, nullable=True),
    Column("high_24h", Text, nullable=True),
    Column("low_24h", Text, nullable=True),
    Index("ix_tickers_feed_time", "exchange", "pair", "time_ms"),
    Index("ix_tickers_time", "time_ms"),
)

trades_table = Table(
    "trades", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("exchange", Text, nullable=False),
    Column("pair", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("trade_id", Text, nullable=False),
    Column("price", Text, nullable=False),
    Column("amount", Text, nullable=False),
    Column("side", Text, nullable=False),
    UniqueConstraint("exchange", "pair", "trade_id", name="uq_trades_trade"),
    Index("ix_trades_feed_time", "exchange", "pair", "time_ms"),
    Index("ix_trades_time", "time_ms"),
)

# one-minute candles (storage.candles): time_ms is the minute's start (exchange time, UTC);
# open_ms/open_id and close_ms/close_id name the trades the open and close came from
candles_table = Table(
    "candles", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("exchange", Text, nullable=False),
    Column("pair", Text, nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("open", Text, nullable=False),
    Column("high", Text, nullable=False),
    Column("low", Text, nullable=False),
    Column("close", Text, nullable=False),
    Column("volume", Text, nullable=False),
    Column("trades", BigInteger, nullable=False),
    Column("open_ms", BigInteger, nullable=False),
    Column("open_id", Text, nullable=False),
    Column("close_ms", BigInteger, nullable=False),
    Column("close_id", Text, nullable=False),
    UniqueConstraint("exchange", "pair", "time_ms", name="uq_candles_minute"),
    Index("ix_candles_time", "time_ms"),
)
CANDLE_VALUES = ("open", "high", "low", "close", "volume", "trades", "open_ms", "open_id",
                 "close_ms", "close_id")
# what a candle needs of a trade (the columns storage.candles.TradeLike names)
TRADE_FIELDS = ("exchange", "pair", "time_ms", "trade_id", "price", "amount")


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware time, exactly (floored like ``format_time``, no float)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: pass a timezone-aware time")
    return (moment - EPOCH) // ONE_MS


def from_ms(ms: int) -> datetime:
    return EPOCH + ms * ONE_MS


def engine_url(url: str | URL) -> URL:
    """Read a database URL; a bare ``postgresql://`` (or ``postgres://``) gets psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class Store:
    """Tickers and trades in one database; the tables are created on first use.

    Blocking: call it through ``run_blocking``, one call at a time (``storage.serialized``).
    Any call may run on a different OS thread than the last: connections come from the
    engine's pool and each call holds one for its own duration only (SQLite connections are
    opened with ``check_same_thread=False`` for that). Failures surface as
    ``sqlalchemy.exc.SQLAlchemyError`` (locked, disk full, server down) or ``OSError`` (the
    SQLite directory can't be made); the next call tries again from scratch.
    """

    def __init__(self, url: str | URL, *, busy_timeout: float = 5.0,
                 prune_batch: int = 10_000) -> None:
        """``busy_timeout``: seconds SQLite waits for another writer's lock before failing.
        ``prune_batch``: rows per table deleted per transaction by ``prune``."""
        self.url = engine_url(url)
        self._busy_timeout = busy_timeout
        self._prune_batch = prune_batch
        self._ready = False
        self.engine: Engine = self._create_engine()

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"

    # -- set-up ---------------------------------------------------------------------------------

    def _create_engine(self) -> Engine:
        if self.url.get_backend_name() != "sqlite":
            # pre-ping: a pooled connection a restarted server dropped is replaced, not failed on
            return create_engine(self.url, pool_pre_ping=True)
        database = self.url.database or ""
        in_memory = database in ("", ":memory:") or "mode=memory" in database
        engine = create_engine(
            self.url,
            connect_args={"check_same_thread": False, "timeout": self._busy_timeout},
            # one shared connection for an in-memory database, else every thread sees its own
            **({"poolclass": pool.StaticPool} if in_memory else {}),
        )
        busy_ms = int(self._busy_timeout * 1000)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; no fsync per commit
            cursor.close()

        return engine

    def _connect_ready(self) -> Engine:
        """The engine, with the tables made on the first call (and again after a failure)."""
        if not self._ready:
            if self.url.get_backend_name() == "sqlite" and self.url.database not in (None, ""):
                database = self.url.database
                if database != ":memory:" and not database.startswith("file:"):
                    os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
            # IF NOT EXISTS: two first calls at once (or two processes) both succeed
            with self.engine.begin() as conn:
                for table in metadata.sorted_tables:
                    conn.execute(CreateTable(table, if_not_exists=True))
                    for index in sorted(table.indexes, key=lambda index: str(index.name)):
                        conn.execute(CreateIndex(index, if_not_exists=True))
                _add_missing_columns(conn)
            self._ready = True
        return self.engine

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """On a database or file-system failure, check the tables again on the next call:
        they may be what went missing (a new database file, a dropped schema)."""
        try:
            yield
        except (SQLAlchemyError, OSError):
            self._ready = False
            raise

    def close(self) -> None:
        """Close the pooled connections (at shutdown, or in tests before removing the file)."""
        self.engine.dispose()

    # -- writing ----------------------------------------------------------------------------------

    def write(self, records: Iterable[object]) -> int:
        """Store a batch in one transaction; returns how many tickers and trades it held.

        Anything that is not a ``Ticker`` or a ``Trade`` is skipped. A trade already stored
        (same exchange, pair and id: a replay after a reconnect) is left as it is. The
        one-minute candles of the new trades are updated in the same transaction.
        """
        ticker_rows: list[dict[str, Any]] = []
        trade_rows: list[dict[str, Any]] = []
        for record in records:
            if isinstance(record, Trade):
                trade_rows.append(_trade_row(record))
            elif isinstance(record, Ticker):
                ticker_rows.append(_ticker_row(record))
        if not (ticker_rows or trade_rows):
            return 0
        with self._guard(), self._connect_ready().begin() as conn:
            if ticker_rows:
                conn.execute(insert(tickers_table), ticker_rows)
            if trade_rows:
                newest = conn.execute(select(func.max(trades_table.c.id))).scalar()
                conn.execute(self._insert_trades(conn), trade_rows)
                _update_candles(conn, _inserted_trades(conn, newest, trade_rows))
        return len(ticker_rows) + len(trade_rows)

    def _insert_trades(self, conn: Connection) -> Any:
        """INSERT that skips a trade whose (exchange, pair, trade_id) is already stored."""
        dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
        return dialect.insert(trades_table).on_conflict_do_nothing(
            index_elements=["exchange", "pair", "trade_id"])

    def prune(self, before: datetime, max_batches: int | None = None) -> int:
        """Delete tickers and trades older than ``before``, and the candles that ended before
        it; returns the number of rows deleted.

        Works in transactions of at most ``prune_batch`` rows per table, so a large delete never
        holds SQLite's write lock for long. ``max_batches`` stops after that many rounds (the
        writer uses 1 so other calls get a turn between rounds); ``None`` runs to the end.
        """
        cutoff = to_ms(before)
        total = 0
        rounds = 0
        more = True
        with self._guard():
            engine = self._connect_ready()
            while more and (max_batches is None or rounds < max_batches):
                rounds += 1
                more = False
                for table, table_cutoff in ((tickers_table, cutoff), (trades_table, cutoff),
                                            (candles_table, floor_to(cutoff, MINUTE_MS))):
                    oldest = (select(table.c.id).where(table.c.time_ms < table_cutoff)
                              .limit(self._prune_batch))
                    with engine.begin() as conn:
                        deleted = conn.execute(delete(table).where(table.c.id.in_(oldest)))
                    total += deleted.rowcount
                    more = more or deleted.rowcount >= self._prune_batch
        return total

    # -- reading ----------------------------------------------------------------------------------

    def tickers(self, exchange: str | None = None, pair: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                limit: int | None = 500) -> list[dict[str, Any]]:
        """Stored tickers, newest first, as ``Ticker.to_json()`` dicts.

        ``since`` is inclusive, ``until`` exclusive, both aware datetimes compared at the
        millisecond resolution times are stored with. ``limit`` None means no limit.
        """
        query = _filtered(tickers_table, exchange, pair, since, until, limit)
        return [_ticker_json(row) for row in self._fetch(query)]

    def trades(self, exchange: str | None = None, pair: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               limit: int | None = 500) -> list[dict[str, Any]]:
        """Stored trades, newest first, as ``Trade.to_json()`` dicts; filters as ``tickers``."""
        query = _filtered(trades_table, exchange, pair, since, until, limit)
        return [_trade_json(row) for row in self._fetch(query)]

    def candles(self, exchange: str | None = None, pair: str | None = None,
                interval: str = "1m", since: datetime | None = None,
                until: datetime | None = None, limit: int | None = 500) -> list[dict[str, Any]]:
        """Candles of ``interval`` (``1m``, ``5m``, ``15m``, ``1h``), OLDEST first, as
        ``Candle.to_json()`` dicts: those whose start is at or after ``since`` and before
        ``until``, sorted by start, then exchange and pair; of them the last ``limit`` (the
        newest; None: all).

        Intervals start on UTC boundaries; those above a minute are merged from the stored
        one-minute candles.
        """
        step = interval_ms(interval)
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        table = candles_table
        where = []
        if exchange is not None:
            where.append(table.c.exchange == exchange)
        if pair is not None:
            where.append(table.c.pair == pair)
        # a candle of ``step`` starting at or after ``since`` holds only minutes from
        # ceil(since) on; one starting before ``until`` only minutes before ceil(until)
        if since is not None:
            where.append(table.c.time_ms >= ceil_to(to_ms(since), step))
        if until is not None:
            where.append(table.c.time_ms < ceil_to(to_ms(until), step))
        with self._guard(), self._connect_ready().connect() as conn:
            if step == MINUTE_MS:
                query = select(table).where(*where).order_by(
                    table.c.time_ms.desc(), table.c.exchange.desc(), table.c.pair.desc())
                rows = conn.execute(query if limit is None else query.limit(limit)).all()
                minutes = sorted(map(Candle.from_row, rows),
                                 key=lambda c: (c.start_ms, c.exchange, c.pair))
                return [candle.to_json() for candle in minutes]
            wanted = None
            if limit is not None:
                # the last ``limit`` (start, exchange, pair) first, then only their minutes
                start = (table.c.time_ms - table.c.time_ms % literal_column(str(step))
                         ).label("start")
                keys = conn.execute(
                    select(table.c.exchange, table.c.pair, start).where(*where).distinct()
                    .order_by(start.desc(), table.c.exchange.desc(), table.c.pair.desc())
                    .limit(limit)
                ).all()
                if not keys:
                    return []
                wanted = {tuple(key) for key in keys}
                where.append(table.c.time_ms >= min(key.start for key in keys))
            rows = conn.execute(select(table).where(*where).order_by(
                table.c.exchange, table.c.pair, table.c.time_ms)).all()
        merged = aggregate(map(Candle.from_row, rows), step)
        return [candle.to_json() for candle in merged
                if wanted is None or candle.feed_start in wanted]

    def rebuild_candles(self, exchange: str | None = None, pair: str | None = None,
                        since: datetime | None = None, until: datetime | None = None) -> int:
        """Make the one-minute candles again from the stored trades; returns how many there are
        now. Only the feeds and the whole minutes from ``since`` to ``until`` are rebuilt (all
        by default), one transaction per feed. Gives the same candles ``write`` keeps up to
        date (tests/storage/test_storage_candles.py holds it); for a database that stored
        trades before it had candles, or after a repair.
        """
        table = candles_table
        low = None if since is None else floor_to(to_ms(since), MINUTE_MS)
        high = None if until is None else ceil_to(to_ms(until), MINUTE_MS)
        total = 0
        with self._guard():
            engine = self._connect_ready()
            with engine.connect() as conn:
                feeds = sorted(set(_feeds(conn, trades_table)) | set(_feeds(conn, table)))
            for feed in feeds:
                if (exchange is not None and feed[0] != exchange) or (
                        pair is not None and feed[1] != pair):
                    continue
                with engine.begin() as conn:
                    conn.execute(delete(table).where(*_feed_range(table, feed, low, high)))
                    source = trades_table
                    trades = conn.execute(
                        select(*(source.c[name] for name in TRADE_FIELDS))
                        .where(*_feed_range(source, feed, low, high))
                        .order_by(source.c.time_ms, source.c.id))
                    rows = [candle.row() for candle in minute_candles(trades)]
                    if rows:
                        conn.execute(insert(table), rows)
                total += len(rows)
        return total

    def backfill_candles(self) -> int:
        """Build the candles of a database that stored trades before it had candles (made by
        an earlier version): rebuilds them all when there are trades and not one candle;
        returns how many were made (0: nothing to do). Call it before the writer starts."""
        with self._guard(), self._connect_ready().connect() as conn:
            trades = conn.execute(select(trades_table.c.id).limit(1)).first()
            candles = conn.execute(select(candles_table.c.id).limit(1)).first()
        if trades is None or candles is not None:
            return 0
        return self.rebuild_candles()

    def recent_trades(self, limit: int = 500) -> list[dict[str, Any]]:
        """The last ``limit`` trades across all feeds, in time order (oldest first), the order a
        page or the hub's memory replays them in."""
        return self.trades(limit=limit)[::-1]

    def latest_tickers(self) -> list[dict[str, Any]]:
        """The newest ticker of every (exchange, pair) ever stored, sorted by exchange and pair."""
        table = tickers_table
        latest = []
        with self._guard(), self._connect_ready().connect() as conn:
            for exchange, pair in _feeds(conn, table):
                row = conn.execute(
                    select(table)
                    .where(table.c.exchange == exchange, table.c.pair == pair)
                    .order_by(table.c.time_ms.desc(), table.c.id.desc())
                    .limit(1)
                ).one()
                latest.append(_ticker_json(row))
        return latest

    def pairs(self) -> list[tuple[str, str]]:
        """Every (exchange, pair) with a stored ticker or trade, sorted."""
        with self._guard(), self._connect_ready().connect() as conn:
            seen = set(_feeds(conn, tickers_table)) | set(_feeds(conn, trades_table))
        return sorted(seen)

    def _fetch(self, query: Select[Any]) -> Sequence[Any]:
        with self._guard(), self._connect_ready().connect() as conn:
            return conn.execute(query).all()


def _filtered(table: Table, exchange: str | None, pair: str | None, since: datetime | None,
              until: datetime | None, limit: int | None) -> Select[Any]:
    query = select(table)
    if exchange is not None:
        query = query.where(table.c.exchange == exchange)
    if pair is not None:
        query = query.where(table.c.pair == pair)
    if since is not None:
        query = query.where(table.c.time_ms >= to_ms(since))
    if until is not None:
        query = query.where(table.c.time_ms < to_ms(until))
    query = query.order_by(table.c.time_ms.desc(), table.c.id.desc())
    if limit is not None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        query = query.limit(limit)
    return query


def _feed_range(table: Table, feed: tuple[str, str], low: int | None, high: int | None
                ) -> list[Any]:
    """WHERE clauses: one feed's rows with ``low <= time_ms < high`` (None: unbounded)."""
    where = [table.c.exchange == feed[0], table.c.pair == feed[1]]
    if low is not None:
        where.append(table.c.time_ms >= low)
    if high is not None:
        where.append(table.c.time_ms < high)
    return where


def _inserted_trades(conn: Connection, newest: int | None, rows: list[dict[str, Any]]
                     ) -> Sequence[Any]:
    """The trades of ``rows`` this transaction inserted (not the replays it skipped): those
    with an id above ``newest``, the highest before the insert.

    Ids only grow, so that is every trade inserted since; of them, those ``rows`` holds (a
    second writer's trades are not ours). Cheaper than INSERT ... RETURNING, which psycopg
    parses as one long statement per batch (twice the whole write's time on PostgreSQL).
    """
    table = trades_table
    query = select(*(table.c[name] for name in TRADE_FIELDS))
    if newest is not None:
        query = query.where(table.c.id > newest)
    ours = {(row["exchange"], row["pair"], row["trade_id"]) for row in rows}
    return [trade for trade in conn.execute(query)
            if (trade.exchange, trade.pair, trade.trade_id) in ours]


def _update_candles(conn: Connection, trades: Sequence[Any]) -> None:
    """Fold newly stored trades into their one-minute candles (read, merge, upsert), in the
    caller's transaction: a late trade corrects the minute it belongs to."""
    fresh = add_trades({}, trades)
    if not fresh:
        return
    table = candles_table
    minutes: dict[tuple[str, str], list[int]] = defaultdict(list)
    for exchange, pair, start in fresh:
        minutes[exchange, pair].append(start)
    for (exchange, pair), starts in minutes.items():
        stored = conn.execute(select(table).where(
            table.c.exchange == exchange, table.c.pair == pair, table.c.time_ms.in_(starts)))
        for row in stored:
            key = (row.exchange, row.pair, row.time_ms)
            fresh[key] = Candle.from_row(row).merge(fresh[key])
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    upsert = dialect.insert(table)
    upsert = upsert.on_conflict_do_update(
        index_elements=["exchange", "pair", "time_ms"],
        set_={name: upsert.excluded[name] for name in CANDLE_VALUES})
    conn.execute(upsert, [candle.row() for candle in fresh.values()])


def _feeds(conn: Connection, table: Table) -> list[tuple[str, str]]:
    """Distinct (exchange, pair) of a table by skipping along its (exchange, pair, time_ms)
    index: one indexed lookup per feed instead of a scan of every row."""
    feeds: list[tuple[str, str]] = []
    query = select(table.c.exchange, table.c.pair).order_by(table.c.exchange, table.c.pair)
    while True:
        step = query
        if feeds:
            step = query.where(tuple_(table.c.exchange, table.c.pair) > tuple_(*feeds[-1]))
        row = conn.execute(step.limit(1)).first()
        if row is None:
            return feeds
        feeds.append((row.exchange, row.pair))


def _add_missing_columns(conn: Connection) -> None:
    """Add the nullable columns a newer version declares to tables an older one made.

    The only schema change so far is new nullable ticker columns (the 24 h statistics), so
    adding what is missing is the whole migration; anything else would need a real tool.
    """
    existing = inspect(conn)
    for table in metadata.sorted_tables:
        have = {column["name"] for column in existing.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have:
                assert column.nullable, f"{table.name}.{column.name} needs a real migration"
                kind = column.type.compile(dialect=conn.dialect)
                conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def _ticker_row(ticker: Ticker) -> dict[str, Any]:
    return {
        "exchange": ticker.exchange,
        "pair": ticker.pair,
        "symbol": ticker.symbol,
        "time_ms": to_ms(ticker.time),
        "bid": format_decimal(ticker.bid),
        "ask": format_decimal(ticker.ask),
        "last": format_decimal(ticker.last),
        "bid_size": format_decimal(ticker.bid_size),
        "ask_size": format_decimal(ticker.ask_size),
        "volume": format_decimal(ticker.volume_24h),
        "open_24h": format_decimal(ticker.open_24h),
        "high_24h": format_decimal(ticker.high_24h),
        "low_24h": format_decimal(ticker.low_24h),
    }


def _trade_row(trade: Trade) -> dict[str, Any]:
    return {
        "exchange": trade.exchange,
        "pair": trade.pair,
        "symbol": trade.symbol,
        "time_ms": to_ms(trade.time),
        "trade_id": trade.id,
        "price": format_decimal(trade.price),
        "amount": format_decimal(trade.amount),
        "side": trade.side.value,
    }


def _ticker_json(row: Any) -> dict[str, Any]:
    """The same dict ``Ticker.to_json()`` made when the ticker was live."""
    return {
        "exchange": row.exchange,
        "pair": row.pair,
        "symbol": row.symbol,
        "time": format_time(from_ms(row.time_ms)),
        "bid": row.bid,
        "ask": row.ask,
        "last": row.last,
        "bid_size": row.bid_size,
        "ask_size": row.ask_size,
        "volume_24h": row.volume,
        "open_24h": row.open_24h,
        "high_24h": row.high_24h,
        "low_24h": row.low_24h,
    }


def _trade_json(row: Any) -> dict[str, Any]:
    """The same dict ``Trade.to_json()`` made when the trade was live."""
    return {
        "exchange": row.exchange,
        "pair": row.pair,
        "symbol": row.symbol,
        "time": format_time(from_ms(row.time_ms)),
        "id": row.trade_id,
        "price": row.price,
        "amount": row.amount,
        "side": row.side,
    }
