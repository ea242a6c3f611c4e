"""More than one process (issue 12): one collector and two web nodes over a Redis of the test's
own, against the simulator, seen by real Socket.IO clients on both web nodes.

The Redis is ``redis-server`` on a free loopback port with no persistence, started and
stopped by the test (never a shared instance). Every process is the real ``server.py`` (and
one web node is gunicorn with the gevent worker); under ``E2E_ASYNC_MODE=gevent`` they all
run under gevent.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import socketio

from tests.conftest import (
    ROOT,
    EventLog,
    Process,
    Server,
    Simulator,
    base_env,
    free_port,
    get_json,
    launch_server,
    skip_unless_ci,
    wait_until,
)

pytestmark = pytest.mark.e2e

FEED_TIMEOUT = "2"
GUNICORN_GRACE = 30  # seconds gunicorn waits on open requests after SIGTERM (its default)
PAIRS = "BTC-USD,ETH-USD"


class RedisServer:
    """``redis-server`` on a free loopback port, nothing on disk; stop and start it at will."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            skip_unless_ci("redis-server is not installed (scripts/install-servers.sh)")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.workdir / f"redis-{time.monotonic_ns()}.log").open("w")
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(self.answers, timeout=10, message="redis-server to answer PING")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@dataclass
class Cluster:
    """The processes of one test; ``close`` stops them and checks their output."""

    tmp_path: Path
    simulator: Simulator
    redis: RedisServer
    database_url: str
    servers: list[Server] = field(default_factory=list)
    killed: set[int] = field(default_factory=set)

    def env(self, **extra: str) -> dict[str, str]:
        return {"MESSAGE_QUEUE": self.redis.url, "DATABASE_URL": self.database_url,
                "FEED_TIMEOUT": FEED_TIMEOUT, "PAIRS": PAIRS, "EXCHANGES": "bitfinex,coinbase",
                "BITFINEX_WS_URL": self.simulator.ws_url("bitfinex"),
                "COINBASE_WS_URL": self.simulator.ws_url("coinbase"), **extra}

    def start(self, role: str, port: int | None = None, **extra: str) -> Server:
        server = launch_server(self.tmp_path, self.env(**extra), "--role", role, port=port)
        self.servers.append(server)
        return server

    def start_gunicorn(self, graceful_timeout: int = 3) -> Server:
        """A web node as production runs it: gunicorn, the gevent worker, one worker."""
        port = free_port()
        log_path = self.tmp_path / f"gunicorn-{port}.log"
        env = {**base_env(), "LOG_LEVEL": "INFO", **self.env()}  # gevent whatever E2E says
        popen = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--pythonpath",
             str(ROOT), "-b", f"127.0.0.1:{port}", "--graceful-timeout", str(graceful_timeout),
             "--no-control-socket", "dashboard.wsgi:app"],
            cwd=self.tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=log_path.open("w"),
            stderr=subprocess.STDOUT, text=True)
        server = Server(f"http://127.0.0.1:{port}", Process(popen, log_path), env)
        self.servers.append(server)

        def healthy() -> bool:
            if popen.poll() is not None:
                pytest.fail(f"gunicorn exited with {popen.returncode}:\n{server.process.output()}")
            try:
                return server.health()["status"] == "ok"
            except OSError:
                return False

        wait_until(healthy, timeout=30, message="gunicorn's /healthz")
        return server

    def kill(self, server: Server) -> None:
        server.process.popen.send_signal(signal.SIGKILL)
        server.process.popen.wait(10)
        self.killed.add(server.process.popen.pid)

    def close(self) -> None:
        problems = []
        for server in self.servers:
            code = server.process.stop()
            output = server.process.output()
            if "Traceback" in output:
                problems.append(f"traceback in {server.process.log_path.name}:\n{output}")
            if server.process.popen.pid not in self.killed and code not in (0, -15):
                problems.append(f"{server.process.log_path.name} exited with {code}:\n{output}")
        self.redis.stop()
        assert not problems, "\n\n".join(problems)


