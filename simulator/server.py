"""The simulator's network side: one websockets (sync, thread-based) server on one port.

Routes by request path:
    /bitfinex, /coinbase, ...   websocket upgrade -> that exchange's protocol (``registry``)
    /bitfinex/v2/..., /coinbase/products/...
                                plain HTTP GET -> that exchange's REST API, same market
    /control/...                plain HTTP GET -> JSON control API (``control``)
    anything else               404

Threads: websockets runs one reader thread per connection (``_serve_connection``); each
connection also gets a sender thread draining its ``Outbox``; one clock thread drives random
trades and timers every ``TICK`` seconds, and the protocol pings of the exchanges that send
them (``ExchangeSpec.protocol_ping``, ``_Link.keepalive``). No asyncio and no eventlet, so the
simulator behaves the same inside the test runner and as the ``--demo`` child process. In fast
mode (``SimulatorConfig.fast``, ``simulator.fast``) one more thread paces pre-formatted frames.
"""

from __future__ import annotations

import contextlib
import http
import logging
import math
import os
import random
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from simulator import control, wire
from simulator.engine import Engine
from simulator.fast import FastPacer
from simulator.outbox import Outbox
from simulator.peer import Action, Burst, Close, ExchangeSpec, Peer, PeerOptions, Ping
from simulator.reference import Reference
from simulator.registry import EXCHANGES

log = logging.getLogger(__name__)

TICK = 0.05  # seconds between clock runs: heartbeat and random-trade resolution
_CONTROL_PREFIX = "/control/"
_STOP_GRACE = 3.0  # seconds to let clients answer our close frames at shutdown
# Closing a connection whose ping went unanswered: Binance's docs say only "the connection will
# be disconnected"; clients report the close frame they got as 1008 "Pong timeout"
# (ccxt/php-binance-api issue #453)
PONG_TIMEOUT_CLOSE = Close(1008, "Pong timeout")


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything ``python -m simulator`` can set; tests build it directly."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: an ephemeral port, read it back from ``SimulatorServer.url``
    seed: int | None = None  # None: a random seed, logged so a run can be replayed
    rate: float = 2.0  # random trades per second per subscribed pair
    # per exchange, instead of ``rate`` (e.g. the demo's busier and quieter venues)
    rates: Mapping[str, float] = field(default_factory=dict)
    options: PeerOptions = field(default_factory=PeerOptions)
    fast: bool = False  # also stream pre-formatted frames at ``total_rate`` (``simulator.fast``)
    total_rate: float = 0.0  # fast mode: frames per second for the whole process


