"""The one adapter between our code and the async mode Flask-SocketIO runs in (eventlet today).

Everything that starts a task, sleeps or runs a blocking call goes through here, so moving off
eventlet (deprecated upstream) to gevent or threading is a setting, not a rewrite. Besides this
module only ``server.py`` names eventlet, for the monkey patch.

``serve`` runs the web server (eventlet's WSGI server, with the guards of
``dashboard.connections``) and ``wait_for_signal`` blocks the entry point until SIGTERM or
SIGINT, for the graceful stop (``Dashboard.stop``).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from typing import Any, TypeVar

from .connections import AcceptGuard, ClientLimits
from .extensions import socketio

log = logging.getLogger(__name__)

T = TypeVar("T")

# connections the kernel holds for us while the server is busy: a whole reconnect storm (Linux
# caps it at net.core.somaxconn, 4096 by default)
LISTEN_BACKLOG = 2048


def spawn(target: Callable[..., Any], *args: Any) -> Any:
    """Start ``target`` as a background task of the current async mode (a green thread)."""
    return socketio.start_background_task(target, *args)


def sleep(seconds: float) -> None:
    """Sleep without blocking other tasks."""
    socketio.sleep(seconds)


def every(interval: float, action: Callable[[], None], what: str) -> None:
    """Call ``action`` every ``interval`` seconds, forever: the body of a periodic task.

    A failure is a bug of ours: it is logged with its traceback and the next tick runs anyway,
    so one bad batch never stops the page from updating or the client queues being checked.
    """
    while True:
        sleep(interval)
        try:
            action()
        except Exception:
            log.exception("%s failed", what)


def run_blocking(function: Callable[..., T], *args: Any) -> T:
    """Run a call that would block the hub (a C extension, disk I/O) off the event loop.

    Under eventlet the call runs in a real OS thread from ``eventlet.tpool`` while only the
    calling green thread waits. It must not emit or touch green primitives: return the result
    and let the green caller act on it.
    """
    if socketio.async_mode == "eventlet":
        from eventlet import tpool

        return tpool.execute(function, *args)
    return function(*args)


class Serving:
    """The running web server (``serve``): stop accepting, then let it go."""

    def __init__(self, guard: AcceptGuard, thread: Any, address: tuple[str, int]) -> None:
        self.guard = guard
        self.address = address  # (host, port) actually bound: PORT=0 picks a free port
        self._thread = thread

    def stop(self) -> None:
        """Close the listening socket: the kernel refuses new connections from now on. The
        connections open go on until ``Dashboard.stop`` closes them, or the process exits."""
        self.guard.stop()


def serve(app: Any, host: str, port: int, limits: ClientLimits, *, log_output: bool = False,
          backlog: int = LISTEN_BACKLOG) -> Serving:
    """Serve ``app`` (the Flask app, Socket.IO in front) on ``host:port`` in a task of its own.

    What ``socketio.run`` does under eventlet, with three differences: the listening socket is
    wrapped in an ``AcceptGuard`` (a failing ``accept`` is retried, never fatal), the backlog
    holds a whole reconnect storm, and the server's pool admits as many connections as there
    are file descriptors (the cap on browsers is ``ClientCap``'s job, with a 503, not a stalled
    accept loop). Tracebacks never go to a client (``debug=False``).
    """
    if socketio.async_mode != "eventlet":
        raise RuntimeError(f"serve() needs eventlet, not {socketio.async_mode}")
    import eventlet
    import eventlet.wsgi
    from eventlet.green import socket as green_socket

    addresses = green_socket.getaddrinfo(host, port)
    if not addresses:
        raise RuntimeError(f"cannot resolve {host!r}")
    family, address = addresses[0][0], addresses[0][4]
    listening = eventlet.listen(address, family, backlog=backlog)
    bound = listening.getsockname()[:2]
    guard = AcceptGuard(listening, limits, sleep)
    thread = eventlet.spawn(
        eventlet.wsgi.server, guard, app, log=logging.getLogger("eventlet.wsgi"),
        log_output=log_output, max_size=max(limits.open_files, limits.max_clients + 64),
        debug=False)
    return Serving(guard, thread, bound)


def wait_for_signal(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT),
                    poll: float = 0.1) -> int:
    """Block the calling task until one of ``signals`` arrives; return its number.

    The handler only records the signal: under eventlet it may run inside the hub's own
    greenlet, where raising (Python's default ``KeyboardInterrupt``) or switching would break
    the loop. The calling task looks every ``poll`` seconds. A second signal while the first
    is being handled exits at once with status 1 (an impatient second Ctrl-C).
    """
    received: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        if received:
            os.write(2, b"second signal: exiting now\n")
            os._exit(1)
        received.append(signum)

    for number in signals:
        signal.signal(number, handler)
    while not received:
        sleep(poll)
    return received[0]
