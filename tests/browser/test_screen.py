"""The screen itself, in a real browser: URL parameters pin what a screen shows, the page's own
controls set the same state and it survives a reload, wall mode, theme, fullscreen and wake
lock; and every layout size (1920x1080, 3840x2160, 1280x800, a 390x844 phone) shows its prices
without horizontal scrolling, with eight exchanges x four pairs from ``--demo``."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import wait_until

pytestmark = pytest.mark.browser

USD_VENUES = ("bitfinex", "coinbase", "kraken", "bitstamp", "gemini")
USDT_VENUES = ("binance", "okx", "bybit")
PAIRS = ("BTC", "ETH", "SOL", "XRP")
DEMO_ENV = {
    "EXCHANGES": ",".join(USD_VENUES + USDT_VENUES),
    "PAIRS": ",".join(f"{base}-USD" for base in PAIRS),
    **{f"{name.upper()}_PAIRS": ",".join(f"{base}-USDT" for base in PAIRS)
       for name in USDT_VENUES},
}


def rows(page: Page) -> list[tuple[str, str]]:
    return [(r.get_attribute("data-exchange"), r.get_attribute("data-pair"))
            for r in page.locator("#board tr.venue").all()]


def test_url_parameters_pin_what_a_screen_shows(page: Page, new_page, simulator,
                                                venues_on_simulator):
    server = venues_on_simulator("bitfinex,coinbase,kraken", PAIRS="BTC-USD,ETH-USD")
    page.goto(server.url + "?exchanges=bitfinex,kraken&pairs=BTC-USD"
              "&view=board,chart,trades&theme=light&wall=1")
    expect(page.locator('#board tr.venue[data-state="live"]')).to_have_count(2)
    assert rows(page) == [("bitfinex", "BTC-USD"), ("kraken", "BTC-USD")]
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "light")
    expect(page.locator("body")).to_have_attribute("data-wall", "")
    for shown in ("#board-card", "#chart-card", "#trades-card"):
        expect(page.locator(shown)).to_be_visible()
    for hidden in ("#feeds-card", "#tickers-card"):
        expect(page.locator(hidden)).to_be_hidden()
    charts = page.locator("#charts .chart-panel")
    expect(charts).to_have_count(1)
    expect(charts).to_have_attribute("data-pair", "BTC-USD")
    expect(charts).to_have_attribute("data-series", "2")
    expect(page.locator("#feed-summary .summary-total")).to_have_text("2 feeds")
    # the lists show this screen's feeds only
    simulator.control("coinbase/trade", pair="BTC-USD", price="43111.1", amount="1")
    simulator.control("bitfinex/trade", pair="ETH-USD", price="2311.1", amount="1")
    simulator.control("kraken/trade", pair="BTC-USD", price="43222.2", amount="1")
    expect(page.locator('#trades tbody tr[data-exchange="kraken"]').filter(
        has=page.locator("td.price", has_text="43222.2"))).to_have_count(1)
    assert page.locator("#trades tbody tr").count() > 1  # the REST snapshots' trades too
    expect(page.locator('#trades tbody tr[data-exchange="coinbase"], '
                        '#trades tbody tr[data-pair="ETH-USD"]')).to_have_count(0)
    # wall mode: larger type than the same screen without it
    wall_size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    plain = new_page()
    plain.goto(server.url + "?exchanges=bitfinex,kraken&pairs=BTC-USD")
    assert plain.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)"
                          ) < wall_size
    expect(plain.locator("html")).to_have_attribute("data-bs-theme", "dark")
    # a base names every pair of it, in any case
    plain.goto(server.url + "?pairs=eth")
    expect(plain.locator("#board tr.venue")).to_have_count(3)
    assert {pair for _, pair in rows(plain)} == {"ETH-USD"}


def test_the_screen_menu_sets_the_same_state_and_it_survives_a_reload(page: Page,
                                                                      venues_on_simulator):
    server = venues_on_simulator("bitfinex,coinbase", PAIRS="BTC-USD,ETH-USD")
    page.goto(server.url)
    expect(page.locator('#board tr.venue[data-state="live"]')).to_have_count(4)
    expect(page.locator("#trades-card")).to_be_hidden()  # not on the default wall view
    page.click("#screen-menu > summary")
    form = page.locator("#screen-form")
    form.locator('input[name="view"][value="chart"]').uncheck()
    form.locator('input[name="view"][value="trades"]').check()
    form.locator('input[name="exchange"][value="coinbase"]').uncheck()
    form.locator('input[name="pair"][value="ETH-USD"]').uncheck()
    form.locator('select[name="theme"]').select_option("light")
    form.locator('input[name="wall"]').check()
    expect(page).to_have_url(re.compile(
        r"\?exchanges=bitfinex&pairs=BTC-USD&view=board,trades&theme=light&wall=1$"))
    expect(page.locator("#chart-card")).to_be_hidden()
    expect(page.locator("#trades-card")).to_be_visible()
    assert rows(page) == [("bitfinex", "BTC-USD")]

    page.reload()
    expect(page.locator('#board tr.venue[data-state="live"]')).to_have_count(1)
    assert rows(page) == [("bitfinex", "BTC-USD")]
    expect(page.locator("#chart-card")).to_be_hidden()
    expect(page.locator("#trades-card")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "light")
    expect(page.locator("body")).to_have_attribute("data-wall", "")
    assert form.locator('input[name="exchange"][value="coinbase"]').is_checked() is False
    assert form.locator('input[name="view"][value="trades"]').is_checked()

    # ticking everything again is no filter: the address is plain again
    page.click("#screen-menu > summary")
    form.locator('input[name="exchange"][value="coinbase"]').check()
    form.locator('input[name="pair"][value="ETH-USD"]').check()
    expect(page.locator("#board tr.venue")).to_have_count(4)
    expect(page).to_have_url(re.compile(r"\?view=board,trades&theme=light&wall=1$"))


def test_fullscreen_and_the_wake_lock(page: Page, server_on_simulator):
    server = server_on_simulator(PAIRS="BTC-USD")
    page.goto(server.url)
    expect(page.locator("body")).to_have_attribute(
        "data-wake-lock", re.compile(r"^(active|refused|unsupported)$"))
    button = page.locator("#fullscreen")
    if button.is_visible():
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        button.click()
        expect(button).to_have_attribute("aria-pressed", "false")
    page.goto(server.url + "?wake=0")
    expect(page.locator("body")).to_have_attribute("data-wake-lock", "off")


LAYOUT_JS = """() => {
  const doc = document.documentElement;
  const clipped = [];
  let shown = 0;
  for (const td of document.querySelectorAll("#board td.bid, #board td.ask, #board td.last")) {
    const span = td.querySelector(".shown");
    if (!span.textContent) continue;
    shown += 1;
    const a = span.getBoundingClientRect();
    const b = td.getBoundingClientRect();
    if (a.right > b.right + 0.5 || a.left < b.left - 0.5 || td.scrollWidth > td.clientWidth) {
      clipped.push(span.textContent);
    }
  }
  const first = document.querySelector("#board td.last .shown").getBoundingClientRect();
  const board = document.getElementById("board-card").getBoundingClientRect();
  const chart = document.getElementById("chart-card").getBoundingClientRect();
  const lefts = [...document.querySelectorAll(".board-card")].map(
    (c) => Math.round(c.getBoundingClientRect().left));
  const boardBox = document.getElementById("board-card");
  return {
    horizontalScroll: doc.scrollWidth > doc.clientWidth,
    pageScrolls: doc.scrollHeight > window.innerHeight + 1,
    boardScrolls: boardBox.scrollHeight > boardBox.clientHeight + 1,
    shown, clipped,
    firstPriceVisible: first.top >= 0 && first.bottom <= window.innerHeight && first.width > 0,
    boardAboveChart: board.top < chart.top,
    boardLeftOfChart: board.right <= chart.left + 1,
    columns: new Set(lefts).size,
    chartHeight: chart.height,
  };
}"""


def test_every_layout_size_shows_the_prices_without_horizontal_scrolling(new_page,
                                                                         start_server):
    server = start_server(DEMO_ENV, "--demo")
    feeds = len(USD_VENUES + USDT_VENUES) * len(PAIRS)
    results = {}
    for width, height in ((1920, 1080), (3840, 2160), (1280, 800), (390, 844)):
        page = new_page(width, height)
        page.goto(server.url)
        expect(page.locator('#board tr.venue[data-state="live"]')).to_have_count(
            feeds, timeout=30000)
        wait_until(lambda page=page: page.locator("#board td.last[data-value]").count() == feeds,
                   timeout=15, message="a last price on every row")
        page.wait_for_timeout(300)  # one more repaint after the last fit
        got = page.evaluate(LAYOUT_JS)
        results[width, height] = got
        assert not got["horizontalScroll"], (width, height)
        assert got["shown"] == 3 * feeds, (width, height, got)
        assert got["clipped"] == [], (width, height, got["clipped"])
        assert got["firstPriceVisible"], (width, height)
        stats = page.evaluate("window.dashboardStats()")
        assert stats["boardRows"] == feeds and stats["boardPairs"] == 2 * len(PAIRS)
        assert stats["chartSlots"] == feeds * 60  # one hour of 1-minute candles, allocated once
        if width >= 1920:  # a wall screen: everything on one screen, nothing scrolls
            assert not got["pageScrolls"] and not got["boardScrolls"], (width, height, got)
            assert got["boardLeftOfChart"] and got["chartHeight"] > height / 2
        if width == 390:  # a phone: one column, the board first
            assert got["columns"] == 1 and got["boardAboveChart"], got
        page.screenshot(path=str(server.process.log_path.with_suffix(f".{width}x{height}.png")))
        page.context.close()
