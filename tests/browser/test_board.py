"""The board in a real browser: exact values, best marks, the cross-exchange spread, a crossed
market, venues grouped by quote currency, fixed decimals; and its formatting and flash rules
checked on the page's own modules."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PRICE = re.compile(r"^\d{1,3}(,\d{3})*\.\d+$")


def venue(page: Page, exchange: str, pair: str):
    return page.locator(f'#board tr.venue[data-exchange="{exchange}"][data-pair="{pair}"]')


def group(page: Page, pair: str):
    return page.locator(f'#board tbody.board-pair[data-pair="{pair}"]')


def wait_live(page: Page, feeds: list[tuple[str, str]]) -> None:
    for exchange, pair in feeds:
        expect(venue(page, exchange, pair)).to_have_attribute("data-state", "live",
                                                              timeout=15000)


def test_known_quotes_best_marks_spread_and_quote_groups(page: Page, simulator,
                                                         venues_on_simulator):
    server = venues_on_simulator("bitfinex,coinbase,kraken,binance", PAIRS="BTC-USD,ETH-USD",
                                 BINANCE_PAIRS="BTC-USDT")
    page.goto(server.url)
    usd = [(ex, "BTC-USD") for ex in ("bitfinex", "coinbase", "kraken")]
    wait_live(page, usd)

    simulator.control("bitfinex/ticker", pair="BTC-USD", bid="43000.1", ask="43001.5",
                      last="43000.5")
    simulator.control("coinbase/ticker", pair="BTC-USD", bid="43000.25", ask="43001.00",
                      last="43001.00")
    simulator.control("kraken/ticker", pair="BTC-USD", bid="42999.9", ask="43002",
                      last="43000")
    # a USDT venue quoting far above every USD bid: another currency, never compared with USD
    simulator.control("binance/ticker", pair="BTC-USDT", bid="43100.5", ask="43100.6")
    wait_live(page, [("binance", "BTC-USDT")])  # Binance acks nothing: live on its first data

    btc = group(page, "BTC-USD")
    expect(btc).to_have_attribute("data-spread", "0.75")  # 43001.00 - 43000.25, exact
    expect(btc).to_have_attribute("data-mid", "43000.625")
    expect(btc).not_to_have_attribute("data-crossed", "")
    coinbase = venue(page, "coinbase", "BTC-USD")
    expect(coinbase).to_have_attribute("data-best-bid", "")
    expect(coinbase).to_have_attribute("data-best-ask", "")
    for exchange in ("bitfinex", "kraken"):
        row = venue(page, exchange, "BTC-USD")
        expect(row).not_to_have_attribute("data-best-bid", "")
        expect(row).not_to_have_attribute("data-best-ask", "")
    # marked by more than colour: a box in bold type, and the row says it in its attributes
    expect(coinbase.locator("td.bid .cell")).to_have_class(re.compile(r"\bbest\b"))
    assert coinbase.locator("td.bid .shown").evaluate(
        "e => getComputedStyle(e).fontWeight") == "800"

    # the text holds the exact values; the display pads every venue of the pair to the same
    # decimals, with separators, never rounding
    expect(coinbase).to_contain_text("43000.25")
    expect(coinbase).to_contain_text("43001.00")
    bitfinex = venue(page, "bitfinex", "BTC-USD")
    expect(bitfinex.locator("td.bid")).to_have_attribute("data-value", "43000.1")
    expect(bitfinex.locator("td.bid .shown")).to_have_text("43,000.10")
    expect(venue(page, "kraken", "BTC-USD").locator("td.ask .shown")).to_have_text("43,002.00")
    expect(btc.locator(".pair-spread")).to_contain_text("spread 0.75")

    usdt = group(page, "BTC-USDT")
    binance = venue(page, "binance", "BTC-USDT")
    expect(usdt).to_have_attribute("data-spread", "0.10000000")  # Binance sends 8 decimals
    expect(binance).to_have_attribute("data-best-bid", "")
    # one venue: the marks are in the attributes but not drawn (nothing to compare with)
    expect(binance.locator("td.bid .cell")).not_to_have_class(re.compile(r"\bbest\b"))
    expect(btc).to_have_attribute("data-spread", "0.75")

    # cards per base in the configured order, quote groups inside; rows in the configured order
    cards = page.locator("#board .board-card")
    assert [cards.nth(i).get_attribute("data-base") for i in range(cards.count())] == [
        "BTC", "ETH"]
    groups = page.locator('#board .board-card[data-base="BTC"] tbody.board-pair')
    assert [groups.nth(i).get_attribute("data-pair") for i in range(groups.count())] == [
        "BTC-USD", "BTC-USDT"]
    rows = btc.locator("tr.venue")
    assert [rows.nth(i).get_attribute("data-exchange") for i in range(rows.count())] == [
        "bitfinex", "coinbase", "kraken"]
    live = page.locator('#feed-summary .summary-state[data-state="live"]')
    expect(live).to_have_attribute("data-count", "7")
    expect(page.locator("#feed-summary .summary-total")).to_have_text("7 feeds")

    # a crossed market across venues: highest bid above the lowest ask, in words
    simulator.control("kraken/ticker", pair="BTC-USD", bid="43010", ask="43011", last="43010")
    expect(btc).to_have_attribute("data-spread", "-9.00")
    expect(btc).to_have_attribute("data-crossed", "")
    expect(btc.locator(".pair-spread")).to_contain_text("CROSSED by 9.00")
    expect(venue(page, "kraken", "BTC-USD")).to_have_attribute("data-best-bid", "")
    expect(coinbase).to_have_attribute("data-best-ask", "")
    expect(coinbase).not_to_have_attribute("data-best-bid", "")

    # more decimals from one venue: every price of the pair shows them, padded
    simulator.control("coinbase/ticker", pair="ETH-USD", bid="2300.125", ask="2300.5",
                      last="2300.5")
    eth = group(page, "ETH-USD")
    expect(venue(page, "coinbase", "ETH-USD").locator("td.bid .shown")).to_have_text("2,300.125")
    expect(venue(page, "coinbase", "ETH-USD").locator("td.ask .shown")).to_have_text("2,300.500")
    shown = eth.locator("td.bid .shown, td.ask .shown, td.last .shown")
    for text in shown.all_text_contents():
        assert PRICE.match(text) and len(text.split(".")[1]) == 3, text
    # a move up is marked ▲ beside the last price
    simulator.control("coinbase/ticker", pair="ETH-USD", last="2301")
    expect(venue(page, "coinbase", "ETH-USD").locator("td.last .dir")).to_have_text("\u25B2")


def test_an_error_row_stays_one_line_with_the_full_reason_on_hover(page: Page, simulator,
                                                                   start_server):
    # the websocket alone (no REST instruments check): OKX's own long refusal is the reason
    server = start_server({"EXCHANGES": "okx", "OKX_WS_URL": simulator.ws_url("okx"),
                           "OKX_PAIRS": "BTC-USDT,FOO-USDT"})
    page.goto(server.url + "?view=board,feeds")
    bad = venue(page, "okx", "FOO-USDT")
    expect(bad).to_have_attribute("data-state", "error", timeout=15000)
    detail = bad.locator("td.detail")
    expect(detail).to_contain_text("FOO-USDT")
    reason = detail.get_attribute("title")
    assert reason and detail.text_content() == reason
    # the reason is longer than the cell: cut on screen, whole in the title
    assert detail.evaluate("td => td.scrollWidth > td.clientWidth")
    good = venue(page, "okx", "BTC-USDT")
    expect(good).to_have_attribute("data-state", "live", timeout=15000)
    height = good.bounding_box()["height"]
    assert bad.bounding_box()["height"] <= height + 1  # one line, however long the reason
    # the feed row too: one line, the full text on hover and in /api/pairs
    feed = page.locator('#feeds tr.feed[data-exchange="okx"][data-pair="FOO-USDT"]')
    expect(feed).to_have_attribute("data-state", "error")
    ok_feed = page.locator('#feeds tr.feed[data-exchange="okx"][data-pair="BTC-USDT"]')
    assert feed.bounding_box()["height"] <= ok_feed.bounding_box()["height"] + 1
    assert feed.locator("td.detail").get_attribute("title") == reason
    pairs = page.request.get(server.url + "/api/pairs").json()
    assert {"exchange": "okx", "pair": "FOO-USDT", "state": "error", "detail": reason} \
        .items() <= next(p for p in pairs if p["pair"] == "FOO-USDT").items()


# ---- the page's own modules, run in the browser -------------------------------------------

MODULE_CHECKS = """
async () => {
  const d = await import("/static/js/decimal.js");
  const p = d.parseDecimal;
  const s = (x) => d.decimalString(x);
  return {
    sub: [s(d.subtractDecimal(p("43210.6"), p("43210.45"))), s(d.subtractDecimal(p("1.5"),
      p("1.5"))), s(d.subtractDecimal(p("43001.00"), p("43010"))), s(d.subtractDecimal(
      p("0.00000003"), p("0.00000001")))],
    mid: [s(d.midDecimal(p("1"), p("2"))), s(d.midDecimal(p("0.1"), p("0.3"))),
      s(d.midDecimal(p("99999999999999999999.99"), p("100000000000000000000.01")))],
    cmp: [d.compareDecimal(p("1.10"), p("1.1")), d.compareDecimal(p("0.30000000000000004"),
      p("0.3")), d.compareDecimal(p("-2"), p("1"))],
    fmt: [d.formatPrice("87123.45000000", 2), d.formatPrice("87123.4", 2),
      d.formatPrice("0.000123", 8), d.formatPrice("1234567.891", 2), d.formatPrice("5", 0),
      d.formatPrice("-1234.5", 2), d.formatPrice("garbage", 2)],
    decimals: [d.significantDecimals("87123.45000000"), d.significantDecimals("100"),
      d.significantDecimals("0.0010")],
    amount: [d.formatAmount("1234.5678"), d.formatAmount("12.3456"), d.formatAmount("27369840.5"),
      d.formatAmount("0.00012")],
  };
}
"""


def test_exact_decimal_arithmetic_and_display(page: Page, server_on_simulator):
    page.goto(server_on_simulator(PAIRS="BTC-USD").url)
    got = page.evaluate(MODULE_CHECKS)
    assert got["sub"] == ["0.15", "0.0", "-9.00", "0.00000002"]
    assert got["mid"] == ["1.5", "0.2", "100000000000000000000.00"]
    assert got["cmp"] == [0, 1, -1]
    assert got["fmt"] == ["87,123.45", "87,123.40", "0.00012300", "1,234,567.891", "5",
                          "\u22121,234.50", "garbage"]
    assert got["decimals"] == [2, 0, 3]
    assert got["amount"] == ["1,234", "12.34", "27.36 M", "0"]


FLASH_CHECKS = """
async () => {
  const { Board } = await import("/static/js/board.js");
  const root = document.createElement("div");
  document.body.appendChild(root);
  const board = new Board(root, () => Date.parse("2026-01-01T00:00:10Z"));
  board.configure([{ exchange: "x", pair: "BTC-USD" }]);
  board.setOnline(true);
  board.setFeedState("x\\u0000BTC-USD", "live");
  const tick = (last) => ({ exchange: "x", pair: "BTC-USD", time: "2026-01-01T00:00:00.000Z",
    t: Date.parse("2026-01-01T00:00:00Z"), bid: "1", ask: "2", last, volume24h: "",
    open24h: "" });
  const td = () => root.querySelector("td.last .cell");
  const out = [];
  board.applyTicker(tick("1.5")); board.render();
  out.push(td().className);
  board.applyTicker(tick("1.6")); board.render();
  out.push(td().className, td().querySelector(".dir").textContent);
  board.applyTicker(tick("1.4")); board.render();  // within a second: no second flash
  out.push(td().className, td().querySelector(".dir").textContent);
  root.remove();
  return out;
}
"""


def test_a_value_flashes_at_most_once_a_second_with_its_direction(page: Page,
                                                                  server_on_simulator):
    page.goto(server_on_simulator(PAIRS="BTC-USD").url)
    first, up, up_mark, after, down_mark = page.evaluate(FLASH_CHECKS)
    assert "flash" not in first  # the first value is not a change
    assert "flash-up" in up and up_mark == "\u25B2"
    assert "flash-down" not in after and down_mark == "\u25BC"  # the mark follows, no flash


def test_reduced_motion_turns_the_flashes_off(new_page, server_on_simulator):
    server = server_on_simulator(PAIRS="BTC-USD")
    colours = []
    for motion in ("no-preference", "reduce"):
        page = new_page(reduced_motion=motion)
        page.goto(server.url)
        cell = page.locator('#board tr.venue[data-exchange="coinbase"] td.bid .cell')
        expect(cell).to_have_count(1)
        colours.append(cell.evaluate(
            "c => { c.classList.add('flash-up'); return getComputedStyle(c).backgroundColor }"))
    assert colours[0] != "rgba(0, 0, 0, 0)"
    assert colours[1] == "rgba(0, 0, 0, 0)"
