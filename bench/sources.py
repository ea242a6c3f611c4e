"""The simulator's fast mode as a load source for the browser row (``bench.browser.LoadSource``).

``bench.browser.run_benchmark(FeederSource())`` runs the page benchmark on the same fake
exchanges as the server rows (``python -m simulator --fast``, one process per exchange) instead
of the simulator's random trades: the rate knob is aggregate frames per second (exact, so
calibration settles at once), and the source's CPU stays small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .harness import EXCHANGES, PAIRS, feeder
from .procs import Child

SUBSCRIPTIONS = {"bitfinex": 2, "coinbase": 3}  # channels per pair the listeners subscribe


@dataclass
class FeederSource:
    """One fast-mode simulator per exchange, 4 pairs each, at ``rate`` frames/s in all."""

    rate: float = 2000.0
    pairs: tuple[str, ...] = PAIRS
    name: str = "simulator --fast"
    children: dict[str, Child] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    def start(self, workdir: Path) -> None:
        for exchange in EXCHANGES:
            child = Child(f"feeder-{exchange}", feeder(exchange),
                          workdir / f"feeder-{exchange}.log")
            self.children[exchange] = child
            self.urls[exchange] = child.read_json(timeout=20)["url"]
        self.set_rate(self.rate)

    def server_env(self) -> dict[str, str]:
        return {f"{name.upper()}_WS_URL": f"{url}/{name}" for name, url in self.urls.items()}

    def pids(self) -> list[int]:
        return [child.pid for child in self.children.values() if child.alive()]

    def messages_sent(self) -> int:
        return sum(child.request({"cmd": "stats"})["frames"] for child in self.children.values())

    def subscribed(self) -> bool:
        """Whether the server has subscribed every channel of every pair on every exchange."""
        return all(child.request({"cmd": "stats"})["subscribed"] >= SUBSCRIPTIONS[exchange]
                   * len(self.pairs) for exchange, child in self.children.items())

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        for child in self.children.values():
            child.request({"cmd": "rate", "value": rate / len(self.children)})

    def stop(self) -> None:
        for child in self.children.values():
            child.stop()

