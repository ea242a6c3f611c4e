"""Coinbase Exchange ws-feed, channels ``ticker``, ``matches`` and ``heartbeat`` (protocols doc §2).

Frames follow the docs and the recorded session ``COINBASE.ws.28.0``: JSON objects tagged by
``type``, prices and sizes as strings, ``time`` in ISO-8601 UTC with microseconds.

    {"type":"subscriptions","channels":[{"name":"ticker","product_ids":["BTC-USD"]}]}
    {"type":"ticker","sequence":..,"product_id":"BTC-USD","price":"43210.50",...,"side":"buy",...}
    {"type":"match","trade_id":..,"maker_order_id":"..","taker_order_id":"..","side":"sell",...}
    {"type":"heartbeat","sequence":..,"last_trade_id":..,"product_id":"BTC-USD","time":".."}

Rules kept from the real feed: a client that sends no subscribe within 5 s is disconnected;
a subscribe naming any unknown product subscribes nothing and answers an error plus the
subscriptions list; ``side`` is the taker's in ``ticker`` but the maker's in ``match``; the
first trade message after subscribing to ``matches`` is a ``last_match`` carrying the most
recent trade; a ``ticker`` subscription gets the current ticker at once.

REST (Exchange REST API, Products), from the same market:

    GET /products/BTC-USD/ticker            {"trade_id","price","size","bid","ask","volume","time"}
    GET /products/BTC-USD/trades?limit=N    [{"time","trade_id","price","size","side"},...], newest
                                            first, ``side`` the MAKER's; limit 1..1000, default 100
    unknown product                         HTTP 404 {"message":"NotFound"}

Not simulated: ``level2``/``full``/``status``/batch channels (answered "not a valid channel")
and authentication. Error ``reason`` texts for malformed input are our own wording.

Fast mode (``FAST``, ``simulator.fast``): per pair the round ``match, ticker``, one trade; the
maker and taker order ids are the market moment's, not hashed from each trade's id.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from simulator import wire
from simulator.catalogue import PRODUCTS, split_pair
from simulator.market import Market, PairState, Side, Trade
from simulator.peer import (
    Action,
    Close,
    ExchangeSpec,
    FastSpec,
    FastStep,
    Peer,
    PeerOptions,
    RestReply,
    Send,
)

CHANNELS = ("ticker", "matches", "heartbeat")
HEARTBEAT_INTERVAL = 1.0  # one heartbeat per second per product, as the real feed
_SUBSCRIBE_TIMEOUT_CLOSE = (1000, "no subscribe message received")


class SubscribeError(ValueError):
    """A subscribe/unsubscribe the feed refuses; the text is the error's ``reason``."""


