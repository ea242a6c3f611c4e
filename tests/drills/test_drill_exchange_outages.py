"""Drills: an exchange that refuses connections for a while, and one that goes silent.

**Refused.** A TCP proxy stands between the server and the simulated exchanges. It cuts every
connection and closes its port (connecting fails with "connection refused") for
``REFUSE_SECONDS``, then listens again. The page must show ``reconnecting`` with the backoff's
next wait, the waits doubling from 1 s with 50-100 % jitter (capped at 60 s), then ``live`` as
soon as the next attempt finds the exchange back; trades made before and during the outage are
each shown exactly once (Bitfinex's trades snapshot on re-subscribe repeats the old ones).

The issue's drill says 20 s; this one refuses for 8 s: every wait of the schedule that fits in
20 s except the last (1, 2, 4 s; the next would be 8-16 s) is exercised in 8, and the cap is
reached only after about a minute of refusals, which ``tests/unit/test_backoff.py`` checks on
the schedule itself. ``DRILL_REFUSE_SECONDS=20`` runs the full-length version.

**Silent.** The simulator's ``silence`` control keeps the TCP connections open and sends
nothing (no data, no heartbeats, no acks, also to new connections). With ``FEED_TIMEOUT=2`` the
feed must be ``stale`` within a tick after 2 s, reconnect, and be ``live`` again once the
exchange talks.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from datetime import datetime

import pytest

from tests.conftest import EventLog, wait_until
from tests.drills.conftest import port_of

pytestmark = [pytest.mark.drill, pytest.mark.e2e]

EXCHANGES = ("bitfinex", "coinbase")
PAIR = "BTC-USD"
REFUSE_SECONDS = float(os.environ.get("DRILL_REFUSE_SECONDS", "8"))


def moment(record: dict) -> float:
    return datetime.fromisoformat(record["time"].replace("Z", "+00:00")).timestamp()


def connection_states(log: EventLog, exchange: str) -> list[dict]:
    return log.of("status", exchange=exchange, pair=None)


def test_an_exchange_refusing_connections_then_returning(simulator, fault_proxy,
                                                         server_on_simulator, socket_client):
    proxy = fault_proxy(port_of(simulator.url))
    server = server_on_simulator(PAIRS=PAIR, BITFINEX_WS_URL=proxy.url("bitfinex"),
                                 COINBASE_WS_URL=proxy.url("coinbase"))
    log = socket_client(server)
    for name in EXCHANGES:
        log.wait_for("status", exchange=name, pair=PAIR, state="live")
    before = {name: simulator.control(f"{name}/trade", pair=PAIR, price="40000.1",
                                      amount="1")["trade_id"] for name in EXCHANGES}
    for name in EXCHANGES:
        log.wait_for("trade", exchange=name, id=str(before[name]))

    proxy.refuse()
    refused_at = time.time()
    during = {name: simulator.control(f"{name}/trade", pair=PAIR, price="40000.2",
                                      amount="2")["trade_id"] for name in EXCHANGES}
    wait_until(lambda: time.time() - refused_at >= REFUSE_SECONDS, timeout=REFUSE_SECONDS + 5,
               interval=0.2, message="the outage to last")
    proxy.accept()
    back_at = time.time()
    for name in EXCHANGES:
        log.wait_for("trade", exchange=name, id=str(during[name]), timeout=20)
    for name in EXCHANGES:
        log.wait_for("status", exchange=name, pair=None, state="live", timeout=20)

    report = []
    for name in EXCHANGES:
        retries = [s for s in connection_states(log, name)
                   if s["state"] == "reconnecting" and moment(s) >= refused_at - 0.5]
        waits = [float(re.search(r"retrying in ([\d.]+) s", s["detail"]).group(1))
                 for s in retries]
        assert len(waits) >= 3, (name, waits)
        for attempt, wait in enumerate(waits):
            full = min(60.0, 2.0 ** attempt)
            assert full * 0.5 - 0.05 <= wait <= full + 0.05, (name, attempt, waits)
        live = [s for s in connection_states(log, name)
                if s["state"] == "live" and moment(s) >= back_at]
        assert live, name
        # live again no later than the wait that was pending when the exchange came back
        pending = max(moment(s) + w for s, w in zip(retries, waits, strict=True))
        assert moment(live[0]) <= max(pending, back_at) + 3.0, (name, waits)
        report.append(f"{name}: waits {waits}, live {moment(live[0]) - back_at:.1f} s after "
                      "the exchange returned")
        trades = Counter(t["id"] for t in log.of("trade", exchange=name))
        assert trades[str(before[name])] == 1 and trades[str(during[name])] == 1
        assert all(count == 1 for count in trades.values()), trades
        assert server.health()["feeds"][name]["reconnects"] >= 3
    output = server.process.output()
    assert "feed reconnecting exchange=bitfinex" in output
    assert proxy.accepted >= 4
    print(f"refused for {REFUSE_SECONDS:g} s: " + "; ".join(report))


def test_a_silent_exchange_is_stale_then_reconnected_then_live(simulator, server_on_simulator,
                                                               socket_client):
    server = server_on_simulator(PAIRS=PAIR, FEED_TIMEOUT="2")
    log = socket_client(server)
    for name in EXCHANGES:
        log.wait_for("status", exchange=name, pair=PAIR, state="live")
    silenced_at = time.time()
    for name in EXCHANGES:
        simulator.control(f"{name}/silence", seconds=4)
    report = []
    stale_after = {}
    for name in EXCHANGES:
        stale = log.wait_for("status", exchange=name, pair=None, state="stale", timeout=10)
        assert stale["detail"] == "no message for 2 s"
        stale_after[name] = moment(stale) - silenced_at
        # FEED_TIMEOUT counts from the last frame, which came at most a heartbeat earlier
        assert 0 < stale_after[name] <= 2.0 + 1.5, stale_after
        log.wait_for("status", exchange=name, pair=None, state="reconnecting", timeout=5)
    wait_until(lambda: all(simulator.control("stats")[name]["silent_for"] == 0
                           for name in EXCHANGES), timeout=10, message="the silence to end")
    talking_at = time.time()
    for name in EXCHANGES:
        wait_until(lambda name=name: [s for s in connection_states(log, name)
                                      if s["state"] == "live" and moment(s) >= talking_at - 1],
                   timeout=20, message=f"{name} live again")
        trade = simulator.control(f"{name}/trade", pair=PAIR, price="41000.5", amount="1")
        log.wait_for("trade", exchange=name, id=str(trade["trade_id"]), timeout=10)
        live = next(s for s in connection_states(log, name)
                    if s["state"] == "live" and moment(s) >= talking_at - 1)
        report.append(f"{name}: stale {stale_after[name]:.1f} s after the silence "
                      f"began, live {moment(live) - talking_at:.1f} s after it ended")
        assert server.health()["feeds"][name]["state"] == "live"
    print("silent for 4 s, FEED_TIMEOUT=2: " + "; ".join(report))
