"""Honest freshness, in a real browser: a value is live only while its feed is live and the page
is connected. The server killed with the page open, a silent feed, and a restart with fewer
pairs than the stored records know."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LoopbackLink
from tests.conftest import free_port, get_json, launch_server, wait_until

pytestmark = pytest.mark.browser

NOT_LIVE = re.compile(r"^(stale|reconnecting)$")


def venue(page: Page, exchange: str, pair: str):
    return page.locator(f'#board tr.venue[data-exchange="{exchange}"][data-pair="{pair}"]')


def claims_live(page: Page) -> list[str]:
    """Everything on the page that says live: board rows, feed rows, header chips."""
    return page.evaluate("""() => [
        ...document.querySelectorAll('#board [data-state="live"], #feeds [data-state="live"]'),
        ...document.querySelectorAll('#feed-summary .summary-state[data-state="live"]')]
      .filter((e) => !e.matches('.summary-state') || e.dataset.count !== '0')
      .map((e) => e.outerHTML.slice(0, 80))""")


def test_killing_the_server_marks_every_value_offline_within_5_s_and_it_recovers(
        page: Page, simulator, venues_on_simulator, tmp_path):
    port = free_port()
    env = {"PAIRS": "BTC-USD,ETH-USD"}
    urls = {f"{name.upper()}_{kind}_URL": simulator.ws_url(name) if kind == "WS"
            else f"{simulator.http}/{name}" for name in ("bitfinex", "coinbase")
            for kind in ("WS", "REST")}
    # started by hand, not by the fixture, which would count the kill as a failure
    server = launch_server(tmp_path, {"EXCHANGES": "bitfinex,coinbase", **urls, **env}, port=port)
    try:
        crash_and_recover(page, server, port, env, venues_on_simulator)
    finally:
        server.process.stop()


def crash_and_recover(page: Page, server, port: int, env: dict[str, str],
                      venues_on_simulator) -> None:
    page.goto(server.url + "?view=board,chart,feeds")
    for exchange in ("bitfinex", "coinbase"):
        for pair in ("BTC-USD", "ETH-USD"):
            expect(venue(page, exchange, pair)).to_have_attribute("data-state", "live")
    banner = page.locator("#offline-banner")
    expect(banner).to_be_hidden()

    server.process.popen.kill()  # a crash: no goodbye from the server
    killed_at = time.monotonic()
    rows = page.locator("#board tr.venue")
    expect(page.locator('#board tr.venue[data-state="offline"]')).to_have_count(4, timeout=5000)
    expect(page.locator('#feeds tr.feed[data-state="offline"]')).to_have_count(4, timeout=5000)
    expect(banner).to_be_visible(timeout=5000)
    assert time.monotonic() - killed_at < 5
    expect(banner).to_contain_text("Disconnected from the server since")
    expect(banner).to_contain_text("UTC")
    assert rows.count() == 4
    assert claims_live(page) == []
    summary = page.locator("#feed-summary")
    expect(summary.locator('[data-state="live"]')).to_have_attribute("data-count", "0")
    expect(summary.locator('[data-state="offline"]')).to_have_attribute("data-count", "4")
    # written, not only coloured: each row says offline, and its values are greyed
    expect(venue(page, "coinbase", "BTC-USD").locator(".state-word")).to_have_text("offline")
    opacity = venue(page, "coinbase", "BTC-USD").locator("td.bid").evaluate(
        "td => getComputedStyle(td).opacity")
    assert float(opacity) < 1
    # the last known values stay on screen
    expect(venue(page, "coinbase", "BTC-USD").locator("td.bid")).to_have_attribute(
        "data-value", re.compile(r"^\d"))

    venues_on_simulator("bitfinex,coinbase", port=port, **env)  # back on the same address
    expect(page.locator('#board tr.venue[data-state="live"]')).to_have_count(4, timeout=20000)
    expect(banner).to_be_hidden()
    expect(page.locator('#feeds tr.feed[data-state="live"]')).to_have_count(4)


def test_a_link_gone_silent_without_a_close_greys_every_value_and_comes_back(
        page: Page, venues_on_simulator):
    """No TCP close ever reaches the page: only the missing pings tell it. Within 5 s of the last
    word every value stops being live; when the link carries again, so do they."""
    server = venues_on_simulator("bitfinex,coinbase", PAIRS="BTC-USD")
    with LoopbackLink(server.url) as link:
        page.goto(f"{link.url}/?view=board,feeds")
        expect(page.locator('#board tr.venue[data-state="live"]')).to_have_count(2)
        banner = page.locator("#offline-banner")
        expect(banner).to_be_hidden()

        link.freeze()
        # before Engine.IO's own ping timeout (10 s) would close the link: the page's watchdog
        expect(page.locator('#board tr.venue[data-state="offline"]')).to_have_count(2, timeout=8000)
        expect(banner).to_contain_text("No word from the server since")
        expect(page.locator("#connection")).to_have_attribute("data-state", "silent")
        assert claims_live(page) == []

        link.thaw()
        expect(page.locator('#board tr.venue[data-state="live"]')).to_have_count(2, timeout=10000)
        expect(banner).to_be_hidden()
        expect(page.locator("#connection")).to_have_attribute("data-state", "connected")


def test_a_silent_feed_greys_its_values_shows_their_age_and_counts_for_nothing(
        page: Page, simulator, venues_on_simulator):
    server = venues_on_simulator("bitfinex,coinbase", PAIRS="BTC-USD", FEED_TIMEOUT="2")
    page.goto(server.url)
    bitfinex, coinbase = venue(page, "bitfinex", "BTC-USD"), venue(page, "coinbase", "BTC-USD")
    expect(bitfinex).to_have_attribute("data-state", "live")
    expect(coinbase).to_have_attribute("data-state", "live")
    simulator.control("bitfinex/ticker", pair="BTC-USD", bid="50000", ask="50001", last="50000")
    simulator.control("coinbase/ticker", pair="BTC-USD", bid="42000.00", ask="42000.50",
                      last="42000.00")
    # bitfinex's bid tops coinbase's ask: a crossed market while both are live
    group = page.locator('#board tbody.board-pair[data-pair="BTC-USD"]')
    expect(group).to_have_attribute("data-crossed", "")
    expect(bitfinex).to_have_attribute("data-best-bid", "")

    simulator.control("bitfinex/silence", seconds=60)
    expect(bitfinex).to_have_attribute("data-state", NOT_LIVE, timeout=10000)
    expect(bitfinex.locator(".state-word")).to_have_text(NOT_LIVE)
    expect(bitfinex.locator(".age-text")).to_have_text(re.compile(r"^\d+ s$"))
    assert float(bitfinex.locator("td.bid").evaluate("td => getComputedStyle(td).opacity")) < 1
    # its old bid no longer makes a crossed market, nor the best bid
    expect(group).not_to_have_attribute("data-crossed", "")
    expect(group).to_have_attribute("data-spread", "0.50")
    expect(coinbase).to_have_attribute("data-best-bid", "")
    expect(bitfinex).not_to_have_attribute("data-best-bid", "")
    expect(coinbase).to_have_attribute("data-state", "live")
    expect(page.locator('#feed-summary [data-state="live"]')).to_have_attribute("data-count", "1")

    simulator.control("bitfinex/silence", seconds=0)
    expect(bitfinex).to_have_attribute("data-state", "live", timeout=20000)
    expect(bitfinex.locator(".state-word")).to_have_text("live")


def test_a_restart_with_fewer_pairs_leaves_no_ghost_feeds(page: Page, new_page, simulator,
                                                         venues_on_simulator, tmp_path):
    port = free_port()
    db = {"DATABASE_URL": f"sqlite:///{tmp_path / 'market.db'}"}
    first = venues_on_simulator("bitfinex,coinbase", port=port,
                                PAIRS="BTC-USD,ETH-USD,SOL-USD,DOGE-USD", **db)
    page.goto(first.url + "?view=board,feeds")
    expect(page.locator('#board tr.venue[data-state="live"]')).to_have_count(8)
    # every pair stored (the REST snapshots), so the next run seeds all of them
    wait_until(lambda: get_json(f"{first.url}/api/tickers?pair=DOGE-USD&limit=1"), timeout=15)
    wait_until(lambda: first.health()["storage"]["buffered"] == 0)
    first.process.stop()
    expect(page.locator('#board tr.venue[data-state="offline"]')).to_have_count(8)

    second = venues_on_simulator("bitfinex,coinbase", port=port, PAIRS="BTC-USD", **db)
    seeded = {(t["exchange"], t["pair"]) for t in get_json(f"{second.url}/api/tickers?limit=50")}
    assert ("coinbase", "DOGE-USD") in seeded  # storage still knows the old pairs
    for view in (page, new_page()):  # the page that stayed open, and a fresh one
        if view is not page:
            view.goto(second.url + "?view=board,feeds")
        expect(view.locator('#board tr.venue[data-state="live"]')).to_have_count(2, timeout=20000)
        expect(view.locator("#board tr.venue")).to_have_count(2)
        expect(view.locator("#feeds tr.feed")).to_have_count(2)
        expect(view.locator('#board [data-pair="DOGE-USD"], #feeds [data-pair="DOGE-USD"]')
               ).to_have_count(0)
        expect(view.locator("#feed-summary .summary-total")).to_have_text("2 feeds")
        expect(view.locator('#feed-summary [data-state="live"]')).to_have_attribute(
            "data-count", "2")
        assert [c.get_attribute("data-base") for c in view.locator(".board-card").all()] == [
            "BTC"]
