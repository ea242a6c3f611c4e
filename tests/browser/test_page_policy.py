"""The page under its Content-Security-Policy in a real browser: nothing it needs is refused,
and framing follows FRAME_ANCESTORS."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser


def test_the_page_runs_under_its_policy_without_a_violation(page: Page, simulator,
                                                            server_on_simulator):
    server = server_on_simulator(PAIRS="BTC-USD")
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    response = page.goto(server.url)
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.evaluate("""() => { window.__violations = [];
        document.addEventListener('securitypolicyviolation',
            (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI)); }""")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(page.locator('[data-exchange="coinbase"][data-pair="BTC-USD"][data-state="live"]')
           ).not_to_have_count(0)
    simulator.control("coinbase/trade", pair="BTC-USD", price="43210.5", amount="0.5")
    expect(page.locator("body")).to_contain_text("43210.5")  # the stream reached the page
    assert page.evaluate("window.__violations") == []
    assert not [m for m in messages if "Content Security Policy" in m], messages


def test_another_site_cannot_frame_the_page(browser: Browser, simulator, server_on_simulator):
    """Its own page (not the ``page`` fixture): the refusal is a console error by design."""
    server = server_on_simulator(PAIRS="BTC-USD")
    context = browser.new_context()
    try:
        page = context.new_page()
        messages: list[str] = []
        page.on("console", lambda message: messages.append(message.text))
        page.set_content(f'<iframe id="wall" src="{server.url}/"></iframe>')
        expect(page.frame_locator("#wall").locator("#connection")).to_have_count(0)
        deadline_ms = 5000
        while not any("frame-ancestors" in m for m in messages) and deadline_ms > 0:
            page.wait_for_timeout(100)
            deadline_ms -= 100
        assert any("frame-ancestors 'none'" in m for m in messages), messages
    finally:
        context.close()
