"""One reference market for every venue: venues move together, basis points apart, and the
best bid across venues now and then tops the best ask; injected values stay exact."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sim_support import T0

from simulator.catalogue import PRODUCTS, QUOTE_RATES, Product
from simulator.engine import Engine
from simulator.market import BASIS, HALF_SPREAD, Market, Side, Venue
from simulator.peer import PeerOptions
from simulator.reference import Reference
from simulator.registry import EXCHANGES

# the nine venues the dashboard streams; the market model needs only their names
VENUES = ("bitfinex", "coinbase", "kraken", "binance", "binanceus", "bitstamp", "okx", "gemini",
          "bybit")
BP = 0.0001


class SteppingClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def venues(seed: int, clock: SteppingClock, pairs: tuple[str, ...] = ("BTC-USD",)
           ) -> tuple[Reference, dict[str, Market]]:
    reference = Reference(seed, clock())
    products = [PRODUCTS[pair] for pair in pairs]
    return reference, {name: Market(name, products, seed, clock, reference) for name in VENUES}


def mid(market: Market, pair: str) -> float:
    state = market.state(pair)
    return float(state.bid + state.ask) / 2


# The reference walk


def test_the_reference_is_a_function_of_seed_and_time_whatever_the_order_of_questions():
    moments = [T0 + timedelta(seconds=s) for s in (-600, -0.3, 0, 0.1, 59.9, 3600, 21600)]
    forward = Reference(5, T0)
    expected = [forward.usd("BTC", moment) for moment in moments]
    backward = Reference(5, T0)
    assert [backward.usd("BTC", moment) for moment in reversed(moments)][::-1] == expected
    assert Reference(6, T0).usd("BTC", moments[-1]) != expected[-1]
    assert expected[2] == float(PRODUCTS["BTC-USD"].start_price)  # it starts at the catalogue
    assert 0.8 < expected[-1] / expected[2] < 1.25  # six hours later: moved, not wild


def test_the_reference_gives_every_thread_the_same_prices():
    moments = [T0 + timedelta(seconds=s * 7.3) for s in range(-100, 150)]
    expected = [Reference(9, T0).usd("ETH", moment) for moment in moments]
    shared = Reference(9, T0)
    results: list[list[float]] = []

    def ask(order: list[datetime]) -> None:
        answers = {moment: shared.usd("ETH", moment) for moment in order}
        results.append([answers[moment] for moment in moments])

    orders = [random.Random(n).sample(moments, len(moments)) for n in range(4)]
    threads = [threading.Thread(target=ask, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


def test_quotes_use_the_catalogue_rates_and_unlisted_products_get_a_reference_too():
    reference = Reference(1, T0)
    assert reference.rate(PRODUCTS["BTC-EUR"]) == ("BTC", float(QUOTE_RATES["EUR"]))
    base, rate = reference.rate(Product("BNB-USDT", Decimal("300.15"), Decimal("0.01")))
    assert (base, rate) == ("BNB", float(QUOTE_RATES["USDT"]))
    assert reference.usd("BNB", T0) == pytest.approx(300)
    base, rate = reference.rate(Product("BTC-GBP", Decimal("34400"), Decimal("0.01")))
    assert rate == pytest.approx(0.8)  # the product's start price over the reference's


# Venues around the reference


def test_each_venue_has_its_own_basis_and_spread_fixed_by_the_seed():
    drawn = {name: Venue.draw(name, 3) for name in VENUES}
    assert drawn == {name: Venue.draw(name, 3) for name in VENUES}
    assert len({venue.basis for venue in drawn.values()}) == len(VENUES)
    assert all(abs(venue.basis) <= BASIS for venue in drawn.values())
    assert all(HALF_SPREAD[0] <= venue.half_spread <= HALF_SPREAD[1] for venue in drawn.values())
    assert Venue.draw("kraken", 4) != drawn["kraken"]


def test_venues_of_a_pair_stay_within_a_few_basis_points_while_the_market_moves():
    clock = SteppingClock()
    reference, markets = venues(11, clock, ("BTC-USD", "BTC-EUR", "DOGE-USDT"))
    start = reference.usd("BTC", clock())
    widest = 0.0
    for _ in range(2000):
        clock.advance(0.5)
        for market in markets.values():
            for pair in ("BTC-USD", "BTC-EUR", "DOGE-USDT"):
                market.pair(pair).random_trade()
        for pair, rate in (("BTC-USD", 1.0), ("BTC-EUR", 0.92), ("DOGE-USDT", 1.0005)):
            base = pair.partition("-")[0]
            quoted = reference.usd(base, clock()) * rate
            mids = [mid(market, pair) for market in markets.values()]
            assert all(abs(m / quoted - 1) < 5 * BP for m in mids), (pair, quoted, mids)
            widest = max(widest, (max(mids) - min(mids)) / quoted)
    assert widest < 8 * BP
    moved = abs(reference.usd("BTC", clock()) / start - 1)
    assert moved > 20 * BP  # 1000 s later the market has moved by far more than the venues differ


def test_random_trades_keep_each_venue_book_consistent_on_the_tick_grid():
    clock = SteppingClock()
    _, markets = venues(12, clock, ("DOGE-EUR", "ETH-USDT"))
    for _ in range(300):
        clock.advance(0.37)
        for market in markets.values():
            for pair in ("DOGE-EUR", "ETH-USDT"):
                trade = market.pair(pair).random_trade()
                state = market.state(pair)
                tick = PRODUCTS[pair].tick
                assert state.bid < state.ask
                assert state.bid % tick == 0 and state.ask % tick == 0
                assert trade.price == (state.ask if trade.side is Side.BUY else state.bid)
                assert state.last == trade.price
                assert state.low_24h <= trade.price <= state.high_24h


def test_the_best_bid_across_venues_tops_the_best_ask_now_and_then():
    clock = SteppingClock()
    _, markets = venues(3, clock)
    pace = random.Random(3)
    crossed = samples = 0
    for step in range(12000):  # ten minutes in 50 ms steps, each venue trading ~2 a second
        clock.advance(0.05)
        for market in markets.values():
            if pace.random() < 0.1:
                market.pair("BTC-USD").random_trade()
        if step % 10 == 0:
            states = [market.state("BTC-USD") for market in markets.values()]
            samples += 1
            crossed += max(state.bid for state in states) > min(state.ask for state in states)
    assert 0.01 < crossed / samples < 0.5, crossed / samples  # 8 % with this seed


def test_a_seeded_run_replays_whatever_order_the_venues_step_in():
    def run(order: tuple[str, ...]) -> dict[str, list[object]]:
        clock = SteppingClock()
        _, markets = venues(8, clock)
        prints: dict[str, list[object]] = {name: [] for name in VENUES}
        for _ in range(200):
            clock.advance(0.3)
            for name in order:
                prints[name].append(markets[name].pair("BTC-USD").random_trade())
        return prints

    assert run(VENUES) == run(tuple(reversed(VENUES)))


def test_injected_values_are_exact_on_that_venue_only_and_random_trades_come_back():
    clock = SteppingClock()
    _, markets = venues(13, clock)
    coinbase, kraken = markets["coinbase"].pair("BTC-USD"), markets["kraken"].pair("BTC-USD")
    kraken_before = kraken.state()
    trade = coinbase.trade(Decimal("50000.5"), Decimal("0.25"), Side.BUY)
    assert (trade.price, trade.size, trade.side) == (Decimal("50000.5"), Decimal("0.25"), Side.BUY)
    assert coinbase.state().last == Decimal("50000.5") == coinbase.state().ask
    state = coinbase.set_quote(bid=Decimal("39999.99"), ask=Decimal("40000.01"),
                               last=Decimal("40000"))
    assert (state.bid, state.ask, state.last) == (
        Decimal("39999.99"), Decimal("40000.01"), Decimal("40000"))
    assert kraken.state() == kraken_before
    clock.advance(1)
    coinbase.random_trade()
    assert abs(mid(markets["coinbase"], "BTC-USD") / mid(markets["kraken"], "BTC-USD") - 1) < 8 * BP


def test_engines_given_one_reference_quote_the_same_market():
    reference = Reference(21, T0)
    engines = [Engine(spec, seed=21, rate=0, options=PeerOptions(), clock=lambda: T0,
                      reference=reference) for spec in EXCHANGES.values()]
    assert all(engine.market.reference is reference for engine in engines)
    for engine in engines:
        for pair, rate in (("BTC-USD", 1.0), ("BTC-USDT", 1.0005)):
            if engine.market.knows(pair):
                state = engine.state(pair)
                quoted = reference.usd("BTC", state.last_trade.time) * rate
                assert abs(float(state.bid + state.ask) / 2 / quoted - 1) < 8 * BP, engine.name


def test_the_simulator_process_quotes_one_market_on_every_venue(sim):
    mids = {}
    for name in sim.ok("stats"):
        status, body = sim.control(f"{name}/market", pair="BTC-USD")
        if status == 200:
            mids[name] = (Decimal(body["state"]["bid"]) + Decimal(body["state"]["ask"])) / 2
    assert {"bitfinex", "coinbase"} <= set(mids)
    assert (max(mids.values()) - min(mids.values())) / min(mids.values()) < Decimal("0.0012")
