"""Drill: the exchanges' REST APIs unreachable or rate-limiting, their websockets fine.

The REST snapshot (start-up backfill) must run beside the stream, never ahead of it: the first
live record arrives as fast with REST down as with it up. Measured per exchange as the time
from launching ``server.py`` to the first ``live`` status of its pair, which a listener only
publishes once its websocket delivered data or an ack (the record's own ``time``, so client
timing does not enter). Three runs: REST up (the simulator's), REST blackholed (connections
accepted, never answered: each attempt waits for its timeout, the worst case), REST answering
429 to everything (rate-limited).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.conftest import EventLog, free_port
from tests.drills.conftest import launch, stop_and_check

pytestmark = [pytest.mark.drill, pytest.mark.e2e]

EXCHANGES = ("bitfinex", "coinbase")
PAIR = "BTC-USD"
# REST down may cost at most this much more than REST up before the first live record
SLACK = 1.5


class Blackhole:
    """A TCP port that accepts connections and never answers them."""

    def __init__(self) -> None:
        self.port = free_port()
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        self._listener.close()
        for conn in self._held:
            with contextlib.suppress(OSError):
                conn.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    yield hole
    hole.close()


def first_live(tmp_path, simulator, socket_client, rest: dict[str, str]) -> dict[str, float]:
    """Launch a server with these REST URLs; seconds from launch to each exchange's first live
    status of ``PAIR``. Stops the server afterwards (exit 0, no traceback)."""
    env = {"EXCHANGES": ",".join(EXCHANGES), "PAIRS": PAIR,
           **{f"{name.upper()}_WS_URL": simulator.ws_url(name) for name in EXCHANGES},
           **{f"{name.upper()}_REST_URL": url for name, url in rest.items()}}
    launched = time.time()
    server = launch(tmp_path, env)
    try:
        log: EventLog = socket_client(server)
        result = {}
        for name in EXCHANGES:
            status = log.wait_for("status", exchange=name, pair=PAIR, state="live", timeout=20)
            moment = datetime.fromisoformat(status["time"].replace("Z", "+00:00")).timestamp()
            result[name] = moment - launched
        return result
    finally:
        code, _ = stop_and_check(server)
        assert code == 0, server.process.output()[-3000:]


def test_the_first_live_record_does_not_wait_for_rest(tmp_path, simulator, socket_client,
                                                       blackhole):
    up = first_live(tmp_path, simulator, socket_client,
                    {name: f"{simulator.http}/{name}" for name in EXCHANGES})
    down = first_live(tmp_path, simulator, socket_client,
                      {name: f"http://127.0.0.1:{blackhole.port}/{name}" for name in EXCHANGES})
    assert blackhole.accepted >= len(EXCHANGES), "the REST snapshot was not even tried"
    for name in EXCHANGES:
        simulator.control(f"{name}/fail_rest", count=1000, status=429)
    limited = first_live(tmp_path, simulator, socket_client,
                         {name: f"{simulator.http}/{name}" for name in EXCHANGES})
    stats = simulator.control("stats")
    assert all(stats[name]["rest_requests"] >= 1 for name in EXCHANGES)
    print(f"first live record, seconds after launch: REST up {up}, blackholed {down}, "
          f"429 {limited}")
    for name in EXCHANGES:
        # before the backfill ran beside the stream, a blackholed REST held the websocket back
        # for its whole 10 s timeout (8.5 s measured with REST unreachable)
        assert down[name] <= up[name] + SLACK, (name, up, down)
        assert limited[name] <= up[name] + SLACK, (name, up, limited)
