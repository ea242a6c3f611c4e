"""Drill: 1,100 browsers arriving at once at a server limited to 1,024 open files.

The server runs with both its soft and hard RLIMIT_NOFILE at 1,024 (what ``prlimit --nofile=
1024`` does), so its default MAX_CLIENTS is 858 (the limit less room for feeds, storage and
/healthz). 1,100 lean Socket.IO clients (asyncio, the Engine.IO 4 / Socket.IO 5 websocket wire
protocol, as ``bench/clients.py``) connect at the same moment. The server must:

- accept exactly MAX_CLIENTS of them and refuse the rest with HTTP 503 and a reason, counted in
  ``/healthz`` (``clients.refused``), before any websocket is set up;
- go on streaming to every accepted client (a trade injected afterwards reaches all of them);
- answer ``/healthz`` during the storm and after it;
- serve new clients as soon as old ones leave, and still refuse beyond the cap;
- never exit (it stops with status 0 on SIGTERM at the end).

A second run sets MAX_CLIENTS above what the descriptors allow, so ``accept`` itself fails with
EMFILE: the server logs it once, retries with backoff, stays up, and serves again once
clients leave.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import resource
import time
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import Server, get_json, skip_unless_ci
from tests.drills.conftest import open_files

T = TypeVar("T")

pytestmark = [pytest.mark.drill, pytest.mark.e2e]

LIMIT = 1024
CLIENTS = 1100
DEFAULT_CAP = 858  # dashboard.connections.default_max_clients(1024)
PRICES = ("40123.5", "40124.5")  # the drill's trades, told apart by price


def run_apart(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run(scenario())`` on a thread of its own: the test process may already have an
    event loop running in this thread (Playwright's sync API leaves one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(scenario())).result()


@pytest.fixture(autouse=True)
def enough_descriptors_here() -> None:
    """This process holds all 1,100 client sockets: make sure its own limit allows it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 3 * CLIENTS:
        if hard != resource.RLIM_INFINITY and hard < 3 * CLIENTS:
            skip_unless_ci(f"this test process may open only {hard} files")
        resource.setrlimit(resource.RLIMIT_NOFILE, (3 * CLIENTS, hard))


@dataclass
class Client:
    ws: ClientConnection
    seen: set[str] = field(default_factory=set)  # drill markers (trade prices) received


@dataclass
class Crowd:
    """Many Socket.IO clients in one asyncio loop."""

    url: str
    accepted: list[Client] = field(default_factory=list)  # connected now
    refused: list[tuple[int, str]] = field(default_factory=list)
    refused_headers: dict[str, str] = field(default_factory=dict)  # of one refusal, lower case
    failed: list[str] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)

    async def join(self, count: int, timeout: float = 60.0) -> tuple[int, int, int]:
        """Connect ``count`` clients at once; returns (accepted, refused, failed) of this wave."""
        before = (len(self.accepted), len(self.refused), len(self.failed))
        await asyncio.gather(*(self._one(timeout) for _ in range(count)))
        return (len(self.accepted) - before[0], len(self.refused) - before[1],
                len(self.failed) - before[2])

    async def _one(self, timeout: float) -> None:
        ws_url = self.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        try:
            ws = await connect(ws_url, compression=None, open_timeout=timeout,
                               ping_interval=None, max_size=None, close_timeout=1)
        except InvalidStatus as exc:
            self.refused.append((exc.response.status_code, exc.response.body.decode()))
            self.refused_headers = {k.lower(): v for k, v in exc.response.headers.raw_items()}
            return
        except (OSError, TimeoutError, ConnectionClosed) as exc:
            self.failed.append(repr(exc))
            return
        try:
            opened = await asyncio.wait_for(ws.recv(), timeout)
            assert opened.startswith("0{"), opened
            await ws.send("40")
            ack = await asyncio.wait_for(ws.recv(), timeout)
            assert ack.startswith("40"), ack
        except (ConnectionClosed, TimeoutError) as exc:
            self.failed.append(repr(exc))
            await ws.close()
            return
        client = Client(ws)
        self.accepted.append(client)
        self.readers.append(asyncio.create_task(self._read(client)))

    @staticmethod
    async def _read(client: Client) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in client.ws:
                if message == "2":
                    await client.ws.send("3")
                elif isinstance(message, str) and '"price":"4' in message:
                    for price in PRICES:
                        if price in message:
                            client.seen.add(price)

    async def leave(self, count: int) -> None:
        leaving, self.accepted = self.accepted[:count], self.accepted[count:]
        await asyncio.gather(*(client.ws.close() for client in leaving))

    def got(self, price: str) -> int:
        """How many of the connected clients received the trade at ``price``."""
        return sum(1 for client in self.accepted if price in client.seen)

    async def close(self) -> None:
        await asyncio.gather(*(client.ws.close() for client in self.accepted),
                             return_exceptions=True)
        self.accepted = []
        for task in self.readers:
            task.cancel()


async def poll(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await asyncio.to_thread(predicate)
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)


def health_or_none(server: Server, timeout: float = 2.0) -> dict[str, Any] | None:
    try:
        return get_json(f"{server.url}/healthz", timeout=timeout)
    except OSError:
        return None


