"""The soak fault drill: N frames through every feed, time-compressed; memory flat, counters
consistent. ``.venv/bin/python -m bench.drill_soak [--frames 1000000] [--rate 10000]``.

The issue's drill is 1,000,000 frames. That takes about two minutes at 10,000 frames/s on the
2-core machine, too long for every CI run, so ``tests/drills/test_drill_soak.py`` runs the same
function with 300,000 frames (``DRILL_SOAK_FRAMES`` changes it; about 35 s) and this command
runs the full count. The ``soak`` row of ``make bench`` runs 2,000,000 frames for the memory alone.

Set-up: the simulator in fast mode (``simulator/fast.py``: fake Bitfinex and Coinbase, 4 pairs
each: 8 feeds) paced at ``rate`` frames/s in all, the real ``server.py`` storing into SQLite, one
lean Socket.IO client reading the stream. Checked:

- server RSS at the end within 10 % of its RSS after warm-up (a fifth of the frames);
- every frame the feeders wrote was read by the server, none malformed, no reconnect, no error;
- storage: ``submitted = written + dropped + buffered`` and nothing dropped, and the database
  holds exactly the distinct trades the feeders made;
- the client received every trade.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any

from simulator.market import HISTORY

from .harness import Stack, wait_until

# RSS is compared from here on: by then the server's bounded structures (recent trades, trade
# ids, the storage buffer's working size, SQLite's cache) are full; on the 2-core machine its
# RSS climbs until about 150,000 frames and is flat after
WARM_UP_FRAMES = 150_000
WARM_UP_SHARE = 0.2  # or a fifth of the run, for a long one
MAX_GROWTH = 0.10


def run(frames: int, rate: float = 10_000, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the drill; returns the measurements. Raises AssertionError when a check fails.

    ``frames`` must be well above ``WARM_UP_FRAMES`` (300,000 is the least that means much).
    """
    warm_up = max(WARM_UP_FRAMES, int(frames * WARM_UP_SHARE))
    stack = Stack("drill-soak")
    try:
        stack.start_feeders()
        stack.start_server()
        clients = stack.start_clients(1, deflate=False)
        assert clients.connected == 1, clients.failed
        clients.phase("soak")
        pid = stack.server.pid if stack.server else 0
        started = time.monotonic()
        stack.feeders.set_rate(rate)
        warm_rss = None
        samples: list[tuple[float, int, int]] = []
        limit = 3 * frames / rate + 60
        while True:
            health = stack.healthz()
            read = Stack.frames_read(health)
            rss = stack.server.rss() if stack.server else 0
            samples.append((round(time.monotonic() - started, 1), read, rss))
            if len(samples) % 10 == 0:
                log(f"  {samples[-1][0]:>6} s {read:>10,} frames read, server RSS "
                    f"{rss / 2**20:.1f} MiB, storage buffered {health['storage']['buffered']:,}")
            if warm_rss is None and read >= warm_up:
                warm_rss = rss
            if read >= frames:
                break
            if time.monotonic() - started > limit:
                raise AssertionError(f"only {read:,} of {frames:,} frames read in {limit:g} s")
            time.sleep(0.5)
        end_rss = samples[-1][2]
        stack.feeders.set_rate(0)
        seconds = time.monotonic() - started
        log(f"  {read:,} frames in {seconds:.1f} s; RSS {warm_rss} -> {end_rss}")

        # drain: everything the feeders wrote is read, stored, delivered
        def drained() -> dict[str, Any] | None:
            health = stack.healthz()
            sent = stack.feeders.stats()
            if Stack.frames_read(health) >= sent["frames"] and \
                    health["storage"]["buffered"] == 0:
                return {"health": health, "sent": sent}
            return None

        state = wait_until(drained, 60, "the server to read and store every frame")
        health, sent = state["health"], state["sent"]
        report = clients.report()
        assert warm_rss is not None
        growth = end_rss / warm_rss - 1
        read = Stack.frames_read(health)
        storage = health["storage"]
        database = stack.workdir / "bench.db"
        with sqlite3.connect(database) as db:
            stored_trades = db.execute("SELECT count(*) FROM trades").fetchone()[0]
        client = report["clients"][0]
        result = {
            "frames_sent": sent["frames"], "frames_read": read, "seconds": round(seconds, 1),
            "rate": rate, "warm_up_frames": warm_up, "rss_warm": warm_rss, "rss_end": end_rss,
            "rss_growth": growth,
            "trades_made": sent["trades"], "trades_stored": stored_trades,
            "storage": storage, "client": client, "pid": pid,
            "feeds": {name: {k: feed[k] for k in ("messages", "malformed", "errors",
                                                   "reconnects")}
                      for name, feed in health["feeds"].items()},
        }
        assert growth <= MAX_GROWTH, f"RSS grew {growth:+.1%} after warm-up"
        assert read == sent["frames"], f"read {read:,} of {sent['frames']:,} frames"
        for name, feed in result["feeds"].items():
            assert feed["malformed"] == feed["errors"] == feed["reconnects"] == 0, (name, feed)
        assert storage["submitted"] == storage["written"] + storage["dropped"] + \
            storage["buffered"], storage
        assert storage["dropped"] == 0, storage
        # stored: every streamed trade, and the ones the subscribe answers carry (before the
        # stream, so not in the feeders' count): Bitfinex's trades snapshot (the market's last
        # HISTORY trades) per pair, and Coinbase's last trade (its ticker and last_match) per pair
        handshake = (HISTORY + 1) * len(stack.pairs)
        assert stored_trades == sent["trades"] + handshake, (stored_trades, sent["trades"])
        delivered = sum(client["trades"].values())
        assert client["disconnect"] is None and client["replayed"] == 0, client
        assert delivered == sent["trades"], (delivered, sent["trades"])
        return result
    finally:
        stack.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drill_soak",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=10_000)
    args = parser.parse_args(argv)
    try:
        result = run(args.frames, args.rate)
    except AssertionError as exc:
        print(f"FAIL: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({k: v for k, v in result.items() if k != "pid"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
