"""The charts in a real browser: they start full from GET /api/candles, then extend live from
trades without refetching; small multiples, one per pair, one line per exchange."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import get_json, wait_until

pytestmark = pytest.mark.browser


def test_the_chart_starts_full_from_stored_candles_and_extends_live(page: Page, simulator,
                                                                    venues_on_simulator,
                                                                    tmp_path):
    # MAX_ROWS=10: the trades a page gets on connect cover a minute or two; the rest of the
    # chart can only come from the stored candles
    server = venues_on_simulator("bitfinex,coinbase", PAIRS="BTC-USD,ETH-USD", MAX_ROWS="10",
                                 DATABASE_URL=f"sqlite:///{tmp_path / 'market.db'}")
    # the REST snapshots at start-up hold each venue's recent trades (20 s apart over the last
    # 10 minutes in the simulator): stored, they make candles before any live trade
    query = f"{server.url}/api/candles?exchange=coinbase&pair=BTC-USD&interval=1m"
    candles = wait_until(lambda: len(get_json(query)) >= 5 and get_json(query), timeout=20,
                         message="stored candles")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url)
            if "/api/candles" in request.url else None)
    page.goto(server.url)
    panel = page.locator('#charts .chart-panel[data-pair="BTC-USD"]')
    expect(panel).to_have_attribute("data-series", "2")
    # full on arrival: at least the stored minutes, from the API, before any live trade
    wait_until(lambda: int(panel.get_attribute("data-from-candles") or 0) >= len(candles) - 3,
               timeout=5, message="candles drawn")
    wait_until(lambda: int(panel.get_attribute("data-points") or 0) >= len(candles), timeout=5,
               message="every stored minute drawn")
    assert page.locator("#charts .chart-panel").count() == 2
    assert page.locator("#chart-legend .legend-item").all_text_contents() == [
        "bitfinex", "coinbase"]
    assert len(requests) == 4  # one per feed
    assert "interval=1m" in requests[0] and "since=" in requests[0]
    expect(panel.locator("canvas").first).to_be_visible()

    # live: a trade sets its candle's close and the label, with no new request
    simulator.control("coinbase/trade", pair="BTC-USD", price="99999.5", amount="0.1")
    label = panel.locator(".chart-last")
    expect(label).to_have_attribute("data-value", "99999.5")
    expect(label).to_have_text("99,999.50")  # the pair's decimals (from its candles)
    expect(panel.locator(".chart-last-venue")).to_contain_text("coinbase")
    page.wait_for_timeout(1500)  # a few renders
    assert len(requests) == 4
    stats = page.evaluate("window.dashboardStats()")
    assert stats["chartLines"] == 4 and stats["chartSlots"] == 4 * 60

    # another span asks for coarser candles, once per feed
    page.goto(server.url + "?span=24h")
    # (Playwright delivers its events while it is called: poll through it)
    wait_until(lambda: page.wait_for_timeout(50) or len(requests) == 8, timeout=5,
               message="the 24 h candles")
    assert all("interval=15m" in url for url in requests[4:])
    panel = page.locator('#charts .chart-panel[data-pair="BTC-USD"]')
    wait_until(lambda: int(panel.get_attribute("data-points") or 0) >= 1, timeout=5,
               message="the 24 h chart drawn")
    assert page.evaluate("window.dashboardStats()")["chartSlots"] == 4 * 96
