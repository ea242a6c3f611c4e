"""``--demo``: run the built-in simulated exchanges (``python -m simulator``) as a child process.

The simulator speaks each exchange's real wire protocol on loopback, so the listeners run the
same code as live and only their URLs differ. The child reads our end of a pipe on its stdin
and exits when it closes, so it never outlives the server, even after a ``kill -9``.

Every listener (``exchanges.LISTENERS``) that the simulator also serves is pointed at it, so
whichever exchanges ``EXCHANGES`` names stream from the one simulated market, where all venues
quote the same reference prices a few basis points apart. An exchange the simulator does not
serve keeps its live URL (and a warning says so).
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import logging
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from exchanges import LISTENERS

from .app import PROJECT_ROOT
from .settings import Settings

log = logging.getLogger(__name__)

DEMO_DATABASE_URL = "sqlite:///data/demo.db"
# Random trades per second per subscribed pair, per venue: the real venues' order of busyness
# for BTC (Binance far ahead, then OKX, Bybit and Coinbase; Gemini and Binance.US quiet),
# scaled so the whole tape stays readable (two pairs on all nine venues: about 40 trades/s,
# as the two default venues at 2 trades/s per pair were before the others existed).
DEMO_RATES: Mapping[str, float] = {
    "binance": 6.0,
    "okx": 3.0,
    "bybit": 3.0,
    "coinbase": 3.0,
    "kraken": 1.5,
    "bitfinex": 1.0,
    "bitstamp": 1.0,
    "gemini": 0.5,
    "binanceus": 0.5,
}


class SimulatorError(RuntimeError):
    """The simulator did not start."""


@dataclass(frozen=True)
class DemoSimulator:
    """A running simulator child: its base URL and the exchanges it serves."""

    url: str  # ws://127.0.0.1:PORT
    exchanges: tuple[str, ...]
    process: subprocess.Popen[str] | None = field(default=None, compare=False, repr=False)


def start_simulator(*extra_args: str, log_format: str = "text") -> DemoSimulator:
    """Start the simulator with the demo's trade rates (``extra_args`` come after them); its
    log lines share stderr with ours, in the same ``log_format``."""
    rates = [f"--rate={name}={rate:g}" for name, rate in DEMO_RATES.items()]
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--exit-on-stdin-eof",
         f"--log-format={log_format}", *rates, *extra_args],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    atexit.register(process.terminate)
    line = process.stdout.readline() if process.stdout else ""
    try:
        reported = json.loads(line)
        return DemoSimulator(reported["url"], tuple(reported["exchanges"]), process)
    except (ValueError, KeyError, TypeError):
        process.terminate()
        raise SimulatorError(f"simulator did not report its URL (got {line!r})") from None


def simulated_urls(simulator: DemoSimulator) -> tuple[dict[str, str], dict[str, str]]:
    """``(ws_urls, rest_urls)`` pointing every listener the simulator serves at it:
    ``<sim>/<name>`` and ``http://<host:port>/<name>``."""
    names = [name for name in LISTENERS if name in simulator.exchanges]
    ws_urls = {name: f"{simulator.url}/{name}" for name in names}
    rest_urls = {name: "http" + url.removeprefix("ws") for name, url in ws_urls.items()}
    return ws_urls, rest_urls


def demo_settings(settings: Settings, simulator: DemoSimulator,
                  env: Mapping[str, str]) -> Settings:
    """``settings`` for streaming from ``simulator``.

    A ``<NAME>_WS_URL``/``<NAME>_REST_URL`` the user set still wins. Simulated prices go to
    ``data/demo.db`` unless ``DATABASE_URL`` is set, so they never seed a later live run.
    """
    ws_urls, rest_urls = simulated_urls(simulator)
    for name in settings.exchanges:
        if name not in ws_urls:
            log.warning("demo: the simulator has no %s; it streams from its live URL", name)
    database_url = settings.database_url
    if not env.get("DATABASE_URL", "").strip():
        database_url = DEMO_DATABASE_URL
    return dataclasses.replace(settings, ws_urls={**ws_urls, **settings.ws_urls},
                               rest_urls={**rest_urls, **settings.rest_urls},
                               database_url=database_url)
