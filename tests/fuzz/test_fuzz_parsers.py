"""Property-based tests of every registered exchange's parsers: random and mutated frames.

For each exchange in ``exchanges.LISTENERS`` (a new one is covered as soon as it is registered
and has ``tests/fixtures/<name>/feeds.json``), a session is built from that file ({native
symbol: canonical pair}) and primed with every recorded (``*.excerpt``) and documented
(``docs_frames.txt``) frame, so its channels are subscribed. Then hypothesis feeds it frames
built from those same frames: cut short, with characters inserted, deleted or swapped, with a
JSON value replaced by a hostile one (a huge or negative number, ``1e999999999``, ``NaN``, a
string, a list, null), a key or element removed, or random JSON and text.

The property, for every frame: ``Session.receive`` returns a list of records or raises
``MalformedFrame`` (or ``ReconnectRequested``, the base's way of asking for a new
connection); nothing else. Every record it returns is valid: the exchange's own name, a
configured pair and its symbol, prices and amounts finite and of a sane size (so they format
without an exponent and without a million digits), bid, ask, last and trade amounts positive,
a known side, and a UTC time between 2009 and one day after the frame was received.

CI runs a bounded number of examples per exchange, derandomized (the same examples every run)
and with no example database, so a run is fast and repeatable; ``FUZZ_EXAMPLES=5000`` digs
deeper locally.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchanges import LISTENERS
from exchanges.base import ReconnectRequested, Session
from exchanges.parsing import MalformedFrame
from exchanges.records import FeedState, Quote, Side, Status, Ticker, Trade, format_decimal
from tests.unit.frames import FIXTURES, documented_frames, recorded_frames

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

RECEIVED_AT = datetime(2026, 11, 24, 17, 42, 3, 123456, tzinfo=UTC)
EARLIEST = datetime(2009, 1, 3, tzinfo=UTC)  # the first bitcoin block
LATEST = RECEIVED_AT + timedelta(days=1)
# a price or amount beyond these is no market's: 1e-30 .. 1e30, at most 40 significant digits
MAX_ADJUSTED = 30
MAX_DIGITS = 40
EXPECTED_ERRORS = (MalformedFrame, ReconnectRequested)
MAX_SOURCE_FRAME = 4096  # characters

EXCHANGES = sorted(LISTENERS)


def fixture_frames(name: str) -> list[str]:
    """Every recorded and documented frame of an exchange, recordings first."""
    folder = FIXTURES / name
    frames: list[str] = []
    for excerpt in sorted(folder.glob("*.excerpt")):
        frames += recorded_frames(name, excerpt.name)
    if (folder / "docs_frames.txt").exists():
        frames += documented_frames(name).values()
    return frames


def feeds_of(name: str) -> dict[str, str]:
    path: Path = FIXTURES / name / "feeds.json"
    if not path.exists():
        pytest.fail(f"tests/fixtures/{name}/feeds.json is missing: the fuzz tests need "
                    "{native symbol: canonical pair} for every symbol its frames name")
    return json.loads(path.read_text())


# -- the property ---------------------------------------------------------------------------------


def check_decimal(value: Any, what: str, *, positive: bool, optional: bool = False) -> None:
    if value is None and optional:
        return
    assert isinstance(value, Decimal), f"{what}: {value!r} is not a Decimal"
    assert value.is_finite(), f"{what}: {value!r} is not finite"
    assert -MAX_ADJUSTED <= value.adjusted() <= MAX_ADJUSTED and \
        len(value.as_tuple().digits) <= MAX_DIGITS, f"{what}: {value!r} is no market's number"
    text = format_decimal(value)
    assert text is not None and "e" not in text.lower(), f"{what}: {text!r} has an exponent"
    if positive:
        assert value > 0, f"{what}: {value!r} is not positive"
    else:
        assert value >= 0, f"{what}: {value!r} is negative"


def check_time(moment: Any, what: str) -> None:
    assert isinstance(moment, datetime), f"{what}: {moment!r} is not a datetime"
    assert moment.utcoffset() == timedelta(0), f"{what}: {moment!r} is not UTC"
    assert EARLIEST <= moment <= LATEST, f"{what}: {moment.isoformat()} is outside a sane window"


def check_record(record: Any, name: str, feeds: dict[str, str]) -> None:
    pairs = set(feeds.values())
    assert getattr(record, "exchange", None) == name, f"record of another exchange: {record!r}"
    if isinstance(record, Status):
        assert isinstance(record.state, FeedState)
        assert isinstance(record.detail, str)
        assert record.pair is None or isinstance(record.pair, str)
        json.dumps(record.to_json())
        return
    assert record.pair in pairs, f"unknown pair: {record!r}"
    assert feeds.get(record.symbol) == record.pair, f"symbol and pair disagree: {record!r}"
    check_time(record.time, f"{type(record).__name__}.time")
    if isinstance(record, Trade):
        assert isinstance(record.id, str) and record.id, f"trade id: {record.id!r}"
        assert isinstance(record.side, Side), f"side: {record.side!r}"
        check_decimal(record.price, "Trade.price", positive=True)
        check_decimal(record.amount, "Trade.amount", positive=True)
        json.dumps(record.to_json())
    elif isinstance(record, Ticker | Quote):
        optional = isinstance(record, Quote)
        for field in ("bid", "ask", "last"):
            check_decimal(getattr(record, field), f"{type(record).__name__}.{field}",
                          positive=True, optional=optional)
        for field in ("bid_size", "ask_size", "volume_24h"):
            check_decimal(getattr(record, field), f"{type(record).__name__}.{field}",
                          positive=False, optional=True)
        for field in ("open_24h", "high_24h", "low_24h"):
            check_decimal(getattr(record, field), f"{type(record).__name__}.{field}",
                          positive=True, optional=True)
        if isinstance(record, Ticker):
            json.dumps(record.to_json())
    else:
        raise AssertionError(f"not a record: {record!r}")


def feed(session: Session, frame: str, name: str, feeds: dict[str, str]) -> None:
    """The property for one frame: records, or one of the expected errors; nothing else."""
    try:
        records = session.receive(frame, RECEIVED_AT)
    except EXPECTED_ERRORS:
        return
    assert isinstance(records, list), f"receive returned {type(records).__name__}"
    for record in records:
        check_record(record, name, feeds)


class Exchange:
    """One exchange's listener class, feeds and fixture frames, and a primed session."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.feeds = feeds_of(name)
        self.frames = fixture_frames(name)
        self.listener = LISTENERS[name](list(dict.fromkeys(self.feeds.values())),
                                        lambda record: None)
        self._primed: Session | None = None

    def session(self) -> Session:
        """A session that has read every fixture frame (checked); a copy of one made once."""
        if self._primed is None:
            session = self.listener.new_session(self.feeds)
            for frame in self.frames:
                feed(session, frame, self.name, self.feeds)
            self._primed = session
        return copy.deepcopy(self._primed)