class CoinbasePeer(Peer):
    """One connection to the simulated ``wss://ws-feed.exchange.coinbase.com``."""

    def __init__(
        self, market: Market, rng: random.Random, options: PeerOptions, now: float
    ) -> None:
        super().__init__(market, rng, options, now)
        # channel -> product ids, both in first-subscribed order (the ack lists them that way)
        self._subscribed: dict[str, list[str]] = {}
        self._asked_to_subscribe = False  # any subscribe message stops the 5 s timer
        self._timed_out = False
        self._heartbeat_due: dict[str, float] = {}

    # Peer interface

    def opened(self, now: float) -> list[Action]:
        return []  # the feed says nothing until the client subscribes

    def receive(self, text: str, now: float) -> list[Action]:
        try:
            message = json.loads(text)
        except ValueError:
            return [_error("Malformed JSON")]
        kind = message.get("type") if isinstance(message, dict) else None
        if kind not in ("subscribe", "unsubscribe"):
            return [_error("Failed to subscribe", "type has to be either subscribe or unsubscribe")]
        if kind == "subscribe":
            self._asked_to_subscribe = True
        try:
            requested = _requested(message)
            if kind == "subscribe":
                self._check_products(requested)
        except SubscribeError as exc:
            return [_error("Failed to subscribe", str(exc)), self._ack()]
        if kind == "unsubscribe":
            self._remove(requested)
            return [self._ack()]
        added = self._add(requested, now)
        return [self._ack(), *self._first_frames(added)]

    def tick(self, now: float) -> list[Action]:
        if not self._asked_to_subscribe and not self._timed_out:
            if now - self.opened_at >= self.options.subscribe_timeout:
                self._timed_out = True
                return [Close(*_SUBSCRIBE_TIMEOUT_CLOSE)]
            return []
        actions: list[Action] = []
        for product, due in self._heartbeat_due.items():
            if now >= due:
                actions.append(self._heartbeat(product, now))
                # keep a 1 s cadence, but never burst to catch up after a stall
                self._heartbeat_due[product] = max(due + HEARTBEAT_INTERVAL, now)
        return actions

    def on_trade(self, pair: str, trade: Trade, now: float) -> list[Action]:
        actions: list[Action] = []
        if pair in self._subscribed.get("matches", ()):
            actions.append(Send(wire.dumps(_match("match", pair, trade))))
        if pair in self._subscribed.get("ticker", ()):
            actions.append(self._ticker(pair))
        return actions

    def on_quote(self, pair: str, now: float) -> list[Action]:
        return [self._ticker(pair)] if pair in self._subscribed.get("ticker", ()) else []

    def subscriptions(self) -> list[tuple[str, str]]:
        return [(name, pair) for name, pairs in self._subscribed.items() for pair in pairs]

    # Subscriptions

    def _check_products(self, requested: list[tuple[str, list[str]]]) -> None:
        for _, products in requested:
            for product in products:
                if not self.market.knows(product):
                    raise SubscribeError(f"{product} is not a valid product")

    def _add(self, requested: list[tuple[str, list[str]]], now: float) -> list[tuple[str, str]]:
        added: list[tuple[str, str]] = []
        for name, products in requested:
            current = self._subscribed.setdefault(name, [])
            for product in products:
                if product not in current:
                    current.append(product)
                    added.append((name, product))
                    if name == "heartbeat":
                        self._heartbeat_due[product] = now
        return added

    def _remove(self, requested: list[tuple[str, list[str]]]) -> None:
        for name, products in requested:
            current = self._subscribed.get(name, [])
            for product in products or list(current):
                if product in current:
                    current.remove(product)
                    if name == "heartbeat":
                        self._heartbeat_due.pop(product, None)
            if not current:
                self._subscribed.pop(name, None)

    def _ack(self) -> Send:
        channels = [
            {"name": name, "product_ids": list(products)}
            for name, products in self._subscribed.items()
            if products
        ]
        return Send(wire.dumps({"type": "subscriptions", "channels": channels}))

    def _first_frames(self, added: list[tuple[str, str]]) -> list[Action]:
        """The current ticker for each new ticker product, then ``last_match`` for matches."""
        tickers = [self._ticker(product) for name, product in added if name == "ticker"]
        last_matches = [
            Send(wire.dumps(_match("last_match", product, self.market.state(product).last_trade)))
            for name, product in added
            if name == "matches"
        ]
        return [*tickers, *last_matches]

    # Frames

    def _ticker(self, product: str) -> Send:
        return Send(wire.dumps(_ticker_fields(product, self.market.state(product))))

    def _heartbeat(self, product: str, now: float) -> Send:
        state = self.market.state(product)
        frame = {
            "type": "heartbeat",
            "sequence": state.sequence,
            "last_trade_id": state.last_trade.id,
            "product_id": product,
            "time": wire.iso_micros(datetime.fromtimestamp(now, UTC)),
        }
        return Send(wire.dumps(frame))


def _ticker_fields(product: str, state: PairState) -> dict[str, Any]:
    """A ``ticker``: the book, the 24 h statistics and the last trade (``side`` the taker's)."""
    trade = state.last_trade
    text = wire.decimal_text
    return {
        "type": "ticker",
        "sequence": state.sequence,
        "product_id": product,
        "price": text(state.last),
        "open_24h": text(state.open_24h),
        "volume_24h": text(state.volume_24h),
        "low_24h": text(state.low_24h),
        "high_24h": text(state.high_24h),
        "volume_30d": text(state.volume_30d),
        "best_bid": text(state.bid),
        "best_bid_size": text(state.bid_size),
        "best_ask": text(state.ask),
        "best_ask_size": text(state.ask_size),
        "side": trade.side.value,  # the taker's side
        "time": wire.iso_micros(trade.time),
        "trade_id": trade.id,
        "last_size": text(trade.size),
    }


