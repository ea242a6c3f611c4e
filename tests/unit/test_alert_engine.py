"""The alert engine, kind by kind: thresholds on exact decimals, hysteresis, cooldown, windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from alerts.engine import AlertEngine, Extremes
from alerts.rules import Kind, Rule, parse_rule
from exchanges.records import FeedState, Side, Status, Ticker, Trade

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def rule(rule_id: int = 1, **fields: object) -> Rule:
    return parse_rule(fields).with_id(rule_id)


def ticker(exchange: str, pair: str, bid: str, ask: str, last: str | None = None,
           at: datetime | None = None) -> Ticker:
    return Ticker(exchange, pair, pair, at or T0, Decimal(bid), Decimal(ask),
                  Decimal(last if last is not None else bid))


def trade(exchange: str, pair: str, price: str, at: datetime | None = None) -> Trade:
    return Trade(exchange, pair, pair, at or T0, "1", Decimal(price), Decimal("0.1"), Side.BUY)


def status(exchange: str, pair: str | None, state: FeedState, at: datetime | None = None,
           detail: str = "") -> Status:
    return Status(exchange, pair, state, detail, at or T0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(clock: Clock) -> AlertEngine:
    return AlertEngine(clock)


def fired(engine: AlertEngine) -> list:
    return engine.drain()[0]


# -- price_above / price_below -------------------------------------------------------------------


def test_price_above_fires_at_the_level_exactly_once_while_the_price_hovers(engine, clock):
    engine.add(rule(kind="price_above", pair="BTC-USD", exchange="coinbase", value="45000",
                    hysteresis="10", cooldown_s=0))
    engine.observe(trade("coinbase", "BTC-USD", "44999.99"))
    assert fired(engine) == []
    engine.observe(trade("coinbase", "BTC-USD", "45000"))  # reaching the level counts
    [alert] = fired(engine)
    assert (alert.value, alert.exchange, alert.pair, alert.time) == ("45000", "coinbase",
                                                                     "BTC-USD", T0)
    assert alert.message == "BTC-USD last 45000 on coinbase: at or above 45000"
    # hovering within the hysteresis band never re-arms: 44990 is not below 45000 - 10
    for price in ("44995", "45001", "44990", "45020", "44990.00", "45000"):
        engine.observe(trade("coinbase", "BTC-USD", price))
    assert fired(engine) == []
    engine.observe(trade("coinbase", "BTC-USD", "44989.99"))  # cleared by more than the margin
    engine.observe(trade("coinbase", "BTC-USD", "45000.01"))
    assert [a.value for a in fired(engine)] == ["45000.01"]


def test_price_below_uses_its_margin_above_the_level(engine):
    engine.add(rule(kind="price_below", pair="ETH-USD", exchange="bitfinex", value="2000",
                    hysteresis="5", cooldown_s=0))
    engine.observe(trade("bitfinex", "ETH-USD", "2000.01"))
    engine.observe(trade("bitfinex", "ETH-USD", "2000"))
    assert [a.value for a in fired(engine)] == ["2000"]
    engine.observe(trade("bitfinex", "ETH-USD", "2005"))  # not above 2005: still disarmed
    engine.observe(trade("bitfinex", "ETH-USD", "1999"))
    assert fired(engine) == []
    engine.observe(trade("bitfinex", "ETH-USD", "2005.01"))
    engine.observe(trade("bitfinex", "ETH-USD", "1999"))
    assert [a.value for a in fired(engine)] == ["1999"]


def test_default_hysteresis_is_a_tenth_of_a_percent_of_the_level(engine):
    engine.add(rule(kind="price_above", pair="BTC-USD", value="45000", cooldown_s=0))
    engine.observe(trade("coinbase", "BTC-USD", "45000"))
    engine.observe(trade("coinbase", "BTC-USD", "44955"))  # 45000 - 45: not below
    engine.observe(trade("coinbase", "BTC-USD", "45000"))
    assert len(fired(engine)) == 1
    engine.observe(trade("coinbase", "BTC-USD", "44954.99"))
    engine.observe(trade("coinbase", "BTC-USD", "45000"))
    assert len(fired(engine)) == 1


def test_cooldown_holds_a_rearmed_rule_until_it_ends_then_fires_on_the_next_record(engine,
                                                                                   clock):
    engine.add(rule(kind="price_above", pair="BTC-USD", exchange="coinbase", value="100",
                    hysteresis="0", cooldown_s=30))
    engine.observe(trade("coinbase", "BTC-USD", "100"))
    assert len(fired(engine)) == 1
    engine.observe(trade("coinbase", "BTC-USD", "99"))  # re-armed
    clock.advance(29.999)
    engine.observe(trade("coinbase", "BTC-USD", "101"))  # within the cooldown: held
    assert fired(engine) == []
    clock.advance(0.001)  # exactly 30 s after the firing
    engine.observe(trade("coinbase", "BTC-USD", "101"))
    assert [a.value for a in fired(engine)] == ["101"]


def test_bid_and_ask_fields_come_from_tickers_only(engine):
    engine.add(rule(kind="price_above", pair="BTC-USD", exchange="coinbase", value="100",
                    field="bid", cooldown_s=0))
    engine.observe(trade("coinbase", "BTC-USD", "500"))
    engine.observe(ticker("coinbase", "BTC-USD", bid="99.99", ask="100.5", last="500"))
    assert fired(engine) == []
    engine.observe(ticker("coinbase", "BTC-USD", bid="100", ask="100.5"))
    [alert] = fired(engine)
    assert alert.value == "100" and "bid 100" in alert.message


def test_one_exchange_rule_ignores_other_exchanges_and_other_quotes(engine):
    engine.add(rule(kind="price_above", pair="BTC-USD", exchange="coinbase", value="100"))
    engine.observe(trade("bitfinex", "BTC-USD", "200"))
    engine.observe(trade("coinbase", "BTC-USDT", "200"))  # USDT never stands for USD
    assert fired(engine) == []


def test_any_exchange_takes_the_highest_live_venue_and_rearms_when_all_cleared(engine):
    engine.add(rule(kind="price_above", pair="BTC-USD", value="45000", hysteresis="10",
                    cooldown_s=0))
    engine.observe(trade("bitfinex", "BTC-USD", "44900"))
    engine.observe(trade("coinbase", "BTC-USD", "45005"))
    [alert] = fired(engine)
    assert alert.exchange == "coinbase" and alert.value == "45005"
    assert alert.message.endswith("on coinbase (any exchange): at or above 45000")
    # bitfinex far below does not re-arm it while coinbase is still above
    engine.observe(trade("bitfinex", "BTC-USD", "44000"))
    engine.observe(trade("bitfinex", "BTC-USD", "45001"))
    assert fired(engine) == []
    for name in ("bitfinex", "coinbase"):
        engine.observe(trade(name, "BTC-USD", "44980"))
    engine.observe(trade("bitfinex", "BTC-USD", "45000"))
    assert [a.exchange for a in fired(engine)] == ["bitfinex"]


def test_any_exchange_leaves_out_a_venue_that_is_not_live(engine):
    engine.add(rule(kind="price_above", pair="BTC-USD", value="100", cooldown_s=0,
                    hysteresis="0"))
    engine.observe(status("kraken", "BTC-USD", FeedState.RECONNECTING))
    engine.observe(trade("kraken", "BTC-USD", "150"))  # its REST snapshot, not live
    engine.observe(trade("coinbase", "BTC-USD", "90"))
    assert fired(engine) == []
    engine.observe(status("kraken", "BTC-USD", FeedState.LIVE))  # now it counts
    [alert] = fired(engine)
    assert alert.exchange == "kraken" and alert.value == "150"


# -- move_pct ------------------------------------------------------------------------------------


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_move_pct_fires_on_a_rise_or_a_fall_of_at_least_the_percent_within_the_window(engine):
    engine.add(rule(kind="move_pct", pair="BTC-USD", exchange="coinbase", value="1",
                    window_s=60, cooldown_s=0))
    engine.observe(trade("coinbase", "BTC-USD", "100", at(0)))
    engine.observe(trade("coinbase", "BTC-USD", "100.99", at(30)))
    assert fired(engine) == []
    engine.observe(trade("coinbase", "BTC-USD", "101", at(60)))  # +1 % exactly, 60 s: inside
    [alert] = fired(engine)
    assert alert.value == "+1.00" and alert.time == at(60)
    assert alert.message == ("BTC-USD on coinbase moved +1.00 % within 60 s (100 to 101)")


def test_move_pct_window_edge_is_inclusive_and_older_points_leave_it(engine):
    engine.add(rule(kind="move_pct", pair="BTC-USD", exchange="coinbase", value="1",
                    window_s=60, cooldown_s=0))
    engine.observe(trade("coinbase", "BTC-USD", "100", at(0)))
    engine.observe(trade("coinbase", "BTC-USD", "100.5", at(1)))
    engine.observe(trade("coinbase", "BTC-USD", "101", at(60.001)))  # 100 has left: +0.497 %
    assert fired(engine) == []


def test_move_pct_down_and_hysteresis_before_it_fires_again(engine):
    engine.add(rule(kind="move_pct", pair="ETH-USD", exchange="bitfinex", value="2",
                    window_s=10, hysteresis="1", cooldown_s=0))
    engine.observe(trade("bitfinex", "ETH-USD", "2000", at(0)))
    engine.observe(trade("bitfinex", "ETH-USD", "1960", at(1)))  # -2 %
    [alert] = fired(engine)
    assert alert.value == "-2.00" and "(2000 to 1960)" in alert.message
    engine.observe(trade("bitfinex", "ETH-USD", "1940", at(2)))  # still moving: no new alert
    engine.observe(trade("bitfinex", "ETH-USD", "1945", at(12.5)))  # only 1945 left
    engine.observe(trade("bitfinex", "ETH-USD", "1900", at(13)))  # -2.31 % from 1945
    assert [a.value for a in fired(engine)] == ["-2.31"]


def test_move_pct_any_exchange_keeps_a_window_per_exchange(engine):
    engine.add(rule(kind="move_pct", pair="BTC-USD", value="1", window_s=60, cooldown_s=0))
    # 100 on one venue and 101 on another is a basis, not a move
    engine.observe(trade("bitfinex", "BTC-USD", "100", at(0)))
    engine.observe(trade("coinbase", "BTC-USD", "101", at(1)))
    assert fired(engine) == []
    engine.observe(trade("bitfinex", "BTC-USD", "101", at(2)))
    assert [a.exchange for a in fired(engine)] == ["bitfinex"]


def test_extremes_stay_bounded_on_a_steady_trend():
    window = Extremes(span=60_000_000, step=60_000)
    for i in range(100_000):  # one point per millisecond, always rising
        window.add(i * 1000, Decimal(i))
    assert len(window.lows) <= 1001 and len(window.highs) == 1
    assert window.high == Decimal(99_999)
    assert window.low >= Decimal(99_999 - 60_000 - 60)


# -- spread_above / crossed ----------------------------------------------------------------------


def test_spread_above_uses_the_lowest_ask_and_highest_bid_of_live_venues(engine):
    engine.add(rule(kind="spread_above", pair="BTC-USD", value="10", hysteresis="2",
                    cooldown_s=0))
    engine.observe(ticker("coinbase", "BTC-USD", "100", "105"))
    engine.observe(ticker("bitfinex", "BTC-USD", "98", "109"))
    assert fired(engine) == []  # 105 - 100 = 5
    engine.observe(ticker("coinbase", "BTC-USD", "95", "115"))  # 109 - 98 = 11
    [alert] = fired(engine)
    assert alert.value == "11" and alert.exchange is None
    assert alert.message == ("BTC-USD cross-exchange spread 11: at or above 10 (bid 98 on "
                             "bitfinex, ask 109 on bitfinex)")
    engine.observe(ticker("bitfinex", "BTC-USD", "98", "107.5"))  # 9.5: not below 8
    engine.observe(ticker("bitfinex", "BTC-USD", "98", "110"))
    assert fired(engine) == []
    engine.observe(ticker("bitfinex", "BTC-USD", "98", "105.99"))  # 7.99: re-armed
    engine.observe(ticker("bitfinex", "BTC-USD", "98", "108"))
    assert [a.value for a in fired(engine)] == ["10"]


def test_crossed_fires_when_a_bid_tops_another_venues_ask_and_rearms_when_uncrossed(engine):
    engine.add(rule(kind="crossed", pair="BTC-USD", cooldown_s=0))
    engine.observe(ticker("coinbase", "BTC-USD", "100", "101"))
    engine.observe(ticker("bitfinex", "BTC-USD", "101", "102"))  # locked, not crossed
    assert fired(engine) == []
    engine.observe(ticker("bitfinex", "BTC-USD", "101.5", "102"))
    [alert] = fired(engine)
    assert alert.value == "0.5"
    assert alert.message == ("BTC-USD crossed by 0.5: bid 101.5 on bitfinex, ask 101 on "
                             "coinbase")
    engine.observe(ticker("bitfinex", "BTC-USD", "101.2", "102"))
    assert fired(engine) == []
    engine.observe(ticker("bitfinex", "BTC-USD", "101", "102"))  # uncrossed: re-armed
    engine.observe(ticker("bitfinex", "BTC-USD", "101.01", "102"))
    assert [a.value for a in fired(engine)] == ["0.01"]


def test_crossed_ignores_a_venue_that_is_not_live_and_never_mixes_quotes(engine):
    engine.add(rule(kind="crossed", pair="BTC-USD", cooldown_s=0))
    engine.observe(ticker("coinbase", "BTC-USD", "100", "101"))
    engine.observe(ticker("binance", "BTC-USDT", "110", "111"))  # another quote currency
    engine.observe(status("bitfinex", "BTC-USD", FeedState.STALE))
    engine.observe(ticker("bitfinex", "BTC-USD", "120", "121"))  # an old value of a stale feed
    assert fired(engine) == []
    engine.observe(status("bitfinex", "BTC-USD", FeedState.LIVE))
    assert [a.value for a in fired(engine)] == ["19"]


# -- feed_down -----------------------------------------------------------------------------------


def test_feed_down_fires_once_after_the_seconds_and_rearms_when_live(engine, clock):
    engine.add(rule(kind="feed_down", exchange="coinbase", pair="BTC-USD", seconds=10,
                    cooldown_s=0))
    engine.observe(status("coinbase", "BTC-USD", FeedState.LIVE))
    engine.observe(status("coinbase", "BTC-USD", FeedState.STALE, at(0), "no message"))
    clock.now = at(9.999)
    engine.tick()
    assert fired(engine) == []
    # connecting again, then reconnecting: one incident, never live in between
    engine.observe(status("coinbase", "BTC-USD", FeedState.RECONNECTING, at(5)))
    engine.observe(status("coinbase", "BTC-USD", FeedState.CONNECTING, at(6)))
    engine.observe(status("coinbase", "BTC-USD", FeedState.STALE, at(8), "no message for 2 s"))
    clock.now = at(10)
    engine.tick()
    [alert] = fired(engine)
    assert (alert.exchange, alert.pair, alert.value, alert.time) == ("coinbase", "BTC-USD",
                                                                     "10.0", at(10))
    assert alert.message == "coinbase BTC-USD stale for 10 s: no message for 2 s"
    clock.now = at(100)
    engine.tick()
    assert fired(engine) == []
    engine.observe(status("coinbase", "BTC-USD", FeedState.LIVE, at(101)))
    engine.observe(status("coinbase", "BTC-USD", FeedState.ERROR, at(102), "rejected"))
    clock.now = at(112)
    engine.tick()
    assert [a.message for a in fired(engine)] == ["coinbase BTC-USD error for 10 s: rejected"]


def test_feed_down_for_any_feed_fires_per_feed_and_connecting_alone_is_not_down(engine, clock):
    engine.add(rule(kind="feed_down", seconds=5, cooldown_s=0))
    engine.observe(status("kraken", "ETH-USD", FeedState.CONNECTING, at(0)))
    engine.observe(status("coinbase", "BTC-USD", FeedState.RECONNECTING, at(0)))
    engine.observe(status("bitfinex", "BTC-USD", FeedState.ERROR, at(1)))
    engine.observe(status("bitfinex", None, FeedState.ERROR, at(0)))  # the connection line
    clock.now = at(6)
    engine.tick()
    assert sorted((a.exchange, a.pair) for a in fired(engine)) == [("bitfinex", "BTC-USD"),
                                                                    ("coinbase", "BTC-USD")]


# -- rules come and go ---------------------------------------------------------------------------


def test_a_removed_rule_no_longer_fires_and_states_to_store_are_reported(engine):
    first = rule(1, kind="price_above", pair="BTC-USD", value="100", cooldown_s=0,
                 hysteresis="0")
    engine.add(first)
    engine.observe(trade("coinbase", "BTC-USD", "100"))
    alerts, changes = engine.drain()
    assert len(alerts) == 1 and changes == {1: (False, T0)}
    engine.observe(trade("coinbase", "BTC-USD", "99"))
    assert engine.drain() == ([], {1: (True, T0)})
    assert engine.remove(1) and not engine.remove(1)
    engine.observe(trade("coinbase", "BTC-USD", "100"))
    assert engine.drain() == ([], {})


def test_a_disarmed_rule_loaded_from_storage_waits_to_clear_before_firing(engine):
    stored = rule(7, kind="price_above", pair="BTC-USD", value="100", hysteresis="1")
    engine.load([(stored, False, T0 - timedelta(hours=1))])
    engine.observe(trade("coinbase", "BTC-USD", "150"))  # still above after a restart: quiet
    assert fired(engine) == []
    engine.observe(trade("coinbase", "BTC-USD", "98.9"))
    engine.observe(trade("coinbase", "BTC-USD", "100"))
    assert [a.rule.id for a in fired(engine)] == [7]


def test_a_custom_message_comes_first(engine):
    engine.add(rule(kind="price_below", pair="BTC-USD", value="40000", message="buy the dip"))
    engine.observe(trade("coinbase", "BTC-USD", "39999.5"))
    [alert] = fired(engine)
    assert alert.message == ("buy the dip: BTC-USD last 39999.5 on coinbase (any exchange): "
                             "at or below 40000")
    assert alert.rule.kind is Kind.PRICE_BELOW


def test_a_pair_without_rules_costs_no_evaluation(engine):
    engine.add(rule(kind="price_above", pair="BTC-USD", value="1"))
    for i in range(1000):
        engine.observe(trade("coinbase", "ETH-USD", str(2000 + i)))
    assert fired(engine) == []
