"""Evaluate alert rules against the stream of records: pure, no I/O, exact decimals.

``AlertEngine.observe`` takes every record the hub publishes (ticker, trade, status) and costs
O(rules for that pair): rules are indexed by (exchange, pair) for one exchange's rules and by
pair for "any exchange" and cross-exchange ones; a record of a pair without rules only updates
that feed's latest quote (two dictionary look-ups). ``tick`` checks the ``feed_down`` timers
and is called now and then (every hub flush); it does nothing while every feed is up.

What fired waits in ``drain()`` for the caller, with the rule states to persist (disarmed,
re-armed, last fired), so that a restarted server neither fires again for the event it already
told about nor forgets to re-arm.

Time: ``move_pct`` windows use the records' own times (an exchange's snapshot of old trades is
not a move); cooldowns and ``feed_down`` use the injected ``clock`` (UTC wall time).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from exchanges.records import FeedState, Record, Status, Ticker, Trade, format_decimal

from .rules import CROSS_KINDS, PRICE_KINDS, Kind, Rule

FeedKey = tuple[str, str]
DOWN_STATES = (FeedState.STALE, FeedState.RECONNECTING, FeedState.ERROR)
# a move window keeps at most this many points (closer ones are merged), whatever the rate
WINDOW_POINTS = 1000
PERCENT_PLACES = Decimal("0.01")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule fired. ``time`` is the time of the record that fired it (``feed_down``: the time
    the feed had been down long enough); ``value`` the exact value that fired it (a price, a
    spread, a move in percent, or seconds down)."""

    rule: Rule
    exchange: str | None
    pair: str | None
    value: str
    message: str
    time: datetime
    fired_at: datetime


class Extremes:
    """The lowest and highest value of the last ``span`` microseconds, in O(1) amortized.

    Two monotonic deques of ``[first time, last time, value]``. A point less than ``step``
    after the first time of the deque's newest entry is merged into it (the entry keeps the
    extreme value and takes the point's time), so a deque never holds more than
    ``span / step + 1`` entries whatever the rate; a merged extreme may then stay up to
    ``step`` longer than ``span``. An entry is in the window while ``now - last time <= span``.
    Times going backwards (another clock's record) count as the latest time.
    """

    __slots__ = ("highs", "last", "lows", "span", "step")

    def __init__(self, span: int, step: int) -> None:
        self.span = span
        self.step = step
        self.lows: deque[list[Any]] = deque()
        self.highs: deque[list[Any]] = deque()
        self.last = -(2**62)

    def add(self, when: int, value: Decimal) -> None:
        when = max(when, self.last)
        self.last = when
        _push(self.highs, when, value, self.step, higher=True)
        _push(self.lows, when, value, self.step, higher=False)
        oldest = when - self.span
        highs, lows = self.highs, self.lows
        while highs[0][1] < oldest:
            highs.popleft()
        while lows[0][1] < oldest:
            lows.popleft()

    @property
    def low(self) -> Decimal:
        return self.lows[0][2]

    @property
    def high(self) -> Decimal:
        return self.highs[0][2]


def _push(entries: deque[list[Any]], when: int, value: Decimal, step: int, *, higher: bool
          ) -> None:
    """Add a point to a monotonic deque (decreasing values for ``higher``, else increasing)."""
    while entries and (entries[-1][2] <= value if higher else entries[-1][2] >= value):
        entries.pop()
    if entries and when - entries[-1][0] < step:
        entries[-1][1] = when  # merged: the newest entry's extreme now lasts until this point's
    else:
        entries.append([when, when, value])


class _Feed:
    """What the engine knows of one (exchange, pair): its latest quote and whether it is live."""

    __slots__ = ("ask", "bid", "exchange", "last", "live")

    def __init__(self, exchange: str) -> None:
        self.exchange = exchange
        self.bid: Decimal | None = None
        self.ask: Decimal | None = None
        self.last: Decimal | None = None
        self.live = True  # until a status says otherwise (the listener says live before data)


@dataclass(slots=True)
class _Down:
    since: datetime
    state: str
    detail: str


# what changed in a feed's quote with a record: bits, per price field
LAST, BID, ASK = 1, 2, 4
FIELD_BITS = {"last": LAST, "bid": BID, "ask": ASK}


