"""Run a store and its writer as ``ASYNC_MODE=gevent`` does: gevent monkey patched, store calls
in the hub's threadpool through ``dashboard.concurrency``'s runner and ``storage.serialized``.
Started as a child process by ``test_storage_gevent.py`` (the test process stays unpatched).

    python gevent_run.py URL

The same load as ``eventlet_run.py``: the writer, the pruner and page queries use the store at
once while a fake hub submits trades every 10 ms and measures how late its ticks are. Prints
one JSON line, then exits 0.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402

import gevent  # noqa: E402
from storage_support import T0, ticker, trade  # noqa: E402

from dashboard.concurrency import blocking_runner  # noqa: E402
from storage import StorageWriter, Store, serialized  # noqa: E402

FLUSHES = 200
PER_FLUSH = 50


def main() -> None:
    store = Store(sys.argv[1])
    call = serialized(blocking_runner("gevent"))
    writer = StorageWriter(store, call, gevent.sleep, interval=0.01, batch_size=300)
    gevent.spawn(writer.run)
    done = False
    queries = 0

    def reader(query, *args):
        nonlocal queries
        while not done:
            call(query, *args)
            queries += 1
            gevent.sleep(0)

    def pruner():
        while not done:
            call(store.prune, T0 - timedelta(days=1), 1)
            gevent.sleep(0.005)

    readers = [gevent.spawn(reader, store.trades, None, None, None, None, 100),
               gevent.spawn(reader, store.latest_tickers),
               gevent.spawn(reader, store.pairs),
               gevent.spawn(reader, store.recent_trades, 50),
               gevent.spawn(pruner)]

    longest = 0.0
    last = time.monotonic()
    for flush in range(FLUSHES):
        writer.submit([trade(f"{flush}-{n}", ms=flush) for n in range(PER_FLUSH)]
                      + [ticker(pair=f"P{flush % 7}-USD", ms=flush)])
        gevent.sleep(0.01)
        now = time.monotonic()
        longest = max(longest, now - last - 0.01)
        last = now
    while writer.stats()["buffered"]:
        gevent.sleep(0.01)
    done = True
    gevent.joinall(readers)
    stored = len(call(store.trades, None, None, None, None, None))
    print(json.dumps({"written": writer.stats()["written"], "stored_trades": stored,
                      "latest": len(call(store.latest_tickers)), "queries": queries,
                      "longest_stall": round(longest, 3), "failures": writer.stats()["failures"]}))
    store.close()


if __name__ == "__main__":
    main()
