"""What a scenario returns: checks (measured value beside its target), CPU, details; and the
options every scenario takes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .procs import CpuWindow

# a load generator above this many cores may be what limits the run, not the server
LOAD_GENERATOR_LIMIT = 0.7
# the rest of the machine above this many cores: the server may have been starved
OTHER_CPU_LIMIT = 0.5


@dataclass
class Options:
    """What the command line sets for every scenario."""

    seconds: float | None = None  # main measured duration; None: each scenario's default
    deflate: bool = True  # clients offer permessage-deflate, as browsers do
    server: Path | None = None  # the server.py to measure; None: this tree's
    log: Callable[[str], None] = print

    def duration(self, default: float) -> float:
        return default if self.seconds is None else self.seconds


@dataclass
class Check:
    """One measured value beside its target."""

    metric: str
    shown: str  # the measured value as the table prints it
    target: str
    passed: bool | None  # None: reported without a target
    value: Any = None


@dataclass
class Result:
    """One row: its checks, the CPU of every process over the measured window, details."""

    name: str
    title: str
    checks: list[Check] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # process -> cores, measured window
    other_cpu: float | None = None  # cores the rest of the machine used meanwhile
    window_seconds: float = 0.0
    wall_seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def check(self, metric: str, value: Any, shown: str, target: str,
              passed: bool | None) -> None:
        self.checks.append(Check(metric, shown, target, passed, value))

    def take_cpu(self, window: CpuWindow) -> None:
        self.cpu = dict(window.cores)
        self.other_cpu = window.other
        self.window_seconds = round(window.seconds, 2)


    def warnings(self) -> list[str]:
        """Reasons not to trust this row's numbers as the server's own."""
        found = [f"{name} used {cores:.2f} cores: the load generator may be the bottleneck"
                 for name, cores in sorted(self.cpu.items())
                 if name != "server" and cores > LOAD_GENERATOR_LIMIT]
        if self.other_cpu is not None and self.other_cpu > OTHER_CPU_LIMIT:
            found.append(f"other processes used {self.other_cpu:.2f} cores meanwhile: the "
                         "server may have been starved (rerun on a quiet machine)")
        if self.details.get("malformed"):
            found.append(f"the server counted {self.details['malformed']} malformed frames: "
                         "the fake exchanges are not wire-exact")
        if self.details.get("reconnects"):
            found.append(f"the server's listeners reconnected {self.details['reconnects']} "
                         "times during the run")
        behind, rate = self.details.get("feeders_behind_max", 0), self.details.get("rate")
        if isinstance(rate, int | float) and behind > 0.1 * rate:  # 100 ms of traffic
            found.append(f"the feeders fell up to {behind:,} frames behind their schedule")
        return found


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g} ms"


def mib(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"
