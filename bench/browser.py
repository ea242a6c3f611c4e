"""Benchmark rows "real browser": the page in headless Chromium for 10 minutes.

- ``browser`` (issue 4): the lists view under ~2,000 msg/s from the lean feeders; JS heap growth
  <= 10 % between minute 1 and minute 10, DOM bounded, no long task over 200 ms.
- ``wall`` (issue 9): the default view (board and charts) with eight exchanges x four pairs from
  the simulator at the demo's realistic per-venue rates (``dashboard.demo.DEMO_RATES``, as
  ``--demo`` runs it); Chromium's CPU <= 10 % of one core, heap flat within 10 %, DOM bounded,
  no long task over 100 ms (a wall screen is often a small board computer).

Targets are goals for the benchmark, not test assertions: the result says ``pass`` or ``miss``
per target and the numbers behind it.

Two layers, so the load source can be swapped:

- ``measure_page(page_url)`` needs only a URL. It launches Debian's Chromium through Playwright
  (the flags of ``tests/browser/conftest.py``), waits until the page is live, then samples over
  the Chrome DevTools Protocol (``Performance.getMetrics``), an in-page probe (long tasks, rows
  applied, trade records received) and ``/proc`` (Chromium's CPU). Before the two decisive
  samples (at ``first_sample`` and at the end) it forces a full GC, so heap numbers compare
  live objects rather than whatever garbage happened to be waiting.
- ``run_benchmark(source)`` starts the real ``server.py`` (its own process) against a
  ``LoadSource``, calibrates the source to the target rate, runs ``measure_page`` and reports
  the CPU of the server and of the load generator, which must be shown not to be the bottleneck.
  ``SimulatorSource`` (``python -m simulator --rate R``) is the load source for now; anything
  with the ``LoadSource`` methods (e.g. a lean fake-exchange feeder) plugs in the same way.

Standalone: ``.venv/bin/python -m bench.browser [--seconds 600] [--first-sample 60]
[--target-rate 2000] [--rate R] [--heap-snapshots] [--json out.json] [--keep-workdir]``, and
``.venv/bin/python -m bench.browser --wall [--seconds 600]`` for the wall row.

Reading the numbers: the page's 15-minute chart fills up during the whole 10 minutes (by design,
bounded at 15 min x feeds), and V8 keeps compiling hot code, so some heap growth between minute
1 and minute 10 is expected; ``--heap-snapshots`` splits it into code and data.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent

# Keep in step with tests/browser/conftest.py (not imported: it pulls in pytest).
# --no-sandbox: Chromium refuses to start as root with its sandbox on.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

PAIRS = "BTC-USD,ETH-USD,SOL-USD,LTC-USD"
EXCHANGES = "bitfinex,coinbase"
# frames the simulator sends per random trade: Bitfinex te + tu + ticker, Coinbase match + ticker
FRAMES_PER_TRADE = {"bitfinex": 3, "coinbase": 2}

HEAP_GROWTH_LIMIT_PCT = 10.0
LONG_TASK_LIMIT_MS = 200.0
# the wall row (issue 9): eight exchanges x four pairs, each venue's quote currency
WALL_USD_VENUES = ("bitfinex", "coinbase", "kraken", "bitstamp", "gemini")
WALL_USDT_VENUES = ("binance", "okx", "bybit")
WALL_BASES = ("BTC", "ETH", "SOL", "XRP")
WALL_FEEDS = len(WALL_USD_VENUES + WALL_USDT_VENUES) * len(WALL_BASES)
WALL_CPU_LIMIT_CORES = 0.10
METRIC_NAMES = ("JSHeapUsedSize", "JSHeapTotalSize", "Nodes", "JSEventListeners", "Documents",
                "LayoutCount", "RecalcStyleCount", "TaskDuration", "ScriptDuration",
                "LayoutDuration", "RecalcStyleDuration")

# The in-page probe, installed before any page script runs. It keeps only counters (the probe
# must not be what grows): long tasks (PerformanceObserver "longtask"), trade rows the page
# inserted into #trades (a MutationObserver, i.e. what was actually applied) and trade records
# that arrived on the Socket.IO websocket (counted as '"seq":' occurrences in "trade" frames,
# no JSON parsing). pause()/resume() mark a window in which our own forced GC runs; long tasks
# starting inside such a window are counted apart, so the probe does not blame the page for them.
PROBE_JS = r"""
(() => {
  const p = {
    longTasks: 0, over100: 0, over200: 0, totalMs: 0, maxMs: 0, windowMaxMs: 0,
    excluded: 0, excludedMaxMs: 0, tradeRows: 0, tradeRecords: 0, tradeFrames: 0,
    wsMessages: 0, observing: false,
  };
  const windows = []; // [start, end] of our own probe windows; at most the last 8
  let pausedAt = null;
  const inProbeWindow = (t) => (pausedAt !== null && t >= pausedAt) ||
    windows.some(([a, b]) => t >= a && t <= b);
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (inProbeWindow(e.startTime)) {
          p.excluded += 1;
          p.excludedMaxMs = Math.max(p.excludedMaxMs, e.duration);
          continue;
        }
        p.longTasks += 1;
        p.totalMs += e.duration;
        if (e.duration > 100) p.over100 += 1;
        if (e.duration > 200) p.over200 += 1;
        if (e.duration > p.maxMs) p.maxMs = e.duration;
        if (e.duration > p.windowMaxMs) p.windowMaxMs = e.duration;
      }
    }).observe({ type: "longtask", buffered: true });
    p.observing = true;
  } catch (err) {
    p.error = String(err);
  }
  const NativeWebSocket = window.WebSocket;
  const countFrame = (ev) => {
    p.wsMessages += 1;
    const d = ev.data;
    if (typeof d !== "string" || !d.startsWith('42["trade"')) return;
    p.tradeFrames += 1;
    for (let i = d.indexOf('"seq":'); i !== -1; i = d.indexOf('"seq":', i + 6)) p.tradeRecords += 1;
  };
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", countFrame);
    }
  };
  document.addEventListener("DOMContentLoaded", () => {
    const tbody = document.querySelector("#trades tbody");
    if (!tbody) return;
    new MutationObserver((records) => {
      for (const r of records) p.tradeRows += r.addedNodes.length;
    }).observe(tbody, { childList: true });
  });
  window.__benchProbe = {
    read() {
      const out = { ...p };
      p.windowMaxMs = 0;
      return out;
    },
    pause() { pausedAt = performance.now(); },
    resume() {
      if (pausedAt === null) return;
      windows.push([pausedAt, performance.now()]);
      if (windows.length > 8) windows.shift();
      pausedAt = null;
    },
  };
})();
"""

# Everything read from the page at a sample, in one round trip.
PAGE_SAMPLE_JS = r"""
() => {
  const stats = typeof window.dashboardStats === "function" ? window.dashboardStats() : null;
  const newest = document.querySelector("#trades tbody tr");
  return {
    probe: window.__benchProbe ? window.__benchProbe.read() : null,
    stats,
    elements: document.querySelectorAll("*").length,
    visibility: document.visibilityState,
    connection: document.body.dataset.connection || "",
    newestTradeAgeMs: newest && Number.isFinite(newest._t) ? Date.now() - newest._t : null,
  };
}
"""

# Resolves in the first animation frame after the page applied its queue (its pending count
# dropped since the previous frame), or after 2 s. Between two flushes up to ~500 records wait
# at 2,000 msg/s, several % of a 3 MB heap; right after a flush only what arrived during the
# flush task itself waits (~100-150 records here, reported as pending_before_gc), so the two
# heap readings compare like with like. The probe's long-task count is paused from then on
# (the flush task itself, earlier, still counts).
AFTER_FLUSH_JS = r"""
() => new Promise((resolve) => {
  const until = performance.now() + 2000;
  let before = Infinity;
  const check = () => {
    const s = typeof window.dashboardStats === "function" ? window.dashboardStats() : null;
    if (!s || s.pending === 0 || s.pending < before || performance.now() > until) {
      window.__benchProbe.pause();
      resolve(s ? s.pending : null);
    } else {
      before = s.pending;
      requestAnimationFrame(check);
    }
  };
  requestAnimationFrame(() => {
    const s = typeof window.dashboardStats === "function" ? window.dashboardStats() : null;
    before = s ? s.pending : Infinity;
    requestAnimationFrame(check);
  });
})
"""

PAGE_LIVE_JS = """() => document.body.dataset.connection === "connected"
    && document.querySelector("#trades tbody tr") !== null"""
# the lists view of the ``browser`` row (the running lists are not on the default view)
LISTS_QUERY = "?view=board,chart,tickers,trades"
# the default view is live once every board row is live and holds a last price
WALL_LIVE_JS = f"""() => document.body.dataset.connection === "connected"
    && document.querySelectorAll('#board tr.venue[data-state="live"]').length === {WALL_FEEDS}
    && document.querySelectorAll("#board td.last[data-value]").length === {WALL_FEEDS}"""

Progress = Callable[[str], None]


# ---- CPU from /proc -----------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, starttime, utime + stime in ticks) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    return int(fields[1]), int(fields[19]), int(fields[11]) + int(fields[12])


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (not ``root`` itself), from one scan of /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            children.setdefault(st[0], []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tree(root: int) -> list[int]:
    """``root`` and every process below it: a server or simulator with whatever it spawned."""
    return [root, *descendants(root)]


def chromium_pids() -> list[int]:
    """Our Chromium processes: descendants of this process whose executable is Chromium.

    Playwright's driver (node) sits between us and the browser, so the whole tree is walked and
    filtered by executable rather than taken from a pid Playwright does not expose.
    """
    pids = []
    for pid in descendants(os.getpid()):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if "chrom" in Path(exe).name:
            pids.append(pid)
    return pids


def _is_renderer(pid: int) -> bool:
    try:
        return b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class CpuMeter:
    """CPU of a changing set of processes, in cores (1.0 = one core busy), between samples.

    Time is tracked per process (pid + start time), so a process that appears counts from its
    start and one that exits between samples loses at most its last interval.
    """

    def __init__(self, pids: Callable[[], Iterable[int]]) -> None:
        self.pids = pids
        self.seen: dict[tuple[int, int], int] = {}
        self.started = time.monotonic()
        self.last = self.started
        self.total_ticks = 0
        self.sample()
        self.total_ticks = 0  # only what is used from now on counts

    def sample(self) -> float:
        """Cores used since the previous sample."""
        now = time.monotonic()
        ticks = 0
        current: dict[tuple[int, int], int] = {}
        for pid in self.pids():
            st = _stat(pid)
            if st is None:
                continue
            key = (pid, st[1])
            current[key] = st[2]
            ticks += st[2] - self.seen.get(key, 0 if self.seen else st[2])
        self.seen = current
        self.total_ticks += ticks
        interval, self.last = now - self.last, now
        return ticks / CLOCK_TICKS / interval if interval > 0 else 0.0

    def average(self) -> float:
        """Cores used on average since the meter was created."""
        elapsed = self.last - self.started
        return self.total_ticks / CLOCK_TICKS / elapsed if elapsed > 0 else 0.0


# ---- the page ---------------------------------------------------------------------------


def chromium_executable() -> str:
    """Debian's Chromium (``CHROMIUM`` overrides); Playwright's own download is never used."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path:
        raise SystemExit("Debian's chromium is not installed (apt-get install chromium)")
    return path


