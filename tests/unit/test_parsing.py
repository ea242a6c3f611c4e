"""The number checks of exchanges/parsing.py against their definitions, written out plainly.

``market_number``, ``price``, ``size``, ``optional_size`` and ``optional_statistic`` read the
common case inline (parsing.py says how) and leave the rest to the definition. Here each is
compared with its definition, as it read before it had an inline part, on texts and values at
every bound and in decimal contexts that trap or don't: the very same ``Decimal`` (digits, sign
and exponent, by ``repr``), or the same error with the same message.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from exchanges import parsing
from exchanges.parsing import MalformedFrame
from exchanges.parsing import decimal as read_decimal


def reference_market_number(value: Any, what: str) -> Decimal:
    number = read_decimal(value)
    if number and not (-30 <= number.adjusted() <= 30 and len(number.as_tuple().digits) <= 40):
        raise MalformedFrame(f"{what} is no market's number: {number}")
    return number


def reference_price(value: Any, what: str = "price") -> Decimal:
    number = reference_market_number(value, what)
    if number <= 0:
        raise MalformedFrame(f"{what} is not positive: {value!r}")
    return number


def reference_size(value: Any, what: str = "size") -> Decimal:
    number = reference_market_number(value, what)
    if number < 0:
        raise MalformedFrame(f"{what} is negative: {value!r}")
    return number


def reference_optional_size(value: Any, what: str = "size") -> Decimal | None:
    return None if value is None else reference_size(value, what)


def reference_optional_statistic(value: Any, what: str = "statistic") -> Decimal | None:
    if value is None:
        return None
    number = reference_market_number(value, what)
    return number if number > 0 else None


# (function, its definition)
CHECKS: dict[str, tuple[Callable[[Any, str], Decimal | None], Callable[[Any, str], Any]]] = {
    "market_number": (parsing.market_number, reference_market_number),
    "price": (parsing.price, reference_price),
    "size": (parsing.size, reference_size),
    "optional_size": (parsing.optional_size, reference_optional_size),
    "optional_statistic": (parsing.optional_statistic, reference_optional_statistic),
}

TEXTS = [
    "0", "0.0", "-0", "-0.0", "0E+100", "-0E-100", "0." + "0" * 60, "1", "-1", "7245.3",
    "1.7954053099999998", "-66440", "0.00000001", "1E-8", "+1.5", " 1.5", "1.5 ", "1_000",
    "\u0661\u0662", ".5", "5.", "1e5", "-1e5",
    "1e-30", "1e-31", "-1e-30", "-1e-31", "0." + "0" * 29 + "1", "0." + "0" * 30 + "1",
    "1e30", "1e31", "9.999999e30", "-9.999999e30", "-1e31", "1" + "0" * 30, "1" + "0" * 31,
    "1" * 31, "1" * 40, "1" * 41, "1234567890." + "1" * 29, "1234567890." + "1" * 30,
    "0." + "1" * 38, "0." + "1" * 39, "0." + "1" * 40, "1" * 40 + "e-20", "1" * 41 + "e-20",
    "0.1" + "0" * 37, "0.1" + "0" * 38,  # 40 characters, 41: all but 1 and 2 of them zeros
    "NaN", "-NaN", "sNaN", "nan", "Infinity", "-Infinity", "inf", "-inf",
    "1e999999999999", "1e-999999999999", "", " ", "abc", "1\x00", "\ud800", "1.5.5", "--1",
]
VALUES = [
    None, True, False, 0, 1, -1, 7245, 10**30, 10**31, 10**40, 1.5, float("nan"),
    Decimal("1.5"), Decimal("-0"), Decimal("0E-50"), Decimal("NaN"), Decimal("sNaN"),
    Decimal("Infinity"), Decimal("-Infinity"), Decimal("1E+30"), Decimal("1E+31"),
    Decimal("1E-30"), Decimal("1E-31"), Decimal("-1E-30"), Decimal("1" * 40),
    Decimal("0." + "1" * 39), Decimal("0." + "1" * 40), Decimal("1" * 41 + "E-20"),
    Decimal("1" * 40 + "E-20"), Decimal("-1.7954053099999998"), [], {}, b"1",
]


def contexts() -> dict[str, decimal.Context]:
    untrapped = decimal.Context()
    untrapped.traps[decimal.InvalidOperation] = False
    return {"default": decimal.Context(), "not trapping invalid operations": untrapped,
            "precision 3": decimal.Context(prec=3), "exponents up to 10": decimal.Context(Emax=10)}


def outcome(check: Callable[[Any, str], Any], value: Any) -> tuple[Any, ...]:
    try:
        result = check(value, "field")
    except Exception as exc:
        return ("raises", type(exc), str(exc))
    return ("returns", type(result), repr(result))


@pytest.mark.parametrize("context", contexts().values(), ids=contexts().keys())
@pytest.mark.parametrize("name", CHECKS)
def test_each_check_answers_as_its_definition(name: str, context: decimal.Context) -> None:
    check, definition = CHECKS[name]
    with decimal.localcontext(context):
        for value in [*TEXTS, *(f"-{text}" for text in TEXTS), *VALUES]:
            assert outcome(check, value) == outcome(definition, value), repr(value)

