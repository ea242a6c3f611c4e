"""Connection load: the open-files limit, the cap on browsers, and an ``accept`` that never dies.

Every browser holds one file descriptor (its websocket or its polling connection), and so does
every exchange feed, the database and each log file. With the common default of 1,024 open
files, a reconnect storm of about a thousand pages used to make ``accept`` fail with ``EMFILE``
out of eventlet's server loop and end the process. Three things stop that here:

- ``raise_open_files_limit``: at start the soft limit goes up to the hard limit (logged), so
  the server gets every descriptor the system allows it.
- ``ClientCap``: a WSGI middleware in front of Socket.IO that refuses a new Engine.IO session
  with HTTP 503 and a reason once ``MAX_CLIENTS`` sessions are open, before any websocket is
  set up; ``default_max_clients`` derives the cap from the open-files limit, leaving room for
  the feeds, storage, ``/healthz`` and the refusals themselves. Refusals are counted in
  ``/healthz`` (``clients.refused``).
- ``AcceptGuard``: wraps the listening socket so that an ``accept`` that fails for any reason
  (``EMFILE``, ``ENFILE``, ``ENOBUFS``, ``ECONNABORTED``...) is logged once per incident and
  retried after a short backoff, instead of ending (or, for some errors, quietly stopping)
  eventlet's accept loop. The connection stays in the kernel's backlog meanwhile.

Nothing here names eventlet: ``dashboard.concurrency.serve`` puts the pieces together.
"""

from __future__ import annotations

import contextlib
import json
import logging
import resource
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

log = logging.getLogger(__name__)

# descriptors kept back from browsers whatever the limit: listeners and their shards, the
# database (SQLite: the file, its WAL and shared memory), eventlet's hub and tpool, logs
RESERVED_FILES = 64
# and a tenth of the limit on top, for /healthz, the page and assets, and refused connections
RESERVED_SHARE = 0.1
# a limit the system reports as unlimited: aim at this many descriptors instead
UNLIMITED_TARGET = 65_536
# largest connect auth ``after`` accepted (trade seqs are microseconds since the epoch)
MAX_SEQ = 2**63 - 1

