"""The random walk: reproducible from a seed, on the tick grid, exact for injected values."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim_support import T0, fixed_clock

from simulator.catalogue import PRODUCTS
from simulator.market import HISTORY, Market, Side, UnknownPair


def make_market(seed: int = 1) -> Market:
    return Market("testex", PRODUCTS.values(), seed, fixed_clock)


def test_catalogue_lists_seven_bases_against_usd_eur_usdt():
    bases = {"BTC", "ETH", "SOL", "LTC", "XRP", "DOGE", "ADA"}
    assert set(PRODUCTS) == {f"{b}-{q}" for b in bases for q in ("USD", "EUR", "USDT")}
    assert Decimal("30000") < PRODUCTS["BTC-USD"].start_price < Decimal("60000")


def test_same_seed_same_market_and_different_seed_differs():
    walks = []
    for seed in (1, 1, 2):
        pair = make_market(seed).pair("BTC-USD")
        walks.append([pair.random_trade() for _ in range(20)])
    assert walks[0] == walks[1]
    assert walks[0] != walks[2]


def test_random_prices_sit_on_the_tick_grid_and_sizes_have_at_most_8_decimals():
    pair = make_market().pair("DOGE-EUR")
    tick = PRODUCTS["DOGE-EUR"].tick
    for _ in range(200):
        trade = pair.random_trade()
        state = pair.state()
        assert trade.price % tick == 0
        assert state.bid % tick == 0 and state.ask % tick == 0
        assert state.bid < state.ask
        assert trade.price == (state.ask if trade.side is Side.BUY else state.bid)
        assert trade.size > 0 and -8 <= trade.size.as_tuple().exponent <= 0


def test_history_is_newest_first_with_increasing_ids_and_sequences():
    state = make_market().state("ETH-USD")
    assert len(state.recent) == HISTORY
    assert state.recent[0] == state.last_trade
    ids = [trade.id for trade in reversed(state.recent)]
    sequences = [trade.sequence for trade in reversed(state.recent)]
    assert ids == sorted(set(ids)) and sequences == sorted(set(sequences))
    assert state.recent[0].time < T0  # history lies in the past; new trades are "now"


def test_injected_trade_keeps_exact_values_and_updates_statistics():
    pair = make_market().pair("BTC-USD")
    before = pair.state()
    price = before.bid + Decimal("0.01")
    trade = pair.trade(price, Decimal("0.00012"), Side.SELL)
    after = pair.state()
    assert (trade.price, trade.size, trade.side, trade.time) == (
        price,
        Decimal("0.00012"),
        Side.SELL,
        T0,
    )
    assert trade.id > before.last_trade.id and trade.sequence > before.sequence
    assert after.last == price and after.last_trade == trade
    assert after.volume_24h == before.volume_24h + Decimal("0.00012")
    assert (after.bid, after.ask) == (before.bid, before.ask)  # inside the book: book unchanged


def test_injected_trade_through_the_ask_moves_the_ask():
    pair = make_market().pair("BTC-USD")
    high = pair.state().high_24h + 100
    pair.trade(high, Decimal("1"), Side.BUY)
    assert pair.state().ask == high and pair.state().high_24h == high


def test_set_quote_sets_the_book_and_refuses_a_crossed_one():
    pair = make_market().pair("ETH-EUR")
    state = pair.set_quote(bid=Decimal("2100.10"), ask=Decimal("2100.30"), last=Decimal("2100.2"))
    assert (state.bid, state.ask, state.last) == (
        Decimal("2100.10"),
        Decimal("2100.30"),
        Decimal("2100.2"),
    )
    with pytest.raises(ValueError, match="crossed"):
        pair.set_quote(bid=Decimal("2100.40"))
    assert pair.state().bid == Decimal("2100.10")


def test_unknown_pair():
    market = make_market()
    assert not market.knows("FOO-BAR")
    with pytest.raises(UnknownPair):
        market.pair("FOO-BAR")
