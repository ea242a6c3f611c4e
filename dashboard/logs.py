"""Logging set-up: plain lines for people (``LOG_FORMAT=text``) or JSON for collectors (``json``).

Our log lines name what they are about as ``key=value`` words after a short message, one line
per incident: ``feed reconnecting exchange=bitfinex connection=1 attempt=2 delay=1.4s reason=...``.
The JSON formatter keeps that line as ``message`` and lifts each ``key=value`` into a field of its
own, so a collector can filter on ``exchange``, ``pair`` or ``reason`` without parsing text.
``reason`` is always the last word of a line and takes the rest of it, spaces included.

Every record becomes exactly one line in either format: a traceback (logged only for a bug of
ours, never for an expected fault) is one ``exception`` field of that line in JSON.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# `` key=`` where a key is a lower-case word; the value runs to the next one (``reason``: to the
# end of the line)
_KEY = re.compile(r"(?:^|(?<=\s))([a-z][a-z0-9_]*)=")
# fields a record always has; a key=value word never overwrites one of them
_RESERVED = frozenset({"time", "level", "logger", "message", "exception"})


def fields_of(message: str) -> dict[str, str]:
    """The ``key=value`` words of a log line: ``"x a=1 reason=b c=2"`` gives
    ``{"a": "1", "reason": "b c=2"}``.

    A value keeps its quotes as written (``pair='not a pair!'``); a key found twice keeps its
    first value.
    """
    found: dict[str, str] = {}
    matches = list(_KEY.finditer(message))
    for index, match in enumerate(matches):
        key = match.group(1)
        if key == "reason" or index + 1 == len(matches):
            value = message[match.end():]
            found.setdefault(key, value.strip())
            if key == "reason":
                break
            continue
        value = message[match.end():matches[index + 1].start()]
        found.setdefault(key, value.strip())
    return found


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (ISO-8601 UTC, ms, ``Z``), ``level``, ``logger``,
    ``message``, every ``key=value`` of the message, and ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        moment = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        for key, value in fields_of(message).items():
            if key not in _RESERVED:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(level: str, log_format: str = "text") -> None:
    """Send every log record to stderr, one line each, in ``log_format`` (text or json).

    Replaces whatever handlers the root logger had, so calling it twice is harmless.
    """
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


class ErrorStream:
    """A ``wsgi.errors`` stream that writes into a logger, one record per line.

    eventlet's websocket writes its own complaints (``socket shutdown error: [Errno 9] Bad file
    descriptor`` when a browser is already gone) to ``wsgi.errors``, raw and without a newline,
    which would break ``LOG_FORMAT=json``'s one object per line. These are expected faults of a
    browser's connection, so they are logged at DEBUG.
    """

    def __init__(self, logger: logging.Logger, level: int = logging.DEBUG) -> None:
        self._logger = logger
        self._level = level

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self._logger.log(self._level, "%s", line.strip())
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


class LoggedErrors:
    """WSGI middleware: ``environ["wsgi.errors"]`` goes to the ``wsgi`` logger (``ErrorStream``)."""

    def __init__(self, app: Any, logger: logging.Logger | None = None) -> None:
        self.app = app
        self.stream = ErrorStream(logger or logging.getLogger("wsgi"))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgi.errors"] = self.stream
        return self.app(environ, start_response)
