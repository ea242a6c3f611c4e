"""Property-based differential tests of the fast paths against the exact ones.

- ``exchanges.parsing``'s number checks (``market_number``, ``price``, ``size``,
  ``optional_size``, ``optional_statistic``) read a short string inline: on generated texts
  (numbers of every length, sign and exponent, leading zeros, junk), in decimal contexts that
  trap or don't, each answers exactly as its definition (tests/unit/test_parsing.py's).
- Bitfinex's text path (``read_stream_frame``) reads numbers by tokens whose every match is
  within the checks' bounds: ticker and trade frames carrying generated number texts in the
  fields it reads give, through ``receive``, what ``decode`` and ``receive_message`` give, and
  the text path, where it reads a frame, gives that too.

Bounded and derandomized like tests/fuzz/test_fuzz_parsers.py (``FUZZ_EXAMPLES`` digs deeper).
"""

from __future__ import annotations

import decimal
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_bitfinex import (
    BOUND_NUMBERS,
    TICKER_FIELDS,
    TRADE_FIELDS,
    assert_reads_as_the_general_path,
    te_frame,
    ticker_frame,
)
from tests.unit.test_bitfinex import contexts as bitfinex_contexts
from tests.unit.test_parsing import CHECKS, outcome
from tests.unit.test_parsing import contexts as parsing_contexts

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES * 4, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

digits = st.text(alphabet="0123456789", min_size=1, max_size=44)
# a whole part: short or long, with or without leading zeros
wholes = st.one_of(st.just("0"), digits, st.sampled_from(["00", "01", "007"]))
# a fraction: none, digits, or zeros before digits (the tiny numbers)
fractions = st.one_of(
    st.just(""),
    digits.map(lambda text: "." + text),
    st.builds(lambda zeros, text: "." + "0" * zeros + text,
              st.integers(min_value=0, max_value=40), digits),
    st.sampled_from([".", ".0", ".000"]),
)
exponents = st.one_of(
    st.just(""), st.just(""),
    st.builds(lambda e, plus, n: f"{e}{'-' if n < 0 else plus}{abs(n)}",
              st.sampled_from(["e", "E"]), st.sampled_from(["", "+"]),
              st.integers(min_value=-45, max_value=45)),
    st.sampled_from(["e", "e+", "E999999999999"]),
)


def plain(sign: str, mantissa: str, adjusted: int) -> str:
    """The number of these digits whose adjusted exponent (its first digit's) is ``adjusted``,
    written out without an exponent."""
    shift = adjusted - len(mantissa) + 1
    if shift >= 0:
        return sign + mantissa + "0" * shift
    padded = mantissa.rjust(1 - shift, "0")
    return f"{sign}{padded[:shift]}.{padded[shift:]}"


# numbers near the bounds: adjusted exponents about -45 .. 45, most at the bounds (+-30, and the
# text path's 19 decimals and 20 integer digits), and about 40 digits
near_bounds = st.builds(
    plain, st.sampled_from(["", "-"]),
    st.sampled_from(["1", "9", "10", "99999", "1" * 19, "9" * 20, "1" * 39, "1" * 40, "1" * 41]),
    st.one_of(st.integers(min_value=-45, max_value=45),
              st.sampled_from([-31, -30, -29, -20, -19, -18, 18, 19, 20, 29, 30, 31])))
number_texts = st.one_of(
    near_bounds,
    near_bounds,
    st.sampled_from(BOUND_NUMBERS),  # tests/unit/test_bitfinex.py's, to combine them
    st.builds(lambda sign, whole, fraction, exponent: sign + whole + fraction + exponent,
              st.sampled_from(["", "", "-", "+"]), wholes, fractions, exponents),
    st.text(alphabet="0123456789.-+eE _", max_size=44),
    st.sampled_from(["NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "null", "true",
                     '"1.5"', "", " 1", "1 ", "--1", "1_0"]),
)


@FUZZ
@given(text=number_texts, name=st.sampled_from(sorted(CHECKS)),
       context=st.sampled_from(sorted(parsing_contexts())))
def test_number_checks_answer_as_their_definitions(text: str, name: str, context: str) -> None:
    check, definition = CHECKS[name]
    with decimal.localcontext(parsing_contexts()[context]):
        assert outcome(check, text) == outcome(definition, text), (name, text)


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(sorted(TICKER_FIELDS)), number_texts,
                              min_size=1, max_size=4),
       context=st.sampled_from(sorted(bitfinex_contexts())))
def test_bitfinex_tickers_read_as_the_general_path_reads_them(fields: dict[str, str],
                                                               context: str) -> None:
    with decimal.localcontext(bitfinex_contexts()[context]):
        assert_reads_as_the_general_path(ticker_frame(**fields))


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(sorted(TRADE_FIELDS)), number_texts,
                              min_size=1, max_size=2),
       context=st.sampled_from(sorted(bitfinex_contexts())))
def test_bitfinex_trades_read_as_the_general_path_reads_them(fields: dict[str, str],
                                                              context: str) -> None:
    with decimal.localcontext(bitfinex_contexts()[context]):
        assert_reads_as_the_general_path(te_frame(**fields))
