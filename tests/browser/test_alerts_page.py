"""Alerts on the page in a real browser: a rule added with the page's form fires, and the banner,
the panel and the sound note say so; text only ever reaches the DOM as text."""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"


def rules(server) -> list[dict]:
    with urllib.request.urlopen(f"{server.url}/api/alerts", timeout=5) as response:
        return json.load(response)["rules"]


def test_a_rule_added_on_the_page_fires_and_the_banner_shows_it(page: Page, simulator,
                                                                 server_on_simulator, tmp_path):
    server = server_on_simulator(PAIRS="BTC-USD", DATABASE_URL=f"sqlite:///{tmp_path}/m.db")
    page.goto(server.url)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(page.locator("body")).to_have_attribute("data-alerts", "ready")
    expect(page.locator("#alert-banner")).to_be_hidden()
    # no rule, nothing to sound: no note about sounds in the wall's corner
    expect(page.locator("#alert-audio-note")).to_be_hidden()

    # "tell me when BTC-USD crosses 45,000 on any exchange" (the market is near 43,000)
    page.locator("#alerts-toggle").click()
    form = page.locator("#alerts-form")
    form.locator('[name="pair"]').fill("BTC-USD")
    form.locator('[name="kind"]').select_option("crosses")
    form.locator('[name="value"]').fill("45,000")
    form.locator('[name="exchange"]').select_option("")
    form.locator('[name="message"]').fill(HOSTILE)
    form.locator("button[type=submit]").click()
    expect(page.locator("#alerts-form-status")).to_contain_text("Added rule")
    expect(page.locator("#alerts-rules li.alert-rule")).to_have_count(1)
    [rule] = rules(server)
    assert (rule["kind"], rule["pair"], rule["value"], rule["exchange"]) == (
        "price_above", "BTC-USD", "45000", None)
    expect(page.locator("#alert-audio-note")).to_be_hidden()  # the clicks allowed sound

    simulator.control("coinbase/trade", pair="BTC-USD", price="45010.5", amount="0.1")
    banner = page.locator("#alert-banner")
    expect(banner).to_be_visible(timeout=2000)
    expect(banner.locator(".alert-banner-text")).to_have_text(
        f"{HOSTILE}: BTC-USD last 45010.5 on coinbase (any exchange): at or above 45000")
    expect(banner).to_have_attribute("data-severity", "info")
    event = page.locator("#alerts-events li.alert-event")
    expect(event).to_have_count(1)
    expect(event.locator(".alert-event-message")).to_contain_text("45010.5")
    expect(page.locator("#alerts-rules .alert-rule-state")).to_contain_text("fired")
    assert page.locator("img").count() == 0

    banner.locator(".alert-banner-close").click()
    expect(banner).to_be_hidden()
    page.locator("#alerts-rules .alert-rule-delete").click()
    expect(page.locator("#alerts-rules li.alert-rule")).to_have_count(0)
    assert rules(server) == []


def test_a_reloaded_page_lists_the_alerts_it_missed(page: Page, simulator,
                                                    server_on_simulator, tmp_path):
    server = server_on_simulator(PAIRS="BTC-USD", DATABASE_URL=f"sqlite:///{tmp_path}/m.db")
    request = urllib.request.Request(
        f"{server.url}/api/alerts", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"kind": "price_below", "pair": "BTC-USD", "value": "40000",
                         "severity": "critical"}).encode())
    urllib.request.urlopen(request, timeout=5).close()
    page.goto(server.url)
    expect(page.locator("body")).to_have_attribute("data-alerts", "ready")
    # a rule that would sound, and no click yet to allow sounds: the page says so
    expect(page.locator("#alert-audio-note")).to_contain_text("click")
    simulator.control("coinbase/trade", pair="BTC-USD", price="39000", amount="0.1")
    expect(page.locator("#alert-banner")).to_have_attribute("data-severity", "critical",
                                                           timeout=2000)
    expect(page.locator("#alerts-toggle .alerts-unread")).to_have_text("1")
    page.reload()
    page.locator("#alerts-toggle").click()
    expect(page.locator("#alert-audio-note")).to_be_hidden()  # the click allowed sound
    event = page.locator("#alerts-events li.alert-event")
    expect(event).to_have_count(1)
    expect(event).to_have_attribute("data-severity", "critical")
    expect(event.locator(".alert-event-severity")).to_have_text("Critical")
