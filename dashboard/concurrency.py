"""The one adapter between our code and the async mode Flask-SocketIO runs in: ``ASYNC_MODE``,
eventlet (the default) or gevent.

Everything that starts a task, sleeps or runs a blocking call goes through here, so the
listeners, the hub and the storage writer run unchanged under either. Besides this module only
``server.py`` names eventlet and gevent, for the monkey patch (under gunicorn's gevent worker,
the worker patches).

``serve`` runs the web server (eventlet's WSGI server, or gevent's ``pywsgi``, with the guards
of ``dashboard.connections``) and ``wait_for_signal`` blocks the entry point until SIGTERM or
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

    Under eventlet the call runs in a real OS thread from ``eventlet.tpool``, under gevent in
    one of the hub's threadpool, while only the calling green thread waits. It must not emit or
    touch green primitives: return the result and let the green caller act on it.
    """
    return blocking_runner(socketio.async_mode)(function, *args)


def blocking_runner(async_mode: str) -> Callable[..., Any]:
    """What ``run_blocking`` uses in ``async_mode``: ``runner(function, *args)`` runs the call
    in an OS thread (eventlet's ``tpool``, gevent's hub threadpool), or simply calls it."""
    if async_mode == "eventlet":
        from eventlet import tpool

        return tpool.execute
    if async_mode == "gevent":
        import gevent

        def in_threadpool(function: Callable[..., T], *args: Any) -> T:
            return gevent.get_hub().threadpool.apply(function, args)

        return in_threadpool
    return lambda function, *args: function(*args)


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
    accept loop). Tracebacks never go to a client (``debug=False``). Under gevent, ``pywsgi``
    with the same backlog and no pool limit; gevent's own accept loop backs off a failing
    ``accept`` (``_GeventAccepts`` counts and logs it as ``AcceptGuard`` does).
    """
    if socketio.async_mode == "gevent":
        return _serve_gevent(app, host, port, limits, log_output=log_output, backlog=backlog)
    if socketio.async_mode != "eventlet":
        raise RuntimeError(f"serve() needs eventlet or gevent, not {socketio.async_mode}")
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


def _serve_gevent(app: Any, host: str, port: int, limits: ClientLimits, *, log_output: bool,
                  backlog: int) -> Serving:
    """``serve`` under gevent: ``pywsgi.WSGIServer``; websockets through simple-websocket."""
    from gevent import pywsgi
    from gevent import socket as gevent_socket
    from gevent.server import _tcp_listener

    addresses = gevent_socket.getaddrinfo(host, port)
    if not addresses:
        raise RuntimeError(f"cannot resolve {host!r}")
    family, address = addresses[0][0], addresses[0][4]
    listening = _tcp_listener(address, backlog=backlog, reuse_addr=1, family=family)
    accepts = _GeventAccepts(limits)

    class Handler(pywsgi.WSGIHandler):
        def run_application(self) -> None:
            try:
                super().run_application()
            finally:
                # a websocket (simple-websocket on a dup of this socket) ended: the connection
                # is done, not kept alive for an HTTP request that would read its close frame
                if self.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
                    self.close_connection = True

    class Server(pywsgi.WSGIServer):
        handler_class = Handler

        def do_read(self) -> Any:
            try:
                accepted = super().do_read()
            except OSError as exc:
                accepts.failed(exc)
                # gevent's loop then waits (0.01 s doubling to 1 s) and accepts again; this
                # exception class is one its hub prints no traceback for
                raise accepts.Quiet(str(exc)) from exc
            accepts.succeeded()
            return accepted

    server = Server(listening, app, log=logging.getLogger("gevent.pywsgi") if log_output
                    else None, error_log=logging.getLogger("gevent.pywsgi"))
    server.start()
    return Serving(accepts.stopper(server), server, listening.getsockname()[:2])


class _GeventAccepts:
    """``AcceptGuard``'s counting and logging for gevent's accept loop (which retries itself)."""

    def __init__(self, limits: ClientLimits) -> None:
        from gevent import GreenletExit

        self.Quiet = type("AcceptFailed", (GreenletExit,), {})
        self._limits = limits
        self._incident = 0  # failures in the current incident (0: accepting fine)

    def failed(self, exc: OSError) -> None:
        self._limits.accept_failures += 1
        if not self._incident:
            self._limits.accept_incidents += 1
            log.warning("accept failing open_files=%d retrying_in=0.01s reason=%s",
                        self._limits.open_files, exc)
        self._incident += 1

    def succeeded(self) -> None:
        if self._incident:
            log.warning("accept recovered failures=%d", self._incident)
            self._incident = 0

    @staticmethod
    def stopper(server: Any) -> Any:
        """An object whose ``stop()`` closes the listening socket, as ``AcceptGuard.stop``."""

        class Stopper:
            def stop(self) -> None:
                server.close()

        return Stopper()


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
