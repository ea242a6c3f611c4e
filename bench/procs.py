"""Child processes of a benchmark, and their CPU and memory read from ``/proc``.

Every child starts in its own session (process group), is registered here, and is killed with
its whole group when the runner stops for any reason: ``close_all`` runs from ``atexit`` and
from SIGTERM/SIGHUP, each scenario closes its own children in ``finally``, and the kernel sends
each child SIGTERM if the runner is killed outright (``PR_SET_PDEATHSIG``). Children that
take commands speak JSON lines on stdin/stdout (``request``); their stderr, and the server's
whole output, go to a log file whose tail is shown when something fails.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


class ChildFailed(RuntimeError):
    """A child exited or did not answer; the message carries the tail of its log."""


def free_port() -> int:
    """A port nobody listens on now (bind to 0, read it back, release it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_bytes(pid: int) -> int:
    """Resident set size (``VmRSS``), in bytes; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (``/proc/stat``)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK  # user..steal; guest is inside user


def open_sockets(pid: int, readings: int = 3) -> int:
    """How many sockets the process holds open (``/proc/<pid>/fd`` links to ``socket:``): the
    least of a few readings 0.2 s apart, so a short HTTP request in flight doesn't count."""
    counts = []
    for reading in range(readings):
        if reading:
            time.sleep(0.2)
        count = 0
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        counts.append(count)
    return min(counts)


class CpuWindow:
    """CPU used by some processes between ``start`` and ``stop``, in cores (1.0 = one core).

    ``other`` is what the rest of the machine used meanwhile (busy time of all cores minus
    ours): on a shared 2-core box it says whether a result was starved by someone else.
    """

    def __init__(self, children: Mapping[str, Child]) -> None:
        self.children = dict(children)
        self._start: dict[str, float] = {}
        self._busy = 0.0
        self._started_at = 0.0
        self.cores: dict[str, float] = {}
        self.other = 0.0
        self.seconds = 0.0

    def start(self) -> CpuWindow:
        self._started_at = time.monotonic()
        self._busy = machine_busy_seconds()
        self._start = {name: child.cpu() for name, child in self.children.items()}
        return self

    def stop(self) -> dict[str, float]:
        self.seconds = time.monotonic() - self._started_at
        used = {name: child.cpu() - self._start[name] for name, child in self.children.items()}
        self.cores = {name: round(seconds / self.seconds, 4) for name, seconds in used.items()}
        busy = machine_busy_seconds() - self._busy
        self.other = round(max(0.0, busy - sum(used.values())) / self.seconds, 3)
        return self.cores


_children: list[Child] = []


def _own_group_dying_with_parent() -> None:
    """In the child before exec: a process group of its own (so ``stop`` reaches whatever it
    spawns), and SIGTERM when the runner dies, even by SIGKILL, which no ``finally`` sees."""
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Child:
    """One child process in its own process group, with an optional JSON-line control pipe."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, *,
                 env: Mapping[str, str] | None = None, cwd: Path = ROOT,
                 control: bool = True) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("w")
        self.popen = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if control else subprocess.DEVNULL,
            stdout=subprocess.PIPE if control else self._log,
            stderr=self._log, text=True, preexec_fn=_own_group_dying_with_parent,
        )
        _children.append(self)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._last_cpu = 0.0
        if control:
            threading.Thread(target=self._pump, name=f"read-{name}", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def read_json(self, timeout: float = 30.0) -> dict[str, Any]:
        """The next JSON line the child prints; ``ChildFailed`` when it exits or stays silent."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise ChildFailed(f"{self.name} said nothing for {timeout:g} s\n"
                              f"{self.tail()}") from None
        if line is None:
            self.popen.wait(5)
            raise ChildFailed(f"{self.name} exited with {self.popen.returncode}\n{self.tail()}")
        return json.loads(line)

    def request(self, command: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """Send one command line; return the child's one-line answer."""
        assert self.popen.stdin is not None
        try:
            self.popen.stdin.write(json.dumps(command) + "\n")
            self.popen.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise ChildFailed(f"{self.name} is gone ({exc})\n{self.tail()}") from None
        return self.read_json(timeout)

    def cpu(self) -> float:
        """CPU seconds so far; the last value read once the process is gone."""
        with contextlib.suppress(OSError, IndexError, ValueError):
            self._last_cpu = cpu_seconds(self.pid)
        return self._last_cpu

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        """The last lines of the child's log (stderr, or all output for the server)."""
        with contextlib.suppress(OSError, ValueError):  # ValueError: already closed
            self._log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        shown = "\n".join(text.splitlines()[-lines:])
        return f"--- last lines of {self.log_path} ---\n{shown}" if shown else "(no output)"

    def stop(self, grace: float = 5.0) -> int | None:
        """End the child and its process group: close stdin, SIGTERM, then SIGKILL."""
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        else:  # the leader is gone; its group may not be
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self._log.close()
        if self in _children:
            _children.remove(self)
        return self.popen.returncode


def python(module_or_script: str, *args: str) -> list[str]:
    """argv running a module (``bench.clients``) or script path with this interpreter."""
    if module_or_script.endswith(".py"):
        return [sys.executable, module_or_script, *args]
    return [sys.executable, "-m", module_or_script, *args]


def close_all() -> None:
    """Kill every child still registered, newest first."""
    for child in reversed(list(_children)):
        with contextlib.suppress(Exception):
            child.stop(grace=2.0)


def _on_signal(signum: int, frame: object) -> None:
    close_all()
    sys.exit(128 + signum)


def install_cleanup() -> None:
    """Kill the children on SIGTERM and SIGHUP too (``atexit`` alone misses signals); call
    once from the main thread of the runner."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)


atexit.register(close_all)
