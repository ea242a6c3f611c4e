"""Benchmark rows of issue 12: fan-out through web nodes, and eventlet against gevent.

- ``nodes``: 200 Socket.IO clients at 5,000 msg/s through one collector and two web nodes
  (100 clients each) against one collector and one web node (all 200), over a ``redis-server``
  of the row's own on a free loopback port. Same feeders, same clients (4 processes), same
  measurement as the ``fanout`` row.
- ``async``: the ``fanout`` row's load (100 clients at 5,000 msg/s, ``--role all``) under
  ``ASYNC_MODE=eventlet`` and then ``ASYNC_MODE=gevent``.

On the 2-core dev machine every process shares two cores with the load generators, so these
rows compare configurations on one box; they do not show what a second machine would add.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from .harness import EXCHANGES, PAIRS, Clients, Stack, get_json, wait_until
from .procs import Child, ChildFailed, CpuWindow, free_port, python
from .result import Options, Result, mib, ms
from .sampling import sample_for
from .scenarios import _drain
from .stats import Histogram, merge

RATE = 5_000
NODE_CLIENTS = 200
CLIENT_PROCESSES = 4
ASYNC_CLIENTS = 100
SERVER_NAMES = ("server", "redis")  # plus web-N: the system under test, not load generators


class NodeStack(Stack):
    """Feeders, a Redis of its own, one collector (the ``server`` child: ``/healthz`` and the
    frames read come from it) and ``webs`` web nodes."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.web_urls: list[str] = []
        self.redis_url = ""
        self.server_env: dict[str, str] = {}

    def start_cluster(self, webs: int, **env: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ChildFailed("redis-server is not installed (scripts/install-servers.sh)")
        port = free_port()
        self._spawn("redis", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save",
                              "", "--appendonly", "no", "--dir", str(self.workdir)],
                    control=False)
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        queue = {"MESSAGE_QUEUE": self.redis_url, **env}
        time.sleep(0.3)
        self.start_server(ROLE="collector", **queue)
        for number in range(1, webs + 1):
            self.web_urls.append(self._start_web(f"web-{number}", queue))

    def _start_web(self, name: str, env: dict[str, str]) -> str:
        assert self.server is not None
        port = free_port()
        full_env = {**self.server_env, **env, "ROLE": "web", "PORT": str(port)}
        child = self._spawn(name, python(str(self.server_script)), env=full_env,
                            cwd=self.workdir, control=False)
        url = f"http://127.0.0.1:{port}"

        def live() -> bool:
            if not child.alive():
                raise ChildFailed(f"{name} exited\n{child.tail()}")
            try:
                feeds = get_json(f"{url}/api/pairs", timeout=2)
            except OSError:
                return False
            return len(feeds) == len(EXCHANGES) * len(self.pairs) and all(
                feed["state"] == "live" for feed in feeds)

        wait_until(live, 30, f"{name}: every feed live")
        return url

    def _spawn(self, name: str, argv: list[str], **kwargs: Any) -> Child:
        if name == "server":  # the web nodes start from the collector's environment
            self.server_env = dict(kwargs.get("env") or {})
        return super()._spawn(name, argv, **kwargs)

    def _feeds_live(self) -> bool:  # the collector has no /api/pairs: its listeners say
        feeds = self.healthz(timeout=2)["feeds"]
        return len(feeds) == len(EXCHANGES) and all(
            feed["state"] == "live" and len(feed["pairs"]) == len(self.pairs)
            for feed in feeds.values())

    def start_clients_on_webs(self, count: int, processes: int, deflate: bool) -> Clients:
        """``count`` clients spread evenly over the web nodes, ``processes`` in all."""
        children, index = [], 0
        per_process = [count // processes + (i < count % processes) for i in range(processes)]
        for number, n in enumerate(per_process):
            url = self.web_urls[number % len(self.web_urls)]
            args = ["--url", url, "--count", str(n), "--first-index", str(index)]
            children.append(self._spawn(f"clients-{number}", python(
                "bench.clients", *args, *([] if deflate else ["--no-deflate"]))))
            index += n
        connected, failed = 0, []
        for child in children:
            answer = child.read_json(timeout=60)
            connected += answer["connected"]
            failed += answer["failed"]
        group = Clients(children, connected, failed)
        self.clients.append(group)
        return group


def _load(stack: Stack, clients: Clients, count: int, seconds: float,
          opts: Options) -> dict[str, Any]:
    """The ``fanout`` row's measurement: RATE msg/s for ``seconds``, then drain."""
    before = stack.feeders.stats()
    clients.phase("load")
    window = CpuWindow(stack.children).start()
    stack.feeders.set_rate(RATE)
    samples = sample_for(stack, seconds)
    stack.feeders.set_rate(0)
    window.stop()
    expected = stack.feeders.stats()["trades"] - before["trades"]
    clients.phase("drain")
    drained = _drain(stack, clients, expected, count)
    report = clients.report()
    whole = merge([report["phases"].get(name, Histogram()) for name in ("load", "drain")])
    counts = [c["trades"].get("load", 0) + c["trades"].get("drain", 0)
              for c in report["clients"]]
    return {
        "expected": expected, "window": window, "latency": whole.summary(),
        "complete": sum(1 for n in counts if n == expected),
        "delivered": sum(counts) / (expected * count) if expected else 0.0,
        "disconnects": [c["disconnect"] for c in report["clients"] if c["disconnect"]],
        "drain_seconds": drained, "server_rss": samples[-1].rss,
        "backlog_last": samples[-1].backlog,
    }


def _system_cpu(cores: dict[str, float]) -> dict[str, float]:
    return {name: cores for name, cores in cores.items()
            if name in SERVER_NAMES or name.startswith("web-")}


def _report_config(result: Result, label: str, count: int, run: dict[str, Any]) -> None:
    stats = run["latency"]
    result.check(f"{label}: trades delivered", run["delivered"],
                 f"{run['delivered']:.2%} ({run['complete']}/{count} got all "
                 f"{run['expected']:,})", "100%", run["complete"] == count)
    result.check(f"{label}: p50 / p99 latency", stats["p99_ms"],
                 f"{ms(stats['p50_ms'])} / {ms(stats['p99_ms'])}", "p99 <= 250 ms",
                 stats["p99_ms"] is not None and stats["p99_ms"] <= 250)
    result.check(f"{label}: disconnects", len(run["disconnects"]), str(len(run["disconnects"])),
                 "0", not run["disconnects"])


def nodes(opts: Options) -> Result:
    """200 clients at 5,000 msg/s: two web nodes (100 each) against one (200)."""
    seconds = opts.duration(15.0)
    result = Result("nodes", f"fan-out through web nodes, {NODE_CLIENTS} clients at {RATE:,} "
                    f"msg/s for {seconds:g} s: one collector and 2 web nodes vs 1")
    for webs in (1, 2):
        label = f"{webs} web node{'s' if webs > 1 else ''}"
        stack = NodeStack(f"nodes{webs}", pairs=PAIRS, server_script=opts.server)
        try:
            stack.start_feeders()
            stack.start_cluster(webs)
            clients = stack.start_clients_on_webs(NODE_CLIENTS, CLIENT_PROCESSES, opts.deflate)
            if clients.failed:
                raise RuntimeError(f"{len(clients.failed)} clients failed to connect: "
                                   f"{clients.failed[:3]}")
            time.sleep(1.0)
            opts.log(f"  {label}: {NODE_CLIENTS} clients, {RATE:,} msg/s for {seconds:g} s")
            run = _load(stack, clients, NODE_CLIENTS, seconds, opts)
            guards = [get_json(f"{url}/healthz")["clients"] for url in stack.web_urls]
        finally:
            stack.close()
        _report_config(result, label, NODE_CLIENTS, run)
        resyncs = sum(guard.get("resyncs", 0) for guard in guards)
        result.check(f"{label}: slow-client resyncs", resyncs, str(resyncs), "", None)
        cores = run["window"].cores
        system = _system_cpu(cores)
        shown = " + ".join(f"{name.replace('server', 'collector')} {value:.2f}"
                           for name, value in system.items())
        result.check(f"{label}: CPU", sum(system.values()), shown + " cores", "", None)
        result.details[label] = {
            "latency": run["latency"], "expected": run["expected"],
            "delivered": run["delivered"], "drain_seconds": run["drain_seconds"],
            "cpu": cores, "other_cpu": run["window"].other,
            "collector_rss": run["server_rss"], "backlog_last": run["backlog_last"],
            "web_clients": guards}
        loads = {name: value for name, value in cores.items() if name not in system}
        result.check(f"{label}: load generators", sum(loads.values()),
                     _cores_text(loads, run["window"].other), "", None)
    return result


def _cores_text(loads: dict[str, float], other: float) -> str:
    """The load generators' CPU, and the rest of the machine's (the server's measured in the
    checks: a row here has more than one server process, so ``Result.cpu`` stays empty)."""
    return ", ".join(f"{name} {cores:.2f}" for name, cores in sorted(loads.items())) + (
        f"; rest of machine {other:.2f}")


def async_modes(opts: Options) -> Result:
    """The fanout row's load under eventlet and under gevent (``--role all``)."""
    seconds = opts.duration(15.0)
    result = Result("async", f"eventlet vs gevent, {ASYNC_CLIENTS} clients at {RATE:,} msg/s "
                    f"for {seconds:g} s, one process (--role all)")
    for mode in ("eventlet", "gevent"):
        stack = Stack(f"async-{mode}", server_script=opts.server)
        try:
            stack.start_feeders()
            stack.start_server(ASYNC_MODE=mode)
            clients = stack.start_clients(ASYNC_CLIENTS, processes=2, deflate=opts.deflate)
            if clients.failed:
                raise RuntimeError(f"{len(clients.failed)} clients failed to connect")
            time.sleep(1.0)
            opts.log(f"  ASYNC_MODE={mode}: {ASYNC_CLIENTS} clients, {RATE:,} msg/s")
            run = _load(stack, clients, ASYNC_CLIENTS, seconds, opts)
            guard = stack.healthz()["clients"]
        finally:
            stack.close()
        _report_config(result, mode, ASYNC_CLIENTS, run)
        result.check(f"{mode}: slow-client resyncs", guard.get("resyncs", 0),
                     str(guard.get("resyncs", 0)), "", None)
        server = run["window"].cores.get("server", 0.0)
        result.check(f"{mode}: server CPU / RSS", server,
                     f"{server:.2f} cores / {mib(run['server_rss'])}", "", None)
        result.details[mode] = {"latency": run["latency"], "expected": run["expected"],
                                "delivered": run["delivered"], "cpu": run["window"].cores,
                                "other_cpu": run["window"].other,
                                "server_rss": run["server_rss"]}
        loads = {name: value for name, value in run["window"].cores.items() if name != "server"}
        result.check(f"{mode}: load generators", sum(loads.values()),
                     _cores_text(loads, run["window"].other), "", None)
    return result