class _Link:
    """One accepted websocket on the server side: its peer, its outbox, its sender thread."""

    def __init__(self, websocket: ServerConnection, engine: Engine, peer: Peer) -> None:
        self.peer = peer
        self._websocket = websocket
        self._engine = engine
        self._outbox = Outbox()
        self._queued = 0  # fast frames handed to the outbox (the engine's thread writes it)
        self._written = 0  # ... and written or dropped (the sender thread writes it)
        self._sender = threading.Thread(
            target=self._send_loop, name=f"send-{engine.name}-{websocket.id}", daemon=True
        )
        # protocol pings (``keepalive``): when the next is due (monotonic), and the ones sent
        # and not answered yet, oldest first: (sent at, set once the matching pong came)
        self._keepalive = engine.protocol_ping
        self._next_ping = (time.monotonic() + self._keepalive.interval
                           if self._keepalive else math.inf)
        self._unanswered: deque[tuple[float, threading.Event]] = deque()
        self._pings_lock = threading.Lock()  # ``_unanswered``: sender and clock threads
        self._pings_queued = 0
        self._timed_out_at: float | None = None

    def start(self) -> None:
        """Start writing queued frames; called once the engine has registered the link."""
        self._sender.start()

    def deliver(self, actions: Iterable[Action]) -> None:
        """Queue actions (engine lock held by the caller, so this must not block)."""
        actions = list(actions)
        self._queued += sum(len(action.texts) for action in actions if isinstance(action, Burst))
        self._outbox.put(actions)

    @property
    def backlog(self) -> int:
        """Fast frames queued and not written yet."""
        return self._queued - self._written

    def abort(self) -> None:
        """Drop the TCP connection with no close frame, like a network failure."""
        with contextlib.suppress(OSError):  # already gone
            self._websocket.socket.shutdown(socket.SHUT_RDWR)
        self._websocket.close_socket()

    def stop(self) -> None:
        """Stop the sender; called when the reader sees the socket closed."""
        self._outbox.close()

    def keepalive(self, now: float) -> None:
        """The exchange's protocol pings (``Engine.protocol_ping``); ``now`` is monotonic.

        Called by the clock thread, outside the engine's lock. Counts the pings a pong answered
        (websockets matches a pong to its ping by payload and ignores unsolicited ones);
        closes the connection (``PONG_TIMEOUT_CLOSE``) once a ping has waited the deadline, and
        cuts it ``_STOP_GRACE`` seconds later if it is still open (a client that reads nothing
        never takes the close frame); otherwise queues the next ping when due. The ping goes
        out from the sender thread like any frame, so a stalled client blocks only its own.
        """
        ping = self._keepalive
        if ping is None:
            return
        if self._timed_out_at is not None:
            if now - self._timed_out_at >= _STOP_GRACE:
                self.abort()
            return
        with self._pings_lock:
            answered = [entry for entry in self._unanswered if entry[1].is_set()]
            for entry in answered:
                self._unanswered.remove(entry)
            oldest = self._unanswered[0][0] if self._unanswered else None
        if answered:
            self._engine.count_protocol(pongs=len(answered))
        if oldest is not None and now - oldest >= ping.timeout:
            self._timed_out_at = now
            self._engine.count_protocol(timeouts=1)
            log.info("pong timeout exchange=%s id=%s", self._engine.name, self._websocket.id)
            self._outbox.put([PONG_TIMEOUT_CLOSE])
            return
        if now >= self._next_ping:
            self._next_ping += ping.interval
            if self._next_ping <= now:  # the clock fell behind: no burst of pings to catch up
                self._next_ping = now + ping.interval
            if not self._engine.is_silent(time.time()):  # ``silence``: no pings either
                # 8 bytes: random, then the ping's number (websockets wants no two pending alike)
                self._pings_queued += 1
                payload = os.urandom(4) + self._pings_queued.to_bytes(4, "big")
                self._outbox.put([Ping(payload)])

    def _send_loop(self) -> None:
        while (action := self._outbox.get()) is not None:
            if isinstance(action, Close):
                self._websocket.close(action.code, action.reason)
                return
            if isinstance(action, Burst):
                if not self._send_burst(action.texts):
                    return
                continue
            if isinstance(action, Ping):
                try:
                    pong = self._websocket.ping(action.payload)
                except (ConnectionClosed, OSError):
                    return
                with self._pings_lock:
                    self._unanswered.append((time.monotonic(), pong))
                self._engine.count_protocol(pings=1)
                continue
            silenced = self._engine.is_silent(time.time())
            if not silenced:
                try:
                    self._websocket.send(action.text)
                except (ConnectionClosed, OSError):
                    return
            self._engine.count_sent(silenced)

    def _send_burst(self, texts: list[str]) -> bool:
        """Write fast mode's frames of one slice back to back in one system call; False once
        the connection is gone.

        Inside websockets' ``send_context`` (the connection's lock and state check, as its
        ``send`` takes them for one frame), the frames are written with one ``sendall``
        instead of one per frame: on loopback the call is most of a frame's cost. A connection
        without extensions (the server offers none) gets plain text frames framed here
        (``text_frames``), cheaper than the sans-I/O protocol's general encoder.
        """
        silenced = self._engine.is_silent(time.time())
        written = True
        if not silenced:
            websocket = self._websocket
            try:
                with websocket.send_context():
                    protocol = websocket.protocol
                    if protocol.extensions:
                        for text in texts:
                            protocol.send_text(text.encode())
                        data = b"".join(protocol.data_to_send())
                    else:
                        data = text_frames(texts)
                    try:
                        websocket.socket.sendall(data)
                    except OSError:  # the client is gone; its reader thread will see it
                        written = False
            except ConnectionClosed:
                written = False
        self._written += len(texts)
        if written:
            self._engine.count_sent(silenced, len(texts), fast=True)
        return written


def text_frames(texts: Iterable[str]) -> bytes:
    """Each text as one final, unmasked text frame without extensions (RFC 6455 section 5.2),
    as a server writes it: FIN and opcode 1, then the payload length in 7, 7+16 or 7+64 bits."""
    parts: list[bytes] = []
    for text in texts:
        payload = text.encode()
        size = len(payload)
        if size < 126:
            parts.append(bytes((0x81, size)))
        elif size < 65536:
            parts.append(_HEADER_16.pack(0x81, 126, size))
        else:
            parts.append(_HEADER_64.pack(0x81, 127, size))
        parts.append(payload)
    return b"".join(parts)


_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")


