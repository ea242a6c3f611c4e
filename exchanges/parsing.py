"""Helpers every exchange parser uses: decoding a frame and turning bad data into one error type.

Parsers are pure functions of (frame, receive time). When the exchange sends something we can't
read, they raise ``MalformedFrame``; the listener counts it, logs it once per incident and keeps
the feed. Anything else a parser raises is our bug and is allowed to surface.

Two JSON decoders, because prices must keep their exact digits and decoding is most of the cost
of a message:

- ``decode`` is exact: a JSON number with a fraction or an exponent becomes a ``Decimal`` of its
  very text. Use it for an exchange that sends prices as JSON numbers (Bitfinex), and as the
  fallback of ``decode_fast``.
- ``decode_fast`` is orjson, several times faster, for an exchange that sends prices as JSON
  strings (Coinbase). orjson reads a JSON number with a fraction, an exponent or more than 64
  bits as a binary ``float``, which can't be trusted with a price; so ``decimal`` and
  ``exact`` refuse a float with ``InexactNumber``, and the caller reads that frame again
  with ``decode``. A frame orjson refuses (``NaN``, ``1e999``, a lone surrogate) goes to
  ``decode`` too, which decides what it is.

Hand-written readers of an exchange's most frequent frame shapes match the frame's text with
patterns built from ``JSON_INT`` and ``JSON_NUMBER``, the JSON grammar's own, or from narrower
parts of it, so that whatever they accept the JSON decoder would read the same way.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ParamSpec, TypeVar

import orjson

P = ParamSpec("P")
R = TypeVar("R")

# The errors that looking up fields in a frame of the wrong shape produces.
# ArithmeticError: an exact sum or difference of two numbers in the frame overflowing a Decimal.
_SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, ArithmeticError, AttributeError)

# Regular expression text for JSON numbers (RFC 8259 section 6: no leading zeros, no ``+``, no
# bare ``.5`` or ``5.``, no NaN). ``JSON_INT``: an integer without sign. ``JSON_NUMBER``: every
# JSON number whose text ``Decimal`` reads as ``decode`` does, which is all of them but the
# integer ``-0`` (``decode`` gives the int 0, ``Decimal("-0")`` a negative zero). Possessive
# quantifiers: a number is read one way only, so a frame that doesn't match fails fast.
JSON_INT = r"(?:0|[1-9][0-9]*+)"
JSON_NUMBER = r"(?:0|-?+[1-9][0-9]*+|-0(?=[.eE]))(?:\.[0-9]++)?+(?:[eE][-+]?+[0-9]++)?+"

# Built once: ``json.loads`` with a keyword builds a new decoder on every call, which cost more
# than a small frame's decoding.
_EXACT_DECODER = json.JSONDecoder(parse_float=Decimal)


class MalformedFrame(ValueError):
    """A frame from the exchange could not be read; ``str(exc)`` is a one-line reason."""


class InexactNumber(MalformedFrame):
    """A ``float`` where an exact number belongs: the frame was read by ``decode_fast``.

    Read the frame again with ``decode``. Uncaught, it is a ``MalformedFrame`` like any other.
    """


def decode(frame: str | bytes) -> Any:
    """Decode a JSON frame with every non-integer number as an exact ``Decimal``.

    ``raw_decode`` first: a frame is one JSON value with nothing around it, and ``decode``'s
    whitespace handling costs a third of a small frame's decoding. Anything else (whitespace
    around the value, extra data, not JSON) goes to ``decode``, which reads it or says why not.
    """
    try:
        if isinstance(frame, str):
            try:
                value, end = _EXACT_DECODER.raw_decode(frame)
            except ValueError:
                end = -1
            return value if end == len(frame) else _EXACT_DECODER.decode(frame)
        return json.loads(frame, parse_float=Decimal)  # bytes: a REST body, encoding detected
    except ValueError as exc:
        raise MalformedFrame(f"not JSON: {exc}") from exc
    except InvalidOperation as exc:  # a JSON number no Decimal can hold: 1e99999999999999999999
        raise MalformedFrame(f"number out of range: {exc!r}") from exc


def decode_fast(frame: str) -> Any:
    """Decode a JSON frame with orjson; numbers with a fraction may come out as ``float``.

    Only for frames whose prices are JSON strings: see the module docstring. What orjson
    refuses is decoded by ``decode``, which reads it or raises ``MalformedFrame``.
    """
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError:
        return decode(frame)


def decimal(value: Any) -> Decimal:
    """Read a price or amount sent as a JSON string or number, keeping its exact digits."""
    if type(value) is str:  # the common case first: one type check instead of four
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise MalformedFrame(f"not a decimal number: {value!r}") from None
        if result.is_finite():
            return result
        raise MalformedFrame(f"not a decimal number: {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float) and math.isfinite(value):  # NaN from ``decode`` is no number
        raise InexactNumber(f"a float where an exact number belongs: {value!r}")
    raise MalformedFrame(f"not a decimal number: {value!r}")


# Bounds of what any market quotes: a price or amount beyond 1e-30 .. 1e30, or of more than 40
# significant digits, is a corrupt frame (and would print with an exponent or a million digits);
# a time before the first bitcoin block, or a day past the frame's arrival, is no trade's.
MAX_ADJUSTED_EXPONENT, MAX_DIGITS = 30, 40
EARLIEST_TIME = datetime(2009, 1, 3, tzinfo=UTC)
LATEST_AHEAD = timedelta(days=1)


# The bounds as values: a nonzero number's adjusted exponent is within +-30 exactly when its
# magnitude is in [1e-30, 1e31). Comparing a ``Decimal`` with them is exact (no rounding), false
# for an infinity and raises ``InvalidOperation`` for a NaN (false where that isn't trapped), so
# one chained comparison checks finiteness and both bounds: cheaper than ``is_finite`` and
# ``adjusted``, and against ``Decimal`` constants, not the int 0, which costs a conversion.
_SMALLEST = Decimal(f"1e-{MAX_ADJUSTED_EXPONENT}")
_BEYOND = Decimal(f"1e{MAX_ADJUSTED_EXPONENT + 1}")
_NEGATIVE_SMALLEST, _NEGATIVE_BEYOND = -_SMALLEST, -_BEYOND
_MIN_ADJUSTED, _ZERO = -MAX_ADJUSTED_EXPONENT, Decimal(0)

# ``market_number``, ``price``, ``size``, ``optional_size`` and ``optional_statistic`` run on
# every price and amount of every message, so each reads the common case inline, in one call: a
# string of at most ``MAX_DIGITS`` characters (which can't have more digits than that), one
# ``Decimal`` and one chained comparison with the bounds above. Whatever that doesn't return
# (another type, a longer text, an error, a number out of bounds or of the wrong sign) goes to
# ``_checked_number``, the one definition of a market number, and the function's own check, as
# before: the inline part only answers where they would give the very same ``Decimal``.


def market_number(value: Any, what: str) -> Decimal:
    """``decimal(value)``, refused as ``MalformedFrame`` when it is no market's number: finite,
    zero or of an adjusted exponent within +-``MAX_ADJUSTED_EXPONENT``, at most ``MAX_DIGITS``
    significant digits."""
    if type(value) is str and len(value) <= MAX_DIGITS:
        try:
            number = Decimal(value)
            if (_SMALLEST <= number < _BEYOND or not number
                    or _NEGATIVE_BEYOND < number <= _NEGATIVE_SMALLEST):
                return number
        except InvalidOperation:  # not a number, or a NaN compared: ``_checked_number`` says
            pass
    return _checked_number(value, what)


def _checked_number(value: Any, what: str) -> Decimal:
    """``market_number`` of any value: the definition, and the error of a refused one.

    A ``Decimal`` of the exact decoder whose text is at most ``MAX_DIGITS`` characters long
    can't have more digits than that either (its text shows every digit): that check, much
    cheaper than counting them (``as_tuple``), comes first.
    """
    if (type(value) is Decimal and len(str(value)) <= MAX_DIGITS and value.is_finite()
            and (not value or _MIN_ADJUSTED <= value.adjusted() <= MAX_ADJUSTED_EXPONENT)):
        return value
    number = decimal(value)
    if number and not (_MIN_ADJUSTED <= number.adjusted() <= MAX_ADJUSTED_EXPONENT
                       and len(number.as_tuple().digits) <= MAX_DIGITS):
        raise MalformedFrame(f"{what} is no market's number: {number}")
    return number


def price(value: Any, what: str = "price") -> Decimal:
    """A price, or a trade's amount: a market number above zero (``MalformedFrame`` otherwise)."""
    if type(value) is str and len(value) <= MAX_DIGITS:
        try:
            number = Decimal(value)
            if _SMALLEST <= number < _BEYOND:
                return number
        except InvalidOperation:
            pass
    number = _checked_number(value, what)
    if number <= _ZERO:
        raise MalformedFrame(f"{what} is not positive: {value!r}")
    return number


