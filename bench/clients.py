"""Lean Socket.IO load clients: many connections per process, speaking the wire protocol.

``python -m bench.clients --url http://127.0.0.1:PORT --count 50 [--slow 1] [--no-deflate]``

Why not python-socketio's client: it runs a thread or task pair per connection and decodes every
packet into Python objects; 100 of them at 5,000 trades/s would eat the 2 cores the server needs.
Here each connection is one asyncio task on the ``websockets`` client, speaking Engine.IO v4 /
Socket.IO v5 over the websocket transport directly:

    GET /socket.io/?EIO=4&transport=websocket   (Origin: the server's own, as a page sends it)
    server: 0{"sid":...,"pingInterval":25000,...}     client: 40{"after":<max seq>}
    server: 40{"sid":...}, then 42["status",[...]], 42["ticker",[...]], 42["trade",[...]] ...
    server: 2 (ping)                                  client: 3 (pong), or it is dropped

``{"after": <max seq>}`` is the page's own reconnect auth: the connect snapshot then carries no
old trades, so every trade a client counts is live. permessage-deflate is offered like a
browser does (eventlet then compresses every message per client); ``--no-deflate`` turns it off.

Per trade batch a client counts the trades cheaply (``"seq":`` occurrences), checks that the
batch's first seq follows the last one it saw (a replayed or reordered trade is counted apart
and only new seqs are counted as delivered), and adds every trade's latency, receive wall time
minus the trade's ``time`` (ms), to a 1 ms histogram of the current phase. ``time`` is the
exchange's time, which the fake exchanges (``simulator/fast.py``) set to the moment they send
the frame.

A slow client (``--slow N``) completes the handshake on a raw socket whose receive buffer is
shrunk (``SO_RCVBUF``) and then never reads; it writes a pong every ``PONG_EVERY`` seconds so
the server's ping timeout does not end it: it stays a live, stalled reader until the runner
closes it.

Control: stdout gets ``{"connected": n, "failed": [...]}`` once every connection is up (or
failed); then each JSON line on stdin gets one line back: ``{"cmd": "phase", "name": "load"}``
(later trades go to that phase), ``{"cmd": "report"}`` (see ``Tally.report``). End of stdin
closes every connection and ends the process.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import socket
import struct
import time
from collections import Counter
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Origin

from .commands import answer_commands

MAX_SEQ = 2**63 - 1  # {"after": MAX_SEQ}: no old trades in the connect snapshot
HISTOGRAM_MS = 60_000  # latencies above this many ms land in the last bin
PONG_EVERY = 5.0  # seconds between the slow client's unsolicited pongs
SLOW_RCVBUF = 4096  # bytes: the slow client's receive buffer
CONNECT_TIMEOUT = 20.0
_TIME = re.compile(r'"time":"([^"]+)"')
_TIME_AND_SEQ = re.compile(r'"time":"([^"]+)".*?"seq":(\d+)')  # a record's time comes first
_SEQ_KEY = '"seq":'
_DIGITS = re.compile(r"\s*(\d+)")


class Phase:
    """What all the connections of this process measured while one phase was current."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.histogram = [0] * (HISTOGRAM_MS + 1)  # latency ms -> trades
        self.batches = 0

    def sparse(self) -> dict[str, int]:
        return {str(ms): n for ms, n in enumerate(self.histogram) if n}


class Tally:
    """Shared by the connections of the process: the phases and the time parser's cache."""

    def __init__(self) -> None:
        self.phases = {"start": Phase("start")}
        self.phase = self.phases["start"]
        self.clients: list[Client | SlowClient] = []
        self._seconds: dict[str, float] = {}  # "2026-11-24T17:42:03" -> epoch seconds

    def set_phase(self, name: str) -> None:
        self.phase = self.phases.setdefault(name, Phase(name))

    def epoch_ms(self, text: str) -> float:
        """``2026-11-24T17:42:03.123Z`` -> epoch ms; the date part parsed once per second."""
        second = self._seconds.get(text[:19])
        if second is None:
            if len(self._seconds) > 4096:
                self._seconds.clear()
            second = datetime.fromisoformat(text[:19] + "+00:00").timestamp()
            self._seconds[text[:19]] = second
        return second * 1000 + int(text[20:23])

    def report(self) -> dict[str, Any]:
        """Per phase the latency histogram over every trade of every connection, and per
        connection its counts (trades per phase, disconnect reason, order problems)."""
        return {
            "phases": {name: {"histogram": phase.sparse(), "batches": phase.batches}
                       for name, phase in self.phases.items()},
            "clients": [client.report() for client in self.clients],
        }