def _metrics(cdp: Any) -> dict[str, float]:
    got = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {name: got[name] for name in METRIC_NAMES if name in got}


def _pct(before: float | None, after: float | None) -> float | None:
    if not before or after is None:
        return None
    return round((after - before) / before * 100, 2)


def _trades_applied(sample: dict[str, Any]) -> int | None:
    """Trades applied so far: a counter in dashboardStats if the page has one, else rows seen."""
    stats = sample.get("stats") or {}
    for name in ("tradesApplied", "appliedTrades", "tradesSeen"):
        if isinstance(stats.get(name), int):
            return stats[name]
    probe = sample.get("probe") or {}
    return probe.get("tradeRows")


def measure_page(
    page_url: str,
    seconds: float = 600,
    first_sample: float = 60,
    sample_every: float = 10,
    progress: Progress = print,
    on_sample: Callable[[], dict[str, Any]] | None = None,
    ready_timeout: float = 60,
    viewport: tuple[int, int] = (1920, 1080),
    heap_snapshots: bool = False,
    ready_js: str = PAGE_LIVE_JS,
) -> dict[str, Any]:
    """Open ``page_url`` in headless Chromium, measure it for ``seconds``, return the results.

    ``seconds`` and ``first_sample`` count from the moment the page is live (``ready_js``; by
    default connected, first trade row shown). ``on_sample`` is called at every sample (about
    every ``sample_every`` seconds) and its dict is stored with it, e.g. the load source's
    counters and CPU.
    The two decisive samples (``first`` and ``end``) are taken right after two forced full GCs.
    With ``heap_snapshots`` a heap snapshot is also taken there and summarised by kind, so the
    growth can be split into compiled code (V8's tiering, not the page's data) and the page's
    own arrays, strings and objects (about 1-2 s of stall each, excluded from long tasks).
    """
    from playwright.sync_api import sync_playwright  # only this function needs Playwright

    if not 0 < first_sample < seconds:
        raise ValueError("need 0 < first_sample < seconds")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(),
                                             args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": viewport[0],
                                                    "height": viewport[1]})
            context.add_init_script(PROBE_JS)
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable", {"timeMode": "threadTicks"})
            if heap_snapshots:
                cdp.send("HeapProfiler.enable")
            cpu = CpuMeter(chromium_pids)
            renderer_cpu = CpuMeter(lambda: [p for p in chromium_pids() if _is_renderer(p)])

            loaded_at = time.monotonic()
            page.goto(page_url)
            page.wait_for_function(ready_js, timeout=ready_timeout * 1000)
            live_after = time.monotonic() - loaded_at
            progress(f"page live after {live_after:.1f} s; measuring for {seconds:g} s")

            start = time.monotonic()
            cpu.sample()
            renderer_cpu.sample()
            cpu.total_ticks = renderer_cpu.total_ticks = 0
            cpu.started = renderer_cpu.started = start
            samples: list[dict[str, Any]] = []

            def take(label: str, gc: bool) -> dict[str, Any]:
                if gc:  # waits for a flush, then pauses the long-task count for our own GC
                    pending_before_gc = page.evaluate(AFTER_FLUSH_JS)
                    cdp.send("HeapProfiler.collectGarbage")
                    cdp.send("HeapProfiler.collectGarbage")
                sample: dict[str, Any] = {
                    "label": label,
                    "t": round(time.monotonic() - start, 1),
                    "metrics": _metrics(cdp),
                    **page.evaluate(PAGE_SAMPLE_JS),
                    "chromium_cores": round(cpu.sample(), 3),
                    "renderer_cores": round(renderer_cpu.sample(), 3),
                }
                if gc:
                    sample["pending_before_gc"] = pending_before_gc
                    if heap_snapshots:
                        sample["heap_snapshot"] = take_heap_snapshot(cdp)
                    page.evaluate("() => window.__benchProbe.resume()")
                if on_sample is not None:
                    sample["load"] = on_sample()
                samples.append(sample)
                _report(progress, sample, samples)
                return sample

            base = take("start", gc=False)
            first: dict[str, Any] | None = None
            next_sample = sample_every
            while True:
                elapsed = time.monotonic() - start
                if first is None and elapsed >= first_sample:
                    first = take("first", gc=True)
                    next_sample = first["t"] + sample_every
                elif elapsed >= seconds:
                    break
                elif elapsed >= next_sample:
                    take("sample", gc=False)
                    next_sample += sample_every
                else:
                    due = min(next_sample, seconds, first_sample if first is None else seconds)
                    page.wait_for_timeout(max(50.0, (due - elapsed) * 1000))
            end = take("end", gc=True)
            duration = time.monotonic() - start
            cpu_avg = cpu.average()
            renderer_avg = renderer_cpu.average()
        finally:
            browser.close()
    assert first is not None
    result = _summarise(base, first, end, samples, duration, cpu_avg, renderer_avg,
                        live_after, errors)
    if heap_snapshots:
        result["heap_snapshot_diff"] = diff_heap_snapshots(first["heap_snapshot"],
                                                           end["heap_snapshot"])
    return result