class SimulatorServer:
    """Binds at construction (so ``url`` is known at once); ``start`` begins serving."""

    def __init__(
        self, config: SimulatorConfig, exchanges: Mapping[str, ExchangeSpec] = EXCHANGES
    ) -> None:
        self.seed = (
            config.seed if config.seed is not None else random.SystemRandom().randrange(2**32)
        )
        for name in sorted(set(config.rates) - set(exchanges)):
            log.warning("no simulated exchange %r: its rate is ignored", name)
        # one reference market for every engine: the venues quote the same prices
        self.reference = Reference(self.seed, datetime.now(UTC))
        self.engines: dict[str, Engine] = {
            name: Engine(
                spec,
                seed=self.seed,
                rate=config.rates.get(name, config.rate),
                options=config.options,
                reference=self.reference,
            )
            for name, spec in exchanges.items()
        }
        self._server: Server = serve(
            self._serve_connection,
            config.host,
            config.port,
            process_request=self._route,
            # no keepalive of websockets' own: the exchanges' heartbeats only, and the protocol
            # pings of those that send them (``_Link.keepalive``); silence means silence
            ping_interval=None,
            close_timeout=2,
            compression=None,
            server_header=None,
        )
        port = self._server.socket.getsockname()[1]
        host = f"[{config.host}]" if ":" in config.host else config.host
        self.url = f"ws://{host}:{port}"
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="accept", daemon=True),
            threading.Thread(target=self._clock_loop, name="clock", daemon=True),
        ]
        # fast mode's pacer (``simulator.fast``), None in normal mode
        self.fast = FastPacer(self.engines, config.total_rate) if config.fast else None

    def start(self) -> None:
        """Serve in background threads; returns at once."""
        log.info("simulator listening url=%s seed=%d%s", self.url, self.seed,
                 " fast" if self.fast else "")
        for thread in self._threads:
            thread.start()
        if self.fast is not None:
            self.fast.start()

    def stop(self) -> None:
        """Close every connection (close frame 1001), stop the clock and release the port.

        A client that never answers the close frame would hold websockets' shutdown for
        ``close_timeout`` per connection, so after ``_STOP_GRACE`` seconds the remaining
        sockets are cut: the process must exit promptly when its parent asks.
        """
        self._stopping.set()
        if self.fast is not None:
            self.fast.stop()
        closer = threading.Thread(target=self._server.shutdown, name="shutdown", daemon=True)
        closer.start()
        closer.join(timeout=_STOP_GRACE)
        if closer.is_alive():
            for engine in self.engines.values():
                for link in engine.links():
                    link.abort()
            closer.join(timeout=_STOP_GRACE)
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=_STOP_GRACE)

    # websockets hooks

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        """Answer control requests and unknown paths over HTTP; let exchange paths upgrade."""
        path, _, query = request.path.partition("?")
        if path.startswith(_CONTROL_PREFIX):
            reply = control.handle(self.engines, path[len(_CONTROL_PREFIX) :], query, time.time())
            return _json_response(connection, reply.status, reply.body)
        name, _, rest = path.strip("/").partition("/")
        if name in self.engines and not rest:
            return None
        if name in self.engines:
            params = {key: values[-1] for key, values in parse_qs(query).items()}
            parts = [unquote(part) for part in rest.split("/")]
            reply = self.engines[name].rest(parts, params)
            return _json_response(connection, reply.status, reply.body)
        return _json_response(connection, 404, {"error": f"no such path {path}"})

    def _serve_connection(self, websocket: ServerConnection) -> None:
        """Reader thread of one websocket: feed client frames to the peer until it closes."""
        engine = self.engines[websocket.request.path.partition("?")[0].strip("/")]
        link = engine.open(lambda peer: _Link(websocket, engine, peer), time.time())
        link.start()
        log.debug("connection open exchange=%s id=%s", engine.name, websocket.id)
        try:
            for message in websocket:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                engine.receive(link, text, time.time())
        except ConnectionClosed:
            pass  # a dropped client is normal traffic for a fake exchange
        finally:
            engine.close(link)
            link.stop()
            log.debug("connection closed exchange=%s id=%s", engine.name, websocket.id)

    def _clock_loop(self) -> None:
        last = time.monotonic()
        while not self._stopping.wait(TICK):
            current = time.monotonic()
            elapsed, last = current - last, current
            now = time.time()
            for engine in self.engines.values():
                engine.tick(now, elapsed)
                if engine.protocol_ping is not None:
                    for link in engine.links():
                        if isinstance(link, _Link):
                            link.keepalive(current)


def _json_response(connection: ServerConnection, status: int, body: object) -> Response:
    text = wire.dumps(body)
    response = connection.respond(http.HTTPStatus(status), text)
    headers = Headers(response.headers)
    del headers["Content-Type"]
    headers["Content-Type"] = "application/json"
    return Response(response.status_code, response.reason_phrase, headers, response.body)
