"""Render values the way the exchanges write them on the wire.

Prices must reach clients as the exact decimal text the market holds: a float on the way
would turn ``0.1`` into ``0.1000000000000000055`` or ``1e-05``, which no real exchange sends
and which hides precision bugs in the listeners under test. ``json`` cannot emit a raw
number token from a ``Decimal``, so frames are serialised here by a small encoder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def plain_number(value: Decimal) -> str:
    """Return ``value`` as a JSON number token, shortest exact form, never in exponent form.

    Bitfinex writes doubles, so ``43210.50`` goes out as ``43210.5`` and ``7500.0`` as ``7500``;
    the digits that carry the value are never changed.
    """
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def decimal_text(value: Decimal) -> str:
    """Return ``value`` as Coinbase's price/size string: its own digits, no exponent."""
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    return format(value, "f")


def dumps(value: object) -> str:
    """Serialise a frame compactly (``,`` and ``:`` without spaces, as both exchanges do).

    ``Decimal`` becomes a plain number token (see ``plain_number``); everything else is what
    ``json.dumps`` would write. Key order is kept, so a frame's field order is the order the
    protocol module built it in.
    """
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _encode(value: object, out: list[str]) -> None:
    if isinstance(value, Decimal):
        out.append(plain_number(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        out.append(json.dumps(value))


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, floored: Bitfinex ``MTS`` and ``ts`` fields."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def iso_micros(moment: datetime) -> str:
    """Coinbase's ``time`` field: UTC, always six fractional digits, ``Z`` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