# V8 node types in a heap snapshot that live in the JS heap ("native" nodes are Blink's).
JS_NODE_TYPES = {"object", "closure", "array", "string", "code", "hidden", "number", "regexp",
                 "object shape", "concatenated string", "sliced string", "bigint", "symbol"}
NAMED_NODE_TYPES = {"object", "closure", "array"}


def take_heap_snapshot(cdp: Any) -> dict[str, Any]:
    """A heap snapshot summarised in place: JS bytes per node type and per constructor name.

    The snapshot itself (~20 MB of JSON for this page) is not kept.
    """
    chunks: list[str] = []

    def on_chunk(params: dict[str, Any]) -> None:
        chunks.append(params["chunk"])

    cdp.on("HeapProfiler.addHeapSnapshotChunk", on_chunk)
    try:
        cdp.send("HeapProfiler.takeHeapSnapshot", {"reportProgress": False})
    finally:
        cdp.remove_listener("HeapProfiler.addHeapSnapshotChunk", on_chunk)
    snapshot = json.loads("".join(chunks))
    meta = snapshot["snapshot"]["meta"]
    fields = meta["node_fields"]
    width = len(fields)
    node_types = meta["node_types"][0]
    i_type, i_name, i_size = (fields.index(f) for f in ("type", "name", "self_size"))
    nodes, strings = snapshot["nodes"], snapshot["strings"]
    by_type: dict[str, int] = {}
    by_name: dict[str, list[int]] = {}
    for i in range(0, len(nodes), width):
        kind = node_types[nodes[i + i_type]]
        if kind not in JS_NODE_TYPES:
            continue
        size = nodes[i + i_size]
        by_type[kind] = by_type.get(kind, 0) + size
        if kind in NAMED_NODE_TYPES:
            entry = by_name.setdefault(f"{kind}:{strings[nodes[i + i_name]][:60]}", [0, 0])
            entry[0] += 1
            entry[1] += size
    return {"js_bytes": sum(by_type.values()), "by_type": by_type, "by_name": by_name}


