"""Helpers every exchange parser uses: decoding a frame and turning bad data into one error type.

Parsers are pure functions of (frame, receive time). When the exchange sends something we can't
read, they raise ``MalformedFrame``; the listener counts it, logs it once per incident and keeps
the feed. Anything else a parser raises is our bug and is allowed to surface.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# The errors that looking up fields in a frame of the wrong shape produces.
_SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, InvalidOperation, AttributeError)


class MalformedFrame(ValueError):
    """A frame from the exchange could not be read; ``str(exc)`` is a one-line reason."""


def decode(frame: str | bytes) -> Any:
    """Decode a JSON frame with every non-integer number as an exact ``Decimal``."""
    try:
        return json.loads(frame, parse_float=Decimal)
    except ValueError as exc:
        raise MalformedFrame(f"not JSON: {exc}") from exc


def decimal(value: Any) -> Decimal:
    """Read a price or amount sent as a JSON string or number, keeping its exact digits."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise MalformedFrame(f"not a decimal number: {value!r}") from None
        if result.is_finite():
            return result
    raise MalformedFrame(f"not a decimal number: {value!r}")


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
