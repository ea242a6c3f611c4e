"""Run a store and its writer as the server does in one async mode: monkey patched, store calls
off the hub through ``dashboard.concurrency.blocking_runner`` (eventlet's ``tpool``, gevent's
hub threadpool) and one ``storage.serialized`` wrapper. Started as a child process by
``test_storage_green.py`` (the test process itself must stay unpatched).

    python green_run.py eventlet|gevent URL

Several green tasks use the store at once: the writer, the pruner, and page queries; a fake hub
submits trades every 10 ms and measures how late its ticks are. Prints one JSON line with what
was written, what is stored and the hub's longest stall, then exits 0. After the patch,
``threading`` and ``time.sleep`` are the async mode's own green tasks and sleep.
"""

import sys

MODE = sys.argv[1]
if MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()
else:
    from gevent import monkey

    monkey.patch_all()

import json  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402

from storage_support import T0, ticker, trade  # noqa: E402

from dashboard.concurrency import blocking_runner  # noqa: E402
from storage import StorageWriter, Store, serialized  # noqa: E402

FLUSHES = 200
PER_FLUSH = 50


def spawn(target, *args) -> threading.Thread:
    task = threading.Thread(target=target, args=args, daemon=True)
    task.start()
    return task


def main() -> None:
    store = Store(sys.argv[2])
    call = serialized(blocking_runner(MODE))
    writer = StorageWriter(store, call, time.sleep, interval=0.01, batch_size=300)
    spawn(writer.run)
    done = False
    queries = 0

    def reader(query, *args):
        nonlocal queries
        while not done:
            call(query, *args)
            queries += 1
            time.sleep(0)

    def pruner():
        while not done:
            call(store.prune, T0 - timedelta(days=1), 1)
            time.sleep(0.005)

    readers = [spawn(reader, store.trades, None, None, None, None, 100),
               spawn(reader, store.latest_tickers),
               spawn(reader, store.pairs),
               spawn(reader, store.recent_trades, 50),
               spawn(pruner)]

    longest = 0.0
    last = time.monotonic()
    for flush in range(FLUSHES):
        writer.submit([trade(f"{flush}-{n}", ms=flush) for n in range(PER_FLUSH)]
                      + [ticker(pair=f"P{flush % 7}-USD", ms=flush)])
        time.sleep(0.01)
        now = time.monotonic()
        longest = max(longest, now - last - 0.01)
        last = now
    while writer.stats()["buffered"]:
        time.sleep(0.01)
    done = True
    for task in readers:
        task.join()
    stored = len(call(store.trades, None, None, None, None, None))
    print(json.dumps({"written": writer.stats()["written"], "stored_trades": stored,
                      "latest": len(call(store.latest_tickers)), "queries": queries,
                      "longest_stall": round(longest, 3), "failures": writer.stats()["failures"]}))
    store.close()


if __name__ == "__main__":
    main()
