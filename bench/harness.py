"""One benchmark's processes: fake exchanges, the real server, Socket.IO load clients.

A ``Stack`` starts them in order and hands out what the scenarios measure: the server's
``/healthz``, feeder counters, client reports, and CPU/RSS of each process. ``close`` stops
everything it started (the runner also kills stragglers at exit, see ``bench.procs``).

The "8 feeds" of the issue are 2 exchanges x 4 pairs; the fake exchanges are the simulator in
fast mode (``simulator/fast.py``), one process per exchange, so each gets its own core time and
half the rate; the "feeder" names below are theirs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .procs import ROOT, Child, ChildFailed, free_port, python
from .stats import Histogram

EXCHANGES = ("bitfinex", "coinbase")
PAIRS = ("BTC-USD", "ETH-USD", "SOL-USD", "LTC-USD")
SERVER_START_TIMEOUT = 30.0
FEEDER_SEED = 4  # the fake exchanges' market, the same every run
_SETTING_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def setting_names() -> set[str]:
    """The dashboard's settings, as ``.env.example`` documents them (so a new one is dropped
    too), plus every ``*_WS_URL`` / ``*_REST_URL``: what a developer's shell must not carry
    into the server under test."""
    try:
        names = set(_SETTING_LINE.findall((ROOT / ".env.example").read_text()))
    except OSError:
        names = set()
    return names | {name for name in os.environ if name.endswith(("_WS_URL", "_REST_URL"))}


def feeder(exchange: str) -> list[str]:
    """argv of one fake exchange: ``python -m simulator --fast`` serving ``exchange`` alone,
    streaming nothing until told a rate by a JSON line on stdin (``rate``, ``stats``)."""
    return python("simulator", "--fast", "--exchanges", exchange, "--stdin-commands",
                  "--seed", str(FEEDER_SEED), "--log-level", "WARNING")


def get_json(url: str, timeout: float = 10.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str,
               interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class Feeders:
    """The fake exchange processes, one per exchange, driven as one."""

    def __init__(self, children: dict[str, Child], urls: dict[str, str]) -> None:
        self.children = children  # exchange -> process
        self.urls = urls  # exchange -> ws://host:port

    def set_rate(self, total: float | str) -> None:
        """Aggregate paced frames/s over every feed (split evenly), or ``"max"``."""
        share = total if total == "max" else float(total) / len(self.children)
        for child in self.children.values():
            child.request({"cmd": "rate", "value": share})

    def stats(self) -> dict[str, Any]:
        """Counters summed over the processes, and each process's own."""
        each = {name: child.request({"cmd": "stats"}) for name, child in self.children.items()}
        total = {key: sum(s[key] for s in each.values())
                 for key in ("frames", "paced", "trades", "behind", "connections")}
        return {**total, "processes": each}


class Clients:
    """Load-client processes, driven as one."""

    def __init__(self, children: list[Child], connected: int, failed: list[Any]) -> None:
        self.children = children
        self.connected = connected
        self.failed = failed

    def phase(self, name: str) -> None:
        """Later trades count and time under ``name``."""
        for child in self.children:
            child.request({"cmd": "phase", "name": name})

    def report(self) -> dict[str, Any]:
        """Per phase the merged latency histogram; per connection its counts."""
        phases: dict[str, Histogram] = {}
        clients: list[dict[str, Any]] = []
        for child in self.children:
            answer = child.request({"cmd": "report"}, timeout=60)
            clients += answer["clients"]
            for name, phase in answer["phases"].items():
                phases.setdefault(name, Histogram()).add_sparse(phase["histogram"])
        return {"phases": phases, "clients": clients}


