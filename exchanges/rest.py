"""HTTP GETs to an exchange's public REST API: one attempt, the retry policy, and the retry loop.

The only place that does REST I/O, for every exchange. ``ExchangeListener.snapshot`` (in
``base``) builds the URLs from its subclass's ``rest_snapshot_requests`` and calls ``fetch_json``;
exchange modules only parse the decoded bodies.

Failures fall in three kinds, as for the websockets:

- a **download failure** (a network error, a timeout, HTTP 5xx, HTTP 429): the exchange or the
  path to it is unwell for now, so the request is retried with capped, jittered backoff until a
  deadline; then ``DownloadFailed``;
- a **refusal** (any other HTTP error, a 4xx: the exchange does not list that symbol): retrying
  cannot help, so ``Refused`` at once. An exchange can call more answers refusals through the
  ``refused`` hook (Bitfinex answers an unknown symbol with HTTP 500);
- a body that is not JSON: ``MalformedFrame``, not retried; and anything else is our bug.

Blocking: plain ``urllib`` sockets. Inside ``server.py`` they are green (monkey patched) and the
caller is a listener's own green task; the command line calls it from ordinary threads.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from .parsing import MalformedFrame, decode

USER_AGENT = "crypto-market-dashboard/1.0 (+python urllib)"
_MIN_ATTEMPT_TIMEOUT = 0.5  # seconds; the last attempt before the deadline still gets a chance

# Errors of the network or the far end's transport: worth another attempt.
NETWORK_ERRORS = (OSError, http.client.HTTPException)  # URLError and TimeoutError are OSErrors


class HttpError(Exception):
    """A non-2xx answer. ``body`` is its JSON (exact decimals), or None when it is not JSON."""

    def __init__(self, url: str, status: int, body: Any, text: str) -> None:
        super().__init__(f"HTTP {status} from {url}: {text[:200]}")
        self.url = url
        self.status = status
        self.body = body
        self.text = text


class Refused(Exception):
    """The exchange refused the request for good (a symbol it does not list); ``str`` says why."""


class DownloadFailed(Exception):
    """No usable answer before the deadline (network errors, timeouts, 5xx, 429)."""


def is_retryable(exc: BaseException) -> bool:
    """Whether another attempt may succeed: network faults, timeouts, HTTP 5xx and HTTP 429.

    Any other HTTP status (a 4xx: bad symbol, bad request) is the same on every attempt, and so
    is a body we can't decode; anything that is not an I/O error is our bug.
    """
    if isinstance(exc, HttpError):
        return exc.status >= 500 or exc.status == 429
    return isinstance(exc, NETWORK_ERRORS)


def error_text(error: HttpError) -> str:
    """A one-line reason from an error answer: the exchange's own message when it sends one.

    ``{"message":"NotFound"}`` (Coinbase) -> ``NotFound (HTTP 404)``;
    ``["error",10020,"symbol: invalid"]`` (Bitfinex) -> ``symbol: invalid (code 10020, HTTP 500)``.
    """
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("message") or body.get("error"), str):
        return f"{body.get('message') or body.get('error')} (HTTP {error.status})"
    if isinstance(body, list) and len(body) >= 3 and body[0] == "error":
        return f"{body[2]} (code {body[1]}, HTTP {error.status})"
    text = " ".join(error.text.split())[:200]
    return f"{text} (HTTP {error.status})" if text else f"HTTP {error.status}"


def get_json(url: str, timeout: float) -> Any:
    """One GET; the decoded JSON body with every non-integer number as an exact ``Decimal``.

    Raises ``HttpError`` for a non-2xx answer, a ``NETWORK_ERRORS`` member for a network fault or
    a timeout, ``MalformedFrame`` for a 2xx body that is not JSON.
    """
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            raw = exc.read()
        text = raw.decode("utf-8", errors="replace")
        try:
            body = decode(text)
        except MalformedFrame:
            body = None
        raise HttpError(url, exc.code, body, text) from None
    return decode(raw)


def fetch_json(
    url: str,
    *,
    deadline: float,
    attempt_timeout: float,
    delays: Iterator[float],
    sleep: Callable[[float], None],
    refused: Callable[[HttpError], str | None] = lambda error: None,
    on_retry: Callable[[int, float, str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """GET ``url`` until it answers, retrying download failures with ``delays`` until ``deadline``.

    ``deadline`` is a ``clock()`` value: no wait goes past it, and each attempt's timeout is cut
    to what is left (at least half a second). ``refused(error)`` returns a reason when an HTTP
    error is a refusal whatever its status. Raises ``Refused``, ``DownloadFailed`` (chained to
    the last failure) or ``MalformedFrame``. ``on_retry(attempt, delay, reason)`` is told of
    each wait, for the caller's log.
    """
    attempt = 0
    while True:
        attempt += 1
        timeout = max(_MIN_ATTEMPT_TIMEOUT, min(attempt_timeout, deadline - clock()))
        try:
            return get_json(url, timeout)
        except HttpError as exc:
            reason = refused(exc)
            if reason is None and not is_retryable(exc):
                reason = error_text(exc)
            if reason is not None:
                raise Refused(reason) from exc
            failure: BaseException = exc
            why = error_text(exc)
        except NETWORK_ERRORS as exc:
            failure, why = exc, _one_line(exc)
        delay = next(delays)
        if clock() + delay >= deadline:
            plural = "s" if attempt > 1 else ""
            raise DownloadFailed(f"{why} ({attempt} attempt{plural})") from failure
        if on_retry is not None:
            on_retry(attempt, delay, why)
        sleep(delay)


def _one_line(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)  # URLError wraps the socket error in ``reason``
    text = " ".join(str(reason if isinstance(reason, BaseException) else exc).split())
    name = type(reason if isinstance(reason, BaseException) else exc).__name__
    return f"{name}: {text}" if text else name
