"""Socket.IO events, default namespace.

Server → browser (only the hub emits these, one list per event per tick, see ``dashboard.hub``):

- ``ticker``: ``[{exchange, pair, symbol, time, bid, ask, last, bid_size, ask_size, volume}, ...]``
- ``trade``: ``[{exchange, pair, symbol, time, id, price, amount, side, seq}, ...]``; ``amount``
  is positive, ``side`` is the taker's side (``buy``/``sell``), ``seq`` grows in the order the
  server received the trades (see ``dashboard.hub``).
- ``status``: ``[{exchange, pair, state, detail, time}, ...]``; ``pair`` null is the exchange
  connection; ``state`` is one of connecting, live, reconnecting, stale, error.

Prices and amounts are strings holding the exact decimal the exchange sent; ``time`` is
ISO-8601 UTC with milliseconds and ``Z``. Field names are defined in ``exchanges.records``.
"""

from __future__ import annotations

from flask import current_app
from flask_socketio import emit

from .extensions import socketio


@socketio.on("connect")
def on_connect(auth: object = None) -> None:
    """Sent by a browser when it (re)connects: it first gets the current state of every feed.

    The snapshot holds every feed's status (a standing error included) and the latest ticker
    per exchange and pair, then trades: the recent ones, or, when the client's auth payload
    says ``{"after": seq}`` (the last trade ``seq`` it saw), exactly the trades it missed.
    Live batches follow.
    """
    dashboard = current_app.extensions["dashboard"]
    dashboard.clients += 1
    snapshot = dashboard.hub.snapshot()
    after = auth.get("after") if isinstance(auth, dict) else None
    if isinstance(after, int) and not isinstance(after, bool):
        snapshot["trade"] = dashboard.trades_after(after)
    for event in ("status", "ticker", "trade"):
        if snapshot[event]:
            emit(event, snapshot[event])


@socketio.on("disconnect")
def on_disconnect(reason: object = None) -> None:
    """A browser went away."""
    current_app.extensions["dashboard"].clients -= 1
