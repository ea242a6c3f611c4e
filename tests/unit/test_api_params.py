from datetime import UTC, datetime

import pytest

from dashboard.api import BadParameter, HistoryQuery, csv_lines, parse_query

EXCHANGES = ("bitfinex", "coinbase")


def test_defaults():
    assert parse_query({}, EXCHANGES) == HistoryQuery(None, None, None, None, 500, "json")


def test_every_parameter_is_read():
    query = parse_query({"exchange": "bitfinex", "pair": "tBTCUSD", "since": "1700000000000",
                         "until": "2023-11-14T23:00:00Z", "limit": "20", "format": "csv"},
                        EXCHANGES)
    assert query == HistoryQuery("bitfinex", "BTC-USD",
                                 datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
                                 datetime(2023, 11, 14, 23, 0, tzinfo=UTC), 20, "csv")


def test_a_time_without_offset_is_utc():
    query = parse_query({"since": "2026-01-02T03:04:05"}, EXCHANGES)
    assert query.since == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(("args", "message"), [
    ({"exchange": "mtgox"}, "exchange: unknown exchange 'mtgox'"),
    ({"pair": "BTC"}, "pair: cannot tell base from quote in 'BTC'"),
    ({"since": "yesterday"}, "since: 'yesterday' is neither ISO-8601 nor epoch milliseconds"),
    ({"until": "99999999999999999999"}, "until: '99999999999999999999' is neither"),
    ({"since": "2026-01-02", "until": "2026-01-01"}, "until: must be later than since"),
    ({"limit": "0"}, "limit: '0' is not a whole number from 1 to 5000"),
    ({"limit": "5001"}, "limit: '5001' is not"),
    ({"limit": "-3"}, "limit: '-3' is not"),
    ({"format": "xml"}, "format: 'xml' is not json or csv"),
])
def test_bad_parameters_are_named(args, message):
    with pytest.raises(BadParameter) as excinfo:
        parse_query(args, EXCHANGES)
    assert str(excinfo.value).startswith(message)


def test_csv_has_a_header_and_quotes_what_needs_it():
    rows = [{"time": "t", "exchange": "x", "pair": "A,B", "price": "1.0"}]
    text = "".join(csv_lines(rows, ("time", "pair", "price")))
    assert text == 'time,pair,price\r\nt,"A,B",1.0\r\n'
