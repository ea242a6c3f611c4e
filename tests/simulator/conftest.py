"""Fixtures for the simulator's tests.

``sim`` is a ``python -m simulator --rate 0`` process shared by a module, so the market only
moves when a test injects something and every value a test asserts is one it chose. Heartbeat
and subscribe timeouts are shortened so their tests take well under a second each. Sockets a
test opens are closed after it, and the server is waited on until it has forgotten them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_support import (
    HEARTBEAT_INTERVAL,
    SUBSCRIBE_TIMEOUT,
    Simulator,
    start_simulator,
    stop_simulator,
)


@pytest.fixture(scope="module")
def sim_process() -> Iterator[Simulator]:
    process, url = start_simulator(
        "--rate",
        "0",
        "--seed",
        "7",
        "--heartbeat-interval",
        str(HEARTBEAT_INTERVAL),
        "--subscribe-timeout",
        str(SUBSCRIBE_TIMEOUT),
    )
    try:
        yield Simulator(url)
    finally:
        stop_simulator(process)


@pytest.fixture
def sim(sim_process: Simulator) -> Iterator[Simulator]:
    try:
        yield sim_process
    finally:
        sim_process.close_all()