class Stack:
    """The processes of one benchmark run, in a temporary directory of their own."""

    def __init__(self, name: str, pairs: Iterable[str] = PAIRS,
                 server_script: Path | None = None) -> None:
        self.name = name
        self.pairs = tuple(pairs)
        self.server_script = server_script or ROOT / "server.py"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.children: dict[str, Child] = {}  # name -> process, for CPU and RSS
        self._feeders: Feeders | None = None
        self.server: Child | None = None
        self.url = ""
        self.clients: list[Clients] = []

    # Starting

    def start_feeders(self) -> Feeders:
        children, urls = {}, {}
        for exchange in EXCHANGES:
            child = self._spawn(f"feeder-{exchange}", feeder(exchange))
            urls[exchange] = child.read_json(timeout=20)["url"]
            children[exchange] = child
        self._feeders = Feeders(children, urls)
        return self._feeders

    @property
    def feeders(self) -> Feeders:
        if self._feeders is None:
            raise RuntimeError("the feeders are not started")
        return self._feeders

    def start_server(self, **env: str) -> Child:
        """The real ``server.py`` with its listeners on the feeders; returns once every feed
        is live. Its whole output goes to ``server.log``, shown on failure."""
        port = free_port()
        dropped = setting_names()
        full_env = {name: value for name, value in os.environ.items() if name not in dropped}
        full_env.update({
            "PYTHONUNBUFFERED": "1",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "EXCHANGES": ",".join(EXCHANGES),
            "PAIRS": ",".join(self.pairs),
            "DATABASE_URL": f"sqlite:///{self.workdir}/bench.db",
            "SECRET_KEY": secrets.token_hex(16),
            "LOG_LEVEL": "WARNING",
            **{f"{name.upper()}_WS_URL": f"{url}/{name}"
               for name, url in self.feeders.urls.items()},
            **env,
        })
        self.server = self._spawn("server", python(str(self.server_script)), env=full_env,
                                  cwd=self.workdir, control=False)
        self.url = f"http://127.0.0.1:{port}"
        try:
            wait_until(self._server_up, SERVER_START_TIMEOUT, "the server's /healthz")
            wait_until(self._feeds_live, SERVER_START_TIMEOUT, "every feed to be live")
        except (TimeoutError, ChildFailed) as exc:
            raise ChildFailed(f"server did not start: {exc}\n{self.server.tail()}") from None
        return self.server

    def _server_up(self) -> bool:
        assert self.server is not None
        if not self.server.alive():
            raise ChildFailed(f"server exited with {self.server.popen.returncode}")
        try:
            return self.healthz(timeout=2)["status"] == "ok"
        except OSError:
            return False

    def _feeds_live(self) -> bool:
        feeds = get_json(f"{self.url}/api/pairs")
        return len(feeds) == len(EXCHANGES) * len(self.pairs) and all(
            feed["state"] == "live" for feed in feeds)

    def start_clients(self, count: int, processes: int = 1, slow: int = 0,
                      deflate: bool = True, first_index: int = 0) -> Clients:
        """``count`` normal clients spread over ``processes`` processes (plus ``slow`` never-
        reading ones in the last); returns once every one is connected or failed."""
        children = []
        per_process = [count // processes + (i < count % processes) for i in range(processes)]
        index = first_index
        for number, n in enumerate(per_process):
            extra = ["--slow", str(slow)] if slow and number == processes - 1 else []
            name = f"clients-{first_index + number}" if not slow else f"slow-{first_index}"
            args = ["--url", self.url, "--count", str(n), "--first-index", str(index), *extra]
            children.append(self._spawn(name, python("bench.clients", *args,
                                                     *([] if deflate else ["--no-deflate"]))))
            index += n
        connected, failed = 0, []
        for child in children:
            answer = child.read_json(timeout=60)
            connected += answer["connected"]
            failed += answer["failed"]
        group = Clients(children, connected, failed)
        self.clients.append(group)
        return group

    def _spawn(self, name: str, argv: list[str], **kwargs: Any) -> Child:
        child = Child(name, argv, self.workdir / f"{name}.log", **kwargs)
        self.children[name] = child
        return child

    # Measuring

    def healthz(self, timeout: float = 10.0) -> dict[str, Any]:
        return get_json(f"{self.url}/healthz", timeout=timeout)

    @staticmethod
    def frames_read(health: dict[str, Any]) -> int:
        """Frames the server's listeners have read, all exchanges."""
        return sum(feed["messages"] for feed in health["feeds"].values())

    def load_generators(self) -> dict[str, Child]:
        return {name: child for name, child in self.children.items() if name != "server"}

    def stop_child(self, child: Child) -> None:
        child.stop()
        for name, known in list(self.children.items()):
            if known is child:
                del self.children[name]

    def close(self) -> None:
        """Stop clients, then the server, then the feeders; remove the work directory unless
        the server failed or left a traceback (its log is kept for a post-mortem)."""
        keep = False
        for name in sorted(self.children, key=lambda n: (n == "server", n.startswith("feeder"))):
            child = self.children[name]
            code = child.stop()
            if name == "server" and (code not in (0, -15) or "Traceback" in child.tail(10_000)):
                keep = True
                print(f"server exited with {code}; its log is kept: {child.log_path}")
        self.children.clear()
        if not keep:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.workdir)