_EXCHANGES: dict[str, Exchange] = {}


def exchange(name: str) -> Exchange:
    if name not in _EXCHANGES:
        _EXCHANGES[name] = Exchange(name)
    return _EXCHANGES[name]


# -- frames ---------------------------------------------------------------------------------------


class Number:
    """A JSON number kept as its text, so a re-encoded frame has the very digits it had."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def parse(frame: str) -> Any:
    return json.loads(frame, parse_float=Number, parse_int=Number,
                      parse_constant=Number)


def encode(value: Any) -> str:
    if isinstance(value, Number):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(item) for item in value) + "]"
    return json.dumps(value)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a decoded frame: keys of objects, indexes of arrays."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (replaced(v, rest, new) if k == head else v) for k, v in value.items()}
    return [replaced(v, rest, new) if i == head else v for i, v in enumerate(value)]


def removed(value: Any, path: tuple[Any, ...]) -> Any:
    head, rest = path[0], path[1:]
    if rest:
        if isinstance(value, dict):
            return {k: (removed(v, rest) if k == head else v) for k, v in value.items()}
        return [removed(v, rest) if i == head else v for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != head}
    return [v for i, v in enumerate(value) if i != head]


HOSTILE_NUMBERS = ["0", "-0", "-1", "-0.5", "1e999", "-1e999", "1E+999999999", "1e-999999999",
                   "0.000000000000000000000000000000000000001", "123456789012345678901234567890123",
                   "99999999999999999999999999999999999999999999.5", "NaN", "Infinity",
                   "-Infinity", "1.0", "2.5e3", "18446744073709551616", "9007199254740993"]
HOSTILE_STRINGS = ["", " ", "0", "-1", "-0.0", "NaN", "nan", "Infinity", "1e999999999",
                   "1E+999999999", "0x10", "1_000", " 1", "1 ", "١٢٣", "buy", "sell", "BUY",
                   "b", "s", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                   "2026-11-24T17:42:03", "2026-11-24T17:42:03.123+05:00", "0000", "\u0000",
                   "\ud800", "x" * 300]

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(HOSTILE_NUMBERS).map(Number),
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: Number(str(n))),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: Number(repr(f))),
    st.sampled_from(HOSTILE_STRINGS),
    st.text(max_size=12),
    st.just([]),
    st.just({}),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
              st.sampled_from(HOSTILE_NUMBERS).map(Number)),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(
        st.sampled_from(["type", "event", "channel", "data", "product_id", "price", "size",
                         "side", "time", "trade_id", "arg", "topic", "symbol", "chanId",
                         "instId", "ts", "px", "sz"]) | st.text(max_size=6),
        children, max_size=6),
    max_leaves=20)


@st.composite
def text_mutation(draw: st.DrawFn, frames: list[str]) -> str:
    frame = draw(st.sampled_from(frames))
    kind = draw(st.sampled_from(["truncate", "insert", "delete", "replace", "swap"]))
    at = draw(st.integers(min_value=0, max_value=len(frame)))
    if kind == "truncate":
        return frame[:at]
    if kind == "insert":
        return frame[:at] + draw(st.sampled_from(list('{}[]",:-.0123456789eE \\n'))
                                 | st.text(max_size=3)) + frame[at:]
    if kind == "delete":
        return frame[:at] + frame[at + draw(st.integers(min_value=1, max_value=8)):]
    if kind == "replace":
        return frame[:at] + draw(st.characters()) + frame[at + 1:]
    other = draw(st.integers(min_value=0, max_value=len(frame)))
    low, high = sorted((at, other))
    return frame[:low] + frame[high:] + frame[low:high]


@st.composite
def json_mutation(draw: st.DrawFn, frames: list[str]) -> str:
    decodable = [frame for frame in frames if _decodes(frame)]
    value = parse(draw(st.sampled_from(decodable)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        places = list(paths(value))
        path = draw(st.sampled_from(places))
        kind = draw(st.sampled_from(["replace", "replace", "replace", "remove", "wrap"]))
        if kind == "remove" and path:
            value = removed(value, path)
        elif kind == "wrap":
            value = replaced(value, path, [_at(value, path)])
        else:
            value = replaced(value, path, draw(leaves | json_values))
    return encode(value)


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _decodes(frame: str) -> bool:
    try:
        parse(frame)
    except ValueError:
        return False
    return True


def frames_for(name: str) -> st.SearchStrategy[list[str]]:
    # mutations start from the frames of everyday size (a recorded 200 kB book or instrument
    # list would make each example slow without testing anything the small ones don't)
    frames = [frame for frame in exchange(name).frames if len(frame) <= MAX_SOURCE_FRAME]
    one = st.one_of(
        json_mutation(frames),
        json_mutation(frames),
        text_mutation(frames),
        json_values.map(encode),
        st.text(max_size=40),
        st.sampled_from(frames),
    )
    return st.lists(one, min_size=1, max_size=4)


# -- the tests ------------------------------------------------------------------------------------


def test_every_registered_exchange_has_fuzz_fixtures():
    for name in EXCHANGES:
        assert exchange(name).frames, f"tests/fixtures/{name}/ has no frames"
        assert exchange(name).feeds


@pytest.mark.parametrize("name", EXCHANGES)
def test_recorded_and_documented_frames_keep_the_property(name):
    exchange(name).session()  # priming checks every fixture frame


@pytest.mark.parametrize("name", EXCHANGES)
def test_mutated_and_random_frames_give_records_or_malformed_frame(name):
    ex = exchange(name)

    @FUZZ
    @given(frames=frames_for(name))
    def run(frames: list[str]) -> None:
        session = ex.session()
        for frame in frames:
            feed(session, frame, name, ex.feeds)

    run()
