"""The connection guards: open-files limit, the browser cap, the accept guard, the connect auth."""

from __future__ import annotations

import errno
import io
import json
import logging
import resource

import pytest

from dashboard.connections import (
    AcceptGuard,
    ClientCap,
    ClientLimits,
    IncidentLog,
    OpenSessions,
    default_max_clients,
    raise_open_files_limit,
    read_after,
)


def test_default_max_clients_leaves_room_for_the_rest():
    assert default_max_clients(1024) == 858
    assert default_max_clients(65536) == 58_919
    assert default_max_clients(50) == 16


def test_the_soft_limit_is_raised_to_the_hard_one(monkeypatch, caplog):
    calls = []
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 4096))
    monkeypatch.setattr(resource, "setrlimit", lambda which, limits: calls.append(limits))
    caplog.set_level(logging.INFO)
    assert raise_open_files_limit() == (4096, 4096)
    assert calls == [(4096, 4096)]
    assert "open files limit soft=4096 hard=4096" in caplog.text


def test_a_limit_that_cannot_be_raised_is_logged_and_kept(monkeypatch, caplog):
    def refuse(which, limits):
        raise ValueError("not allowed")

    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 4096))
    monkeypatch.setattr(resource, "setrlimit", refuse)
    assert raise_open_files_limit() == (1024, 4096)
    assert "open files limit not raised soft=1024 hard=4096 reason=not allowed" in caplog.text


@pytest.mark.parametrize(("auth", "expected"), [
    (None, (None, True)),
    ({}, (None, True)),
    ({"after": None}, (None, True)),
    ({"after": 0}, (0, True)),
    ({"after": 1_764_000_000_000_000}, (1_764_000_000_000_000, True)),
    ({"after": 2**63 - 1}, (2**63 - 1, True)),
    ({"after": 2**63}, (None, False)),
    ({"after": -1}, (None, False)),
    ({"after": True}, (None, False)),
    ({"after": 1.5}, (None, False)),
    ({"after": "12"}, (None, False)),
    ({"after": 1, "subscribe": "BTC-USD"}, (None, False)),
    ({"subscribe": "BTC-USD"}, (None, False)),
    ("after=1", (None, False)),
    ([1], (None, False)),
])
def test_the_connect_auth_is_validated(auth, expected):
    assert read_after(auth) == expected


def wsgi_call(app, path, query=""):
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({"PATH_INFO": path, "QUERY_STRING": query}, start_response))
    return seen["status"], seen["headers"], body


def test_a_new_session_beyond_the_cap_is_refused_with_503(caplog):
    limits = ClientLimits(max_clients=2, open_files=1024)
    sessions = [2]
    inner_calls = []

    def inner(environ, start_response):
        inner_calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"ok"]

    cap = ClientCap(inner, limits, lambda: sessions[0])
    status, headers, body = wsgi_call(cap, "/socket.io/", "EIO=4&transport=websocket")
    assert status.startswith("503")
    assert headers["Retry-After"] == "5"
    assert json.loads(body) == {"error": "server full: 2 browsers connected, MAX_CLIENTS=2"}
    assert limits.refused == 1 and inner_calls == []
    # a session that exists goes on (its polls, its upgrade), and so does everything else
    assert wsgi_call(cap, "/socket.io/", "EIO=4&transport=polling&sid=abc")[0] == "200 OK"
    assert wsgi_call(cap, "/healthz")[0] == "200 OK"
    for _ in range(5):
        wsgi_call(cap, "/socket.io/", "EIO=4&transport=polling")
    assert limits.refused == 6
    assert caplog.text.count("client refused") == 1  # one line per incident
    # a browser leaves: the next one is served, and the incident's end is logged
    sessions[0] = 1
    caplog.set_level(logging.INFO)
    assert wsgi_call(cap, "/socket.io/", "EIO=4&transport=polling")[0] == "200 OK"
    assert "clients accepted again connected=1 max_clients=2 refused=6" in caplog.text


