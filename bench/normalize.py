"""Normalize-path benchmark: microseconds per recorded frame, decode to records, per exchange.

Run: ``.venv/bin/python bench/normalize.py [--seconds 3]``. Feeds the recorded frames under
``tests/fixtures/<exchange>/`` through a fresh session each pass (the same code the listeners
run) and reports the best of five timed rounds. First step of the benchmark suite (issue 4);
the cryptofeed side-by-side comparison is still to come.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exchanges import LISTENERS  # noqa: E402
from exchanges.parsing import MalformedFrame  # noqa: E402
from tests.unit.frames import recorded_frames  # noqa: E402

EXCERPTS = {"bitfinex": "BITFINEX.ws.11.0.excerpt", "coinbase": "COINBASE.ws.28.0.excerpt"}


def feeds_of(frames: list[str]) -> dict[str, str]:
    """Every symbol the recording mentions, mapped to a pair, so no frame is ignored as foreign."""
    symbols: dict[str, str] = {}
    for frame in frames:
        message = json.loads(frame)
        if isinstance(message, dict):
            symbol = message.get("symbol") or message.get("product_id")
            if symbol:
                symbols[symbol] = symbol.lstrip("t")
    return symbols


def per_frame_us(exchange: str, seconds: float) -> tuple[float, int]:
    listener_cls = LISTENERS[exchange]
    frames = recorded_frames(exchange, EXCERPTS[exchange])
    feeds = feeds_of(frames)
    listener = listener_cls([], lambda record: None)
    received_at = datetime.now(UTC)
    best = float("inf")
    for _ in range(5):
        count = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds / 5:
            session = listener.new_session(feeds)
            for frame in frames:
                with contextlib.suppress(MalformedFrame):  # e.g. acks of unsubscribed books
                    session.receive(frame, received_at)
            count += len(frames)
        best = min(best, (time.perf_counter() - started) / count * 1e6)
    return best, len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{platform.processor() or 'unknown cpu'}")
    for exchange in EXCERPTS:
        micros, frames = per_frame_us(exchange, args.seconds)
        print(f"{exchange:9s} {micros:6.2f} us/frame  ({frames} recorded frames, all kinds)")


if __name__ == "__main__":
    main()
