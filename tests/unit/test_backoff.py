import itertools
import logging

from exchanges.base import IncidentLog, RecentIds, one_line, reconnect_delays


def test_delays_double_up_to_the_cap_with_jitter_between_half_and_full():
    assert list(itertools.islice(reconnect_delays(rand=lambda: 1.0), 9)) == [
        1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert list(itertools.islice(reconnect_delays(rand=lambda: 0.0), 4)) == [0.5, 1, 2, 4]


def test_recent_ids_drop_repeats_and_stay_bounded():
    recent = RecentIds(size=3)
    assert [recent.add("BTC-USD", i) for i in ("1", "2", "1")] == [True, True, False]
    assert recent.add("ETH-USD", "1") is True  # per pair
    for i in ("3", "4", "5"):
        recent.add("BTC-USD", i)
    assert recent.add("BTC-USD", "1") is True  # forgotten once 3 newer ids came


def test_incident_log_reports_once_then_counts(caplog):
    now = [0.0]
    incidents = IncidentLog(logging.getLogger("t"), interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for second in (0, 1, 2, 30, 61):
            now[0] = second
            incidents.report("bad frame exchange=%s", "x")
    assert [r.getMessage() for r in caplog.records] == [
        "bad frame exchange=x", "bad frame exchange=x (and 3 more since the last report)"]


def test_one_line():
    assert one_line(OSError("Connection\n refused")) == "OSError: Connection refused"
    assert one_line(TimeoutError()) == "TimeoutError"
