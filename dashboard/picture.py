"""The current picture, shared by collectors and web nodes through Redis (issue 12).

A collector writes what a page needs on connect, and a web node reads it when it (re)joins:

| key (``P`` = ``MESSAGE_QUEUE_CHANNEL``) | type | holds |
|---|---|---|
| ``P:status`` | hash | ``exchange<TAB>pair`` (pair empty: the exchange connection) -> status JSON |
| ``P:ticker`` | hash | ``exchange<TAB>pair`` -> the latest ticker JSON |
| ``P:trades`` | sorted set | the newest ``RECENT_TRADES`` trades (JSON), scored by ``seq`` |
| ``P:collectors`` | hash | collector id -> its registration: exchanges, feeds, feed timeout, time |

Every value is the Socket.IO record shape (``exchanges.records``), so what a web node loads is
what it sends. ``PictureStore`` is the Redis side (blocking calls, green once monkey patched);
``Mirror`` is a web node's copy in memory, pure and unit-tested: live batches, heartbeats and
reloads go in, and out come the records to send to its browsers, never the same trade twice.

A web node never trusts a picture blindly: a collector whose heartbeat is older than its
``FEED_TIMEOUT`` has its feeds shown ``stale`` ("collector ... silent for N s"), and while Redis
can't be reached every feed is shown ``stale`` ("upstream unavailable: ..."), its last quotes
and trades kept. The page keeps the status with the latest ``time`` per feed, so every status a
web node sends is stamped no earlier than its last such change (``Mirror.epoch``).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from exchanges.records import format_time

FeedKey = tuple[str, str | None]
Record = dict[str, Any]

# trades kept in Redis and in a web node's memory, for pages that reconnect with {"after": seq}
RECENT_TRADES = 2000
# a web node trims its trades once this many too many have come (a slice, not one at a time)
TRIM_SLACK = 256
# Redis client options for collectors and web nodes: fail fast, one quick retry (a pooled
# connection that died with a Redis restart), keepalives on idle links
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 5.0


def redis_options() -> dict[str, Any]:
    """Keyword arguments for ``redis.Redis.from_url`` (also given to python-socketio's manager)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {"socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": READ_TIMEOUT,
            "socket_keepalive": True, "retry": Retry(NoBackoff(), 1)}


def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, **redis_options())


def now_text() -> str:
    return format_time(datetime.now(UTC))


def _field(record: Record) -> str:
    return f"{record['exchange']}\t{record.get('pair') or ''}"


def _key(record: Record) -> FeedKey:
    return record["exchange"], record.get("pair")


def _trade_key(trade: Record) -> tuple[Any, ...]:
    return trade["exchange"], trade["pair"], trade["id"]