class FlakySocket:
    """A listening socket whose accept fails ``failures`` times, then works."""

    def __init__(self, failures: list[OSError]) -> None:
        self.failures = failures
        self.closed = False

    def accept(self):
        if self.failures:
            raise self.failures.pop(0)
        return ("connection", ("127.0.0.1", 5))

    def close(self):
        self.closed = True

    def getsockname(self):
        return ("127.0.0.1", 5000)


def test_a_failing_accept_is_retried_with_backoff_and_logged_once(caplog):
    emfile = OSError(errno.EMFILE, "Too many open files")
    limits = ClientLimits(max_clients=10, open_files=1024)
    sleeps: list[float] = []
    sock = FlakySocket([emfile] * 6 + [OSError(errno.ECONNABORTED, "aborted")])
    guard = AcceptGuard(sock, limits, sleeps.append, first=0.05, cap=1.0)
    assert guard.accept() == ("connection", ("127.0.0.1", 5))
    assert sleeps == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert (limits.accept_failures, limits.accept_incidents) == (7, 1)
    assert caplog.text.count("accept failing") == 1
    assert "reason=[Errno 24] Too many open files" in caplog.text
    assert "accept recovered" in caplog.text and "failures=7" in caplog.text
    assert guard.getsockname() == ("127.0.0.1", 5000)  # everything else is the socket's


def test_a_stopped_guard_parks_the_accept_loop():
    class Parked(Exception):
        pass

    def sleep(seconds: float) -> None:
        raise Parked(seconds)

    sock = FlakySocket([OSError(errno.EBADF, "closed")])
    guard = AcceptGuard(sock, ClientLimits(1, 1), sleep)
    guard.stop()
    assert sock.closed
    with pytest.raises(Parked):  # sleeps for good: the server loop never ends, never spins
        guard.accept()


def test_incident_log_reports_once_a_minute_with_the_count():
    now = [0.0]
    stream = io.StringIO()
    logger = logging.getLogger("test.incident")
    logger.addHandler(logging.StreamHandler(stream))
    logger.propagate = False
    incidents = IncidentLog(logger, clock=lambda: now[0])
    for second in range(0, 125, 5):
        now[0] = second
        incidents.report("thing happened exchange=%s", "x", reason="because")
    assert stream.getvalue().splitlines() == [
        "thing happened exchange=x reason=because",
        "thing happened exchange=x suppressed=11 reason=because",
        "thing happened exchange=x suppressed=11 reason=because",
    ]


class Session:
    def __init__(self, closed: bool = False) -> None:
        self.closed = closed


def test_open_sessions_is_exact_at_the_cap_and_never_low():
    table: dict[str, Session] = {f"s{n}": Session() for n in range(8)}
    now = [0.0]
    count = OpenSessions(lambda: table, lambda: 10, clock=lambda: now[0])
    assert count() == 8  # below the cap: the table's size
    table.update({"a": Session(closed=True), "b": Session(closed=True)})
    assert count() == 8  # at the cap: the closed ones don't count
    count.admitted()  # let through since the walk: counted without walking again
    table["c"] = Session()
    assert count() == 9
    del table["a"]  # a session leaving and another arriving leave the size as it was
    count.admitted()
    table["d"] = Session()
    assert count() == 10  # never under the truth
    now[0] = 1.0
    table["s0"].closed = True
    assert count() == 9  # the next walk sees what left
    assert OpenSessions(lambda: None, lambda: 10)() == 0


def test_the_cap_counts_what_it_let_through():
    limits = ClientLimits(max_clients=2, open_files=1024)
    table: dict[str, Session] = {"x": Session(), "y": Session(closed=True)}
    count = OpenSessions(lambda: table, lambda: 2, clock=lambda: 0.0)

    def inner(environ, start_response):  # registers nothing (a handshake still under way)
        start_response("200 OK", [])
        return [b""]

    cap = ClientCap(inner, limits, count)
    assert wsgi_call(cap, "/socket.io/", "EIO=4&transport=polling")[0] == "200 OK"
    assert wsgi_call(cap, "/socket.io/", "EIO=4&transport=polling")[0].startswith("503")
