"""Socket.IO events, default namespace.

Server → browser (only the hub emits these, one list per event per tick, see ``dashboard.hub``):

- ``ticker``: ``[{exchange, pair, symbol, time, bid, ask, last, bid_size, ask_size, volume_24h,
  open_24h, high_24h, low_24h}, ...]``
  open_24h, high_24h, low_24h}, ...]``
- ``trade``: ``[{exchange, pair, symbol, time, id, price, amount, side, seq}, ...]``; ``amount``
  is positive, ``side`` is the taker's side (``buy``/``sell``), ``seq`` grows in the order the
  server received the trades (see ``dashboard.hub``).
- ``status``: ``[{exchange, pair, state, detail, time}, ...]``; ``pair`` null is the exchange
  connection; ``state`` is one of connecting, live, reconnecting, stale, error.

Prices and amounts are strings holding the exact decimal the exchange sent; ``time`` is
ISO-8601 UTC with milliseconds and ``Z``. Field names are defined in ``exchanges.records``.
"""

from __future__ import annotations

from flask import current_app, request

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
    after = auth.get("after") if isinstance(auth, dict) else None
    if isinstance(after, bool) or not isinstance(after, int):
        after = None
    dashboard.send_snapshot(request.sid, after)  # type: ignore[attr-defined]


@socketio.on("disconnect")
def on_disconnect(reason: object = None) -> None:
    """A browser went away."""
    current_app.extensions["dashboard"].clients -= 1