class HealthWatch:
    """Asks /healthz again and again in the background, each answer awaited up to 10 s; keeps
    the seconds each took, or None for a miss."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.answers: list[float | None] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            asked = time.monotonic()
            answer = await asyncio.to_thread(health_or_none, self.server, 10.0)
            self.answers.append(None if answer is None else time.monotonic() - asked)
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """Let the request under way finish (it was asked during the storm), then stop."""
        count = len(self.answers)
        deadline = time.monotonic() + 15
        while len(self.answers) == count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._task:
            self._task.cancel()


def server_with_limit(drill_servers, simulator, **env: str) -> Server:
    return drill_servers({"EXCHANGES": "coinbase", "PAIRS": "BTC-USD",
                          "COINBASE_WS_URL": simulator.ws_url("coinbase"), **env},
                         open_files_limit=LIMIT)


def test_1100_clients_against_1024_open_files(drill_servers, simulator):
    server = server_with_limit(drill_servers, simulator)
    health = server.health()
    assert health["clients"]["open_files"] == LIMIT
    assert health["clients"]["max_clients"] == DEFAULT_CAP
    pid = server.process.popen.pid
    assert "open files limit soft=1024 hard=1024" in server.process.output()

    async def scenario() -> dict[str, Any]:
        crowd = Crowd(server.url)
        watch = HealthWatch(server)
        watch.start()
        started = time.monotonic()
        accepted, refused, failed = await crowd.join(CLIENTS)
        storm = time.monotonic() - started
        await watch.stop()
        assert (accepted, refused, failed) == (DEFAULT_CAP, CLIENTS - DEFAULT_CAP, 0), (
            crowd.failed[:5])
        assert {status for status, _ in crowd.refused} == {503}
        assert crowd.refused[0][1] == ('{"error": "server full: 858 browsers connected, '
                                       'MAX_CLIENTS=858"}')
        assert crowd.refused_headers["retry-after"] == "5"
        assert "frame-ancestors 'none'" in crowd.refused_headers["content-security-policy"]
        assert crowd.refused_headers["x-content-type-options"] == "nosniff"
        answered = [took for took in watch.answers if took is not None]
        assert answered, f"no /healthz answer during the storm: {watch.answers}"
        health = await asyncio.to_thread(server.health)
        assert health["clients"]["refused"] == CLIENTS - DEFAULT_CAP
        assert health["clients"]["connected"] == DEFAULT_CAP
        fds_full = open_files(pid)

        # streaming goes on to every accepted client
        await asyncio.to_thread(simulator.control, "coinbase/trade", pair="BTC-USD",
                                price=PRICES[0], amount="0.5")
        await poll(lambda: crowd.got(PRICES[0]) == DEFAULT_CAP, 30,
                   "the trade at every accepted client")

        # old clients leave, new ones are served; the cap still holds
        await crowd.leave(100)
        await poll(lambda: server.health()["clients"]["connected"] == DEFAULT_CAP - 100, 15,
                   "the server to see 100 clients leave")
        assert await crowd.join(100) == (100, 0, 0)
        assert await crowd.join(1) == (0, 1, 0)
        await asyncio.to_thread(simulator.control, "coinbase/trade", pair="BTC-USD",
                                price=PRICES[1], amount="0.5")
        await poll(lambda: crowd.got(PRICES[1]) == DEFAULT_CAP, 30,
                   "the next trade at every client, new ones included")
        await crowd.close()
        return {"storm_seconds": storm, "healthz": answered,
                "healthz_misses": watch.answers.count(None), "fds_at_cap": fds_full}

    result = run_apart(scenario)
    assert server.process.popen.poll() is None, "the server exited"
    output = server.process.output()
    assert output.count("client refused") == 1  # one line per incident
    print(f"1,100 clients vs 1,024 files: {DEFAULT_CAP} accepted, {CLIENTS - DEFAULT_CAP} "
          f"refused with 503 in {result['storm_seconds']:.1f} s; /healthz answered "
          f"{len(result['healthz'])} times during the storm, slowest in "
          f"{max(result['healthz']):.2f} s ({result['healthz_misses']} misses); "
          f"{result['fds_at_cap']} descriptors open at the cap")


def test_accept_failures_never_end_the_server(drill_servers, simulator):
    """MAX_CLIENTS above what 1,024 descriptors allow: ``accept`` itself fails (EMFILE)."""
    server = server_with_limit(drill_servers, simulator, MAX_CLIENTS="5000")

    async def scenario() -> tuple[int, int, int]:
        crowd = Crowd(server.url)
        outcome = await crowd.join(CLIENTS, timeout=8)
        assert server.process.popen.poll() is None, "the server exited"
        await crowd.close()
        # once the clients are gone the server answers and serves again
        await poll(lambda: health_or_none(server), 20, "/healthz after the storm")
        await poll(lambda: server.health()["clients"]["connected"] == 0, 20,
                   "every client gone")
        again = Crowd(server.url)
        assert await again.join(5) == (5, 0, 0)
        await again.close()
        return outcome

    accepted, refused, failed = run_apart(scenario)
    health = server.health()["clients"]
    output = server.process.output()
    assert refused == 0 and accepted + failed == CLIENTS
    assert failed > 0 and health["accept_failures"] > 0, (accepted, failed, health)
    assert output.count("accept failing") == health["accept_incidents"] >= 1
    assert "reason=[Errno 24] Too many open files" in output
    assert "accept recovered" in output
    with urllib.request.urlopen(server.url + "/") as response:
        assert response.status == 200
    print(f"MAX_CLIENTS=5000 with 1,024 files: {accepted} accepted, {failed} timed out while "
          f"accept failed {health['accept_failures']} times in {health['accept_incidents']} "
          "incident(s); the server stayed up and served again")
