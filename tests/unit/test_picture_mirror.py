"""A web node's picture in memory (``dashboard.picture.Mirror``): relayed batches, heartbeats,
reloads from Redis, and what pages are sent."""

from __future__ import annotations

from dashboard.picture import Mirror


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.wall_ms = 0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> str:
        self.wall_ms += 1
        return f"2026-12-02T10:00:{self.wall_ms // 1000:02d}.{self.wall_ms % 1000:03d}Z"


def status(exchange: str, pair: str | None, state: str = "live",
           time: str = "2026-12-02T09:00:00.000Z", detail: str = "") -> dict:
    return {"exchange": exchange, "pair": pair, "state": state, "detail": detail, "time": time}


def trade(n: int, exchange: str = "coinbase", seq: int | None = None) -> dict:
    return {"exchange": exchange, "pair": "BTC-USD", "symbol": "BTC-USD",
            "time": "2026-12-02T09:00:00.000Z", "id": str(n), "price": "1", "amount": "1",
            "side": "buy", "seq": 1000 + n if seq is None else seq}


def ticker(exchange: str, last: str, time: str) -> dict:
    return {"exchange": exchange, "pair": "BTC-USD", "symbol": "x", "time": time, "bid": "1",
            "ask": "2", "last": last}


def registration(collector: str = "c1", exchanges=("coinbase",), timeout: float = 2.0,
                 time: str = "2026-12-02T10:00:00.000Z", **extra) -> dict:
    return {"id": collector, "exchanges": list(exchanges),
            "feeds": [[exchange, "BTC-USD", "SYM"] for exchange in exchanges],
            "feed_timeout": timeout, "time": time, **extra}


def live_mirror(clock: Clock, **options) -> Mirror:
    mirror = Mirror(clock=clock, wall=clock.wall, **options)
    mirror.merge({"status": [], "ticker": [], "trade": [], "collectors": []})
    mirror.heartbeat(registration())
    mirror.statuses_in([status("coinbase", None), status("coinbase", "BTC-USD")])
    return mirror


def test_trades_are_relayed_once_in_seq_order_and_remembered_for_reconnects():
    mirror = Mirror(recent_trades=5, snapshot_trades=3)
    assert [t["id"] for t in mirror.trades_in([trade(2), trade(1)])] == ["1", "2"]
    assert mirror.trades_in([trade(1), trade(2)]) == []  # a backlog or reload sent them again
    assert [t["id"] for t in mirror.trades_in([trade(3), trade(2)])] == ["3"]
    assert [t["seq"] for t in mirror.snapshot()["trade"]] == [1001, 1002, 1003]
    assert [t["id"] for t in mirror.trades_after(1001)] == ["2", "3"]
    assert mirror.trades_after(1003) == []
    mirror.trades_in([trade(n) for n in range(4, 9)])  # 1..3 forgotten
    assert mirror.trades_after(1001) is None
    assert [t["id"] for t in mirror.trades_after(1005)] == ["6", "7", "8"]


def test_a_second_collectors_older_trade_is_slotted_in_by_seq():
    mirror = Mirror()
    mirror.trades_in([trade(1), trade(3)])
    mirror.trades_in([trade(2, exchange="bitfinex", seq=1002)])
    assert [t["seq"] for t in mirror.snapshot()["trade"]] == [1001, 1002, 1003]


def test_a_silent_collector_turns_its_feeds_stale_and_its_heartbeat_brings_them_back():
    clock = Clock()
    mirror = live_mirror(clock)
    mirror.heartbeat(registration("c2", ("bitfinex",), timeout=10))
    mirror.statuses_in([status("bitfinex", None)])
    assert mirror.check() == []
    clock.now += 2.5
    stale = mirror.check()
    assert {(s["exchange"], s["pair"], s["state"]) for s in stale} == {
        ("coinbase", None, "stale"), ("coinbase", "BTC-USD", "stale")}
    assert stale[0]["detail"] == "collector c1 silent for 2 s"
    assert mirror.check() == []  # said once
    assert {f["state"] for f in mirror.feeds() if f["exchange"] == "coinbase"} == {"stale"}
    assert mirror.effective(("bitfinex", None))["state"] == "live"  # the other collector's

    back = mirror.heartbeat(registration())
    assert {(s["pair"], s["state"]) for s in back} == {(None, "live"), ("BTC-USD", "live")}
    # stamped after the stale ones, or the page would keep "stale"
    assert all(b["time"] > s["time"] for b in back for s in stale)
    assert {f["state"] for f in mirror.feeds()} == {"live"}


def test_a_collector_that_stops_says_so_at_once():
    clock = Clock()
    mirror = live_mirror(clock)
    gone = mirror.heartbeat(registration(stopping=True))
    assert {s["state"] for s in gone} == {"stale"}
    assert gone[0]["detail"] == "collector c1 stopped"


