"""LOG_FORMAT=json: one JSON object per line, with the line's key=value words as fields."""

from __future__ import annotations

import json
import logging

from dashboard.logs import JsonFormatter, fields_of


def record(message: str, *args: object, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("exchanges.base", logging.WARNING, __file__, 1, message, args,
                             exc_info)


def test_key_value_words_become_fields():
    line = ("feed reconnecting exchange=bitfinex connection=1 attempt=2 delay=1.4s "
            "reason=ConnectionClosed: closed by the exchange a=b")
    assert fields_of(line) == {"exchange": "bitfinex", "connection": "1", "attempt": "2",
                               "delay": "1.4s",
                               "reason": "ConnectionClosed: closed by the exchange a=b"}
    assert fields_of("bad pair exchange=x pair='not a pair!' reason=cannot read") == {
        "exchange": "x", "pair": "'not a pair!'", "reason": "cannot read"}
    assert fields_of("no fields here") == {}


def test_a_record_is_one_json_line():
    text = JsonFormatter().format(record("pair rejected exchange=%s pair=%s reason=%s",
                                         "coinbase", "FOO-BAR", "FOO-BAR is not a valid product"))
    entry = json.loads(text)
    assert "\n" not in text
    assert entry["level"] == "WARNING" and entry["logger"] == "exchanges.base"
    assert entry["time"].endswith("Z") and len(entry["time"]) == 24
    assert (entry["exchange"], entry["pair"], entry["reason"]) == (
        "coinbase", "FOO-BAR", "FOO-BAR is not a valid product")
    assert entry["message"] == ("pair rejected exchange=coinbase pair=FOO-BAR "
                                "reason=FOO-BAR is not a valid product")


def test_a_traceback_stays_inside_its_line():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        text = JsonFormatter().format(record("listener failed exchange=x", exc_info=sys.exc_info()))
    assert len(text.splitlines()) == 1
    entry = json.loads(text)
    assert entry["exception"].startswith("Traceback") and "ValueError: boom" in entry["exception"]


def test_a_field_never_overwrites_the_record_itself():
    entry = json.loads(JsonFormatter().format(record("odd level=DEBUG message=hi")))
    assert entry["level"] == "WARNING"
    assert entry["message"] == "odd level=DEBUG message=hi"


def test_wsgi_errors_become_log_lines(caplog):
    from dashboard.logs import LoggedErrors

    def app(environ, start_response):
        environ["wsgi.errors"].write("server=x client=y socket shutdown error: [Errno 9] Bad")
        environ["wsgi.errors"].write("a\nb\n")
        return []

    caplog.set_level(logging.DEBUG, logger="wsgi")
    LoggedErrors(app)({}, None)
    assert [r.getMessage() for r in caplog.records if r.name == "wsgi"] == [
        "server=x client=y socket shutdown error: [Errno 9] Bad", "a", "b"]
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "wsgi")
