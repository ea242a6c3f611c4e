"""The one adapter between our code and the async mode Flask-SocketIO runs in (eventlet today).

Everything that starts a task, sleeps or runs a blocking call goes through here, so moving off
eventlet (deprecated upstream) to gevent or threading is a setting, not a rewrite. Besides this
module only ``server.py`` names eventlet, for the monkey patch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from .extensions import socketio

log = logging.getLogger(__name__)

T = TypeVar("T")


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
