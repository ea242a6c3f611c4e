"""The page in a real browser: values, feed states, reloads and reconnects.

The running lists are not on the default view: these tests ask for them (``?view=...``)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LoopbackLink
from tests.conftest import free_port, wait_until

pytestmark = pytest.mark.browser

HOSTILE_PAIR = "<img src=x onerror=alert(1)>"
LISTS = "?view=board,feeds,tickers,trades"


def trade_row(page: Page, exchange: str, price: str):
    return page.locator(f'#trades tbody tr[data-exchange="{exchange}"]').filter(
        has=page.locator("td.price", has_text=price))


def board_last(page: Page, exchange: str, pair: str):
    return page.locator(f'#board tr.venue[data-exchange="{exchange}"][data-pair="{pair}"] td.last')


def test_the_page_shows_live_values_and_feed_states(page: Page, simulator, server_on_simulator):
    server = server_on_simulator(PAIRS=f"BTC-USD,ETH-USD,FOO-BAR,{HOSTILE_PAIR}")
    page.goto(server.url + LISTS)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    for exchange in ("bitfinex", "coinbase"):
        for pair in ("BTC-USD", "ETH-USD"):
            feed = page.locator(f'#feeds tr.feed[data-exchange="{exchange}"][data-pair="{pair}"]')
            expect(feed).to_have_attribute("data-state", "live")

    simulator.control("bitfinex/trade", pair="BTC-USD", price="43210.5", amount="0.00012",
                      side="buy")
    simulator.control("coinbase/trade", pair="ETH-USD", price="2301.07", amount="1.5",
                      side="sell")
    row = trade_row(page, "bitfinex", "43210.5")
    expect(row.locator("td.amount")).to_have_text("0.00012")
    expect(row.locator("td.side")).to_have_text("buy")
    expect(row.locator("td.pair")).to_have_text("BTC-USD")
    row = trade_row(page, "coinbase", "2301.07")
    expect(row.locator("td.side")).to_have_text("sell")
    expect(board_last(page, "coinbase", "ETH-USD")).to_have_attribute("data-value", "2301.07")

    bad = page.locator('#feeds tr.feed[data-exchange="coinbase"][data-pair="FOO-BAR"]')
    expect(bad).to_have_attribute("data-state", "error")
    expect(bad.locator(".detail")).to_have_text("FOO-BAR is not a valid product")
    # exchange-supplied and user-supplied text reaches the DOM only as text
    hostile = page.locator(f'#feeds tr.feed[data-exchange="bitfinex"][data-pair="{HOSTILE_PAIR}"]')
    expect(hostile).to_have_attribute("data-state", "error")
    expect(hostile.locator("td.pair")).to_have_text(HOSTILE_PAIR)
    hostile_row = page.locator(f'#board tr.venue[data-pair="{HOSTILE_PAIR}"]')
    expect(hostile_row.first).to_have_attribute("data-state", "error")
    assert page.locator("img").count() == 0


def test_a_reloaded_page_is_never_blank(page: Page, simulator, server_on_simulator):
    server = server_on_simulator(PAIRS="BTC-USD")
    page.goto(server.url + LISTS)
    expect(page.locator('#feeds tr.feed[data-exchange="coinbase"][data-pair="BTC-USD"]')
           ).to_have_attribute("data-state", "live")
    simulator.control("coinbase/trade", pair="BTC-USD", price="42424.24", amount="0.42")
    expect(trade_row(page, "coinbase", "42424.24")).to_have_count(1)

    page.reload()  # the simulator is quiet (rate 0): only the server's snapshot can fill the page
    expect(trade_row(page, "coinbase", "42424.24")).to_have_count(1, timeout=3000)
    expect(board_last(page, "coinbase", "BTC-USD")).to_have_attribute("data-value", "42424.24",
                                                                       timeout=3000)
    expect(page.locator('#feeds tr.feed[data-exchange="coinbase"][data-pair="BTC-USD"]')
           ).to_have_attribute("data-state", "live", timeout=3000)


def test_a_dropped_exchange_shows_reconnecting_then_live(page: Page, simulator,
                                                         server_on_simulator):
    server = server_on_simulator(EXCHANGES="bitfinex", PAIRS="ETH-USD")
    page.goto(server.url)
    feed = page.locator('#feeds tr.feed[data-exchange="bitfinex"][data-pair="ETH-USD"]')
    expect(feed).to_have_attribute("data-state", "live")
    simulator.control("bitfinex/silence", seconds=30)
    simulator.control("bitfinex/drop")
    expect(feed).to_have_attribute("data-state", "reconnecting")
    expect(page.locator('#feeds tr.exchange-status[data-exchange="bitfinex"] .detail')
           ).to_contain_text("retrying in")
    simulator.control("bitfinex/silence", seconds=0)
    expect(feed).to_have_attribute("data-state", "live", timeout=15000)


def test_the_page_reconnects_when_the_server_restarts(page: Page, simulator, start_server):
    port = free_port()
    env = {"BITFINEX_WS_URL": simulator.ws_url("bitfinex"),
           "COINBASE_WS_URL": simulator.ws_url("coinbase"), "PAIRS": "BTC-USD"}
    server = start_server(env, port=port)
    page.goto(server.url + LISTS)
    connection = page.locator("#connection")
    expect(connection).to_have_attribute("data-state", "connected")
    server.process.stop()
    expect(connection).to_have_attribute("data-state", "reconnecting")
    start_server(env, port=port)
    expect(connection).to_have_attribute("data-state", "connected", timeout=20000)
    simulator.control("bitfinex/trade", pair="BTC-USD", price="41111.1", amount="1")
    expect(trade_row(page, "bitfinex", "41111.1")).to_have_count(1)


def test_demo_mode_shows_both_exchanges_live(page: Page, start_server):
    server = start_server({}, "--demo")
    page.goto(server.url + LISTS)
    # simulated prices go to their own database, never the live one
    assert (server.process.log_path.parent / "data" / "demo.db").exists()
    assert not (server.process.log_path.parent / "data" / "market.db").exists()
    for exchange in ("bitfinex", "coinbase"):
        feed = page.locator(f'#feeds tr.feed[data-exchange="{exchange}"][data-pair="BTC-USD"]')
        expect(feed).to_have_attribute("data-state", "live")
        venue = page.locator(f'#board tr.venue[data-exchange="{exchange}"][data-pair="BTC-USD"]')
        expect(venue).to_have_attribute("data-state", "live")
        expect(page.locator(f'#trades tbody tr[data-exchange="{exchange}"]').first
               ).to_be_visible(timeout=15000)
    wait_until(lambda: page.locator("#tickers tbody tr").count() >= 4, timeout=15)
    page.screenshot(path=str(server.process.log_path.with_suffix(".png")))


def test_after_a_server_restart_the_page_shows_the_stored_market_at_once(
        page: Page, simulator, start_server, tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'market.db'}", "PAIRS": "BTC-USD",
           "BITFINEX_WS_URL": simulator.ws_url("bitfinex"),
           "COINBASE_WS_URL": simulator.ws_url("coinbase")}
    server = start_server(env)
    page.goto(server.url + LISTS)
    expect(page.locator('#feeds tr.feed[data-exchange="bitfinex"][data-pair="BTC-USD"]')
           ).to_have_attribute("data-state", "live")
    simulator.control("bitfinex/trade", pair="BTC-USD", price="45454.5", amount="0.045")
    expect(trade_row(page, "bitfinex", "45454.5")).to_have_count(1)
    wait_until(lambda: server.health()["storage"]["written"] > 0
               and server.health()["storage"]["buffered"] == 0)
    server.process.stop()

    # restarted with no exchange reachable: only storage can fill the page
    unreachable = {"BITFINEX_WS_URL": "ws://127.0.0.1:9/bitfinex",
                   "COINBASE_WS_URL": "ws://127.0.0.1:9/coinbase"}
    restarted = start_server({**env, **unreachable})
    page.goto(restarted.url + LISTS)
    expect(trade_row(page, "bitfinex", "45454.5")).to_have_count(1, timeout=3000)
    last = board_last(page, "bitfinex", "BTC-USD")
    expect(last).to_have_attribute("data-value", "45454.5", timeout=3000)
    # the stored value is shown, and not as live: its feed is not connected
    expect(page.locator('#board tr.venue[data-exchange="bitfinex"][data-pair="BTC-USD"]')
           ).not_to_have_attribute("data-state", "live")


def test_the_page_opens_a_websocket_and_falls_back_to_long_polling(new_page, simulator,
                                                                   server_on_simulator):
    """Straight to a websocket (no long-polling handshake to upgrade from); behind a proxy that
    refuses websockets, the same page streams over long-polling instead."""
    server = server_on_simulator(PAIRS="BTC-USD")
    for refuse_websockets in (False, True):
        with LoopbackLink(server.url, refuse_websockets=refuse_websockets) as link:
            page = new_page()
            polls: list[str] = []
            page.on("request", lambda request, polls=polls: polls.append(request.url)
                    if "transport=polling" in request.url else None)
            page.goto(link.url)
            expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
            price = "4321.5" if refuse_websockets else "4321.25"
            simulator.control("coinbase/trade", pair="BTC-USD", price=price, amount="1")
            expect(board_last(page, "coinbase", "BTC-USD")).to_have_attribute("data-value", price)
            assert bool(polls) == refuse_websockets, polls
            assert bool(link.refused) == refuse_websockets
            page.close()