class _State:
    """One rule, its levels worked out once, and where it stands."""

    __slots__ = ("above", "armed", "bit", "clear", "cleared", "feed_fired_at", "field",
                 "fired_feeds", "held", "kind", "last_fired", "level", "rest", "rule", "seen",
                 "span", "windows")

    def __init__(self, rule: Rule, armed: bool = True, last_fired: datetime | None = None
                 ) -> None:
        self.rule = rule
        self.kind = rule.kind
        self.armed = armed
        self.last_fired = last_fired
        # armed and its condition met during the cooldown: evaluated again on every record
        self.held = False
        self.field = rule.field or "last"
        self.bit = FIELD_BITS.get(self.field, LAST)
        self.above = rule.kind is not Kind.PRICE_BELOW
        value = rule.value if rule.value is not None else Decimal(0)
        margin = rule.margin
        self.level = value
        # the value the condition must clear to re-arm: below it for price_above,
        # spread_above (and at or above it for crossed), above it for price_below
        if rule.kind is Kind.PRICE_BELOW:
            self.clear = value + margin
        elif rule.kind is Kind.CROSSED:
            self.clear = margin
        else:
            self.clear = value - margin
        self.rest = value - margin  # move_pct: the move in percent below which it re-arms
        self.span = int((rule.window_s or 0) * 1_000_000)
        # move_pct: a window per exchange, what it last evaluated there, and whether the move
        # there has cleared
        self.windows: dict[str, Extremes] = {}
        self.seen: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
        self.cleared: dict[str, bool] = {}
        # feed_down: the feeds it fired for and not seen live since; its last firing per feed
        self.fired_feeds: set[FeedKey] = set()
        self.feed_fired_at: dict[FeedKey, datetime] = {}


