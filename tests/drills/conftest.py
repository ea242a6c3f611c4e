"""Fault drills: the real ``server.py`` on loopback, put through one fault each.

Shared here: a TCP proxy that can refuse connections and slip websocket frames into what an
exchange sends (``FaultProxy``), a server launcher that can lower the open-files limit, and
readings of a process (RSS, open descriptors). Every wait polls with a deadline; nothing sleeps
a fixed time to "let things settle".
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Process, Server, base_env, free_port, wait_until


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def launch(tmp_path: Path, env: dict[str, str], *args: str, open_files_limit: int | None = None,
           port: int | None = None, wait: bool = True) -> Server:
    """Start ``server.py`` like ``tests.conftest.launch_server``, optionally with both the soft
    and the hard open-files limit set to ``open_files_limit`` (what ``prlimit`` would do)."""
    port = port or free_port()
    log_path = tmp_path / f"server-{port}-{time.monotonic_ns()}.log"
    full_env = {**base_env(), "PORT": str(port), "LOG_LEVEL": "INFO", **env}

    def limit() -> None:
        if open_files_limit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files_limit, open_files_limit))

    popen = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), *args], cwd=tmp_path, env=full_env,
        stdin=subprocess.DEVNULL, stdout=log_path.open("w"), stderr=subprocess.STDOUT, text=True,
        preexec_fn=limit if open_files_limit is not None else None,
    )
    server = Server(f"http://127.0.0.1:{port}", Process(popen, log_path), full_env)
    if wait:
        wait_healthy(server)
    return server


def wait_healthy(server: Server, timeout: float = 20.0) -> None:
    def healthy() -> bool:
        if server.process.popen.poll() is not None:
            pytest.fail(f"server exited with {server.process.popen.returncode}:\n"
                        f"{server.process.output()}")
        try:
            return server.health()["status"] == "ok"
        except OSError:
            return False

    wait_until(healthy, timeout=timeout, message="the server's /healthz")


def stop_and_check(server: Server, timeout: float = 10.0) -> tuple[int, float]:
    """SIGTERM the server; return (exit status, seconds to exit). Fails on a traceback."""
    popen = server.process.popen
    started = time.monotonic()
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(5)
    took = time.monotonic() - started
    output = server.process.output()
    assert "Traceback" not in output, output[-5000:]
    return popen.returncode, took


@pytest.fixture
def drill_servers(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``launch`` with clean-up: every server is stopped after the test, must exit 0 and must
    not have printed a traceback."""
    servers: list[Server] = []

    def start(env: dict[str, str] | None = None, *args: str, **options: Any) -> Server:
        server = launch(tmp_path, env or {}, *args, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        code, _ = stop_and_check(server)
        assert code == 0, f"server exited with {code}:\n{server.process.output()[-5000:]}"


# -- a proxy in front of an exchange --------------------------------------------------------------


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked websocket frame (server to client), FIN set."""
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([size])
    elif size < 1 << 16:
        head += bytes([126]) + struct.pack("!H", size)
    else:
        head += bytes([127]) + struct.pack("!Q", size)
    return head + payload


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    chunks = []
    while count:
        chunk = sock.recv(min(count, 1 << 20))
        if not chunk:
            raise ConnectionError("closed")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


class _Link:
    """One proxied connection: client <-> upstream, with frames to slip in toward the client."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.inject: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class FaultProxy:
    """A TCP proxy on a loopback port in front of an exchange (the simulator).

    ``refuse()`` closes the listening socket and cuts every connection, so connecting fails
    with "connection refused" until ``accept()`` listens on the same port again. ``inject``
    sends a websocket text (or binary) frame to every connected client at the next frame
    boundary of the exchange's stream: the upstream's frames are parsed (server frames are
    unmasked, and websocket-client negotiates no compression), so an injected frame never
    lands inside another.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.links: list[_Link] = []
        self.accepted = 0
        self.refused_since: float | None = None
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self.accept()

    def url(self, exchange: str) -> str:
        return f"ws://127.0.0.1:{self.port}/{exchange}"

    def accept(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self.refused_since = None
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()

    def refuse(self) -> None:
        listener, self._listener = self._listener, None
        self.refused_since = time.monotonic()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            links, self.links = self.links, []
        for link in links:
            link.close()

    def inject(self, payload: str | bytes, opcode: int = 0x1) -> int:
        data = payload.encode() if isinstance(payload, str) else payload
        frame = ws_frame(data, opcode)
        with self._lock:
            links = [link for link in self.links if not link.closed.is_set()]
        for link in links:
            link.inject.put(frame)
        return len(links)

    def close(self) -> None:
        self.refuse()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), 5)
            except OSError:
                client.close()
                continue
            link = _Link(client, upstream)
            with self._lock:
                self.links.append(link)
                self.accepted += 1
            threading.Thread(target=self._to_upstream, args=(link,), daemon=True).start()
            threading.Thread(target=self._to_client, args=(link,), daemon=True).start()

    @staticmethod
    def _to_upstream(link: _Link) -> None:
        try:
            while data := link.client.recv(65536):
                link.upstream.sendall(data)
        except OSError:
            pass
        link.close()

    @staticmethod
    def _to_client(link: _Link) -> None:
        upstream, client = link.upstream, link.client
        try:
            head = b""
            while b"\r\n\r\n" not in head:  # the HTTP upgrade answer, passed as it is
                chunk = upstream.recv(4096)
                if not chunk:
                    raise ConnectionError("closed")
                head += chunk
            end = head.index(b"\r\n\r\n") + 4
            client.sendall(head[:end])
            pending = head[end:]
            while not link.closed.is_set():
                while not link.inject.empty():
                    client.sendall(link.inject.get())
                if not pending:
                    ready, _, _ = select.select([upstream], [], [], 0.02)
                    if not ready:
                        continue
                    chunk = upstream.recv(65536)
                    if not chunk:
                        break
                    pending = chunk
                # complete one frame: header, extended length, payload
                while len(pending) < 2:
                    pending += _read_exactly(upstream, 2 - len(pending))
                size = pending[1] & 0x7F
                header = 2 + {126: 2, 127: 8}.get(size, 0) + (4 if pending[1] & 0x80 else 0)
                if len(pending) < header:
                    pending += _read_exactly(upstream, header - len(pending))
                if size == 126:
                    size = struct.unpack("!H", pending[2:4])[0]
                elif size == 127:
                    size = struct.unpack("!Q", pending[2:10])[0]
                total = header + size
                if len(pending) < total:
                    pending += _read_exactly(upstream, total - len(pending))
                client.sendall(pending[:total])
                pending = pending[total:]
        except (OSError, ConnectionError):
            pass
        link.close()


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[int], FaultProxy]]:
    proxies: list[FaultProxy] = []

    def make(upstream_port: int) -> FaultProxy:
        proxy = FaultProxy(upstream_port)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


def port_of(url: str) -> int:
    match = re.search(r":(\d+)", url.split("//", 1)[1])
    assert match, url
    return int(match.group(1))
