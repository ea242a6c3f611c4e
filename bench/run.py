"""Run the benchmark suite: ``make bench``, or ``.venv/bin/python -m bench.run [ROW ...]``.

``python -m bench.run`` runs every row: ``bench/normalize.py`` beside the light row, then the
server rows (about 4 minutes on the 2-core dev machine), then the two 10-minute browser rows
(``browser``: the lists under 2,000 msg/s; ``wall``: the default view, eight exchanges x four
pairs at the demo's rates), about 25 minutes in all. ``python -m bench.run ingest --seconds
10`` runs one row with a shorter measured duration, for development (for ``soak``,
``--seconds`` caps the time it may take to reach 2M messages). Prints a table per row (the
measured value beside its target, pass or MISS, the CPU of every load generator) and writes
JSON to ``--json`` (default ``bench/results/latest.json``); ``--markdown PATH`` also writes the
table for the README. Exit status 0 even when a target is missed: targets are goals.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import browser, multinode, report, scenarios
from .procs import ROOT, close_all, install_cleanup
from .result import Options, Result

ScenarioFunction = Callable[[Options], Result]

# The rows, in the order they run. HOOK: to add a row, add one line here: (name, function).
# A function takes Options and returns a Result (see bench/scenarios.py); the headless-browser
# row (bench/browser.py) plugs in the same way.
SCENARIOS: list[tuple[str, ScenarioFunction]] = [
    ("light", scenarios.light),
    ("ingest", scenarios.ingest),
    ("soak", scenarios.soak),
    ("fanout", scenarios.fanout),
    ("slow", scenarios.slow),
    ("nodes", multinode.nodes),  # issue 12: fan-out through 2 web nodes vs 1
    ("async", multinode.async_modes),  # issue 12: eventlet vs gevent
    ("browser", browser.row),
    ("wall", browser.wall_row),
]

NORMALIZE = ROOT / "bench" / "normalize.py"
DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"


class Normalize:
    """``bench/normalize.py --json PATH`` in its own process, run beside the ``light`` row.

    The normalize benchmark keeps one core busy for ~25 s; the light row's server uses ~1 % of
    the other, so running the two together costs neither its numbers and saves half a minute of
    the 15 the suite may take. Every other row runs alone.
    """

    def __init__(self, results_dir: Path, log: Callable[[str], None]) -> None:
        self.path = results_dir / "normalize.json"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        log("== normalize (bench/normalize.py), beside the light row")
        self.started = time.monotonic()
        # 2 s per side and set (3 by default): it then ends with the light row, ~25 s
        self.process = subprocess.Popen(
            [sys.executable, str(NORMALIZE), "--seconds", "2", "--json", str(self.path)],
            cwd=ROOT)

    def result(self) -> dict[str, Any]:
        """Wait for it to end; its JSON, or what went wrong."""
        code = self.process.wait()
        wall = round(time.monotonic() - self.started, 1)
        if code != 0:
            return {"error": f"exit status {code}", "wall_seconds": wall}
        try:
            return {"wall_seconds": wall, "result": json.loads(self.path.read_text())}
        except (OSError, ValueError) as exc:
            return {"error": f"no JSON at {self.path}: {exc}", "wall_seconds": wall}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [name for name, _ in SCENARIOS]
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("rows", nargs="*", metavar="ROW",
                        help=f"rows to run (default: all): {', '.join(names)}, normalize")
    parser.add_argument("--seconds", type=float,
                        help="measured duration of each selected row (default: the row's own)")
    parser.add_argument("--no-deflate", action="store_true",
                        help="clients don't offer permessage-deflate (browsers do)")
    parser.add_argument("--server", type=Path,
                        help="the server.py to measure (default: this tree's), e.g. in a git "
                             "worktree of another revision")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write JSON")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    args = parser.parse_args(argv)
    unknown = [row for row in args.rows if row not in [*names, "normalize"]]
    if unknown:
        parser.error(f"unknown row {unknown[0]!r} (known: {', '.join(names)}, normalize)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_cleanup()
    selected = args.rows or [name for name, _ in SCENARIOS] + ["normalize"]
    opts = Options(seconds=args.seconds, deflate=not args.no_deflate,
                   server=args.server and args.server.resolve(),
                   log=lambda text: print(text, flush=True))
    info = report.machine()
    print(f"machine: {report.machine_line(info)}", flush=True)
    started = time.monotonic()
    results: list[Result] = []
    normalizing = Normalize(args.json.parent, opts.log) if "normalize" in selected else None
    normalize = None
    try:
        for name, function in SCENARIOS:
            if name not in selected:
                continue
            if name != "light" and normalizing is not None and normalize is None:
                normalize = normalizing.result()
            print(f"-- {name}", flush=True)
            result = scenarios.run_one(name, function, opts)
            results.append(result)
            print(report.table(result), flush=True)
        if normalizing is not None and normalize is None:
            normalize = normalizing.result()
    finally:
        if normalizing is not None and normalizing.process.poll() is None:
            normalizing.process.kill()
        close_all()
    wall = round(time.monotonic() - started, 1)
    print(f"\nall rows: {wall:g} s wall time")
    for result in results:
        print(report.table(result))
    if normalize is not None:
        state = normalize.get("error") or f"JSON in {args.json.parent / 'normalize.json'}"
        print(f"== normalize (bench/normalize.py)  [{normalize['wall_seconds']:g} s]\n   {state}")
    report.write_json(args.json, results, info, {
        "wall_seconds": wall, "normalize": normalize, "deflate": opts.deflate,
        "server": str(opts.server or ROOT / "server.py")})
    print(f"JSON: {args.json}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(report.markdown(results, info) + "\n")
        print(f"Markdown: {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