class AlertEngine:
    """Rules, the market state they need, and what fired."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._states: dict[int, _State] = {}
        self._by_feed: dict[FeedKey, list[_State]] = {}  # price and move rules of one exchange
        self._by_pair: dict[str, list[_State]] = {}  # price and move rules of any exchange
        self._cross: dict[str, list[_State]] = {}  # spread_above and crossed
        self._down_rules: list[_State] = []  # feed_down
        self._feeds: dict[FeedKey, _Feed] = {}
        self._pairs: dict[str, dict[str, _Feed]] = {}  # pair -> exchange -> feed
        self._down: dict[FeedKey, _Down] = {}
        self._fired: list[Firing] = []
        self._changes: dict[int, tuple[bool, datetime | None]] = {}

    # -- rules ------------------------------------------------------------------------------------

    def load(self, rules: Iterable[tuple[Rule, bool, datetime | None]]) -> None:
        """Replace every rule: (rule, armed, last fired) as storage holds them."""
        for rule_id in list(self._states):
            self.remove(rule_id)
        for rule, armed, last_fired in rules:
            self.add(rule, armed, last_fired)

    def add(self, rule: Rule, armed: bool = True, last_fired: datetime | None = None) -> None:
        """Start evaluating ``rule`` (its ``id`` must be unique); from the next record on."""
        if rule.id in self._states:
            self.remove(rule.id)
        state = _State(rule, armed, last_fired)
        self._states[rule.id] = state
        for index in self._indexes(rule):
            index.append(state)

    def remove(self, rule_id: int) -> bool:
        state = self._states.pop(rule_id, None)
        if state is None:
            return False
        for index in self._indexes(state.rule):
            index.remove(state)
        for table in (self._by_feed, self._by_pair, self._cross):
            for key in [key for key, states in table.items() if not states]:
                del table[key]  # type: ignore[arg-type]
        self._changes.pop(rule_id, None)
        return True

    def _indexes(self, rule: Rule) -> list[list[_State]]:
        if rule.kind is Kind.FEED_DOWN:
            return [self._down_rules]
        assert rule.pair is not None
        if rule.kind in CROSS_KINDS:
            return [self._cross.setdefault(rule.pair, [])]
        if rule.exchange is None:
            return [self._by_pair.setdefault(rule.pair, [])]
        return [self._by_feed.setdefault((rule.exchange, rule.pair), [])]

    def rules(self) -> list[tuple[Rule, bool, datetime | None]]:
        return [(s.rule, s.armed, s.last_fired) for s in self._states.values()]

    def __len__(self) -> int:
        return len(self._states)

    def drain(self) -> tuple[list[Firing], dict[int, tuple[bool, datetime | None]]]:
        """What fired since the last call, and the rule states that changed (rule id ->
        (armed, last fired)) for storage."""
        fired, self._fired = self._fired, []
        changes, self._changes = self._changes, {}
        return fired, changes

    # -- records ----------------------------------------------------------------------------------

    def observe(self, record: Record) -> None:
        """Take one record; O(rules for its pair), and a rule whose value did not change with
        the record is not evaluated again."""
        kind = type(record)
        if kind is Ticker:
            key = (record.exchange, record.pair)
            feed = self._feeds.get(key) or self._feed(key)
            changed = 0
            value = record.last  # type: ignore[union-attr]
            if value != feed.last:
                feed.last = value
                changed = LAST
            value = record.bid  # type: ignore[union-attr]
            if value != feed.bid:
                feed.bid = value
                changed |= BID
            value = record.ask  # type: ignore[union-attr]
            if value != feed.ask:
                feed.ask = value
                changed |= ASK
        elif kind is Trade:
            key = (record.exchange, record.pair)
            feed = self._feeds.get(key) or self._feed(key)
            value = record.price  # type: ignore[union-attr]
            changed = 0
            if value != feed.last:
                feed.last = value
                changed = LAST
        elif kind is Status:
            self._status(record)  # type: ignore[arg-type]
            return
        else:
            return
        own = self._by_feed.get(key)
        if own:
            for state in own:
                if state.kind is Kind.MOVE_PCT:
                    self._move(state, record.exchange, record.time, feed.last)
                elif changed & state.bit or state.held:
                    self._price(state, getattr(feed, state.field), record.exchange,
                                record.time)
        anywhere = self._by_pair.get(key[1])
        if anywhere:
            for state in anywhere:
                if state.kind is Kind.MOVE_PCT:
                    self._move(state, record.exchange, record.time, feed.last)
                elif changed & state.bit or state.held:
                    self._any_price(state, record.time)
        if changed & (BID | ASK) and key[1] in self._cross:
            self._cross_check(key[1], record.time)

    def _feed(self, key: FeedKey) -> _Feed:
        feed = self._feeds[key] = _Feed(key[0])
        self._pairs.setdefault(key[1], {})[key[0]] = feed
        return feed

    def _status(self, status: Status) -> None:
        pair = status.pair
        if pair is None:  # the exchange connection: its pairs say the same themselves
            return
        key = (status.exchange, pair)
        feed = self._feeds.get(key) or self._feed(key)
        live = status.state is FeedState.LIVE
        changed = feed.live != live
        feed.live = live
        if live:
            if self._down.pop(key, None) is not None:
                for state in self._down_rules:
                    state.fired_feeds.discard(key)  # re-armed: the feed came back
        elif status.state in DOWN_STATES:
            down = self._down.get(key)
            if down is None:
                self._down[key] = _Down(status.time, status.state.value, status.detail)
            else:  # still the same incident (stale, then reconnecting, ...)
                down.state, down.detail = status.state.value, status.detail
        if changed:
            # a venue joined or left the live ones: "any exchange" values and spreads change
            for state in self._by_pair.get(pair, ()):
                if state.rule.kind in PRICE_KINDS:
                    self._any_price(state, status.time)
            if pair in self._cross:
                self._cross_check(pair, status.time)

    def tick(self) -> None:
        """Fire ``feed_down`` rules whose feed has been down long enough; cheap when all are up."""
        if not self._down or not self._down_rules:
            return
        now = self._clock()
        for key, down in self._down.items():
            for state in self._down_rules:
                rule = state.rule
                if key in state.fired_feeds or not _matches(rule, key):
                    continue
                lasted = (now - down.since).total_seconds()
                assert rule.seconds is not None
                if lasted < rule.seconds:
                    continue
                last = state.feed_fired_at.get(key)
                if last is not None and (now - last).total_seconds() < rule.cooldown_s:
                    continue
                state.fired_feeds.add(key)
                state.feed_fired_at[key] = now
                state.last_fired = now
                self._changes[rule.id] = (state.armed, now)
                text = (f"{key[0]} {key[1]} {down.state} for {lasted:.0f} s"
                        + (f": {down.detail}" if down.detail else ""))
                self._fire(state, key[0], key[1], f"{lasted:.1f}", text, now, now)

    # -- the kinds --------------------------------------------------------------------------------

    def _any_price(self, state: _State, when: datetime) -> None:
        """The highest (above) or lowest (below) value of the field among the live venues."""
        above = state.above
        field = state.field
        best: Decimal | None = None
        venue = None
        for feed in self._pairs.get(state.rule.pair or "", {}).values():
            value = getattr(feed, field)
            if value is None or not feed.live:
                continue
            if best is None or (value > best if above else value < best):
                best, venue = value, feed.exchange
        if best is not None:
            self._price(state, best, venue, when)

    def _price(self, state: _State, value: Decimal | None, exchange: str | None,
               when: datetime) -> None:
        if value is None:
            return
        above = state.above
        if not state.armed:
            if value < state.clear if above else value > state.clear:
                self._rearm(state)
            return
        if not (value >= state.level if above else value <= state.level):
            state.held = False
            return
        if not self._cooled(state):
            state.held = True
            return
        rule = state.rule
        where = f"on {exchange}" if rule.exchange else f"on {exchange} (any exchange)"
        words = "at or above" if above else "at or below"
        text = (f"{rule.pair} {state.field} {format_decimal(value)} {where}: {words} "
                f"{format_decimal(state.level)}")
        self._disarm_and_fire(state, exchange, format_decimal(value) or "", text, when)

    def _move(self, state: _State, exchange: str, when: datetime, price: Decimal | None
              ) -> None:
        if price is None:
            return
        window = state.windows.get(exchange)
        if window is None:
            window = state.windows[exchange] = Extremes(state.span,
                                                        state.span // WINDOW_POINTS)
        window.add((when - _EPOCH) // _MICROSECOND, price)
        low, high = window.low, window.high
        seen = (low, high, price)
        if state.seen.get(exchange) == seen and not state.held:
            return  # nothing that decides changed
        state.seen[exchange] = seen
        if not state.armed:
            rest = state.rest
            state.cleared[exchange] = ((price - low) * 100 < rest * low
                                       and (high - price) * 100 < rest * high)
            # every venue's move has cleared (a venue no longer live doesn't hold it back)
            feeds = self._pairs.get(state.rule.pair or "", {})
            if all(state.cleared.get(name, True) or not (name in feeds and feeds[name].live)
                   for name in state.windows):
                self._rearm(state)
            return
        threshold = state.level
        up = (price - low) * 100 >= threshold * low
        down = (high - price) * 100 >= threshold * high
        if not (up or down):
            state.held = False
            return
        if not self._cooled(state):
            state.held = True
            return
        rise = (price - low) * 100 / low if low else Decimal(0)
        fall = (high - price) * 100 / high if high else Decimal(0)
        if up and (not down or rise >= fall):
            move, start = rise, low
        else:
            move, start = -fall, high
        shown = move.quantize(PERCENT_PLACES)
        sign = "+" if move > 0 else ""
        rule = state.rule
        text = (f"{rule.pair} on {exchange} moved {sign}{format_decimal(shown)} % within "
                f"{rule.window_s:g} s ({format_decimal(start)} to {format_decimal(price)})")
        for name in state.windows:
            state.cleared[name] = False
        self._disarm_and_fire(state, exchange, f"{sign}{format_decimal(shown)}", text, when)

    def _cross_check(self, pair: str, when: datetime) -> None:
        """The pair's cross-exchange spread: lowest ask minus highest bid among live venues."""
        best_bid: Decimal | None = None
        best_ask: Decimal | None = None
        bid_venue = ask_venue = ""
        for feed in self._pairs.get(pair, {}).values():
            if not feed.live or feed.bid is None or feed.ask is None:
                continue
            if best_bid is None or feed.bid > best_bid:
                best_bid, bid_venue = feed.bid, feed.exchange
            if best_ask is None or feed.ask < best_ask:
                best_ask, ask_venue = feed.ask, feed.exchange
        if best_bid is None or best_ask is None:
            return  # no live venue: nothing to say either way
        spread = best_ask - best_bid
        for state in self._cross[pair]:
            rule = state.rule
            if state.kind is Kind.CROSSED:
                hit, clear = spread < 0, spread >= state.clear
            else:
                hit, clear = spread >= state.level, spread < state.clear
            if not state.armed:
                if clear:
                    self._rearm(state)
                continue
            if not hit:
                state.held = False
                continue
            if not self._cooled(state):
                state.held = True
                continue
            venues = (f"bid {format_decimal(best_bid)} on {bid_venue}, "
                      f"ask {format_decimal(best_ask)} on {ask_venue}")
            if rule.kind is Kind.CROSSED:
                text = f"{pair} crossed by {format_decimal(-spread)}: {venues}"
                value = format_decimal(-spread) or ""
            else:
                text = (f"{pair} cross-exchange spread {format_decimal(spread)}: at or above "
                        f"{format_decimal(rule.value)} ({venues})")
                value = format_decimal(spread) or ""
            self._disarm_and_fire(state, None, value, text, when)

    # -- firing -----------------------------------------------------------------------------------

    def _cooled(self, state: _State) -> bool:
        if state.last_fired is None or not state.rule.cooldown_s:
            return True
        return (self._clock() - state.last_fired).total_seconds() >= state.rule.cooldown_s

    def _rearm(self, state: _State) -> None:
        state.armed = True
        self._changes[state.rule.id] = (True, state.last_fired)

    def _disarm_and_fire(self, state: _State, exchange: str | None, value: str, text: str,
                         when: datetime) -> None:
        now = self._clock()
        state.armed = False
        state.held = False
        state.last_fired = now
        self._changes[state.rule.id] = (False, now)
        self._fire(state, exchange, state.rule.pair, value, text, when, now)

    def _fire(self, state: _State, exchange: str | None, pair: str | None, value: str,
              text: str, when: datetime, now: datetime) -> None:
        rule = state.rule
        message = f"{rule.message}: {text}" if rule.message else text
        self._fired.append(Firing(rule, exchange, pair, value, message, when, now))


def _matches(rule: Rule, key: FeedKey) -> bool:
    return ((rule.exchange is None or rule.exchange == key[0])
            and (rule.pair is None or rule.pair == key[1]))
