"""The history API: stored tickers and trades as JSON or CSV, and what each exchange streams.

- ``GET /api/tickers`` and ``GET /api/trades``: ``exchange``, ``pair`` (any accepted spelling),
  ``since`` / ``until`` (ISO-8601 or epoch milliseconds; since inclusive, until exclusive),
  ``limit`` (default 500, at most 5000), ``format`` (``json`` or ``csv``). Newest first.
- ``GET /api/candles``: the same parameters plus ``interval`` (``1m`` default, ``5m``, ``15m``,
  ``1h``); candles ``{exchange, pair, time, open, high, low, close, volume, trades}`` whose start
  (``time``) is in [since, until), the newest ``limit`` of them, OLDEST first. ``exchange`` and
  ``pair`` are optional filters, as for trades: without them every feed's candles come, ordered
  by time, then exchange and pair.
- ``GET /api/pairs``: each configured feed with its symbol and current state.

A bad parameter gets HTTP 400 with ``{"error": "<parameter>: <what is wrong>"}``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from exchanges.pairs import PairError, parse_pair
from storage.candles import INTERVALS

bp = Blueprint("api", __name__, url_prefix="/api")

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
TICKER_COLUMNS = ("time", "exchange", "pair", "symbol", "bid", "ask", "last", "bid_size",
                  "ask_size", "volume_24h", "open_24h", "high_24h", "low_24h")
TRADE_COLUMNS = ("time", "exchange", "pair", "symbol", "id", "price", "amount", "side")
CANDLE_COLUMNS = ("time", "exchange", "pair", "open", "high", "low", "close", "volume", "trades")


class BadParameter(ValueError):
    """A query parameter can't be used; the message starts with its name."""


@dataclass(frozen=True)
class HistoryQuery:
    exchange: str | None
    pair: str | None
    since: datetime | None
    until: datetime | None
    limit: int
    format: str

    def filters(self) -> dict[str, Any]:
        return {"exchange": self.exchange, "pair": self.pair, "since": self.since,
                "until": self.until, "limit": self.limit}


def parse_time(name: str, text: str) -> datetime:
    """Read ``since``/``until``: epoch milliseconds or ISO-8601 (UTC when no offset is given)."""
    text = text.strip()
    try:
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        raise BadParameter(f"{name}: {text!r} is neither ISO-8601 nor epoch milliseconds"
                           ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_query(args: Mapping[str, str], exchanges: Iterable[str]) -> HistoryQuery:
    """Validate the history query parameters."""
    exchange = args.get("exchange") or None
    if exchange is not None and exchange not in exchanges:
        raise BadParameter(f"exchange: unknown exchange {exchange!r}")
    pair = None
    if args.get("pair"):
        try:
            pair = parse_pair(args["pair"])
        except PairError as exc:
            raise BadParameter(f"pair: {exc}") from None
    since = parse_time("since", args["since"]) if args.get("since") else None
    until = parse_time("until", args["until"]) if args.get("until") else None
    if since and until and since >= until:
        raise BadParameter("until: must be later than since")
    limit = DEFAULT_LIMIT
    if args.get("limit"):
        text = args["limit"]
        if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
            raise BadParameter(f"limit: {text!r} is not a whole number from 1 to {MAX_LIMIT}")
        limit = int(text)
    output = args.get("format", "json")
    if output not in ("json", "csv"):
        raise BadParameter(f"format: {output!r} is not json or csv")
    return HistoryQuery(exchange, pair, since, until, limit, output)


def csv_lines(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> Iterator[str]:
    """Render rows as CSV with a header line, one line at a time (streamed to the client)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in [columns, *([r.get(c) for c in columns] for r in rows)]:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@bp.errorhandler(BadParameter)
def bad_parameter(exc: BadParameter) -> ResponseReturnValue:
    return jsonify(error=str(exc)), 400


def _history(kind: str, columns: tuple[str, ...], **options: Any) -> ResponseReturnValue:
    dashboard = current_app.extensions["dashboard"]
    query = parse_query(request.args, dashboard.settings.exchanges)
    rows = dashboard.store_call(getattr(dashboard.store, kind), **options, **query.filters())
    if query.format == "csv":
        return Response(csv_lines(rows, columns), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={kind}.csv"})
    return jsonify(rows)


@bp.get("/tickers")
def tickers() -> ResponseReturnValue:
    """Stored tickers, newest first."""
    return _history("tickers", TICKER_COLUMNS)


@bp.get("/trades")
def trades() -> ResponseReturnValue:
    """Stored trades, newest first."""
    return _history("trades", TRADE_COLUMNS)


@bp.get("/candles")
def candles() -> ResponseReturnValue:
    """Candles of one interval, oldest first (see the module docstring)."""
    interval = request.args.get("interval") or "1m"
    if interval not in INTERVALS:
        raise BadParameter(f"interval: {interval!r} is not one of {', '.join(INTERVALS)}")
    return _history("candles", CANDLE_COLUMNS, interval=interval)


@bp.get("/pairs")
def pairs() -> ResponseReturnValue:
    """What each exchange streams now, with its state (a rejected pair shows as error)."""
    return jsonify(current_app.extensions["dashboard"].feeds())