class PictureStore:
    """The picture in Redis: written by collectors, loaded by web nodes."""

    def __init__(self, client: Any, prefix: str, recent_trades: int = RECENT_TRADES) -> None:
        self.client = client
        self.recent_trades = recent_trades
        self.status_key = f"{prefix}:status"
        self.ticker_key = f"{prefix}:ticker"
        self.trades_key = f"{prefix}:trades"
        self.collectors_key = f"{prefix}:collectors"

    def write(self, event: str, batch: list[Record]) -> None:
        """One batch as the hub emitted it: statuses and tickers replace, trades add."""
        pipe = self.client.pipeline(transaction=False)
        self._add(pipe, event, batch)
        pipe.execute()

    def write_all(self, snapshot: dict[str, list[Record]], registration: Record) -> None:
        """A collector's whole picture at once (on start and after Redis came back)."""
        pipe = self.client.pipeline(transaction=True)
        for event in ("status", "ticker", "trade"):
            self._add(pipe, event, snapshot.get(event) or [])
        pipe.hset(self.collectors_key, registration["id"], orjson.dumps(registration))
        pipe.execute()

    def register(self, registration: Record) -> None:
        self.client.hset(self.collectors_key, registration["id"], orjson.dumps(registration))

    def load(self) -> dict[str, list[Record]]:
        """Everything, as lists of records: ``status``, ``ticker``, ``trade`` (oldest first),
        ``collectors``."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hvals(self.status_key)
        pipe.hvals(self.ticker_key)
        pipe.zrange(self.trades_key, 0, -1)
        pipe.hvals(self.collectors_key)
        statuses, tickers, trades, collectors = pipe.execute()
        return {"status": [orjson.loads(v) for v in statuses],
                "ticker": [orjson.loads(v) for v in tickers],
                "trade": [orjson.loads(v) for v in trades],
                "collectors": [orjson.loads(v) for v in collectors]}

    def _add(self, pipe: Any, event: str, batch: list[Record]) -> None:
        if not batch:
            return
        if event == "status":
            pipe.hset(self.status_key, mapping={_field(r): orjson.dumps(r) for r in batch})
        elif event == "ticker":
            pipe.hset(self.ticker_key, mapping={_field(r): orjson.dumps(r) for r in batch})
        elif event == "trade":
            pipe.zadd(self.trades_key, {orjson.dumps(t): t["seq"] for t in batch})
            pipe.zremrangebyrank(self.trades_key, 0, -self.recent_trades - 1)


class Mirror:
    """A web node's picture in memory: fed by the relayed batches, heartbeats and reloads.

    Every method is synchronous and does no I/O; the web node emits what they return.
    ``clock`` is monotonic seconds (heartbeat ages), ``wall`` the current time as text.
    """

    def __init__(self, *, recent_trades: int = RECENT_TRADES, snapshot_trades: int = 500,
                 default_timeout: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], str] = now_text) -> None:
        self.recent_trades = recent_trades
        self.snapshot_trades = snapshot_trades
        self.default_timeout = default_timeout
        self._clock = clock
        self._wall = wall
        self._statuses: dict[FeedKey, Record] = {}  # as the collectors sent them
        self._tickers: dict[FeedKey, Record] = {}
        self._trades: list[Record] = []  # ordered by seq
        self._seqs: list[int] = []  # their seqs, for bisect
        self._trade_keys: set[tuple[Any, ...]] = set()
        self._seeded: set[tuple[Any, ...]] = set()  # trades from storage, numbered by us
        self._forgotten_seq = 0
        # collector id -> {"info": registration, "seen": monotonic, "dead": bool}
        self._collectors: dict[str, dict[str, Any]] = {}
        self._owner: dict[str, str] = {}  # exchange -> collector id
        self.upstream_error: str | None = "not connected yet"
        self.epoch = ""  # no status leaves earlier than this (the last overlay change)
        self.relayed = 0  # records relayed to browsers, for /healthz

    # -- live batches -------------------------------------------------------------------------

    def statuses_in(self, batch: list[Record]) -> list[Record]:
        """Statuses from a collector; returns them as the browsers should get them."""
        for status in batch:
            self._statuses[_key(status)] = status
        return [self.effective(_key(status)) for status in batch]

    def tickers_in(self, batch: list[Record]) -> list[Record]:
        for ticker in batch:
            self._tickers[_key(ticker)] = ticker
        return batch

    def trades_in(self, batch: Iterable[Record]) -> list[Record]:
        """Trades from a collector; returns the ones not seen before, by seq."""
        fresh = []
        for trade in batch:
            key = _trade_key(trade)
            if key in self._trade_keys or not isinstance(trade.get("seq"), int):
                continue
            self._remember(trade, key)
            fresh.append(trade)
        fresh.sort(key=lambda trade: trade["seq"])
        return fresh

    def _remember(self, trade: Record, key: tuple[Any, ...]) -> None:
        seq = trade["seq"]
        if self._seqs and seq < self._seqs[-1]:
            at = bisect.bisect_right(self._seqs, seq)
            self._seqs.insert(at, seq)
            self._trades.insert(at, trade)
        else:
            self._seqs.append(seq)
            self._trades.append(trade)
        self._trade_keys.add(key)
        excess = len(self._trades) - self.recent_trades
        if excess > TRIM_SLACK or (excess > 0 and self.recent_trades < TRIM_SLACK):
            for oldest in self._trades[:excess]:
                self._trade_keys.discard(_trade_key(oldest))
            self._forgotten_seq = max(self._forgotten_seq, self._seqs[excess - 1])
            del self._trades[:excess], self._seqs[:excess]

    # -- collectors and the upstream ----------------------------------------------------------

    def heartbeat(self, info: Record) -> list[Record]:
        """A collector's heartbeat; returns the statuses to send when it had been given up for
        dead (its feeds are shown as the collector says again). ``stopping`` ends it at once."""
        entry = self._collectors.get(info["id"])
        revived = entry is not None and entry["dead"]
        self._collectors[info["id"]] = {"info": info, "seen": self._clock(),
                                        "dead": bool(info.get("stopping"))}
        for exchange in info.get("exchanges", ()):
            self._owner[exchange] = info["id"]
        if info.get("stopping") or revived:
            self.epoch = self._wall()
            return self._statuses_of(info.get("exchanges", ()))
        return []

    def check(self) -> list[Record]:
        """Give up the collectors whose heartbeat is older than their feed timeout; returns the
        statuses to send (their feeds, stale). Nothing while the upstream itself is down."""
        if self.upstream_error is not None:
            return []
        now = self._clock()
        changed: list[str] = []
        for entry in self._collectors.values():
            timeout = entry["info"].get("feed_timeout") or self.default_timeout
            if not entry["dead"] and now - entry["seen"] > timeout:
                entry["dead"] = True
                changed.extend(entry["info"].get("exchanges", ()))
        if not changed:
            return []
        self.epoch = self._wall()
        return self._statuses_of(changed)

    def upstream_down(self, reason: str) -> list[Record]:
        """Redis can't be reached: every feed is shown stale with the reason; returns the
        statuses to send (none when it was already down)."""
        if self.upstream_error is not None:
            self.upstream_error = reason
            return []
        self.upstream_error = reason
        self.epoch = self._wall()
        return self._statuses_of(self.exchanges())

    def merge(self, picture: dict[str, list[Record]]) -> dict[str, list[Record]]:
        """A picture loaded from Redis (``PictureStore.load``): the upstream is up again.

        Newer statuses and tickers replace ours, unseen trades join; collectors' heartbeats are
        dated from their registration time. Returns what to send: every feed's status, the
        tickers that changed and the trades that are new.
        """
        for status in picture.get("status", ()):
            mine = self._statuses.get(_key(status))
            if mine is None or status["time"] >= mine["time"]:
                self._statuses[_key(status)] = status
        tickers = []
        for ticker in picture.get("ticker", ()):
            mine = self._tickers.get(_key(ticker))
            if mine is None or ticker["time"] > mine["time"]:
                self._tickers[_key(ticker)] = ticker
                tickers.append(ticker)
        replaced = self._replace_seeded(picture.get("trade", ()))
        trades = [trade for trade in self.trades_in(picture.get("trade", ()))
                  if _trade_key(trade) not in replaced]
        now, wall_now = self._clock(), datetime.now(UTC)
        for info in sorted(picture.get("collectors", ()), key=lambda info: info["time"]):
            entry = self._collectors.get(info["id"])
            try:
                age = (wall_now - datetime.fromisoformat(info["time"])).total_seconds()
            except (KeyError, TypeError, ValueError):
                continue
            seen = now - max(0.0, age)
            if entry is not None and entry["seen"] >= seen:
                continue
            timeout = info.get("feed_timeout") or self.default_timeout
            self._collectors[info["id"]] = {"info": info, "seen": seen,
                                            "dead": bool(info.get("stopping")) or age > timeout}
            for exchange in info.get("exchanges", ()):
                self._owner[exchange] = info["id"]
        self.upstream_error = None
        self.epoch = self._wall()
        return {"status": self._statuses_of(self.exchanges()), "ticker": tickers,
                "trade": trades}

    def _replace_seeded(self, trades: Iterable[Record]) -> set[tuple[Any, ...]]:
        """Stored trades that Redis now has with the collectors' numbers: forget ours (the
        pages have them already: they are not sent again); returns their keys."""
        if not self._seeded:
            return set()
        replaced = self._seeded & {_trade_key(trade) for trade in trades}
        self._seeded -= replaced
        if replaced:
            kept = [trade for trade in self._trades if _trade_key(trade) not in replaced]
            self._trades, self._seqs = kept, [trade["seq"] for trade in kept]
            self._trade_keys -= replaced
        return replaced

    def seed(self, tickers: list[Record], trades: list[Record]) -> None:
        """Stored tickers and trades, when a web node starts while Redis can't be reached:
        numbered as ``Hub.seed`` does, so a page is never blank. Redis's copies of them (the
        collectors' numbers) replace them once it answers."""
        for ticker in tickers:
            self._tickers.setdefault(_key(ticker), ticker)
        if self._trades:  # Redis answered first: its trades carry the collectors' numbers
            return
        seq = 0
        numbered = []
        for trade in trades:
            moment = int(datetime.fromisoformat(trade["time"]).timestamp() * 1_000_000)
            seq = max(seq + 1, moment)
            numbered.append({**trade, "seq": seq})
        self.trades_in(numbered)
        self._seeded = {_trade_key(trade) for trade in numbered}
        if numbered:
            self._forgotten_seq = numbered[0]["seq"] - 1  # storage may hold older ones

    # -- what pages get -------------------------------------------------------------------------

    def effective(self, key: FeedKey) -> Record:
        """The status of one feed as a page should show it now."""
        real = self._statuses.get(key)
        reason = self._down_reason(key[0])
        if reason is None or (real is not None and key[1] is not None
                              and real["state"] == "error"):
            if real is None:
                return {"exchange": key[0], "pair": key[1], "state": "connecting",
                        "detail": "", "time": self.epoch or self._wall()}
            if self.epoch and real["time"] < self.epoch:
                return {**real, "time": self.epoch}
            return real
        return {"exchange": key[0], "pair": key[1], "state": "stale", "detail": reason,
                "time": self.epoch}

    def statuses(self) -> list[Record]:
        return [self.effective(key) for key in self._statuses]

    def snapshot(self) -> dict[str, list[Record]]:
        return {"status": self._statuses_of(self.exchanges()),
                "ticker": list(self._tickers.values()),
                "trade": self._trades[-min(self.snapshot_trades, self.recent_trades):]}

    def trades_after(self, seq: int) -> list[Record] | None:
        """The trades after ``seq``, oldest first; None when memory doesn't reach back."""
        if not self._seqs or seq >= self._seqs[-1]:
            return []
        if seq < self._forgotten_seq:
            return None
        return self._trades[bisect.bisect_right(self._seqs, seq):]

    def exchanges(self) -> list[str]:
        """Every exchange known: collectors' and the ones with a status, in feed order."""
        names = [feed["exchange"] for feed in self.feeds()]
        names += [exchange for exchange, _ in self._statuses]
        return list(dict.fromkeys(names))

    def feeds(self) -> list[Record]:
        """Every feed of the collectors, in their id order and each one's configured order,
        with its symbol and effective state (as ``Dashboard.feeds``)."""
        feeds: list[Record] = []
        for collector_id in sorted(self._collectors):
            info = self._collectors[collector_id]["info"]
            for exchange, pair, symbol in info.get("feeds", ()):
                if self._owner.get(exchange) != collector_id:
                    continue
                connection = self.effective((exchange, None))
                own = self._statuses.get((exchange, pair))
                status = self.effective((exchange, pair)) if own else None
                if not (status and status["state"] == "error") and (
                        connection["state"] != "live" or status is None):
                    status = connection
                feeds.append({"exchange": exchange, "pair": pair, "symbol": symbol,
                              "state": status["state"], "detail": status["detail"]})
        return feeds

    def collectors(self) -> dict[str, Record]:
        """For ``/healthz``: each collector's exchanges, heartbeat age and whether it is alive."""
        now = self._clock()
        return {collector_id: {"alive": not entry["dead"],
                               "last_heartbeat_age": round(now - entry["seen"], 3),
                               "exchanges": list(entry["info"].get("exchanges", ()))}
                for collector_id, entry in sorted(self._collectors.items())}

    def stats(self) -> dict[str, int]:
        return {"statuses": len(self._statuses), "tickers": len(self._tickers),
                "trades": len(self._trades), "relayed": self.relayed}

    # -- helpers --------------------------------------------------------------------------------

    def _down_reason(self, exchange: str) -> str | None:
        if self.upstream_error is not None:
            return f"upstream unavailable: {self.upstream_error}"
        owner = self._owner.get(exchange)
        entry = self._collectors.get(owner) if owner else None
        if entry is None or not entry["dead"]:
            return None
        if entry["info"].get("stopping"):
            return f"collector {owner} stopped"
        silent = self._clock() - entry["seen"]
        return f"collector {owner} silent for {silent:.0f} s"

    def _statuses_of(self, exchanges: Iterable[str]) -> list[Record]:
        """The effective status of every feed of ``exchanges``: each connection, then each
        pair with a status or listed by its collector."""
        wanted = list(dict.fromkeys(exchanges))
        keys: list[FeedKey] = [(exchange, None) for exchange in wanted]
        chosen = set(wanted)
        keys += [key for key in self._statuses if key[0] in chosen and key[1] is not None]
        for entry in self._collectors.values():
            for exchange, pair, _symbol in entry["info"].get("feeds", ()):
                if exchange in chosen:
                    keys.append((exchange, pair))
        return [self.effective(key) for key in dict.fromkeys(keys)]
