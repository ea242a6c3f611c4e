"""Alert rules: what a user asks to be told about, validated once, with exact decimals.

A rule is one of six kinds:

- ``price_above`` / ``price_below``: the ``field`` (``last`` by default, or ``bid`` / ``ask``) of
  one exchange, or of any exchange for the pair (``exchange`` left out), reaches ``value``
  (``>=`` / ``<=``). "Any exchange" means the highest (above) or lowest (below) value among the
  exchanges currently live for the pair.
- ``move_pct``: the last price of one exchange (or of any one exchange) moved at least ``value``
  percent, either way, within the last ``window_s`` seconds (by the records' own times).
- ``spread_above``: the cross-exchange spread of the pair (lowest ask minus highest bid among
  the exchanges currently live for it, the board's spread) reaches ``value``.
- ``crossed``: the highest bid among the live exchanges of the pair is above the lowest ask.
- ``feed_down``: a feed (``exchange`` and ``pair``, either left out for any) has been stale,
  reconnecting or in error, without being live in between, for ``seconds``.

Only one canonical pair is ever compared with itself: ``BTC-USDT`` is never mixed with
``BTC-USD``.

Every rule fires once per event: after firing it is disarmed until its condition has cleared
by ``hysteresis`` (in the unit of ``value``; by default 0.1 % of the level for prices, 20 % of
``value`` for moves and spreads, 0 for ``crossed``; ``feed_down`` re-arms when the feed is
live again), and it never fires twice within ``cooldown_s`` seconds (default 60).

``parse_rule`` reads a rule from JSON or TOML data and raises ``RuleError`` whose message starts
with the field at fault, as the HTTP API answers it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from exchanges.pairs import PairError, parse_pair
from exchanges.records import format_decimal


class Kind(StrEnum):
    PRICE_ABOVE = "price_above"
    PRICE_BELOW = "price_below"
    MOVE_PCT = "move_pct"
    SPREAD_ABOVE = "spread_above"
    CROSSED = "crossed"
    FEED_DOWN = "feed_down"


PRICE_KINDS = (Kind.PRICE_ABOVE, Kind.PRICE_BELOW)
CROSS_KINDS = (Kind.SPREAD_ABOVE, Kind.CROSSED)
PRICE_FIELDS = ("last", "bid", "ask")
SEVERITIES = ("info", "warning", "critical")
DEFAULT_SEVERITY = {
    Kind.PRICE_ABOVE: "info", Kind.PRICE_BELOW: "info", Kind.MOVE_PCT: "warning",
    Kind.SPREAD_ABOVE: "warning", Kind.CROSSED: "warning", Kind.FEED_DOWN: "critical",
}
DEFAULT_COOLDOWN_S = 60.0
DEFAULT_WINDOW_S = 60.0
DEFAULT_DOWN_SECONDS = 60.0
MAX_MESSAGE = 200
MAX_NUMBER_TEXT = 40  # characters of a decimal value
# the default hysteresis, as a fraction of ``value``
PRICE_MARGIN = Decimal("0.001")
MOVE_MARGIN = Decimal("0.2")
SPREAD_MARGIN = Decimal("0.2")

COMMON_FIELDS = ("kind", "pair", "exchange", "cooldown_s", "severity", "message")
# the fields each kind takes besides the common ones
KIND_FIELDS: dict[Kind, tuple[str, ...]] = {
    Kind.PRICE_ABOVE: ("value", "field", "hysteresis"),
    Kind.PRICE_BELOW: ("value", "field", "hysteresis"),
    Kind.MOVE_PCT: ("value", "window_s", "hysteresis"),
    Kind.SPREAD_ABOVE: ("value", "hysteresis"),
    Kind.CROSSED: ("hysteresis",),
    Kind.FEED_DOWN: ("seconds",),
}
ALL_FIELDS = frozenset(COMMON_FIELDS).union(*KIND_FIELDS.values())


class RuleError(ValueError):
    """A rule can't be used; the message starts with the field at fault: ``"value: ..."``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Rule:
    """One validated rule. ``id`` is 0 until storage gave it one."""

    kind: Kind
    pair: str | None
    exchange: str | None = None  # None: any exchange
    field: str | None = None  # price kinds: last, bid or ask
    value: Decimal | None = None
    window_s: float | None = None  # move_pct
    seconds: float | None = None  # feed_down
    cooldown_s: float = DEFAULT_COOLDOWN_S
    hysteresis: Decimal | None = None  # None: the kind's default (``margin``)
    severity: str = "info"
    message: str | None = None  # the user's own words, put before the details
    id: int = 0
    source: str = "api"  # api (made on the page or through the API) or file (ALERTS_FILE)

    @property
    def margin(self) -> Decimal:
        """How far the condition must clear before the rule re-arms."""
        if self.hysteresis is not None:
            return self.hysteresis
        value = self.value or Decimal(0)
        if self.kind in PRICE_KINDS:
            return abs(value) * PRICE_MARGIN
        if self.kind is Kind.MOVE_PCT:
            return value * MOVE_MARGIN
        if self.kind is Kind.SPREAD_ABOVE:
            return abs(value) * SPREAD_MARGIN
        return Decimal(0)

    def spec(self) -> dict[str, Any]:
        """The rule as the user wrote it (JSON types, decimals as strings), without id/source."""
        data: dict[str, Any] = {"kind": self.kind.value, "pair": self.pair,
                                "exchange": self.exchange, "cooldown_s": self.cooldown_s,
                                "severity": self.severity, "message": self.message}
        for name in KIND_FIELDS[self.kind]:
            value = getattr(self, name)
            data[name] = format_decimal(value) if isinstance(value, Decimal) else value
        return data

    def to_json(self) -> dict[str, Any]:
        """Every field, those the kind doesn't take as null, for ``GET /api/alerts``."""
        data = {name: None for name in ("field", "value", "window_s", "seconds", "hysteresis")}
        data.update(self.spec())
        return {"id": self.id, **data, "source": self.source}

    def key(self) -> str:
        """A digest of what the rule says: the same rule in ALERTS_FILE gives the same key at
        every start, so seeding is idempotent."""
        text = json.dumps(self.spec(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def with_id(self, rule_id: int, source: str | None = None) -> Rule:
        return replace(self, id=rule_id, source=source or self.source)


def parse_rule(data: object, exchanges: Collection[str] | None = None) -> Rule:
    """Validate one rule from decoded JSON or TOML (decimals may come as ``Decimal``, ``int``,
    ``float`` or text); ``exchanges`` are the names ``exchange`` may take (None: any).

    Unknown fields, and fields the kind doesn't take, are refused rather than ignored: a typo
    (``window`` for ``window_s``) must not silently give another rule.
    """
    if not isinstance(data, Mapping):
        raise RuleError("rule", "expected an object of fields")
    for name in data:
        if name not in ALL_FIELDS:
            raise RuleError(str(name), f"unknown field (fields: {', '.join(sorted(ALL_FIELDS))})")
    raw_kind = data.get("kind")
    if raw_kind is None:
        raise RuleError("kind", f"required: one of {', '.join(Kind)}")
    try:
        kind = Kind(raw_kind) if isinstance(raw_kind, str) else None
    except ValueError:
        kind = None
    if kind is None:
        raise RuleError("kind", f"{raw_kind!r} is not one of {', '.join(Kind)}")
    allowed = set(COMMON_FIELDS) | set(KIND_FIELDS[kind])
    for name in data:
        if name not in allowed and data[name] is not None:
            raise RuleError(name, f"not used by {kind.value}")

    pair = _pair(data.get("pair"), required=kind is not Kind.FEED_DOWN)
    exchange = _exchange(data.get("exchange"), exchanges)
    if exchange is not None and kind in CROSS_KINDS:
        raise RuleError("exchange", f"{kind.value} compares every live exchange of the pair: "
                                    "leave it out")
    severity = data.get("severity") or DEFAULT_SEVERITY[kind]
    if severity not in SEVERITIES:
        raise RuleError("severity", f"{severity!r} is not one of {', '.join(SEVERITIES)}")
    rule = Rule(kind=kind, pair=pair, exchange=exchange, severity=severity,
                cooldown_s=_seconds(data, "cooldown_s", DEFAULT_COOLDOWN_S, 0, 7 * 86400),
                message=_message(data.get("message")))

    if kind in PRICE_KINDS:
        field = data.get("field") or "last"
        if field not in PRICE_FIELDS:
            raise RuleError("field", f"{field!r} is not one of {', '.join(PRICE_FIELDS)}")
        value = _decimal(data, "value", required=True)
        if value <= 0:
            raise RuleError("value", "must be a price above 0")
        rule = replace(rule, field=field, value=value)
    elif kind is Kind.MOVE_PCT:
        value = _decimal(data, "value", required=True)
        if not 0 < value <= 1000:
            raise RuleError("value", "must be a percentage above 0 and at most 1000")
        rule = replace(rule, value=value,
                       window_s=_seconds(data, "window_s", DEFAULT_WINDOW_S, 1, 86400))
    elif kind is Kind.SPREAD_ABOVE:
        value = _decimal(data, "value", required=True)
        if value < 0:
            raise RuleError("value", "must be a spread of 0 or more")
        rule = replace(rule, value=value)
    elif kind is Kind.FEED_DOWN:
        rule = replace(rule, seconds=_seconds(data, "seconds", DEFAULT_DOWN_SECONDS, 1, 86400))

    if "hysteresis" in KIND_FIELDS[kind] and data.get("hysteresis") is not None:
        margin = _decimal(data, "hysteresis", required=True)
        if margin < 0:
            raise RuleError("hysteresis", "must be 0 or more")
        if kind is Kind.MOVE_PCT and rule.value is not None and margin >= rule.value:
            raise RuleError("hysteresis", "must be less than value (both in percent)")
        rule = replace(rule, hysteresis=margin)
    return rule


def _pair(raw: object, *, required: bool) -> str | None:
    if raw is None or raw == "":
        if required:
            raise RuleError("pair", "required, e.g. BTC-USD")
        return None
    if not isinstance(raw, str):
        raise RuleError("pair", "expected text such as BTC-USD")
    try:
        return parse_pair(raw)
    except PairError as exc:
        raise RuleError("pair", str(exc)) from None


def _exchange(raw: object, exchanges: Collection[str] | None) -> str | None:
    if raw is None or raw == "" or raw == "any":
        return None
    if not isinstance(raw, str):
        raise RuleError("exchange", "expected an exchange name, or nothing for any exchange")
    name = raw.strip().lower()
    if exchanges is not None and name not in exchanges:
        known = ", ".join(sorted(exchanges))
        raise RuleError("exchange", f"{raw!r} is not streamed here (exchanges: {known})")
    return name


def _decimal(data: Mapping[str, Any], name: str, *, required: bool) -> Decimal:
    raw = data.get(name)
    if raw is None:
        if required:
            raise RuleError(name, "required: a number such as 45000 or \"45000.5\"")
        return Decimal(0)
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise RuleError(name, f"{raw!r} is not a number")
    if isinstance(raw, float):
        raw = repr(raw)  # the shortest text that reads back as this float: 0.1, not 0.1000...
    text = str(raw).strip().replace("_", "")
    if len(text) > MAX_NUMBER_TEXT:
        raise RuleError(name, f"at most {MAX_NUMBER_TEXT} characters")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RuleError(name, f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise RuleError(name, f"{raw!r} is not a finite number")
    return value + 0  # normalizes -0 to 0, keeps the digits


def _seconds(data: Mapping[str, Any], name: str, default: float, low: float, high: float
             ) -> float:
    raw = data.get(name)
    if raw is None:
        return default
    value = float(_decimal(data, name, required=True))
    if not (math.isfinite(value) and low <= value <= high):
        raise RuleError(name, f"must be a number of seconds from {low:g} to {high:g}")
    return value


def _message(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise RuleError("message", "expected text")
    text = " ".join(raw.split())
    if len(text) > MAX_MESSAGE:
        raise RuleError("message", f"at most {MAX_MESSAGE} characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise RuleError("message", "control characters are not allowed")
    return text or None
