"""The HTTP control API tests and demos use to steer the simulated exchanges.

Plain ``GET``s on the simulator's own port, answered with JSON (see ``ROUTES`` and the README
section of the package docstring in ``server``). Each handler validates its query, calls one
engine method and says what it did; bad input is a 400 with ``{"error": ...}``, an unknown
exchange or command a 404. Handlers never touch sockets themselves: a drop asks each link to
abort, everything else goes through the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from simulator import wire
from simulator.engine import Engine
from simulator.market import PairState, Side, UnknownPair
from simulator.peer import Close, Send

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP status and the JSON body to send with it."""

    status: int
    body: dict[str, Any]


class BadRequest(ValueError):
    """The query is missing a parameter or has one we cannot use; the text goes to the caller."""


Handler = Callable[[Engine, Mapping[str, str], float], dict[str, Any]]


def handle(engines: Mapping[str, Engine], path: str, query: str, now: float) -> Reply:
    """Answer ``GET /control/<...>?<query>``; ``path`` is what follows ``/control/``."""
    params = {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}
    parts = [part for part in path.split("/") if part]
    if parts == ["stats"]:
        return Reply(200, {name: engine.stats(now) for name, engine in engines.items()})
    if len(parts) != 2 or parts[0] not in engines:
        return Reply(404, {"error": f"no control route /control/{path}"})
    engine, command = engines[parts[0]], parts[1]
    handler = ROUTES.get(command) or _exchange_command(engine, command)
    if handler is None:
        return Reply(404, {"error": f"{engine.name} has no control command {command!r}"})
    try:
        body = handler(engine, params, now)
    except (BadRequest, UnknownPair, ValueError) as exc:
        return Reply(400, {"error": _one_line(exc)})
    log.info("control exchange=%s command=%s params=%s", engine.name, command, params)
    return Reply(200, {"exchange": engine.name, **body})


# Routes


def _trade(engine: Engine, params: Mapping[str, str], now: float) -> dict[str, Any]:
    pair = _pair(engine, params)
    side_text = params.get("side", "buy")
    try:
        side = Side(side_text)
    except ValueError:
        raise BadRequest(f"side must be buy or sell, not {side_text!r}") from None
    price, amount = _decimal(params, "price"), _decimal(params, "amount")
    trade = engine.inject_trade(pair, price, amount, side, now)
    return {
        "pair": pair,
        "trade_id": trade.id,
        "sequence": trade.sequence,
        "time": wire.iso_micros(trade.time),
        "state": _state_json(engine.state(pair)),
    }


def _ticker(engine: Engine, params: Mapping[str, str], now: float) -> dict[str, Any]:
    pair = _pair(engine, params)
    names = ("bid", "ask", "last", "bid_size", "ask_size")
    values = {name: _decimal(params, name) for name in names if name in params}
    if not values:
        raise BadRequest(f"give at least one of {', '.join(names)}")
    state = engine.set_quote(pair, now, **values)
    return {"pair": pair, "state": _state_json(state)}


def _market(engine: Engine, params: Mapping[str, str], now: float) -> dict[str, Any]:
    pair = _pair(engine, params)
    return {"pair": pair, "state": _state_json(engine.state(pair))}


def _drop(engine: Engine, params: Mapping[str, str], now: float) -> dict[str, Any]:
    mode = params.get("mode", "abort")
    if mode not in ("abort", "close"):
        raise BadRequest("mode must be abort (no close frame) or close (normal close frame)")
    if mode == "close":
        count = engine.broadcast([Close(1000, "")])
    else:
        links = engine.links()
        for link in links:
            link.abort()
        count = len(links)
    return {"dropped": count, "mode": mode}


def _silence(engine: Engine, params: Mapping[str, str], now: float) -> dict[str, Any]:
    seconds = _number(params, "seconds")
    engine.silence(seconds, now)
    return {"silent_for": seconds}


def _send(engine: Engine, params: Mapping[str, str], now: float) -> dict[str, Any]:
    if "text" not in params:
        raise BadRequest("missing parameter text")
    return {"sent_to": engine.broadcast([Send(params["text"])])}


def _rate(engine: Engine, params: Mapping[str, str], now: float) -> dict[str, Any]:
    rate = _number(params, "value")
    engine.set_rate(rate)
    return {"rate": rate}


def _fail_rest(engine: Engine, params: Mapping[str, str], now: float) -> dict[str, Any]:
    count, status = _whole(params, "count", 1), _whole(params, "status", 503)
    if not 500 <= status <= 599 and status != 429:
        raise BadRequest(f"status must be a 5xx or 429, not {status}")
    engine.fail_rest(count, status)
    return {"rest_failures_left": count, "status": status}


ROUTES: dict[str, Handler] = {
    "trade": _trade,
    "ticker": _ticker,
    "market": _market,
    "drop": _drop,
    "silence": _silence,
    "send": _send,
    "rate": _rate,
    "fail_rest": _fail_rest,
}


def _exchange_command(engine: Engine, command: str) -> Handler | None:
    """Wrap an exchange's own command (e.g. Bitfinex ``info``) as a broadcast route."""
    action_builder = engine.spec.commands.get(command)
    if action_builder is None:
        return None

    def run(engine: Engine, params: Mapping[str, str], now: float) -> dict[str, Any]:
        return {"sent_to": engine.broadcast(action_builder(params))}

    return run


# Parameters


def _pair(engine: Engine, params: Mapping[str, str]) -> str:
    pair = params.get("pair", "").upper()
    if not engine.market.knows(pair):
        raise BadRequest(
            f"{engine.name} does not list pair {pair!r} (use BASE-QUOTE, e.g. BTC-USD)"
        )
    return pair


def _decimal(params: Mapping[str, str], name: str) -> Decimal:
    text = params.get(name)
    if text is None:
        raise BadRequest(f"missing parameter {name}")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadRequest(f"{name} must be a decimal number, not {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise BadRequest(f"{name} must be a positive number, not {text!r}")
    return value


def _number(params: Mapping[str, str], name: str) -> float:
    text = params.get(name)
    try:
        value = float(text) if text is not None else -1.0
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise BadRequest(f"{name} must be a number >= 0, not {text!r}")
    return value


def _whole(params: Mapping[str, str], name: str, default: int) -> int:
    text = params.get(name, str(default))
    if not (text.isascii() and text.isdigit()):
        raise BadRequest(f"{name} must be a whole number >= 0, not {text!r}")
    return int(text)


def _state_json(state: PairState) -> dict[str, Any]:
    """The pair's state with every decimal as its exact string, for test expectations."""
    text = wire.decimal_text
    return {
        "bid": text(state.bid),
        "bid_size": text(state.bid_size),
        "ask": text(state.ask),
        "ask_size": text(state.ask_size),
        "last": text(state.last),
        "open_24h": text(state.open_24h),
        "high_24h": text(state.high_24h),
        "low_24h": text(state.low_24h),
        "volume_24h": text(state.volume_24h),
        "volume_30d": text(state.volume_30d),
        "sequence": state.sequence,
        "last_trade_id": state.last_trade.id,
    }


def _one_line(exc: BaseException) -> str:
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(str(text).split())