def _requested(message: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """(channel, product ids) pairs from either documented subscribe form.

    Root ``product_ids`` apply to channels named by a bare string or by an object without its
    own ``product_ids``; an object whose ``product_ids`` is empty is refused even when root ids
    exist (the real feed answers ``" is not a valid product"``).
    """
    root = message.get("product_ids", [])
    channels = message.get("channels")
    if not isinstance(channels, list) or not channels:
        raise SubscribeError("No channels provided")
    if not _is_id_list(root):
        raise SubscribeError("product_ids must be a list of product ids")
    requested: list[tuple[str, list[str]]] = []
    for entry in channels:
        if isinstance(entry, str):
            name, products = entry, root
        elif isinstance(entry, dict):
            name, products = entry.get("name"), entry.get("product_ids", root)
            if "product_ids" in entry and products == []:
                raise SubscribeError(" is not a valid product")
        else:
            raise SubscribeError("channels must be names or objects")
        if name not in CHANNELS:
            raise SubscribeError(f"{name} is not a valid channel")
        if not _is_id_list(products):
            raise SubscribeError("product_ids must be a list of product ids")
        if not products and message.get("type") == "subscribe":
            raise SubscribeError(f"You need to specify at least one product ID for channel {name}")
        requested.append((name, list(products)))
    return requested


def _is_id_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _error(message: str, reason: str | None = None) -> Send:
    fields = {"type": "error", "message": message}
    if reason is not None:
        fields["reason"] = reason
    return Send(wire.dumps(fields))


def _match(kind: str, product: str, trade: Trade) -> dict[str, Any]:
    """A ``match``/``last_match``; ``side`` is the MAKER's, the opposite of the taker's."""
    return {
        "type": kind,
        "trade_id": trade.id,
        "maker_order_id": _order_id(product, trade.id, "maker"),
        "taker_order_id": _order_id(product, trade.id, "taker"),
        "side": _maker_side(trade).value,
        "size": wire.decimal_text(trade.size),
        "price": wire.decimal_text(trade.price),
        "product_id": product,
        "sequence": trade.sequence,
        "time": wire.iso_micros(trade.time),
    }


def _order_id(product: str, trade_id: int, role: str) -> str:
    """A UUIDv4-shaped order id, the same for every connection that sees the trade."""
    digest = hashlib.sha256(f"{product}:{trade_id}:{role}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _maker_side(trade: Trade) -> Side:
    return Side.SELL if trade.side is Side.BUY else Side.BUY


_REST_TRADES_LIMIT = (1, 100, 1000)  # least, default, most
_REST_NOT_FOUND = RestReply(404, {"message": "NotFound"})


def rest(market: Market, parts: Sequence[str], params: Mapping[str, str]) -> RestReply:
    """Answer ``GET /products``, ``GET /products/{id}/ticker`` and ``GET /products/{id}/trades``
    (see the module docstring); product ids are case-insensitive, any other path is a 404."""
    match list(parts):
        case ["products"]:
            return RestReply(200, [_rest_product(pair) for pair in PRODUCTS if market.knows(pair)])
        case ["products", product, ("ticker" | "trades") as kind]:
            pair = product.upper()
            if not market.knows(pair):
                return _REST_NOT_FOUND
            state = market.state(pair)
            if kind == "ticker":
                return RestReply(200, _rest_ticker(state))
            least, default, most = _REST_TRADES_LIMIT
            text = params.get("limit", str(default))
            if not (text.isascii() and text.isdigit() and least <= int(text) <= most):
                return RestReply(400, {"message": f"limit must be {least}..{most}"})
            return RestReply(200, [_rest_trade(trade) for trade in state.recent[: int(text)]])
    return _REST_NOT_FOUND


def _rest_product(pair: str) -> dict[str, Any]:
    """One row of Get all known trading pairs (the fields a client reads; the real one has more)."""
    base, quote = split_pair(pair)
    return {"id": pair, "base_currency": base, "quote_currency": quote, "display_name": pair,
            "status": "online", "trading_disabled": False, "cancel_only": False,
            "post_only": False, "limit_only": False, "auction_mode": False}


def _rest_ticker(state: PairState) -> dict[str, Any]:
    trade, text = state.last_trade, wire.decimal_text
    return {
        "trade_id": trade.id,
        "price": text(state.last),
        "size": text(trade.size),
        "bid": text(state.bid),
        "ask": text(state.ask),
        "volume": text(state.volume_24h),
        "time": wire.iso_micros(trade.time),
    }


def _rest_trade(trade: Trade) -> dict[str, Any]:
    return {
        "time": wire.iso_micros(trade.time),
        "trade_id": trade.id,
        "price": wire.decimal_text(trade.price),
        "size": wire.decimal_text(trade.size),
        "side": _maker_side(trade).value,  # the MAKER's, as in ``match``
    }


def fast_render(market: Market, pair: str, state: PairState, now: float) -> dict[str, str]:
    """Fast mode's bodies: the ``match`` of the moment's last trade and the ``ticker``."""
    return {
        "match": wire.dumps(_match("match", pair, state.last_trade)),
        "ticker": wire.dumps(_ticker_fields(pair, state)),
    }


FAST = FastSpec(
    steps=(FastStep("match", "matches", new_trade=True, has_trade=True),
           FastStep("ticker", "ticker", has_trade=True)),
    render=fast_render,
)

SPEC = ExchangeSpec(name="coinbase", peer=CoinbasePeer, rest=rest, fast=FAST)