def diff_heap_snapshots(first: dict[str, Any], end: dict[str, Any], top: int = 12
                        ) -> dict[str, Any]:
    """Where the JS heap grew between two summarised snapshots, code apart from data."""
    code_first = first["by_type"].get("code", 0)
    code_end = end["by_type"].get("code", 0)
    data_first, data_end = first["js_bytes"] - code_first, end["js_bytes"] - code_end
    kinds = sorted(set(first["by_type"]) | set(end["by_type"]))
    names = set(first["by_name"]) | set(end["by_name"])

    def grew(name: str) -> int:
        return end["by_name"].get(name, [0, 0])[1] - first["by_name"].get(name, [0, 0])[1]

    return {
        "js_bytes": [first["js_bytes"], end["js_bytes"]],
        "code_bytes": [code_first, code_end],
        "data_bytes_excl_code": [data_first, data_end],
        "data_growth_pct_excl_code": _pct(data_first, data_end),
        "growth_by_type": {k: end["by_type"].get(k, 0) - first["by_type"].get(k, 0)
                           for k in kinds},
        "top_growth_by_name": {n: grew(n) for n in sorted(names, key=grew, reverse=True)[:top]},
    }


def _report(progress: Progress, sample: dict[str, Any], samples: list[dict[str, Any]]) -> None:
    m = sample["metrics"]
    probe = sample.get("probe") or {}
    stats = sample.get("stats") or {}
    rate = ""
    if len(samples) > 1:
        prev = samples[-2]
        dt = sample["t"] - prev["t"]
        applied, before = _trades_applied(sample), _trades_applied(prev)
        if dt > 0 and applied is not None and before is not None:
            rate = f" applied {(applied - before) / dt:.0f} trades/s"
    load = sample.get("load") or {}
    extra = "".join(f" {k}={v}" for k, v in load.items() if k.endswith(("_per_s", "_cores")))
    progress(
        f"[{sample['t']:6.1f} s] {sample['label']:<6} heap {m.get('JSHeapUsedSize', 0) / 1e6:.2f}"
        f" MB nodes {m.get('Nodes', 0):.0f} elements {sample['elements']}"
        f" listeners {m.get('JSEventListeners', 0):.0f} rows {stats.get('tradeRows')}"
        f"/{stats.get('tickerRows')} long tasks {probe.get('longTasks')}"
        f" (max {probe.get('windowMaxMs', 0):.0f} ms) chromium {sample['chromium_cores']:.2f}"
        f" cores{rate}{extra}"
    )


def _summarise(base: dict[str, Any], first: dict[str, Any], end: dict[str, Any],
               samples: list[dict[str, Any]], duration: float, cpu_avg: float,
               renderer_avg: float, live_after: float, errors: list[str]) -> dict[str, Any]:
    """Minute-1 vs end values, growth, long tasks, CPU and a pass/miss per target."""
    fm, em = first["metrics"], end["metrics"]
    bp, ep = base.get("probe") or {}, end.get("probe") or {}
    long_tasks = {
        "count": ep.get("longTasks", 0) - bp.get("longTasks", 0),
        "over_100ms": ep.get("over100", 0) - bp.get("over100", 0),
        "over_200ms": ep.get("over200", 0) - bp.get("over200", 0),
        "total_ms": round(ep.get("totalMs", 0) - bp.get("totalMs", 0), 1),
        "max_ms": round(max((s.get("probe") or {}).get("windowMaxMs", 0) for s in samples[1:]),
                        1),
        "before_measuring": bp.get("longTasks", 0),
        "excluded_forced_gc": ep.get("excluded", 0),
        "excluded_max_ms": round(ep.get("excludedMaxMs", 0), 1),
        "observer_ok": bool(ep.get("observing")),
        "per_sample_max_ms": [round((s.get("probe") or {}).get("windowMaxMs", 0))
                              for s in samples[1:]],
    }
    applied = (_trades_applied(end) or 0) - (_trades_applied(base) or 0)
    received = ep.get("tradeRecords", 0) - bp.get("tradeRecords", 0)
    bm = base["metrics"]
    busy = {name: round((em.get(key, 0) - bm.get(key, 0)) / duration, 3)
            for name, key in (("task", "TaskDuration"), ("script", "ScriptDuration"),
                              ("layout", "LayoutDuration"), ("style", "RecalcStyleDuration"))}
    stats_first, stats_end = first.get("stats") or {}, end.get("stats") or {}
    max_rows = stats_end.get("maxRows")
    rows_capped = max_rows is None or all(
        (stats_end.get(k) or 0) <= max_rows for k in ("tradeRows", "tickerRows", "tradeKeys"))
    heap_growth = _pct(fm.get("JSHeapUsedSize"), em.get("JSHeapUsedSize"))
    element_growth = end["elements"] - first["elements"]
    node_growth = (em.get("Nodes") or 0) - (fm.get("Nodes") or 0)
    dom_bounded = rows_capped and element_growth <= max(10, first["elements"] * 0.01)
    ages = [s["newestTradeAgeMs"] for s in samples if s.get("newestTradeAgeMs") is not None]
    keys = ("JSHeapUsedSize", "JSHeapTotalSize", "Nodes", "JSEventListeners", "Documents")
    return {
        "duration_s": round(duration, 1),
        "first_sample_s": first["t"],
        "page_live_after_s": round(live_after, 1),
        "visibility": end.get("visibility"),
        "first": {"metrics": {k: fm.get(k) for k in keys}, "elements": first["elements"],
                  "stats": stats_first, "pending_before_gc": first.get("pending_before_gc")},
        "end": {"metrics": {k: em.get(k) for k in keys}, "elements": end["elements"],
                "stats": stats_end, "pending_before_gc": end.get("pending_before_gc")},
        "heap_used_growth_pct": heap_growth,
        "heap_total_growth_pct": _pct(fm.get("JSHeapTotalSize"), em.get("JSHeapTotalSize")),
        "dom_element_growth": element_growth,
        "dom_node_growth_incl_detached": node_growth,
        "listener_growth": (em.get("JSEventListeners") or 0) - (fm.get("JSEventListeners") or 0),
        "long_tasks": long_tasks,
        "chromium_cores": round(cpu_avg, 3),
        "renderer_cores": round(renderer_avg, 3),
        # seconds of main-thread time per second (CPU time: Performance.enable threadTicks)
        "main_thread_busy": busy["task"],
        "main_thread_breakdown": busy,
        "layouts_per_s": round((em.get("LayoutCount", 0) - bm.get("LayoutCount", 0)) / duration,
                               2),
        "trades_received": received,
        "trades_applied": applied,
        "trades_applied_per_s": round(applied / duration, 1),
        "trades_received_per_s": round(received / duration, 1),
        "newest_trade_age_ms": {"median": _median(ages), "max": max(ages, default=None)},
        "page_errors": errors[:20],
        "targets": {
            "heap_growth_le_10pct": _verdict(heap_growth is not None
                                             and heap_growth <= HEAP_GROWTH_LIMIT_PCT),
            "dom_bounded": _verdict(dom_bounded),
            "no_task_over_200ms": _verdict(long_tasks["over_200ms"] == 0),
            "no_task_over_100ms": _verdict(long_tasks["over_100ms"] == 0),
            "chromium_cpu_le_10pct": _verdict(cpu_avg <= WALL_CPU_LIMIT_CORES),
        },
        "samples": [_compact(s) for s in samples],
    }


