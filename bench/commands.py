"""The stdin/stdout command channel between the runner and a load process (``bench.clients``).

The runner writes one JSON object per line, ``{"cmd": NAME, ...}``; the process answers each
with one JSON line: what the handler returned, or ``{"error": ...}``. The loop ends when stdin
closes, which is how a load process learns that its runner is gone. The fake exchanges
(``python -m simulator --fast --stdin-commands``) speak the same, with their own thread-based
loop (``simulator.fast.answer_commands``): the simulator does not import the benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]


async def answer_commands(handlers: Mapping[str, Handler]) -> None:
    """Answer commands from stdin with ``handlers[command["cmd"]](command)`` until it closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            command = json.loads(line)
            handler = handlers.get(command["cmd"])
            answer = (handler(command) if handler is not None
                      else {"error": f"unknown command {command['cmd']!r}"})
        except (ValueError, KeyError, TypeError) as exc:
            answer = {"error": str(exc)}
        print(json.dumps(answer), flush=True)