@pytest.fixture
def cluster(tmp_path: Path, simulator: Simulator) -> Iterator[Cluster]:
    redis = RedisServer(tmp_path)
    redis.start()
    state = Cluster(tmp_path, simulator, redis, f"sqlite:///{tmp_path / 'shared.db'}")
    yield state
    state.close()


@pytest.fixture
def connect() -> Iterator[Callable[[Server], EventLog]]:
    """A Socket.IO client (websocket) that reconnects by itself, as a page does."""
    clients: list[socketio.Client] = []

    def make(server: Server) -> EventLog:
        client = socketio.Client(reconnection=True, reconnection_delay=0.2,
                                 reconnection_delay_max=1)
        log = EventLog(client)
        log.client = client  # type: ignore[attr-defined]  (for more handlers)
        client.connect(server.url, transports=["websocket"], wait_timeout=10)
        clients.append(client)
        return log

    yield make
    for client in clients:
        client.disconnect()


def feed_states(server: Server) -> dict[tuple[str, str], str]:
    return {(feed["exchange"], feed["pair"]): feed["state"]
            for feed in get_json(f"{server.url}/api/pairs")}


def all_feeds(server: Server, state: str) -> bool:
    states = feed_states(server)
    return len(states) == 4 and set(states.values()) == {state}


def last_status(log: EventLog, exchange: str, pair: str | None = None) -> dict | None:
    statuses = log.of("status", exchange=exchange, pair=pair)
    return statuses[-1] if statuses else None


def stored_trades(server: Server, price: str) -> list[dict]:
    with urllib.request.urlopen(f"{server.url}/api/trades?limit=50", timeout=5) as response:
        return [trade for trade in json.load(response) if trade["price"] == price]


def test_two_web_nodes_relay_what_one_collector_reads(simulator, cluster, connect):
    collector = cluster.start("collector")
    webs = [cluster.start("web"), cluster.start("web")]
    logs = [connect(web) for web in webs]
    for web in webs:
        wait_until(lambda web=web: all_feeds(web, "live"), message="every feed live")

    simulator.control("bitfinex/trade", pair="BTC-USD", price="43210.5", amount="0.00012",
                      side="buy")
    simulator.control("coinbase/trade", pair="ETH-USD", price="2301.07", amount="1.5",
                      side="sell")
    simulator.control("bitfinex/ticker", pair="ETH-USD", bid="2300.1", ask="2300.3",
                      last="2300.2")
    seen = []
    for log in logs:
        first = log.wait_for("trade", exchange="bitfinex", price="43210.5")
        second = log.wait_for("trade", exchange="coinbase", price="2301.07")
        ticker = log.wait_for("ticker", exchange="bitfinex", pair="ETH-USD", last="2300.2")
        seen.append((first, second, ticker["bid"]))
    # the same records, numbered once by the collector, on both nodes
    assert seen[0] == seen[1]
    assert seen[0][0]["side"] == "buy" and seen[0][1]["side"] == "sell"
    wait_until(lambda: len(logs[0].of("trade")) == len(logs[1].of("trade")) > 0)
    assert [t["seq"] for t in logs[0].of("trade")] == [t["seq"] for t in logs[1].of("trade")]

    # a page opened now gets the complete picture at once, from either node
    late = connect(webs[1])
    late.wait_for("trade", exchange="bitfinex", price="43210.5", timeout=2)
    late.wait_for("ticker", exchange="bitfinex", pair="ETH-USD", last="2300.2", timeout=2)
    late.wait_for("status", exchange="coinbase", pair=None, state="live", timeout=2)
    # and a reconnecting one exactly what it missed
    after = min(seen[0][0]["seq"], seen[0][1]["seq"]) - 1  # whichever the collector got first
    client = socketio.Client(reconnection=False)
    missed = EventLog(client)
    client.connect(webs[0].url, transports=["websocket"], auth={"after": after})
    try:
        missed.wait_for("trade", exchange="coinbase", price="2301.07", timeout=2)
        missed.wait_for("trade", exchange="bitfinex", price="43210.5", timeout=2)
        assert all(trade["seq"] > after for trade in missed.of("trade"))
    finally:
        client.disconnect()

    # history reads the shared database the collector writes
    wait_until(lambda: stored_trades(webs[1], "43210.5"), message="the trade in /api/trades")
    health = [web.health() for web in webs]
    assert {h["role"] for h in health} == {"web"}
    assert all(h["upstream"]["state"] == "ok" for h in health)
    assert [c["alive"] for c in health[0]["collectors"].values()] == [True]
    collector_health = collector.health()
    assert collector_health["role"] == "collector"
    assert collector_health["queue"]["state"] == "ok"
    assert set(collector_health["feeds"]) == {"bitfinex", "coinbase"}
    # a collector serves no page
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{collector.url}/", timeout=5)
    assert refused.value.code == 404


