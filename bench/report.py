"""What a benchmark run prints and writes: machine facts, a table per row, JSON, Markdown."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .result import Result


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory, Python: what a reader needs to compare numbers."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_bytes": memory,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def machine_line(info: dict[str, Any]) -> str:
    memory = f", {info['memory_bytes'] / 2**30:.1f} GiB" if info.get("memory_bytes") else ""
    load = ", ".join(f"{value:.2f}" for value in info["load_average_at_start"])
    return (f"{info['cores']} cores, {info['cpu_model']}{memory}; Python {info['python']}; "
            f"load average at start {load}")


def _verdict(passed: bool | None) -> str:
    return {True: "pass", False: "MISS", None: ""}[passed]


def _cpu_text(result: Result) -> str:
    load = {name: cores for name, cores in result.cpu.items() if name != "server"}
    parts = [f"{name} {cores:.3f}" for name, cores in sorted(load.items())]
    other = f"; rest of machine {result.other_cpu:.2f}" if result.other_cpu is not None else ""
    return ", ".join(parts) + other


def table(result: Result) -> str:
    """One row's block: its checks beside their targets, then the CPU of every process."""
    lines = [f"== {result.title}  [{result.wall_seconds:g} s]"]
    if result.error:
        lines.append(f"   ERROR: {result.error}")
        return "\n".join(lines)
    width = max((len(check.metric) for check in result.checks), default=10)
    shown = max((len(check.shown) for check in result.checks), default=10)
    target = max((len(check.target) for check in result.checks), default=10)
    for check in result.checks:
        lines.append(f"   {check.metric:<{width}}  {check.shown:<{shown}}  "
                     f"{check.target:<{target}}  {_verdict(check.passed)}".rstrip())
    if result.cpu:
        lines.append(f"   server CPU {result.cpu.get('server', 0):.2f} cores over "
                     f"{result.window_seconds:g} s; load generators (cores): "
                     f"{_cpu_text(result)}")
    lines += [f"   warning: {warning}" for warning in result.warnings()]
    return "\n".join(lines)


def markdown(results: list[Result], info: dict[str, Any]) -> str:
    """The rows as one Markdown table, for the README."""
    lines = [f"Measured on {machine_line(info)}.", "",
             "| row | metric | target | measured | result | load generators (cores) |",
             "|---|---|---|---|---|---|"]
    for result in results:
        if result.error:
            lines.append(f"| {result.title} | | | error: {result.error} | MISS | |")
            continue
        for index, check in enumerate(result.checks):
            title = result.title if index == 0 else ""
            cpu = _cpu_text(result) if index == 0 else ""
            lines.append(f"| {title} | {check.metric} | {check.target} | {check.shown} | "
                         f"{_verdict(check.passed)} | {cpu} |")
    return "\n".join(lines)


def write_json(path: Path, results: list[Result], info: dict[str, Any],
               extra: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"machine": info, **extra,
                "rows": [dataclasses.asdict(result) for result in results]}
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")