def size(value: Any, what: str = "size") -> Decimal:
    """An amount or a volume: a market number, zero or more (``MalformedFrame`` otherwise)."""
    if type(value) is str and len(value) <= MAX_DIGITS:
        try:
            number = Decimal(value)
            if _SMALLEST <= number < _BEYOND or not number:  # ``-0`` too: it isn't below zero
                return number
        except InvalidOperation:
            pass
    number = _checked_number(value, what)
    if number < _ZERO:
        raise MalformedFrame(f"{what} is negative: {value!r}")
    return number


def optional_size(value: Any, what: str = "size") -> Decimal | None:
    """``size(value)``, or None for a field sent as null or not at all."""
    if type(value) is str and len(value) <= MAX_DIGITS:
        try:
            number = Decimal(value)
            if _SMALLEST <= number < _BEYOND or not number:
                return number
        except InvalidOperation:
            pass
    return None if value is None else size(value, what)


def optional_price(value: Any, what: str = "price") -> Decimal | None:
    """``price(value)``, or None for a field sent as null or not at all."""
    return None if value is None else price(value, what)


def optional_statistic(value: Any, what: str = "statistic") -> Decimal | None:
    """A 24 h open, high or low: a price, or None when sent as null, not at all, or as 0 or
    below (what exchanges send for a pair that hasn't traded for a day)."""
    if type(value) is str and len(value) <= MAX_DIGITS:
        try:
            number = Decimal(value)
            if _SMALLEST <= number < _BEYOND:
                return number
            if not number or _NEGATIVE_BEYOND < number <= _NEGATIVE_SMALLEST:
                return None
        except InvalidOperation:
            pass
    if value is None:
        return None
    number = _checked_number(value, what)
    return number if number > _ZERO else None


