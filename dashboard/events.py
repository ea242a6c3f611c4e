"""Socket.IO events, default namespace.

Server → browser (only the hub emits these, one list per event per tick, see ``dashboard.hub``):

- ``ticker``: ``[{exchange, pair, symbol, time, bid, ask, last, bid_size, ask_size, volume_24h,
  open_24h, high_24h, low_24h}, ...]``
- ``trade``: ``[{exchange, pair, symbol, time, id, price, amount, side, seq}, ...]``; ``amount``
  is positive, ``side`` is the taker's side (``buy``/``sell``), ``seq`` grows in the order the
  server received the trades (see ``dashboard.hub``).
- ``status``: ``[{exchange, pair, state, detail, time}, ...]``; ``pair`` null is the exchange
  connection; ``state`` is one of connecting, live, reconnecting, stale, error.
- ``feeds`` (only on connect, first): ``[{exchange, pair, symbol, state, detail}, ...]``, the
  feeds configured now in the configured order, as ``GET /api/pairs``. Only these are feeds: a
  pair seeded from storage by an earlier run's records is not one.

Prices and amounts are strings holding the exact decimal the exchange sent; ``time`` is
ISO-8601 UTC with milliseconds and ``Z``. Field names are defined in ``exchanges.records``.
"""

from __future__ import annotations

import logging

from flask import current_app, request

from .connections import IncidentLog, read_after
from .extensions import socketio

log = logging.getLogger(__name__)
# what browsers send that we don't take: one log line per minute at most, however many
_input_log = IncidentLog(log)


@socketio.on("connect")
def on_connect(auth: object = None) -> None:
    """Sent by a browser when it (re)connects: it first gets the current state of every feed.

    First the configured feeds (``feeds``), then the snapshot: every feed's status (a standing
    error included) and the latest ticker per exchange and pair, then trades: the recent ones,
    or, when the client's auth payload says ``{"after": seq}`` (the last trade ``seq`` it saw),
    exactly the trades it missed. Live batches follow.
    """
    if not _genuine_connect():
        _ignore("connect")
        return
    dashboard = current_app.extensions["dashboard"]
    dashboard.clients += 1
    after, valid = read_after(auth)
    if not valid:  # not what our page sends: ignored (the full snapshot), counted, logged
        current_app.extensions["client_limits"].invalid_auth += 1
        _input_log.report("client input ignored sid=%s", request.sid,  # type: ignore[attr-defined]
                          reason=f"invalid connect auth {_preview(auth)}")
    socketio.emit("feeds", dashboard.feeds(), to=request.sid)  # type: ignore[attr-defined]
    dashboard.send_snapshot(request.sid, after)  # type: ignore[attr-defined]


@socketio.on("disconnect")
def on_disconnect(reason: object = None) -> None:
    """A browser went away."""
    if not _genuine_disconnect():
        _ignore("disconnect")
        return
    current_app.extensions["dashboard"].clients -= 1


@socketio.on("*")
def on_anything_else(event: object, *args: object) -> object:
    """Any other event a browser sends: ignored and counted (``clients.ignored_events``).

    Browsers only listen: nothing they send can subscribe a pair, store a record or make the
    server emit anything but their own connect snapshot. Messages over ``MAX_CLIENT_MESSAGE``
    never get this far (Engine.IO refuses them). An event that asks for an ack gets none.
    """
    _ignore(event)
    return socketio.server.not_handled  # python-socketio then sends no ack


# A browser can send an EVENT packet named "connect" or "disconnect": python-socketio hands it
# to the handlers above as if the connection had been made or lost. Told apart here:


def _genuine_connect() -> bool:
    """A real connect passes the connection's WSGI environ first; an event can't send that."""
    args = getattr(request, "event", {}).get("args", ())
    return bool(args) and args[0] is request.environ


def _genuine_disconnect() -> bool:
    """During a real disconnect the session is already no longer connected."""
    server = socketio.server
    return server is None or not server.manager.is_connected(
        request.sid, request.namespace or "/")  # type: ignore[attr-defined]


def _ignore(event: object) -> None:
    current_app.extensions["client_limits"].ignored_events += 1
    _input_log.report("client input ignored sid=%s", request.sid,  # type: ignore[attr-defined]
                      reason=f"unknown event {_preview(event)}")


def _preview(value: object) -> str:
    """A short, printable, one-line view of what a browser sent, for the log."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
