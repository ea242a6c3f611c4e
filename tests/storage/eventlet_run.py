"""Run a store and its writer the way the server does: eventlet monkey patched, store calls in
``tpool`` threads. Started as a child process by ``test_storage_eventlet.py`` (the test process
itself must stay unpatched).

    python eventlet_run.py URL serialized|unserialized

Several green tasks use the store at once: the writer, the pruner, and page queries; a fake hub
submits trades every 10 ms and measures how late its ticks are. Prints one JSON line with what
was written, what is stored and the hub's longest stall, then exits 0.
"""

import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402

from eventlet import tpool  # noqa: E402
from storage_support import T0, ticker, trade  # noqa: E402

from storage import StorageWriter, Store, serialized  # noqa: E402

FLUSHES = 200
PER_FLUSH = 50


def main() -> None:
    url, mode = sys.argv[1], sys.argv[2]
    store = Store(url)
    call = serialized(tpool.execute) if mode == "serialized" else tpool.execute
    writer = StorageWriter(store, call, eventlet.sleep, interval=0.01, batch_size=300)
    eventlet.spawn(writer.run)
    done = False
    queries = 0

    def reader(query, *args):
        nonlocal queries
        while not done:
            call(query, *args)
            queries += 1
            eventlet.sleep(0)

    def pruner():
        while not done:
            call(store.prune, T0 - timedelta(days=1), 1)
            eventlet.sleep(0.005)

    readers = [eventlet.spawn(reader, store.trades, None, None, None, None, 100),
               eventlet.spawn(reader, store.latest_tickers),
               eventlet.spawn(reader, store.pairs),
               eventlet.spawn(reader, store.recent_trades, 50),
               eventlet.spawn(pruner)]

    longest = 0.0
    last = time.monotonic()
    for flush in range(FLUSHES):
        writer.submit([trade(f"{flush}-{n}", ms=flush) for n in range(PER_FLUSH)]
                      + [ticker(pair=f"P{flush % 7}-USD", ms=flush)])
        eventlet.sleep(0.01)
        now = time.monotonic()
        longest = max(longest, now - last - 0.01)
        last = now
    while writer.stats()["buffered"]:
        eventlet.sleep(0.01)
    done = True
    for task in readers:
        task.wait()
    stored = len(call(store.trades, None, None, None, None, None))
    print(json.dumps({"written": writer.stats()["written"], "stored_trades": stored,
                      "latest": len(call(store.latest_tickers)), "queries": queries,
                      "longest_stall": round(longest, 3), "failures": writer.stats()["failures"]}))
    store.close()


if __name__ == "__main__":
    main()