def _verdict(ok: bool) -> str:
    return "pass" if ok else "miss"


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _compact(sample: dict[str, Any]) -> dict[str, Any]:
    """One sample for the JSON report: the numbers, without the probe's internals."""
    probe = sample.get("probe") or {}
    m = sample["metrics"]
    return {
        "label": sample["label"], "t": sample["t"],
        "heap_used": m.get("JSHeapUsedSize"), "heap_total": m.get("JSHeapTotalSize"),
        "nodes": m.get("Nodes"), "listeners": m.get("JSEventListeners"),
        "layouts": m.get("LayoutCount"), "task_s": round(m.get("TaskDuration", 0), 2),
        "script_s": round(m.get("ScriptDuration", 0), 2),
        "layout_s": round(m.get("LayoutDuration", 0), 2),
        "style_s": round(m.get("RecalcStyleDuration", 0), 2),
        "elements": sample["elements"], "stats": sample.get("stats"),
        "long_tasks": probe.get("longTasks"), "long_task_max_ms": probe.get("windowMaxMs"),
        "trade_rows": probe.get("tradeRows"), "trade_records": probe.get("tradeRecords"),
        "chromium_cores": sample["chromium_cores"], "renderer_cores": sample["renderer_cores"],
        "newest_trade_age_ms": sample.get("newestTradeAgeMs"),
        "load": sample.get("load"),
    }


# ---- processes: server and load source ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
        except OSError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Child:
    """A process we started, in its own process group, with its output in a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> int | None:
        """SIGTERM the process group, then SIGKILL it if it has not exited within 10 s."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        if _group_members(self.popen.pid):  # anything it left behind in its group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        return self.popen.returncode


