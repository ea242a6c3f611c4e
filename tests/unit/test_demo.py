"""``--demo``: every listener the simulator serves is pointed at it, from the registries."""

from __future__ import annotations

import json
import urllib.request

from dashboard.demo import DEMO_RATES, DemoSimulator, demo_settings, start_simulator
from dashboard.settings import Settings
from exchanges import LISTENERS

SIM = "ws://127.0.0.1:4242"


def test_every_listener_the_simulator_serves_gets_its_urls():
    served = (*LISTENERS, "notalistener")
    settings = demo_settings(Settings(), DemoSimulator(SIM, served), {})
    assert settings.ws_urls == {name: f"{SIM}/{name}" for name in LISTENERS}
    assert settings.rest_urls == {name: f"http://127.0.0.1:4242/{name}" for name in LISTENERS}
    assert settings.database_url == "sqlite:///data/demo.db"


def test_a_listener_the_simulator_lacks_keeps_its_live_url(caplog):
    settings = Settings(exchanges=("bitfinex", "coinbase"))
    demo = demo_settings(settings, DemoSimulator(SIM, ("coinbase",)), {})
    assert demo.ws_urls == {"coinbase": f"{SIM}/coinbase"}
    assert "the simulator has no bitfinex" in caplog.text


def test_urls_and_database_the_user_set_win():
    settings = Settings(ws_urls={"coinbase": "ws://elsewhere/cb"},
                        database_url="sqlite:///mine.db")
    demo = demo_settings(settings, DemoSimulator(SIM, ("bitfinex", "coinbase")),
                         {"DATABASE_URL": "sqlite:///mine.db"})
    assert demo.ws_urls == {"bitfinex": f"{SIM}/bitfinex", "coinbase": "ws://elsewhere/cb"}
    assert demo.rest_urls["coinbase"] == "http://127.0.0.1:4242/coinbase"
    assert demo.database_url == "sqlite:///mine.db"


def test_the_started_simulator_reports_its_exchanges_and_runs_the_demo_rates():
    simulator = start_simulator("--log-level", "ERROR")
    assert simulator.process is not None
    try:
        assert {"bitfinex", "coinbase"} <= set(simulator.exchanges)
        http = simulator.url.replace("ws://", "http://", 1)
        with urllib.request.urlopen(f"{http}/control/stats", timeout=5) as response:
            stats = json.loads(response.read())
        assert set(stats) == set(simulator.exchanges)
        for name in simulator.exchanges:
            assert stats[name]["rate"] == DEMO_RATES.get(name, 2.0)
    finally:
        simulator.process.terminate()
        simulator.process.wait(timeout=10)
