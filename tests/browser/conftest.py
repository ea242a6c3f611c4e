"""A real headless Chromium (Debian's ``chromium``) driven by Playwright, for the browser tests.

Playwright's own browser download is never used: we launch the system Chromium. In CI
(``CI=true``) a missing browser fails the run rather than skipping the browser tests.

Every ``page`` fails its test on a script error, an error in the console (other than the
browser's own network errors while a test has stopped the server on purpose) or a request to
anything but this machine.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import Server, Simulator, skip_unless_ci

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# what Chromium logs by itself while the server is down (a test that stops it expects these)
NETWORK_ERROR = re.compile(r"net::ERR_|WebSocket connection to .* failed")


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if path:
        return path
    skip_unless_ci("Debian's chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Open pages of a given size; each fails the test on a script or console error, a dialog,
    or any request off this machine."""
    contexts = []
    errors: list[str] = []
    off_host: list[str] = []

    def open_page(width: int = 1920, height: int = 1080, **options: object) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on("console", lambda msg: errors.append(f"console: {msg.text}")
                if msg.type == "error" and not NETWORK_ERROR.search(msg.text) else None)
        page.on("dialog", lambda dialog: errors.append(f"dialog opened: {dialog.message}"))
        # the console names no URL for a failed load: this line does
        page.on("response", lambda response: errors.append(
            f"response {response.status} to {response.request.method} {response.url}")
            if response.status >= 400 else None)
        page.on("request", lambda request: None if request.url.startswith(
            ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
            else off_host.append(request.url))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == []
    assert off_host == []


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A fresh 1920x1080 page (see ``new_page``)."""
    return new_page()


@pytest.fixture
def venues_on_simulator(simulator: Simulator, start_server: Callable[..., Server]
                        ) -> Callable[..., Server]:
    """Start the server with the named exchanges' websockets and REST APIs on the simulator:
    ``venues_on_simulator("bitfinex,coinbase,kraken", PAIRS="BTC-USD", ...)``."""

    def start(exchanges: str, *args: str, port: int | None = None, **env: str) -> Server:
        urls: dict[str, str] = {}
        for name in exchanges.split(","):
            urls[f"{name.upper()}_WS_URL"] = simulator.ws_url(name)
            urls[f"{name.upper()}_REST_URL"] = f"{simulator.http}/{name}"
        return start_server({"EXCHANGES": exchanges, **urls, **env}, *args, port=port)

    return start


class LoopbackLink:
    """A TCP link on a loopback port between the browser and a server (``url``), to stand for
    the network: ``freeze()`` stops passing bytes both ways while every connection stays open
    (a pulled cable, a dead Wi-Fi: no FIN, no RST), ``thaw()`` passes what was held. With
    ``refuse_websockets`` it answers every websocket handshake 403, as a proxy that blocks them.
    """

    def __init__(self, url: str, *, refuse_websockets: bool = False) -> None:
        self.upstream_port = int(url.rsplit(":", 1)[1])
        self.refuse_websockets = refuse_websockets
        self.refused = 0
        self.flowing = threading.Event()
        self.flowing.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> LoopbackLink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sock in self.sockets:
            sock.close()

    def freeze(self) -> None:
        self.flowing.clear()

    def thaw(self) -> None:
        self.flowing.set()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._open, args=(client,), daemon=True).start()

    def _open(self, client: socket.socket) -> None:
        self.sockets.append(client)
        try:
            head = client.recv(65536, socket.MSG_PEEK)  # the first request, left in place
            if self.refuse_websockets and b"\r\nupgrade: websocket" in head.lower():
                self.refused += 1
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                               b"Connection: close\r\n\r\n")
                client.close()
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            return
        self.sockets.append(upstream)
        for source, target in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                self.flowing.wait()
                if select.select([source], [], [], 0.05)[0]:
                    if not (data := source.recv(65536)):
                        break
                    self.flowing.wait()  # frozen meanwhile: hold it
                    target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
