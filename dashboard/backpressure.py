"""Slow browsers: keep every client's outgoing queue bounded and resynchronize the laggards.

Each batch the hub emits is encoded once and handed to Engine.IO, which queues it per client
until that client's writer task has written it to the socket. A client that stops reading (a
frozen tab, a stalled network link) would make its queue, and the server's memory, grow without
end, and would then replay minutes of stale batches. So a guard task looks at every queue each
``interval`` seconds:

- a queue holding more than ``limit`` packets loses its pending *event* packets (our batches;
  pings, close packets and Socket.IO control packets stay, in order) and the client is sent the
  current snapshot instead: it is shown the present, not a backlog it can't catch up with;
- a client that needed ``max_resyncs`` resyncs within ``window`` seconds is not keeping up even
  with snapshots: it is disconnected with a logged reason. Its Socket.IO client reconnects on
  its own and starts again from a snapshot.

Nothing here blocks: draining a queue is a few ``get_nowait`` calls, and the disconnect does not
wait for the stalled writer (``close(wait=True)`` would join a queue that never empties).

Engine.IO internals this relies on (python-engineio 4, pinned in requirements.txt):
``Server.sockets`` (eio sid → socket), ``Socket.queue`` (a queue with ``task_done``),
``Socket.closed``, ``Socket.close(wait, abort, reason)``, and queued ``engineio.packet.Packet``
objects whose ``data`` is the encoded Socket.IO packet (``2["trade",...]`` for an event).
``tests/unit/test_backpressure.py`` checks them against the installed version.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from engineio import packet as eio_packet

log = logging.getLogger(__name__)

# Socket.IO packet type EVENT, the first character of an encoded event packet
_SOCKETIO_EVENT = "2"


def is_event(item: Any) -> bool:
    """Whether a queued item is one of our emitted events (safe to drop), not a ping, a close,
    the end-of-queue ``None`` or a Socket.IO connect/disconnect packet."""
    return (isinstance(item, eio_packet.Packet) and item.packet_type == eio_packet.MESSAGE
            and isinstance(item.data, str) and item.data.startswith(_SOCKETIO_EVENT))


def drop_events(queue: Any, empty: type[Exception]) -> int:
    """Remove every queued event packet, keep everything else in order; return how many went.

    ``empty`` is the exception the queue raises when drained (``Server.get_queue_empty_exception``).
    Each removed item is marked done, so ``queue.join()`` still returns when the writer is done.
    """
    kept: list[Any] = []
    dropped = 0
    while True:
        try:
            item = queue.get_nowait()
        except empty:
            break
        queue.task_done()
        if is_event(item):
            dropped += 1
        else:
            kept.append(item)
    for item in kept:
        queue.put(item)
    return dropped


class QueueGuard:
    """Bounds the Engine.IO queues of a Socket.IO server; see the module docstring.

    ``server`` returns the python-socketio ``Server`` (looked up at each check, since
    Flask-SocketIO creates it in ``init_app``); ``resync(sid)`` sends a client the snapshot.
    """

    def __init__(self, server: Callable[[], Any], resync: Callable[[str], None], *, limit: int,
                 max_resyncs: int = 3, window: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._server = server
        self._resync = resync
        self.limit = limit
        self.max_resyncs = max_resyncs
        self.window = window
        self._clock = clock
        self._recent: dict[str, deque[float]] = {}  # eio sid -> times of its recent resyncs
        # counters for /healthz
        self.resyncs = 0
        self.disconnects = 0
        self.dropped_packets = 0
        self.longest_queue = 0  # at the last check, before any drop

    def check(self) -> None:
        """Look at every client's queue once; resync or disconnect the ones past the limit."""
        server = self._server()
        eio = server.eio
        empty = eio.get_queue_empty_exception()
        longest = 0
        for eio_sid, socket in list(eio.sockets.items()):
            if socket.closed or socket.closing:
                continue
            size = socket.queue.qsize()
            longest = max(longest, size)
            if size > self.limit:
                self._catch_up(server, eio_sid, socket, size, empty)
        self.longest_queue = longest
        for eio_sid in [sid for sid in self._recent if sid not in eio.sockets]:
            del self._recent[eio_sid]

    def stats(self) -> dict[str, int]:
        """Counters for ``/healthz``."""
        return {"queue_limit": self.limit, "longest_queue": self.longest_queue,
                "resyncs": self.resyncs, "disconnects": self.disconnects,
                "dropped_packets": self.dropped_packets}

    def _catch_up(self, server: Any, eio_sid: str, socket: Any, size: int,
                  empty: type[Exception]) -> None:
        dropped = drop_events(socket.queue, empty)
        self.dropped_packets += dropped
        sid = server.manager.sid_from_eio_sid(eio_sid, "/")
        now = self._clock()
        recent = self._recent.setdefault(eio_sid, deque())
        while recent and now - recent[0] > self.window:
            recent.popleft()
        recent.append(now)
        if len(recent) >= self.max_resyncs or sid is None:
            self.disconnects += 1
            log.warning("slow client disconnected sid=%s queue=%d dropped=%d reason=%s",
                        sid, size, dropped, f"{len(recent)} resyncs in {self.window:g} s")
            socket.close(wait=False, abort=False, reason=server.reason.SERVER_DISCONNECT)
            return
        self.resyncs += 1
        log.warning("slow client resynchronized sid=%s queue=%d dropped=%d", sid, size, dropped)
        self._resync(sid)