def test_a_dead_collector_turns_feeds_stale_and_a_restarted_one_resumes(simulator, cluster,
                                                                          connect):
    collector = cluster.start("collector")
    webs = [cluster.start("web"), cluster.start("web")]
    logs = [connect(web) for web in webs]
    for log in logs:
        log.wait_for("status", exchange="coinbase", pair="BTC-USD", state="live")

    cluster.kill(collector)  # no goodbye: only the missing heartbeat tells
    killed_at = time.monotonic()
    for log in logs:
        for exchange in ("bitfinex", "coinbase"):
            stale = log.wait_for("status", exchange=exchange, pair=None, state="stale",
                                 timeout=float(FEED_TIMEOUT) + 3)
            assert stale["detail"].startswith("collector ") and "silent" in stale["detail"]
    assert time.monotonic() - killed_at < float(FEED_TIMEOUT) + 2
    for web in webs:
        wait_until(lambda web=web: all_feeds(web, "stale"), timeout=3)

    cluster.start("collector", port=int(collector.url.rsplit(":", 1)[1]))
    for log in logs:
        for exchange in ("bitfinex", "coinbase"):
            wait_until(lambda log=log, exchange=exchange: (
                last_status(log, exchange) or {}).get("state") == "live", timeout=15,
                message=f"{exchange} live again")
    for web in webs:
        wait_until(lambda web=web: all_feeds(web, "live"), timeout=15)
    simulator.control("coinbase/trade", pair="BTC-USD", price="41000.5", amount="0.1")
    for log in logs:
        log.wait_for("trade", exchange="coinbase", price="41000.5")


def test_redis_down_and_back_recovers_every_role_by_itself(simulator, cluster, connect):
    collector = cluster.start("collector")
    webs = [cluster.start("web"), cluster.start("web")]
    logs = [connect(web) for web in webs]
    for log in logs:
        log.wait_for("status", exchange="bitfinex", pair="BTC-USD", state="live")
    simulator.control("bitfinex/trade", pair="BTC-USD", price="40000.1", amount="1")
    for log in logs:
        log.wait_for("trade", exchange="bitfinex", price="40000.1")

    cluster.redis.stop()
    for log in logs:
        for exchange in ("bitfinex", "coinbase"):
            down = log.wait_for("status", exchange=exchange, pair=None, state="stale",
                                timeout=5)
            assert down["detail"].startswith("upstream unavailable")
    # the web nodes keep serving the last picture and the history; the collector keeps
    # storing what its feeds send, and holds it for the queue
    simulator.control("bitfinex/trade", pair="BTC-USD", price="40000.2", amount="2")
    for web in webs:
        assert all_feeds(web, "stale")
        assert web.health()["upstream"]["state"] == "unavailable"
        wait_until(lambda web=web: stored_trades(web, "40000.2"), message="stored in outage")
    late = connect(webs[0])
    late.wait_for("trade", exchange="bitfinex", price="40000.1", timeout=2)
    late.wait_for("status", exchange="bitfinex", pair=None, state="stale", timeout=2)
    queue = collector.health()["queue"]
    assert queue["state"] == "failing" and queue["backlog_records"] >= 1

    cluster.redis.start()  # empty: it kept nothing
    for log in [*logs, late]:
        for exchange in ("bitfinex", "coinbase"):
            wait_until(lambda log=log, exchange=exchange: (
                last_status(log, exchange) or {}).get("state") == "live", timeout=20,
                message=f"{exchange} live after Redis came back")
        # the trade of the outage arrives, once
        log.wait_for("trade", exchange="bitfinex", price="40000.2", timeout=10)
        assert len(log.of("trade", price="40000.2")) == 1
    for web in webs:
        assert web.health()["upstream"]["state"] == "ok"
        wait_until(lambda web=web: all_feeds(web, "live"), timeout=10)
    assert collector.health()["queue"]["state"] == "ok"
    simulator.control("coinbase/trade", pair="ETH-USD", price="2222.5", amount="1")
    for log in logs:
        log.wait_for("trade", exchange="coinbase", price="2222.5")


