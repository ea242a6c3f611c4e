"""The benchmark rows of issue 4, one function each; ``bench.run`` picks and reports them.

Each scenario starts its own ``Stack`` (fake exchanges, real server, load clients), drives the
aggregate rate, samples once a second, and returns a ``Result``: checks (measured value beside
its target), CPU in cores of every process over the measured window, and details for the JSON.
Targets are goals for the 2-core dev machine, not assertions: a miss is reported, not raised.

Every trade a client counts was sent after it connected (``{"after": <max seq>}``), and latency
is the client's receive wall time minus the trade's ``time``, which the fake exchange sets to
its send time (see ``bench.clients`` and ``simulator/fast.py``).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

from .harness import EXCHANGES, PAIRS, Clients, Stack
from .procs import Child, CpuWindow, open_sockets
from .result import Options, Result, mib, ms
from .sampling import Sample, sample_for, slope, take_sample
from .stats import Histogram, merge

FEEDS_NOTE = f"8 feeds = {len(EXCHANGES)} exchanges x {len(PAIRS)} pairs ({', '.join(PAIRS)})"


def started_stack(name: str, clients: int, opts: Options, processes: int = 1
                  ) -> tuple[Stack, Clients]:
    """Feeders, server (every feed live) and ``clients`` connected Socket.IO clients."""
    stack = Stack(name, server_script=opts.server)
    try:
        stack.start_feeders()
        stack.start_server()
        group = stack.start_clients(clients, processes=processes, deflate=opts.deflate)
        if group.failed:
            raise RuntimeError(f"{len(group.failed)} clients failed to connect: "
                               f"{group.failed[:3]}")
        time.sleep(1.0)  # the connect snapshots are in; live trades only from here
    except BaseException:
        stack.close()
        raise
    return stack, group


# Scenarios ---------------------------------------------------------------------------------


def light(opts: Options) -> Result:
    """Idle (no trades: heartbeats only) then light load (10 msg/s), 1 client: CPU, p50."""
    result = Result("light", "idle and light load, 10 msg/s, 1 client")
    idle_seconds, light_seconds = 5.0, opts.duration(12.0)
    stack, clients = started_stack("light", 1, opts)
    try:
        time.sleep(1.0)  # start-up work (storage seeding, first flushes) is over
        opts.log(f"  idle {idle_seconds:g} s")
        window = CpuWindow(stack.children).start()
        time.sleep(idle_seconds)
        idle_cpu = window.stop()["server"]
        idle_other = window.other
        clients.phase("settle")
        stack.feeders.set_rate(10)
        time.sleep(1.0)
        clients.phase("light")
        opts.log(f"  10 msg/s for {light_seconds:g} s")
        window = CpuWindow(stack.children).start()
        before = take_sample(stack, 0)
        time.sleep(light_seconds)
        after = take_sample(stack, 0)
        window.stop()
        result.take_cpu(window)
        report = clients.report()
        stats = report["phases"].get("light", Histogram()).summary()
        server = result.cpu["server"]
        result.check("server CPU, idle", idle_cpu, f"{idle_cpu:.1%}", "<= 2%", idle_cpu <= 0.02)
        result.check("server CPU, 10 msg/s", server, f"{server:.1%}", "<= 2%", server <= 0.02)
        result.check("p50 latency", stats["p50_ms"], ms(stats["p50_ms"]), "<= 60 ms",
                     stats["p50_ms"] is not None and stats["p50_ms"] <= 60)
        result.check("p99 / max latency", stats["p99_ms"],
                     f"{ms(stats['p99_ms'])} / {ms(stats['max_ms'])}", "", None)
        result.details = {
            "idle_seconds": idle_seconds, "idle_other_cpu": idle_other,
            "frames_per_second": round((after.read - before.read) / light_seconds, 1),
            "trades": stats["samples"], "latency": stats,
            "server_rss": after.rss,
        }
    finally:
        stack.close()
    return result


def ingest(opts: Options) -> Result:
    """8 feeds at 10,000 msg/s aggregate for 60 s, 1 client: backlog, CPU, latency."""
    rate, seconds = 10_000, opts.duration(60.0)
    result = Result("ingest", f"ingest, 8 feeds, {rate:,} msg/s aggregate for {seconds:g} s, "
                    "1 client")
    stack, clients = started_stack("ingest", 1, opts)
    try:
        edge = min(10.0, seconds / 3)
        clients.phase("warmup")
        stack.feeders.set_rate(rate)
        time.sleep(2.0)
        opts.log(f"  {rate:,} msg/s for {seconds:g} s ({FEEDS_NOTE})")
        clients.phase("first")
        window = CpuWindow(stack.children).start()

        def on_tick(second: int, sample: Sample) -> None:
            if second == int(edge):
                clients.phase("middle")
            if second == int(seconds - edge):
                clients.phase("last")
            if second % 10 == 0:
                opts.log(f"  {second:>4} s  backlog {sample.backlog:>6} frames  "
                         f"server RSS {mib(sample.rss)}")

        samples = sample_for(stack, seconds, on_tick)
        window.stop()
        result.take_cpu(window)
        clients.phase("after")
        report = clients.report()
        phases = report["phases"]
        whole = merge([phases.get(name, Histogram()) for name in ("first", "middle", "last")])
        first = samples[:int(edge)]
        last = samples[int(seconds - edge):]
        first_mean = sum(s.backlog for s in first) / len(first)
        last_mean = sum(s.backlog for s in last) / len(last)
        growth = slope([(s.t, s.backlog) for s in samples])
        # growing: the last seconds queue at least 0.1 s of traffic more than the first ones
        growing = last_mean - first_mean > rate * 0.1
        stats = whole.summary()
        server = result.cpu["server"]
        frames = samples[-1].read - samples[0].read
        result.check(f"backlog first/last {edge:g} s", last_mean,
                     f"{first_mean:.0f} -> {last_mean:.0f} frames ({growth:+.0f}/s)",
                     "no growth", not growing)
        result.check("server CPU", server, f"{server:.2f} cores", "<= 1 core", server <= 1.0)
        result.check("p50 / p99 latency", stats["p99_ms"],
                     f"{ms(stats['p50_ms'])} / {ms(stats['p99_ms'])}", "p99 <= 150 ms",
                     stats["p99_ms"] is not None and stats["p99_ms"] <= 150)
        first_stats = phases.get("first", Histogram()).summary()
        last_stats = phases.get("last", Histogram()).summary()
        result.check(f"p99 first/last {edge:g} s", last_stats["p99_ms"],
                     f"{ms(first_stats['p99_ms'])} -> {ms(last_stats['p99_ms'])}", "", None)
        storage = samples[-1].health.get("storage", {})
        feeds = samples[-1].health["feeds"].values()
        result.details = {
            "rate": rate, "feeds": FEEDS_NOTE, "seconds": seconds,
            "malformed": sum(feed.get("malformed", 0) for feed in feeds),
            "reconnects": sum(feed.get("reconnects", 0) for feed in feeds),
            "feeders_behind_max": max(s.behind for s in samples),
            "server_frames_per_second": round(frames / (samples[-1].t - samples[0].t), 1),
            "trades_sent": samples[-1].trades - samples[0].trades,
            "trades_delivered": stats["samples"],
            "latency": stats, "latency_first": first_stats, "latency_last": last_stats,
            "backlog_first_mean": round(first_mean, 1), "backlog_last_mean": round(last_mean, 1),
            "backlog_slope_per_s": round(growth, 2),
            "backlog_series": [s.backlog for s in samples],
            "storage_buffered_first_last": [samples[0].buffered, samples[-1].buffered],
            "storage": storage,
            "server_rss_first_last": [samples[0].rss, samples[-1].rss],
            "client_disconnects": [c["disconnect"] for c in report["clients"]
                                   if c["disconnect"]],
        }
    finally:
        stack.close()
    return result


def soak(opts: Options) -> Result:
    """Server RSS at 200k vs 2M frames read, at a constant 25,000 msg/s (2.5x the ingest row).

    One rate from start to end, and one the server sustains, so that the two RSS points differ
    only by the messages in between. Tried and dropped: continuing the ingest run (10,000/s)
    at full speed, where the switch alone added a flat step of ~11 MiB; and full speed from the
    start (~35,000/s on the quiet dev machine), where storage falls behind and its bounded
    buffer (100,000 records) fills, ~+40 MiB that is backlog, not a leak. Backlog and storage
    buffer at both points are shown beside the RSS, so a starved run reads as one.
    """
    rate, low, high = 25_000, 200_000, 2_000_000
    result = Result("soak", f"soak, {high:,} messages at {rate:,} msg/s, 1 client")
    limit = opts.duration(2.0 * high / rate)  # twice what it should take
    stack, clients = started_stack("soak", 1, opts)
    try:
        clients.phase("soak")
        window = CpuWindow(stack.children).start()
        stack.feeders.set_rate(rate)
        opts.log(f"  until {high:,} frames read (at most {limit:g} s)")

        def on_tick(second: int, sample: Sample) -> bool:
            if second % 10 == 0:
                opts.log(f"  {second:>4} s  {sample.read:>9,} frames read  "
                         f"server RSS {mib(sample.rss)}")
            return sample.read >= high

        samples = sample_for(stack, limit, on_tick)
        stack.feeders.set_rate(0)
        window.stop()
        result.take_cpu(window)
        at_low = next((s for s in samples if s.read >= low), None)
        at_high = next((s for s in samples if s.read >= high), None)
        final = samples[-1]
        report = clients.report()
        stats = report["phases"].get("soak", Histogram()).summary()
        growth = None
        if at_low is None or at_high is None:
            result.check("server RSS growth", None, f"reached only {final.read:,} frames",
                         "<= 10%", False)
        else:
            growth = at_high.rss / at_low.rss - 1
            result.check("server RSS growth", growth,
                         f"{mib(at_low.rss)} -> {mib(at_high.rss)} ({growth:+.1%})", "<= 10%",
                         growth <= 0.10)
            result.check("backlog / storage buffer", at_high.backlog,
                         f"{at_low.backlog:,} -> {at_high.backlog:,} frames / "
                         f"{at_low.buffered:,} -> {at_high.buffered:,} records", "", None)
        storage = final.health.get("storage", {})
        result.check("p50 / p99 latency", stats["p99_ms"],
                     f"{ms(stats['p50_ms'])} / {ms(stats['p99_ms'])}", "", None)
        result.details = {
            "rate": rate, "rss_at_200k": at_low.rss if at_low else None,
            "rss_at_2m": at_high.rss if at_high else None, "rss_growth": growth,
            "frames_read": final.read, "seconds": final.t,
            "feeders_behind_max": max(s.behind for s in samples),
            "series_read_rss_buffered_backlog": [(s.read, s.rss, s.buffered, s.backlog)
                                                 for s in samples],
            "storage": storage, "latency": stats,
        }
    finally:
        stack.close()
    return result


def fanout(opts: Options) -> Result:
    """100 Socket.IO clients at 5,000 msg/s: every trade to every client, latency, drops."""
    rate, count, seconds = 5_000, 100, opts.duration(15.0)
    deflate = "permessage-deflate, as browsers" if opts.deflate else "no compression"
    result = Result("fanout", f"fan-out, {count} Socket.IO clients at {rate:,} msg/s for "
                    f"{seconds:g} s ({deflate})")
    stack, clients = started_stack("fanout", count, opts, processes=2)
    try:
        health0 = stack.healthz()
        before = stack.feeders.stats()
        clients.phase("load")
        window = CpuWindow(stack.children).start()
        stack.feeders.set_rate(rate)
        opts.log(f"  {count} clients, {rate:,} msg/s for {seconds:g} s")
        samples = sample_for(stack, seconds)
        stack.feeders.set_rate(0)
        window.stop()
        result.take_cpu(window)
        after = stack.feeders.stats()
        expected = after["trades"] - before["trades"]
        clients.phase("drain")
        drained = _drain(stack, clients, expected, count)
        report = clients.report()
        health = stack.healthz()
        whole = merge([report["phases"].get(name, Histogram()) for name in ("load", "drain")])
        stats = whole.summary()
        counts = [c["trades"].get("load", 0) + c["trades"].get("drain", 0)
                  for c in report["clients"]]
        complete = sum(1 for n in counts if n == expected)
        delivered = sum(counts) / (expected * count) if expected else 0.0
        disconnects = [c["disconnect"] for c in report["clients"] if c["disconnect"]]
        server_disconnects = (health.get("clients", {}).get("disconnects", 0)
                              - health0.get("clients", {}).get("disconnects", 0)
                              if isinstance(health.get("clients"), dict) else None)
        result.check("trades delivered", delivered,
                     f"{delivered:.2%} ({complete}/{count} clients got all {expected:,})",
                     "100%", complete == count)
        result.check("p50 / p99 latency", stats["p99_ms"],
                     f"{ms(stats['p50_ms'])} / {ms(stats['p99_ms'])}", "p99 <= 250 ms",
                     stats["p99_ms"] is not None and stats["p99_ms"] <= 250)
        result.check("disconnects", len(disconnects), str(len(disconnects)), "0",
                     not disconnects)
        server = result.cpu["server"]
        result.check("server CPU", server, f"{server:.2f} cores", "", None)
        backlog = [s.backlog for s in samples]
        result.details = {
            "rate": rate, "clients": count, "seconds": seconds, "deflate": opts.deflate,
            "feeders_behind_max": max(s.behind for s in samples),
            "trades_sent": expected, "per_client_min_max": [min(counts), max(counts)],
            "replayed": sum(c.get("replayed", 0) for c in report["clients"]),
            "drain_seconds": drained, "latency": stats,
            "latency_load_phase": report["phases"].get("load", Histogram()).summary(),
            "disconnect_reasons": disconnects[:10], "server_disconnects": server_disconnects,
            "backlog_first_last": [backlog[0], backlog[-1]],
            "server_clients": health.get("clients"),
            "server_rss": samples[-1].rss,
            "bytes_per_client_per_second": round(
                sum(c["bytes"] for c in report["clients"]) / count / seconds),
        }
    finally:
        stack.close()
    return result


def _drain(stack: Stack, clients: Clients, expected: int, count: int,
           timeout: float = 30.0) -> float:
    """Wait until the server read every frame and the clients' trade counts stop moving."""
    started = time.monotonic()
    sent = stack.feeders.stats()["frames"]
    while (Stack.frames_read(stack.healthz()) < sent
           and time.monotonic() - started < timeout):
        time.sleep(0.2)
    previous = -1
    while time.monotonic() - started < timeout:
        time.sleep(0.5)
        total = sum(c["trades"].get("load", 0) + c["trades"].get("drain", 0)
                    for c in clients.report()["clients"])
        if total == previous or total >= expected * count:
            break
        previous = total
    return round(time.monotonic() - started, 2)