SOCKETIO_PATH = "/socket.io/"
# a stopped AcceptGuard's accept loop sleeps this long, again and again, until the process ends
PARK_SECONDS = 3600.0


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit and log the figure; return (soft, hard).

    A failure (a platform without the call, a hard limit the kernel won't grant) is logged and
    leaves the limit as it was: the server still starts, with a smaller default ``MAX_CLIENTS``.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as exc:
            log.warning("open files limit not raised soft=%d hard=%s reason=%s", soft,
                        _limit_text(hard), exc)
        else:
            soft = target
    log.info("open files limit soft=%s hard=%s", _limit_text(soft), _limit_text(hard))
    return soft, hard


def open_files_limit() -> int:
    """The current soft limit on open files (``UNLIMITED_TARGET`` when unlimited)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return UNLIMITED_TARGET if soft == resource.RLIM_INFINITY else soft


def default_max_clients(open_files: int) -> int:
    """Browsers served at once by default: the open-files limit less what the rest needs.

    1,024 files give 858 browsers; 65,536 give 58,919. Never below 16.
    """
    return max(16, open_files - RESERVED_FILES - int(open_files * RESERVED_SHARE))


def _limit_text(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)


class IncidentLog:
    """Log a repeating condition once, then at most once per ``interval`` with a count."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self._suppressed = 0

    def report(self, message: str, *args: object, reason: str) -> None:
        """Log ``message % args`` with ``reason=`` last, unless one was logged within the
        interval; the next one says how many were left out (``suppressed=``)."""
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            self._suppressed += 1
            return
        if self._suppressed:
            message += " suppressed=%d"
            args = (*args, self._suppressed)
        self._logger.warning(message + " reason=%s", *args, reason)
        self._last = now
        self._suppressed = 0


@dataclass
class ClientLimits:
    """What the connection guards counted, for ``/healthz`` (``clients``)."""

    max_clients: int
    open_files: int
    refused: int = 0  # new sessions refused with 503 (MAX_CLIENTS reached)
    ignored_events: int = 0  # Socket.IO events from browsers that we don't take
    invalid_auth: int = 0  # connect auth payloads that were not {"after": seq}
    accept_failures: int = 0  # accept() calls that failed (EMFILE...), each retried
    accept_incidents: int = 0  # runs of consecutive accept failures
    # set when the node is going away (a web node's SIGTERM): new sessions get 503 while the
    # open ones are closed, so a page reconnects to another node, not to this one again
    stopping: bool = False

    def stats(self) -> dict[str, int]:
        return {"max_clients": self.max_clients, "open_files": self.open_files,
                "refused": self.refused, "ignored_events": self.ignored_events,
                "invalid_auth": self.invalid_auth, "accept_failures": self.accept_failures,
                "accept_incidents": self.accept_incidents}


def read_after(auth: object) -> tuple[int | None, bool]:
    """Validate a browser's connect auth, the only input a browser gives: ``None``, ``{}`` or
    ``{"after": seq}`` with ``seq`` a whole number in 0..2**63-1 (or null).

    Returns (seq or None, whether the payload was valid); an invalid one is treated as none.
    """
    if auth is None:
        return None, True
    if not isinstance(auth, dict) or any(key != "after" for key in auth):
        return None, False
    after = auth.get("after")
    if after is None:
        return None, True
    if type(after) is int and 0 <= after <= MAX_SEQ:
        return after, True
    return None, False


class OpenSessions:
    """Counts the Engine.IO sessions open now, cheaply enough to ask on every new connection.

    Engine.IO keeps a session that closed in its table until its sweep (up to its ping timeout
    later, for one that came in by polling), so the table's size is an upper bound: below the
    cap it is the answer (one ``len``). At the cap the closed ones are counted out, which
    walks the table; that count is kept ``refresh`` seconds plus one for every new session let
    through since (``admitted``), so a storm of refusals walks the table a few times a second,
    not once per refusal, and the estimate is never below the truth (the cap holds).
    """

    def __init__(self, sessions: Callable[[], dict[str, Any] | None], limit: Callable[[], int],
                 *, refresh: float = 0.25, clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions = sessions
        self._limit = limit
        self._refresh = refresh
        self._clock = clock
        self._at = -float("inf")
        self._exact = 0
        self._admitted = 0  # new sessions let through since the last walk

    def __call__(self) -> int:
        table = self._sessions()
        if not table:
            return 0
        size = len(table)
        if size < self._limit():
            return size
        now = self._clock()
        if now - self._at >= self._refresh:
            self._exact = sum(1 for session in list(table.values()) if not session.closed)
            self._admitted = 0
            self._at = now
        return self._exact + self._admitted

    def admitted(self) -> None:
        """A new session was let through (``ClientCap``): count it until the next walk."""
        self._admitted += 1


StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class ClientCap:
    """WSGI middleware: refuse a new Socket.IO session with 503 once ``limits.max_clients``
    sessions are open; everything else passes through untouched.

    A new session is a request under ``/socket.io/`` without ``sid`` (the polling handshake, or
    a websocket opened directly). Requests of sessions that exist (polls, the upgrade) pass, so
    an accepted browser is never cut off. ``sessions()`` counts the open Engine.IO sessions
    (``OpenSessions``, told of every session let through); the check and Engine.IO's
    registering of the new session happen in one green task with no I/O between them, so the
    cap holds exactly even when a thousand connections arrive at once.
    """

    def __init__(self, app: WsgiApp, limits: ClientLimits, sessions: Callable[[], int],
                 path: str = SOCKETIO_PATH) -> None:
        self.app = app
        self.limits = limits
        self._sessions = sessions
        self._path = path
        self._refusing = 0  # refusals in the current incident (0: not refusing)
        self._log = IncidentLog(log)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(self._path) and self._is_new(environ):
            if self.limits.stopping:
                return self._refuse(start_response, "server stopping")
            open_now = self._sessions()
            if open_now >= self.limits.max_clients:
                self.limits.refused += 1
                self._refusing += 1
                self._log.report("client refused connected=%d max_clients=%d", open_now,
                                 self.limits.max_clients, reason="MAX_CLIENTS reached")
                return self._refuse(start_response, f"server full: {open_now} browsers "
                                    f"connected, MAX_CLIENTS={self.limits.max_clients}")
            if self._refusing:
                log.info("clients accepted again connected=%d max_clients=%d refused=%d",
                         open_now, self.limits.max_clients, self._refusing)
                self._refusing = 0
            admitted = getattr(self._sessions, "admitted", None)
            if admitted is not None:
                admitted()
        return self.app(environ, start_response)

    @staticmethod
    def _is_new(environ: dict[str, Any]) -> bool:
        query = environ.get("QUERY_STRING", "")
        return "sid" not in query or "sid" not in parse_qs(query)

    @staticmethod
    def _refuse(start_response: StartResponse, reason: str) -> list[bytes]:
        body = json.dumps({"error": reason}).encode()
        start_response("503 Service Unavailable", [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Retry-After", "5"),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ])
        return [body]


class AcceptGuard:
    """A listening socket whose ``accept`` retries every failure instead of raising it.

    The first failure of an incident is logged with its reason and the open-files figure; the
    retries that follow are counted, not logged, and wait ``first`` seconds doubling to ``cap``
    (the pending connection stays in the kernel's backlog, and a busy wait on a readable socket
    would spin a core). The first success logs the end of the incident. ``stop()`` closes the
    socket and parks the accept loop for good instead of ending it: eventlet's server, once its
    loop ends, cuts every websocket at once, and a stopping server closes its browsers' links
    itself, politely, then exits. Every other attribute is the socket's own.
    """

    def __init__(self, sock: Any, limits: ClientLimits, sleep: Callable[[float], None], *,
                 first: float = 0.05, cap: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._sock = sock
        self._limits = limits
        self._sleep = sleep
        self._first = first
        self._cap = cap
        self._clock = clock
        self._stopped = False
        self._failing_since: float | None = None
        self._incident_failures = 0

    def accept(self) -> tuple[Any, Any]:
        delay = self._first
        while True:
            if self._stopped:
                self._park()
            try:
                connection = self._sock.accept()
            except OSError as exc:
                if self._stopped:
                    self._park()
                self._failed(exc)
                self._sleep(delay)
                delay = min(self._cap, delay * 2)
                continue
            if self._failing_since is not None:
                self._recovered()
            return connection

    def stop(self) -> None:
        """Close the listening socket (the kernel refuses new connections from now on) and
        park the accept loop until the process exits."""
        self._stopped = True
        with contextlib.suppress(OSError):
            self._sock.close()

    def _park(self) -> None:
        while True:
            self._sleep(PARK_SECONDS)

    def _failed(self, exc: OSError) -> None:
        self._limits.accept_failures += 1
        self._incident_failures += 1
        if self._failing_since is None:
            self._failing_since = self._clock()
            self._limits.accept_incidents += 1
            log.warning("accept failing open_files=%d retrying_in=%.2fs reason=%s",
                        self._limits.open_files, self._first, exc)

    def _recovered(self) -> None:
        assert self._failing_since is not None
        log.warning("accept recovered after=%.1fs failures=%d",
                    self._clock() - self._failing_since, self._incident_failures)
        self._failing_since = None
        self._incident_failures = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