def market_time(moment: datetime, value: Any, received_at: datetime) -> datetime:
    """``moment`` (read from ``value``), refused unless between the first bitcoin block and a
    day after the frame was received."""
    if not EARLIEST_TIME <= moment <= received_at + LATEST_AHEAD:
        raise MalformedFrame(f"time out of range: {value!r}")
    return moment


def optional_decimal(value: Any) -> Decimal | None:
    """``decimal(value)``, or None for a field sent as null or not at all."""
    return None if value is None else decimal(value)


def exact(value: Any) -> Any:
    """Return ``value`` as decoded, refusing a ``float``: orjson's reading of a number with a
    fraction or of more than 64 bits, where an id or a count belongs."""
    if isinstance(value, float):
        raise InexactNumber(f"a float where an exact number belongs: {value!r}")
    return value


def parse_iso_time(text: str) -> datetime:
    """Read an exchange's ISO-8601 UTC time (``2022-10-19T23:28:22.061769Z``).

    A time without an offset is refused: we would otherwise read it as local time.
    """
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise MalformedFrame(f"time without a UTC offset: {text!r}")
    return moment


def reads_frame(parser: Callable[P, R]) -> Callable[P, R]:
    """Make a parser raise ``MalformedFrame`` when the frame lacks what it looks up.

    Wrap the function that reads fields out of a decoded frame; a missing key, a short list or a
    non-number where a number belongs then becomes a ``MalformedFrame`` with the original as cause.
    """

    @functools.wraps(parser)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return parser(*args, **kwargs)
        except MalformedFrame:
            raise
        except _SHAPE_ERRORS as exc:
            raise MalformedFrame(f"{type(exc).__name__}: {exc}") from exc

    return wrapper