def slow(opts: Options) -> Result:
    """One client reads nothing for 60 s at 2,000 msg/s while 10 others measure latency."""
    rate, normal, seconds = 2_000, 10, opts.duration(60.0)
    baseline_seconds, after_seconds = 6.0, 3.0
    result = Result("slow", f"slow client (reads nothing for {seconds:g} s) at {rate:,} msg/s, "
                    f"{normal} other clients")
    stack, clients = started_stack("slow", normal, opts)
    slow_child: Child | None = None
    try:
        stack.feeders.set_rate(rate)
        clients.phase("warmup")
        time.sleep(2.0)
        clients.phase("baseline")
        opts.log(f"  baseline {baseline_seconds:g} s, then the slow client for {seconds:g} s")
        window = CpuWindow(stack.children).start()
        baseline = sample_for(stack, baseline_seconds)
        assert stack.server is not None
        sockets = [open_sockets(stack.server.pid)]
        slow_group = stack.start_clients(0, slow=1, first_index=normal, deflate=opts.deflate)
        slow_child = slow_group.children[0]
        if slow_group.failed:
            raise RuntimeError(f"the slow client failed to connect: {slow_group.failed}")
        clients.phase("slow")

        def on_tick(second: int, sample: Sample) -> None:
            if second % 10 == 0:
                opts.log(f"  {second:>4} s  server RSS {mib(sample.rss)}")

        during = sample_for(stack, seconds, on_tick)
        sockets.append(open_sockets(stack.server.pid))
        slow_health = stack.healthz()
        slow_report = slow_child.request({"cmd": "report"})["clients"][0]
        slow_cpu = slow_child.cpu()
        stack.stop_child(slow_child)
        slow_child = None
        clients.phase("after")
        after = sample_for(stack, after_seconds)
        sockets.append(open_sockets(stack.server.pid))
        stack.feeders.set_rate(0)
        window.stop()
        result.take_cpu(window)
        report = clients.report()
        phases = report["phases"]
        base_stats = phases.get("baseline", Histogram()).summary()
        slow_stats = phases.get("slow", Histogram()).summary()
        after_stats = phases.get("after", Histogram()).summary()
        rss_start = baseline[-1].rss
        rss_peak = max(s.rss for s in during + after)
        rss_end = after[-1].rss
        rss_slope = slope([(s.t, s.rss) for s in during if s.t > seconds / 2])
        normal_bytes = sum(c["bytes"] for c in report["clients"] if not c.get("slow"))
        stream = normal_bytes / normal / (baseline_seconds + seconds + after_seconds + 2)
        missed = stream * seconds  # what the stalled client did not read
        # An unbounded per-client queue keeps at least everything the stalled client missed
        # (the encoded batches), so RSS would rise by >= ``missed``; the rest of the server
        # still warms up by a few MiB meanwhile. Bounded: it rose by less than half of it.
        bounded = rss_peak - rss_start < missed / 2
        result.check("server RSS start/peak/end", rss_peak,
                     f"{mib(rss_start)} / {mib(rss_peak)} / {mib(rss_end)}", "", None)
        result.check("RSS rise vs stream missed", rss_peak - rss_start,
                     f"+{mib(rss_peak - rss_start)} vs {mib(missed)} "
                     f"({rss_slope / 1024:+.0f} KiB/s late in the stall)", "bounded: < 1/2",
                     bounded)
        p99_base, p99_slow = base_stats["p99_ms"], slow_stats["p99_ms"]
        unaffected = (p99_base is not None and p99_slow is not None
                      and p99_slow <= max(1.5 * p99_base, p99_base + 50))
        disconnects = [c["disconnect"] for c in report["clients"] if c["disconnect"]]
        result.check("others' p99 baseline/stalled/after", p99_slow,
                     f"{ms(p99_base)} / {ms(p99_slow)} / {ms(after_stats['p99_ms'])}",
                     "<= 1.5x or +50 ms", unaffected and not disconnects)
        result.check("others' disconnects", len(disconnects), str(len(disconnects)), "0",
                     not disconnects)
        clients_section = slow_health.get("clients")
        connected = (clients_section.get("connected") if isinstance(clients_section, dict)
                     else clients_section)
        # the server may count the client gone while its socket (and TCP) stays open
        result.check("slow client, end of stall", connected,
                     f"/healthz connected {connected} of {normal + 1}; server sockets "
                     f"{sockets[0]} -> {sockets[1]} -> {sockets[2]} (before/stalled/closed)",
                     "", None)
        result.details = {
            "rate": rate, "normal_clients": normal, "stall_seconds": seconds,
            "feeders_behind_max": max(s.behind for s in baseline + during + after),
            "slow_client_process_cpu_seconds": round(slow_cpu, 3),
            "slow_client_disconnect": slow_report.get("disconnect"),
            "server_sockets_before_stalled_after": sockets,
            "rss_start": rss_start, "rss_peak": rss_peak, "rss_end": rss_end,
            "rss_slope_second_half": round(rss_slope, 1), "stream_bytes_per_second":
            round(stream, 1), "stream_bytes_missed": round(missed),
            "rss_series": [s.rss for s in baseline + during + after],
            "latency_baseline": base_stats, "latency_stalled": slow_stats,
            "latency_after": after_stats, "disconnect_reasons": disconnects[:10],
            "healthz_clients_during_stall": clients_section,
            "healthz_clients_after": after[-1].health.get("clients"),
        }
        if clients_section is not None:
            opts.log(f"  /healthz clients during the stall: {clients_section}")
    finally:
        if slow_child is not None:
            stack.stop_child(slow_child)
        stack.close()
    return result


def run_one(name: str, function: Callable[[Options], Result], opts: Options) -> Result:
    """Run a scenario; a failure becomes a result with the error, the run goes on."""
    started = time.monotonic()
    try:
        result = function(opts)
    except Exception as exc:
        result = Result(name, name, error=f"{type(exc).__name__}: {exc}")
        opts.log(traceback.format_exc())
    result.wall_seconds = round(time.monotonic() - started, 1)
    return result
