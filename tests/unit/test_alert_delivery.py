"""Alerts to notification URLs through Apprise: a real json:// POST to a local receiver, retries
with backoff, one log line per incident, timeouts, and no thread pool of Apprise's own."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from alerts.delivery import DeliveryError, Notifier, build_plugin, redact
from tests.webhook_receiver import Receiver

# Apprise 2.2's PGP helper imports imghdr, deprecated since Python 3.11
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

EVENT = {"id": 1, "rule_id": 2, "kind": "price_above", "exchange": "coinbase",
         "pair": "BTC-USD", "message": "BTC-USD last 45010 on coinbase: at or above 45000",
         "value": "45010", "time": "2026-11-24T12:00:00.000Z", "severity": "warning"}


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(**options: object) -> Receiver:
        receiver = Receiver(**options)  # type: ignore[arg-type]
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


def inline(function, *args):
    """A spawn that runs the task at once, in this thread."""
    function(*args)


def test_a_json_url_gets_the_message_posted(receivers):
    receiver = receivers()
    notifier = Notifier([receiver.url()], inline, time.sleep)
    notifier.submit(EVENT)
    [body] = receiver.bodies
    assert body["path"] == "/hook"
    assert body["message"] == EVENT["message"]
    assert body["title"] == "Alert: BTC-USD" and body["type"] == "warning"
    assert notifier.stats()["sent"] == 1 and notifier.in_flight == 0


def test_apprise_starts_no_thread_of_its_own(receivers):
    import apprise.apprise

    receiver = receivers()
    before = set(threading.enumerate())
    notifier = Notifier([receiver.url("/a"), receiver.url("/b")], inline, time.sleep)
    for _ in range(3):
        notifier.submit(EVENT)
    assert len(receiver.bodies) == 6
    # the receiver's own request threads may still be finishing: only Apprise's would be pools
    started = [thread.name for thread in set(threading.enumerate()) - before]
    assert not [name for name in started if "ThreadPoolExecutor" in name], started
    assert apprise.apprise._shared_executor is None


def test_a_failing_url_is_retried_with_backoff_and_logged_once_per_incident(receivers,
                                                                            caplog):
    receiver = receivers(status=500)
    naps: list[float] = []
    notifier = Notifier([receiver.url()], inline, naps.append, attempts=3, backoff=1.0)
    with caplog.at_level(logging.INFO):
        notifier.submit(EVENT)
        notifier.submit(EVENT)
    assert naps == [1.0, 2.0, 1.0, 2.0]
    assert len(receiver.bodies) == 6
    stats = notifier.stats()
    assert (stats["sent"], stats["failed"], stats["retries"]) == (0, 2, 4)
    [target] = stats["targets"]
    assert target["state"] == "failing" and "500" in target["last_error"]
    lines = [r.getMessage() for r in caplog.records if r.name.startswith(("alerts", "apprise"))]
    assert len(lines) == 1 and lines[0].startswith(
        f"alert delivery failing url=json://127.0.0.1:{receiver.port} attempts=3 reason=")
    receiver.status = 200
    with caplog.at_level(logging.INFO):
        notifier.submit(EVENT)
    assert notifier.stats()["targets"][0]["state"] == "ok"
    assert "alert delivery recovered" in caplog.records[-1].getMessage()


def test_a_receiver_that_hangs_times_out(receivers):
    receiver = receivers(hang=3)
    notifier = Notifier([receiver.url()], inline, time.sleep, timeout=0.3, attempts=1)
    started = time.monotonic()
    notifier.submit(EVENT)
    assert time.monotonic() - started < 2
    assert notifier.stats()["failed"] == 1 and notifier.in_flight == 0


def test_deliveries_beyond_the_limit_are_dropped_and_counted(receivers):
    receiver = receivers()
    spawned: list = []
    notifier = Notifier([receiver.url()], lambda f, *a: spawned.append((f, a)), time.sleep,
                        max_in_flight=2)
    for _ in range(5):
        notifier.submit(EVENT)
    assert len(spawned) == 2 and notifier.dropped == 3
    for function, args in spawned:
        function(*args)
    assert notifier.stats()["sent"] == 2 and notifier.in_flight == 0


def test_an_unknown_url_is_refused_and_secrets_stay_out_of_the_log():
    with pytest.raises(DeliveryError, match="not a notification URL"):
        build_plugin("nosuch://example.com/x")
    assert redact("jsons://user:secret@hooks.example.com:8443/t0ken?x=1") == (
        "jsons://hooks.example.com:8443")
    plugin = build_plugin("ntfy://ntfy.sh/my-topic", timeout=2.5)
    assert plugin.request_timeout == (2.5, 2.5)
    assert build_plugin("json://h/p?rto=9").request_timeout == (5.0, 9.0)