def test_a_web_node_under_gunicorn_with_the_gevent_worker(simulator, cluster, connect):
    cluster.start("collector")
    web = cluster.start_gunicorn(graceful_timeout=GUNICORN_GRACE)
    log = connect(web)
    log.wait_for("status", exchange="coinbase", pair="ETH-USD", state="live")
    simulator.control("coinbase/trade", pair="ETH-USD", price="2301.07", amount="1.5")
    trade = log.wait_for("trade", exchange="coinbase", price="2301.07")
    assert trade["pair"] == "ETH-USD" and isinstance(trade["seq"], int)
    health = web.health()
    assert health["role"] == "web" and health["upstream"]["state"] == "ok"
    wait_until(lambda: all_feeds(web, "live"), message="every feed live")
    with urllib.request.urlopen(f"{web.url}/", timeout=5) as page:
        assert page.status == 200 and b"<html" in page.read().lower()

    # SIGTERM (systemctl stop): the node closes its browsers' links at once, so their pages
    # reconnect elsewhere, instead of gunicorn waiting its graceful timeout on their websockets
    stopping_at = time.monotonic()
    web.process.popen.send_signal(signal.SIGTERM)
    wait_until(lambda: not log.client.connected, timeout=10, message="the browser let go")
    assert web.process.popen.wait(15) == 0
    assert time.monotonic() - stopping_at < GUNICORN_GRACE / 2
    assert "web node stopped browsers=1" in web.process.output()


def test_an_alert_rule_made_on_a_web_node_fires_on_every_page(simulator, cluster, connect):
    collector = cluster.start("collector")
    webs = [cluster.start("web"), cluster.start("web")]
    alerts: list[list[dict]] = [[], []]
    for web, received in zip(webs, alerts, strict=True):
        log = connect(web)
        log.client.on("alert", received.append)
        log.wait_for("status", exchange="coinbase", pair="BTC-USD", state="live")
    request = urllib.request.Request(
        f"{webs[0].url}/api/alerts", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"kind": "price_above", "pair": "BTC-USD", "value": "45000"}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        rule = json.load(response)
    assert [r["id"] for r in get_json(f"{webs[1].url}/api/alerts")["rules"]] == [rule["id"]]
    # the collector evaluates rules: it takes up the new one from the shared database
    wait_until(lambda: collector.health()["alerts"]["rules"] == 1, timeout=15,
               message="the collector's rules")
    simulator.control("coinbase/trade", pair="BTC-USD", price="45010.5", amount="0.1")
    for received in alerts:
        wait_until(lambda received=received: received, timeout=5, message="the alert")
        assert (received[0]["rule_id"], received[0]["value"]) == (rule["id"], "45010.5")
    wait_until(lambda: get_json(f"{webs[1].url}/api/alerts/events"), message="stored alert")