class Client:
    """One Socket.IO connection that counts and times the trades it gets."""

    def __init__(self, index: int, tally: Tally) -> None:
        self.index = index
        self.tally = tally
        self.connected = False
        self.closing = False
        self.disconnect: str | None = None  # why the connection ended, if not by us
        self.trades: Counter[str] = Counter()  # phase -> trades delivered (new seqs only)
        self.messages = 0
        self.bytes = 0
        self.replayed = 0  # trades whose seq was not above the last one seen
        self.first_seq = 0
        self.last_seq = 0
        self.ready = asyncio.get_running_loop().create_future()

    async def run(self, url: str, origin: str, deflate: bool) -> None:
        try:
            async with connect(url, origin=Origin(origin), compression="deflate" if deflate
                               else None, max_size=None, ping_interval=None, proxy=None,
                               open_timeout=CONNECT_TIMEOUT, max_queue=256) as ws:
                opening = await ws.recv()
                if not (isinstance(opening, str) and opening.startswith("0{")):
                    raise ValueError(f"expected an Engine.IO open packet, got {opening!r:.80}")
                await ws.send(f'40{{"after":{MAX_SEQ}}}')
                await self._read(ws)
            if not self.closing:
                self.disconnect = "closed by the server"
        except asyncio.CancelledError:
            if not self.closing:
                self.disconnect = "cancelled"
            raise
        except (ConnectionClosed, InvalidHandshake, OSError, ValueError,
                TimeoutError) as exc:
            if not self.closing:
                self.disconnect = f"{type(exc).__name__}: {exc}"
        finally:
            if not self.ready.done():
                self.ready.set_result(False)

    async def _read(self, ws: ClientConnection) -> None:
        async for text in ws:
            if not isinstance(text, str):
                continue
            self.messages += 1
            self.bytes += len(text)
            if text == "2":  # Engine.IO ping
                await ws.send("3")
            elif text.startswith('42["trade",'):
                self._trades(text)
            elif text.startswith("40") and not self.ready.done():
                self.connected = True
                self.ready.set_result(True)
            elif text.startswith(("41", "44", "1")):  # disconnect, connect error, close
                self.disconnect = f"server sent {text[:80]!r}"
                return

    def _trades(self, text: str) -> None:
        now_ms = time.time() * 1000
        phase = self.tally.phase
        phase.batches += 1
        first = _number_after(text, text.find(_SEQ_KEY))
        if first > self.last_seq:  # the usual case: every trade is new
            count = text.count(_SEQ_KEY)
            last = _number_after(text, text.rfind(_SEQ_KEY))
            moments = _TIME.findall(text)
        else:  # a replay (a fresh snapshot after a dropped backlog): count and time new seqs
            pairs = [(moment, int(seq)) for moment, seq in _TIME_AND_SEQ.findall(text)]
            moments = [moment for moment, seq in pairs if seq > self.last_seq]
            count = len(moments)
            self.replayed += len(pairs) - count
            last = max((seq for _, seq in pairs), default=self.last_seq)
        if not self.first_seq:
            self.first_seq = first
        self.last_seq = max(self.last_seq, last)
        self.trades[phase.name] += count
        histogram, epoch_ms = phase.histogram, self.tally.epoch_ms
        for moment, n in Counter(moments).items():  # trades of a batch share few ms values
            latency = int(now_ms - epoch_ms(moment))
            histogram[min(max(latency, 0), HISTOGRAM_MS)] += n

    def report(self) -> dict[str, Any]:
        return {"index": self.index, "connected": self.connected, "trades": dict(self.trades),
                "messages": self.messages, "bytes": self.bytes, "replayed": self.replayed,
                "first_seq": self.first_seq, "last_seq": self.last_seq,
                "disconnect": self.disconnect}


