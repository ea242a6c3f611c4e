"""Exact rendering of decimals and times: the reason ``simulator.wire`` exists."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from simulator import wire


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.00012", "0.00012"),
        ("43210.5", "43210.5"),
        ("43210.50", "43210.5"),
        ("7500.0", "7500"),
        ("1E+3", "1000"),
        ("1E-8", "0.00000001"),
        ("-0.00012", "-0.00012"),
        ("-0.0", "0"),
        ("0", "0"),
    ],
)
def test_plain_number_is_the_shortest_exact_text_never_an_exponent(text: str, expected: str):
    assert wire.plain_number(Decimal(text)) == expected


def test_plain_number_refuses_nan():
    with pytest.raises(ValueError, match="finite"):
        wire.plain_number(Decimal("NaN"))


def test_decimal_text_keeps_the_given_digits():
    assert wire.decimal_text(Decimal("43210.50")) == "43210.50"
    assert wire.decimal_text(Decimal("1E-8")) == "0.00000001"


def test_dumps_writes_decimals_as_numbers_and_keeps_key_order():
    frame = {"b": [1, Decimal("0.1"), "x", None, True], "a": {"z": Decimal("-2.50")}}
    text = wire.dumps(frame)
    assert text == '{"b":[1,0.1,"x",null,true],"a":{"z":-2.5}}'
    assert json.loads(text, parse_float=Decimal) == {
        "b": [1, Decimal("0.1"), "x", None, True],
        "a": {"z": Decimal("-2.5")},
    }


def test_times():
    moment = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert wire.epoch_ms(moment) == 1704164645678
    assert wire.iso_micros(moment) == "2024-01-02T03:04:05.678901Z"
    assert wire.iso_micros(moment.replace(microsecond=0)) == "2024-01-02T03:04:05.000000Z"
