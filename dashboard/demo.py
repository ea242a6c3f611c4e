"""``--demo``: run the built-in simulated exchanges (``python -m simulator``) as a child process.

The simulator speaks each exchange's real wire protocol on loopback, so the listeners run the
same code as live and only their URLs differ. The child reads our end of a pipe on its stdin
and exits when it closes, so it never outlives the server, even after a ``kill -9``.
"""

from __future__ import annotations

import atexit
import json
import subprocess
import sys

from .app import PROJECT_ROOT


class SimulatorError(RuntimeError):
    """The simulator did not start."""


def start_simulator(*extra_args: str) -> str:
    """Start the simulator and return its base URL (``ws://127.0.0.1:PORT``)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--exit-on-stdin-eof", *extra_args],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    atexit.register(process.terminate)
    line = process.stdout.readline() if process.stdout else ""
    try:
        return json.loads(line)["url"]
    except (ValueError, KeyError, TypeError):
        process.terminate()
        raise SimulatorError(f"simulator did not report its URL (got {line!r})") from None