def test_upstream_down_shows_every_feed_stale_and_keeps_the_picture():
    clock = Clock()
    mirror = live_mirror(clock)
    mirror.statuses_in([status("coinbase", "FOO-BAR", "error", detail="not listed")])
    mirror.tickers_in([ticker("coinbase", "5", "2026-12-02T09:00:01.000Z")])
    mirror.trades_in([trade(1)])
    down = mirror.upstream_down("Error 111 connecting")
    states = {(s["pair"], s["state"]) for s in down}
    assert states == {(None, "stale"), ("BTC-USD", "stale"), ("FOO-BAR", "error")}
    assert all(s["detail"] == "upstream unavailable: Error 111 connecting"
               for s in down if s["state"] == "stale")
    assert mirror.upstream_down("again") == []  # said once
    clock.now += 60
    assert mirror.check() == []  # no heartbeats while Redis is away: that is the reason shown
    snapshot = mirror.snapshot()
    assert snapshot["ticker"][0]["last"] == "5" and len(snapshot["trade"]) == 1


def test_a_reload_merges_newer_records_and_sends_what_changed():
    clock = Clock()
    mirror = live_mirror(clock)
    mirror.tickers_in([ticker("coinbase", "5", "2026-12-02T09:00:01.000Z")])
    mirror.trades_in([trade(1)])
    mirror.upstream_down("gone")
    out = mirror.merge({
        "status": [status("coinbase", None, "reconnecting", time="2026-12-02T09:30:00.000Z")],
        "ticker": [ticker("coinbase", "6", "2026-12-02T09:00:02.000Z"),
                   ticker("bitfinex", "4", "2026-12-02T08:00:00.000Z")],
        "trade": [trade(1), trade(2)],
        "collectors": [registration(time=clock.wall())]})
    assert mirror.upstream_error is None
    assert [t["id"] for t in out["trade"]] == ["2"]
    assert sorted(t["last"] for t in out["ticker"]) == ["4", "6"]
    by_pair = {s["pair"]: s for s in out["status"]}
    assert by_pair[None]["state"] == "reconnecting"
    assert by_pair["BTC-USD"]["state"] == "live"
    assert all(s["time"] >= mirror.epoch for s in out["status"])
    # an older ticker from Redis does not replace a newer one
    assert mirror.merge({"ticker": [ticker("coinbase", "1", "2026-12-02T08:00:00.000Z")]}
                        )["ticker"] == []


def test_a_reload_finds_a_collector_that_died_meanwhile():
    clock = Clock()
    mirror = Mirror(clock=clock, wall=clock.wall)
    out = mirror.merge({"status": [status("coinbase", None)], "ticker": [], "trade": [],
                        "collectors": [registration(time="2026-12-01T00:00:00.000Z")]})
    assert {s["state"] for s in out["status"]} == {"stale"}


def test_feeds_follow_the_collectors_and_the_owner_of_each_exchange():
    clock = Clock()
    mirror = live_mirror(clock)
    mirror.heartbeat(registration("c0", ("bitfinex",)))
    assert [(f["exchange"], f["pair"]) for f in mirror.feeds()] == [
        ("bitfinex", "BTC-USD"), ("coinbase", "BTC-USD")]
    mirror.heartbeat(registration("c0", ("bitfinex", "coinbase")))  # coinbase moved to c0
    assert [f["exchange"] for f in mirror.feeds()] == ["bitfinex", "coinbase"]
    assert set(mirror.collectors()) == {"c0", "c1"}


def test_stored_trades_seed_an_empty_mirror_only():
    mirror = Mirror()
    mirror.seed([ticker("coinbase", "7", "2026-12-02T09:00:00.000Z")],
                [{**trade(1), "seq": None}, {**trade(2), "seq": None}])
    assert [t["id"] for t in mirror.snapshot()["trade"]] == ["1", "2"]
    seqs = [t["seq"] for t in mirror.snapshot()["trade"]]
    assert seqs[0] < seqs[1]
    assert mirror.trades_after(0) is None  # storage may hold older ones
    filled = Mirror()
    filled.trades_in([trade(5)])
    filled.seed([], [{**trade(1), "seq": None}])
    assert [t["id"] for t in filled.snapshot()["trade"]] == ["5"]


def test_redis_numbers_replace_stored_ones_without_sending_them_again():
    mirror = Mirror()
    mirror.seed([], [{**trade(1), "seq": None}, {**trade(2), "seq": None}])
    later = 2 * 10**15  # the collectors number trades as they receive them: after the seeds
    out = mirror.merge({"trade": [trade(2, seq=later + 2), trade(3, seq=later + 3)]})
    assert [t["id"] for t in out["trade"]] == ["3"]  # 2 was on the pages already
    assert [(t["id"], t["seq"] - later) for t in mirror.snapshot()["trade"]][1:] == [
        ("2", 2), ("3", 3)]