def _group_members(pgid: int) -> list[int]:
    """Processes still in process group ``pgid`` (field 5 of /proc/PID/stat)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(raw[raw.rindex(")") + 2:].split()[2]) == pgid:
            members.append(int(entry))
    return members


def _die_with_parent() -> None:
    """In the child before exec: own process group, and SIGTERM when the benchmark dies.

    ``finally`` blocks stop the children on any normal exit or signal we can catch; the parent
    death signal also covers a SIGKILLed benchmark, so no server keeps a port and CPU busy.
    """
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(name: str, argv: list[str], workdir: Path, env: dict[str, str],
          stdout: int | None = None) -> Child:
    """Start a child in its own process group so that stopping it also stops what it spawned."""
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:  # the child keeps its own descriptor
        popen = subprocess.Popen(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                 stdout=log if stdout is None else stdout, stderr=log,
                                 preexec_fn=_die_with_parent)
    return Child(name, popen, log_path)


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """Our environment without the dashboard's own settings, plus ``extra``."""
    names = ("HOST", "PORT", "EXCHANGES", "PAIRS", "SECRET_KEY", "LOG_LEVEL", "FEED_TIMEOUT",
             "FLUSH_MS", "MAX_ROWS", "DATABASE_URL", "RETENTION_DAYS")
    env = {k: v for k, v in os.environ.items()
           if k not in names and not k.endswith(("_WS_URL", "_REST_URL"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


class LoadSource(Protocol):
    """What ``run_benchmark`` needs from a load generator running in its own process(es).

    Optional extras, looked up with ``getattr``: ``rate`` (the knob's start value, for
    ``calibrate``) and ``subscribed()`` (True once the server has subscribed every pair).
    """

    name: str

    def start(self, workdir: Path) -> None:
        """Start the process(es); return once they accept connections."""

    def server_env(self) -> dict[str, str]:
        """``<EXCHANGE>_WS_URL`` (and optionally ``_REST_URL``) pointing the server at it."""

    def pids(self) -> list[int]:
        """Every process of the source, for its CPU."""

    def messages_sent(self) -> int:
        """Websocket frames sent so far, all exchanges together."""

    def set_rate(self, rate: float) -> None:
        """Change the source's rate knob (its own unit; see ``calibrate``)."""

    def stop(self) -> None:
        """Stop every process it started."""


@dataclass
class SimulatorSource:
    """``python -m simulator --rate R``: R random trades per second per subscribed pair.

    With 4 pairs on both exchanges one unit of R is 4 x (3 + 2) = 20 frames/s, plus heartbeats.
    """

    rate: float = 100.0
    seed: int = 7
    name: str = "simulator"
    child: Child | None = None
    url: str = ""

    def start(self, workdir: Path) -> None:
        argv = [sys.executable, "-m", "simulator", "--port", "0", "--rate", f"{self.rate:g}",
                "--seed", str(self.seed), "--log-level", "WARNING"]
        env = child_env({"PYTHONPATH": str(ROOT)})
        self.child = spawn("simulator", argv, workdir, env, stdout=subprocess.PIPE)
        assert self.child.popen.stdout is not None
        line = self.child.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"simulator did not start:\n{self.child.output_tail()}")
        self.url = json.loads(line)["url"]

    def server_env(self) -> dict[str, str]:
        http = "http" + self.url.removeprefix("ws")
        env = {}
        for exchange in EXCHANGES.split(","):
            env[f"{exchange.upper()}_WS_URL"] = f"{self.url}/{exchange}"
            env[f"{exchange.upper()}_REST_URL"] = f"{http}/{exchange}"
        return env

    def stats(self) -> dict[str, Any]:
        return get_json("http" + self.url.removeprefix("ws") + "/control/stats")

    def pids(self) -> list[int]:
        return tree(self.child.pid) if self.child else []

    def messages_sent(self) -> int:
        return sum(ex["frames_sent"] for ex in self.stats().values())

    def subscribed(self) -> bool:
        """Whether every exchange has a connection subscribed to every pair."""
        want = len(PAIRS.split(","))
        for ex in self.stats().values():
            channels = ex.get("channels") or {}
            if ex.get("connections", 0) < 1 or not channels:
                return False
            if any(len(pairs) < want for pairs in channels.values()):
                return False
        return True

    def set_rate(self, rate: float) -> None:
        http = "http" + self.url.removeprefix("ws")
        for exchange in EXCHANGES.split(","):
            get_json(f"{http}/control/{exchange}/rate?value={rate:g}")
        self.rate = rate

    def stop(self) -> None:
        if self.child:
            self.child.stop()


@dataclass
class DemoSource(SimulatorSource):
    """The simulator as ``server.py --demo`` runs it, for the wall row: eight exchanges x four
    pairs (USD venues on BASE-USD, USDT venues on BASE-USDT), each venue at its realistic rate
    (``dashboard.demo.DEMO_RATES``: Binance 6 trades/s per pair down to Gemini 0.5). The rate is
    the market's own: ``run_benchmark`` is called with ``target_rate=None``."""

    name: str = "simulator"
    usd_venues: tuple[str, ...] = WALL_USD_VENUES
    usdt_venues: tuple[str, ...] = WALL_USDT_VENUES
    bases: tuple[str, ...] = WALL_BASES

    @property
    def exchanges(self) -> tuple[str, ...]:
        return self.usd_venues + self.usdt_venues

    def start(self, workdir: Path) -> None:
        from dashboard.demo import DEMO_RATES  # the demo's own rates, not a copy

        rates = [f"--rate={name}={DEMO_RATES.get(name, 2.0):g}" for name in self.exchanges]
        argv = [sys.executable, "-m", "simulator", "--port", "0", "--seed", str(self.seed),
                "--log-level", "WARNING", *rates]
        self.child = spawn("simulator", argv, workdir, child_env({"PYTHONPATH": str(ROOT)}),
                           stdout=subprocess.PIPE)
        assert self.child.popen.stdout is not None
        line = self.child.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"simulator did not start:\n{self.child.output_tail()}")
        self.url = json.loads(line)["url"]

    def server_env(self) -> dict[str, str]:
        http = "http" + self.url.removeprefix("ws")
        env = {"EXCHANGES": ",".join(self.exchanges),
               "PAIRS": ",".join(f"{base}-USD" for base in self.bases)}
        for exchange in self.exchanges:
            env[f"{exchange.upper()}_WS_URL"] = f"{self.url}/{exchange}"
            env[f"{exchange.upper()}_REST_URL"] = f"{http}/{exchange}"
        for exchange in self.usdt_venues:
            env[f"{exchange.upper()}_PAIRS"] = ",".join(f"{base}-USDT" for base in self.bases)
        return env

    def messages_sent(self) -> int:
        stats = self.stats()
        return sum(stats[name]["frames_sent"] for name in self.exchanges if name in stats)

    def subscribed(self) -> bool:
        """Whether the server holds a connection to every exchange."""
        stats = self.stats()
        return all(stats.get(name, {}).get("connections", 0) >= 1 for name in self.exchanges)

    def set_rate(self, rate: float) -> None:
        raise NotImplementedError("the demo's rates are per venue; run without calibration")


def start_server(workdir: Path, port: int, source_env: dict[str, str]) -> Child:
    """The real ``server.py`` in its own process, started in ``workdir`` (no developer .env)."""
    env = child_env({
        "HOST": "127.0.0.1", "PORT": str(port), "EXCHANGES": EXCHANGES, "PAIRS": PAIRS,
        "DATABASE_URL": f"sqlite:///{workdir / 'market.db'}",
        "SECRET_KEY": "bench-browser", "LOG_LEVEL": "WARNING", **source_env,
    })
    server = spawn("server", [sys.executable, str(ROOT / "server.py")], workdir, env)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if server.popen.poll() is not None:
            raise RuntimeError(f"server exited with {server.popen.returncode}:\n"
                               f"{server.output_tail()}")
        return get_json(f"{url}/healthz", timeout=2).get("status") == "ok"

    wait_for(healthy, 30, "the server's /healthz")
    return server


def measure_rate(source: LoadSource, seconds: float) -> tuple[float, float]:
    """(frames/s, source cores) over ``seconds``."""
    meter = CpuMeter(source.pids)
    before, t0 = source.messages_sent(), time.monotonic()
    time.sleep(seconds)
    sent, elapsed = source.messages_sent() - before, time.monotonic() - t0
    return sent / elapsed, meter.sample()


def calibrate(source: LoadSource, target: float, progress: Progress,
              seconds: float = 8, rounds: int = 3) -> dict[str, float]:
    """Scale the source's rate knob until it sends about ``target`` frames/s (within 5 %).

    Assumes frames/s is proportional to the knob, which holds for the simulator as long as
    neither it nor the server is saturated; the final measured rate is what gets reported.
    """
    rate = getattr(source, "rate", 1.0)
    measured, cores = measure_rate(source, seconds)
    for _ in range(rounds):
        progress(f"calibrate: knob {rate:g} -> {measured:.0f} frames/s "
                 f"(source {cores:.2f} cores)")
        if measured <= 0 or abs(measured - target) <= 0.05 * target:
            break
        rate = round(rate * target / measured, 2)
        source.set_rate(rate)
        time.sleep(1)
        measured, cores = measure_rate(source, seconds)
    progress(f"calibrated: knob {rate:g} -> {measured:.0f} frames/s (source {cores:.2f} cores)")
    return {"knob": rate, "frames_per_s": round(measured, 1), "source_cores": round(cores, 3)}


@contextlib.contextmanager
def running_server(source: LoadSource, keep: bool = False) -> Iterator[tuple[str, Child, Path]]:
    """Start ``source`` and the server on it; stop both and remove the temp dir afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    server: Child | None = None
    try:
        source.start(workdir)
        port = free_port()
        server = start_server(workdir, port, source.server_env())
        yield f"http://127.0.0.1:{port}", server, workdir
    finally:
        if server is not None:
            server.stop()
        source.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def run_benchmark(source: LoadSource, seconds: float = 600, first_sample: float = 60,
                  target_rate: float | None = 2000, progress: Progress = print,
                  keep_workdir: bool = False, heap_snapshots: bool = False,
                  page_query: str = LISTS_QUERY, ready_js: str = PAGE_LIVE_JS
                  ) -> dict[str, Any]:
    """Server + ``source`` at ``target_rate`` frames/s, the page measured; every process stopped.

    ``target_rate`` None keeps the source's own rate. The page is opened with ``page_query``
    (the lists view by default; ``""`` is the default wall view) and measured once
    ``ready_js`` holds. Server and source CPU, and the rate they really sent and received, are
    sampled alongside the page so a bottleneck outside the page shows up in the report.
    """
    with running_server(source, keep_workdir) as (url, server, workdir):
        progress(f"server {url} (pid {server.pid}), {source.name} pid(s) {source.pids()}, "
                 f"work dir {workdir}")
        wait_for(lambda: getattr(source, "subscribed", lambda: True)(), 30,
                 "the server's subscriptions at the source")
        calibration = (calibrate(source, target_rate, progress) if target_rate
                       else dict(zip(("frames_per_s", "source_cores"),
                                     measure_rate(source, 5), strict=True)))
        source_cpu = CpuMeter(source.pids)
        server_cpu = CpuMeter(lambda: tree(server.pid))
        sent0, t0 = source.messages_sent(), time.monotonic()
        health0 = _server_health(url)
        last = {"sent": sent0, "t": t0}

        def on_sample() -> dict[str, Any]:
            sent, now = source.messages_sent(), time.monotonic()
            dt = now - last["t"]
            rate = (sent - last["sent"]) / dt if dt > 0 else 0.0
            last.update(sent=sent, t=now)
            if server.popen.poll() is not None:
                raise RuntimeError(f"server exited:\n{server.output_tail()}")
            return {"frames_per_s": round(rate), "source_cores": round(source_cpu.sample(), 2),
                    "server_cores": round(server_cpu.sample(), 2)}

        page = measure_page(url + page_query, seconds=seconds, first_sample=first_sample,
                            progress=progress, on_sample=on_sample,
                            heap_snapshots=heap_snapshots, ready_js=ready_js)
        elapsed = time.monotonic() - t0
        sent = source.messages_sent() - sent0
        health1 = _server_health(url)
        received = health1["messages"] - health0["messages"]
        server_cpu.sample()
        source_cpu.sample()
        load = {
            "source": source.name,
            "calibration": calibration,
            "frames_sent_per_s": round(sent / elapsed, 1),
            "frames_received_by_server_per_s": round(received / elapsed, 1),
            "source_cores": round(source_cpu.average(), 3),
            "server_cores": round(server_cpu.average(), 3),
            "server_clients": health1["clients"],
            "server_hub": health1["hub"],
            "server_storage": health1["storage"],
            "cpus": os.cpu_count(),
            "loadavg": os.getloadavg(),
        }
        output = server.output_tail(20000)
        load["server_tracebacks"] = output.count("Traceback")
    return {"load": load, "page": page}


def _server_health(url: str) -> dict[str, Any]:
    """Frames the server's listeners received and its per-client backpressure counters."""
    health = get_json(f"{url}/healthz")
    feeds = health.get("feeds") or {}
    messages = sum(f.get("messages", 0) for f in feeds.values() if isinstance(f, dict))
    return {"messages": messages, "clients": health.get("clients"), "hub": health.get("hub"),
            "storage": health.get("storage")}


def _print_summary(result: dict[str, Any]) -> None:
    load, page = result["load"], result["page"]
    lt = page["long_tasks"]
    print("\n== real browser row ==")
    print(f"duration {page['duration_s']} s (first sample at {page['first_sample_s']} s), "
          f"load {load['frames_sent_per_s']} frames/s sent by {load['source']}, "
          f"{load['frames_received_by_server_per_s']} received by the server")
    print(f"CPU (cores, {load['cpus']} CPUs): chromium {page['chromium_cores']} "
          f"(renderer {page['renderer_cores']}, main thread {page['main_thread_breakdown']}), "
          f"server {load['server_cores']}, {load['source']} {load['source_cores']}")
    print(f"trades: received {page['trades_received_per_s']}/s, applied "
          f"{page['trades_applied_per_s']}/s; newest row age {page['newest_trade_age_ms']} ms")
    f, e = page["first"], page["end"]
    print(f"heap used {f['metrics']['JSHeapUsedSize']} -> {e['metrics']['JSHeapUsedSize']} "
          f"({page['heap_used_growth_pct']} %); elements {f['elements']} -> {e['elements']}; "
          f"nodes incl. detached {f['metrics']['Nodes']} -> {e['metrics']['Nodes']}; "
          f"listeners {f['metrics']['JSEventListeners']} -> {e['metrics']['JSEventListeners']}")
    print(f"long tasks: {lt['count']} (> 100 ms: {lt['over_100ms']}, > 200 ms: "
          f"{lt['over_200ms']}), max {lt['max_ms']} ms, forced-GC windows excluded "
          f"{lt['excluded_forced_gc']}")
    if "heap_snapshot_diff" in page:
        d = page["heap_snapshot_diff"]
        print(f"heap snapshots: JS {d['js_bytes']}, code {d['code_bytes']}, data excl. code "
              f"{d['data_bytes_excl_code']} ({d['data_growth_pct_excl_code']} %); top growth "
              f"{dict(list(d['top_growth_by_name'].items())[:5])}")
    print(f"targets: {page['targets']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600, help="measured time (600)")
    parser.add_argument("--first-sample", type=float, default=60,
                        help="time of the first decisive sample (60)")
    parser.add_argument("--target-rate", type=float, default=2000,
                        help="frames/s the load source is calibrated to (2000; 0 = no calibration)")
    parser.add_argument("--rate", type=float, default=100,
                        help="simulator --rate to start with (trades/s per pair; 100)")
    parser.add_argument("--json", type=Path, help="write the full result here")
    parser.add_argument("--heap-snapshots", action="store_true",
                        help="also diff heap snapshots at the two decisive samples")
    parser.add_argument("--keep-workdir", action="store_true", help="keep logs and database")
    parser.add_argument("--wall", action="store_true",
                        help="the wall row: default view, 8 exchanges x 4 pairs at the demo's "
                             "rates (--target-rate and --rate do not apply)")
    args = parser.parse_args(argv)
    # SIGTERM must unwind through the finally blocks that stop the children
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    progress = lambda line: print(line, flush=True)  # noqa: E731
    if args.wall:
        result = run_benchmark(DemoSource(), seconds=args.seconds,
                               first_sample=args.first_sample, target_rate=None,
                               keep_workdir=args.keep_workdir, heap_snapshots=args.heap_snapshots,
                               progress=progress, page_query="", ready_js=WALL_LIVE_JS)
    else:
        result = run_benchmark(SimulatorSource(rate=args.rate), seconds=args.seconds,
                               first_sample=args.first_sample,
                               target_rate=args.target_rate or None,
                               keep_workdir=args.keep_workdir,
                               heap_snapshots=args.heap_snapshots, progress=progress)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    _print_summary(result)
    return 0



def row(opts: Any) -> Any:
    """The browser row of ``python -m bench.run``: ``run_benchmark`` on the lean feeder
    (``bench.sources.FeederSource``, the same fake exchanges as the server rows), as a
    ``bench.result.Result``. ``opts.seconds`` shortens it for development."""
    from .result import Result
    from .sources import FeederSource

    seconds = opts.duration(600.0)
    first_sample = min(60.0, seconds / 3)
    result = Result("browser", f"real browser (headless Chromium) at 2,000 msg/s for "
                    f"{seconds:g} s, minute 1 vs the end")
    outcome = run_benchmark(FeederSource(), seconds=seconds, first_sample=first_sample,
                            progress=opts.log)
    load, page = outcome["load"], outcome["page"]
    first, end, tasks = page["first"], page["end"], page["long_tasks"]
    heap = page["heap_used_growth_pct"]
    result.check("JS heap after GC, first sample -> end", heap,
                 f"{first['metrics']['JSHeapUsedSize'] / 2**20:.2f} -> "
                 f"{end['metrics']['JSHeapUsedSize'] / 2**20:.2f} MiB ({heap:+.1f} %)",
                 "growth <= 10 %", page["targets"]["heap_growth_le_10pct"] == "pass")
    result.check("DOM elements, first sample -> end", page["dom_element_growth"],
                 f"{first['elements']} -> {end['elements']}", "bounded",
                 page["targets"]["dom_bounded"] == "pass")
    result.check("long tasks > 200 ms (max)", tasks["over_200ms"],
                 f"{tasks['over_200ms']} of {tasks['count']} (max {tasks['max_ms']:g} ms)", "0",
                 page["targets"]["no_task_over_200ms"] == "pass")
    result.check("page kept up: trades applied / received per s",
                 page["trades_applied_per_s"],
                 f"{page['trades_applied_per_s']:g} / {page['trades_received_per_s']:g} "
                 f"(newest row {page['newest_trade_age_ms']['median']:.0f} ms old, median)",
                 "", None)
    result.check("load: frames/s sent / read by the server", load["frames_sent_per_s"],
                 f"{load['frames_sent_per_s']:,.0f} / "
                 f"{load['frames_received_by_server_per_s']:,.0f}", "2,000", None)
    result.cpu = {"server": load["server_cores"], "chromium": page["chromium_cores"],
                  "feeders": load["source_cores"]}
    result.window_seconds = page["duration_s"]
    result.details = outcome
    return result


def wall_row(opts: Any) -> Any:
    """The wall row of ``python -m bench.run`` (issue 9): the default view (board and charts) in
    headless Chromium, eight exchanges x four pairs from the simulator at the demo's per-venue
    rates, as a ``bench.result.Result``. ``opts.seconds`` shortens it for development."""
    from .result import Result

    seconds = opts.duration(600.0)
    first_sample = min(60.0, seconds / 3)
    source = DemoSource()
    result = Result("wall", f"wall screen: default view in headless Chromium, "
                    f"{len(source.exchanges)} exchanges x {len(source.bases)} pairs at the "
                    f"demo's rates, {seconds:g} s, minute 1 vs the end")
    outcome = run_benchmark(source, seconds=seconds, first_sample=first_sample,
                            target_rate=None, progress=opts.log, page_query="",
                            ready_js=WALL_LIVE_JS)
    load, page = outcome["load"], outcome["page"]
    first, end, tasks = page["first"], page["end"], page["long_tasks"]
    heap = page["heap_used_growth_pct"]
    cores = page["chromium_cores"]
    result.check("Chromium CPU, all its processes (cores)", cores,
                 f"{cores:.3f} ({cores * 100:.1f} % of a core; renderer "
                 f"{page['renderer_cores']:.3f})", "<= 10 % of a core",
                 page["targets"]["chromium_cpu_le_10pct"] == "pass")
    result.check("JS heap after GC, first sample -> end", heap,
                 f"{first['metrics']['JSHeapUsedSize'] / 2**20:.2f} -> "
                 f"{end['metrics']['JSHeapUsedSize'] / 2**20:.2f} MiB ({heap:+.1f} %)",
                 "growth <= 10 %", page["targets"]["heap_growth_le_10pct"] == "pass")
    result.check("DOM elements, first sample -> end", page["dom_element_growth"],
                 f"{first['elements']} -> {end['elements']}", "bounded",
                 page["targets"]["dom_bounded"] == "pass")
    result.check("long tasks > 100 ms (max)", tasks["over_100ms"],
                 f"{tasks['over_100ms']} of {tasks['count']} (max {tasks['max_ms']:g} ms)", "0",
                 page["targets"]["no_task_over_100ms"] == "pass")
    result.check("main thread busy (s per s: script / layout / style)", page["main_thread_busy"],
                 f"{page['main_thread_busy']:.3f} ({page['main_thread_breakdown']['script']:.3f}"
                 f" / {page['main_thread_breakdown']['layout']:.3f} / "
                 f"{page['main_thread_breakdown']['style']:.3f})", "", None)
    result.check("load: frames/s sent / read by the server; trades/s to the page",
                 load["frames_sent_per_s"],
                 f"{load['frames_sent_per_s']:,.0f} / "
                 f"{load['frames_received_by_server_per_s']:,.0f}; "
                 f"{page['trades_received_per_s']:g}", "the demo's rates", None)
    result.cpu = {"server": load["server_cores"], "chromium": cores,
                  "simulator": load["source_cores"]}
    result.window_seconds = page["duration_s"]
    result.details = outcome
    return result


if __name__ == "__main__":
    sys.exit(main())