def test_a_web_node_started_before_any_collector_shows_the_ones_that_come(simulator, cluster,
                                                                          connect):
    web = cluster.start("web")
    log = connect(web)
    listings: list[list[dict]] = []
    log.client.on("feeds", listings.append)
    assert get_json(f"{web.url}/api/pairs") == []
    cluster.start("collector", EXCHANGES="coinbase", COLLECTOR_ID="c-coinbase")
    cluster.start("collector", EXCHANGES="bitfinex", COLLECTOR_ID="c-bitfinex")
    # the page is told the new feeds (as on connect), then their states, without a reload
    wait_until(lambda: listings and len(listings[-1]) == 4, timeout=10, message="4 feeds")
    assert [(f["exchange"], f["pair"]) for f in listings[-1]] == [
        ("bitfinex", "BTC-USD"), ("bitfinex", "ETH-USD"), ("coinbase", "BTC-USD"),
        ("coinbase", "ETH-USD")]  # collectors in id order, each in its configured order
    for exchange in ("bitfinex", "coinbase"):
        log.wait_for("status", exchange=exchange, pair="ETH-USD", state="live")
    simulator.control("bitfinex/trade", pair="ETH-USD", price="2100.5", amount="1")
    simulator.control("coinbase/trade", pair="ETH-USD", price="2100.6", amount="1")
    log.wait_for("trade", exchange="bitfinex", price="2100.5")
    log.wait_for("trade", exchange="coinbase", price="2100.6")
    assert set(web.health()["collectors"]) == {"c-bitfinex", "c-coinbase"}


def nginx_conf(workdir: Path, listen: int, webs: list[Server]) -> Path:
    """``deploy/nginx/dashboard.conf`` on loopback: the web nodes' ports, plain HTTP (no
    certificate here), and the top-level lines an nginx.conf needs."""
    conf = (ROOT / "deploy" / "nginx" / "dashboard.conf").read_text()
    for address, web in zip(("10.0.0.21:5001", "10.0.0.22:5001"), webs, strict=True):
        conf = conf.replace(f"server {address}", f"server {web.url.removeprefix('http://')}")
    conf = conf.replace("listen 443 ssl;", f"listen 127.0.0.1:{listen};")
    conf = re.sub(r"\n\s*ssl_certificate[^\n]*", "", conf)
    conf = conf[:conf.rindex("server {")]  # the port-80 redirect
    temp = " ".join(f"{kind}_temp_path {workdir}/{kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    path = workdir / "nginx.conf"
    path.write_text(f"pid {workdir}/nginx.pid;\nerror_log {workdir}/nginx-error.log;\n"
                    f"daemon off;\nevents {{}}\nhttp {{\naccess_log {workdir}/access.log;\n"
                    f"{temp}\n{conf}\n}}\n")
    return path


def test_nginx_from_deploy_in_front_of_two_web_nodes(simulator, cluster, connect, tmp_path):
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        skip_unless_ci("nginx is not installed (scripts/install-servers.sh)")
    cluster.start("collector")
    webs = [cluster.start("web"), cluster.start("web")]
    port = free_port()
    workdir = tmp_path / "nginx"
    workdir.mkdir()
    nginx = subprocess.Popen([binary, "-p", str(workdir), "-c", str(nginx_conf(workdir, port,
                                                                               webs))],
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        front = Server(f"http://127.0.0.1:{port}", Process(nginx, workdir / "nginx-error.log"))
        wait_until(lambda: all_feeds_through(front), timeout=10, message="nginx")
        websocket = connect(front)  # through the WebSocket upgrade
        polling = socketio.Client(reconnection=False)  # long-polling only: ip_hash keeps
        polled = EventLog(polling)  # every request of the session on one node
        polling.connect(front.url, transports=["polling"], wait_timeout=10)
        try:
            for log in (websocket, polled):
                log.wait_for("status", exchange="coinbase", pair="BTC-USD", state="live")
            simulator.control("coinbase/trade", pair="BTC-USD", price="41234.5", amount="0.2")
            for log in (websocket, polled):
                log.wait_for("trade", exchange="coinbase", price="41234.5")
            assert polling.transport() == "polling"
        finally:
            polling.disconnect()
    finally:
        nginx.terminate()
        nginx.wait(10)


def all_feeds_through(front: Server) -> bool:
    try:
        return all_feeds(front, "live")
    except OSError:
        return False