class SlowClient:
    """A Socket.IO connection that completes the handshake and then reads nothing."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.connected = False
        self.closing = False
        self.disconnect: str | None = None
        self.ready = asyncio.get_running_loop().create_future()
        self.sock: socket.socket | None = None

    async def run(self, url: str, origin: str) -> None:
        loop = asyncio.get_running_loop()
        parts = urlsplit(url)
        sock = socket.socket()
        self.sock = sock
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)  # before connect
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (parts.hostname, parts.port)),
                                   CONNECT_TIMEOUT)
            key = base64.b64encode(os.urandom(16)).decode()
            request = (f"GET {parts.path}?{parts.query} HTTP/1.1\r\n"
                       f"Host: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                       f"Origin: {origin}\r\n\r\n")
            await loop.sock_sendall(sock, request.encode())
            buffer = b""
            while b"\r\n\r\n" not in buffer:
                buffer += await asyncio.wait_for(loop.sock_recv(sock, 4096), CONNECT_TIMEOUT)
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                raise ValueError(f"upgrade refused: {head[:80]!r}")
            while (frame := _server_frame(buffer)) is None:  # the open packet "0{...}"
                buffer += await asyncio.wait_for(loop.sock_recv(sock, 4096), CONNECT_TIMEOUT)
            if not frame.startswith(b"0{"):
                raise ValueError(f"expected an Engine.IO open packet, got {frame[:80]!r}")
            await loop.sock_sendall(sock, _client_frame(f'40{{"after":{MAX_SEQ}}}'))
            self.connected = True
            self.ready.set_result(True)
            while True:  # never read again; keep the server's ping timeout satisfied
                await asyncio.sleep(PONG_EVERY)
                await loop.sock_sendall(sock, _client_frame("3"))
        except (OSError, ValueError, TimeoutError) as exc:
            if not self.closing:
                self.disconnect = f"{type(exc).__name__}: {exc}"
        finally:
            if not self.ready.done():
                self.ready.set_result(False)
            sock.close()

    def report(self) -> dict[str, Any]:
        return {"index": self.index, "slow": True, "connected": self.connected,
                "disconnect": self.disconnect, "trades": {}}


def _number_after(text: str, key_at: int) -> int:
    """The integer that follows the ``"seq":`` found at ``key_at``."""
    match = _DIGITS.match(text, key_at + len(_SEQ_KEY))
    if key_at < 0 or match is None:
        raise ValueError(f"trade without a seq: {text[:120]!r}")
    return int(match.group(1))


def _server_frame(buffer: bytes) -> bytes | None:
    """The payload of the first complete (unmasked) server frame in ``buffer``, or None."""
    if len(buffer) < 2:
        return None
    length, offset = buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return None
        length, offset = struct.unpack("!H", buffer[2:4])[0], 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        length, offset = struct.unpack("!Q", buffer[2:10])[0], 10
    if len(buffer) < offset + length:
        return None
    return buffer[offset:offset + length]


def _client_frame(text: str) -> bytes:
    """One masked text frame (RFC 6455: every client frame is masked)."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, 0x80 | length)
    else:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
    return header + mask + masked


async def control(tally: Tally) -> None:
    """Answer the runner's commands (``phase``, ``report``) until stdin closes."""

    def phase(command: dict[str, Any]) -> dict[str, Any]:
        tally.set_phase(str(command["name"]))
        return {"phase": tally.phase.name}

    await answer_commands({"phase": phase, "report": lambda command: tally.report()})


async def main_async(args: argparse.Namespace) -> None:
    base = args.url.rstrip("/")
    origin = base  # same origin: the page's own scheme, host and port
    ws_url = "ws" + base.removeprefix("http") + "/socket.io/?EIO=4&transport=websocket"
    tally = Tally()
    clients: list[Client | SlowClient] = []
    tasks = []
    for index in range(args.count):
        client = Client(args.first_index + index, tally)
        clients.append(client)
        tally.clients.append(client)
        tasks.append(asyncio.create_task(client.run(ws_url, origin, not args.no_deflate)))
        if index % 10 == 9:
            await asyncio.sleep(0.01)  # don't flood the accept queue
    for index in range(args.slow):
        slow = SlowClient(args.first_index + args.count + index)
        clients.append(slow)
        tally.clients.append(slow)
        tasks.append(asyncio.create_task(slow.run(ws_url, origin)))
    results = await asyncio.gather(*(client.ready for client in clients))
    failed = [{"index": c.index, "reason": c.disconnect} for c, ok in zip(clients, results,
                                                                           strict=True) if not ok]
    print(json.dumps({"connected": sum(results), "failed": failed}), flush=True)
    try:
        await control(tally)
    finally:
        for client in clients:
            client.closing = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the server, http://127.0.0.1:PORT")
    parser.add_argument("--count", type=int, default=1, help="normal clients")
    parser.add_argument("--slow", type=int, default=0, help="clients that never read")
    parser.add_argument("--first-index", type=int, default=0, help="index of the first client")
    parser.add_argument("--no-deflate", action="store_true",
                        help="don't offer permessage-deflate (browsers do)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
