"""A collector's way to the message queue (``dashboard.collector``): the bounded outbox, and the
publisher writing the picture then publishing, holding its backlog while Redis fails."""

from __future__ import annotations

from typing import Any

from dashboard.collector import HEARTBEAT_NAMESPACE, CollectorManager, Outbox, Publisher


class FakePicture:
    def __init__(self) -> None:
        self.down = False
        self.writes: list[tuple[str, Any]] = []
        self.wholes = 0
        self.registered: list[dict] = []

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6399")

    def write(self, event: str, batch: list) -> None:
        self._check()
        self.writes.append((event, batch))

    def write_all(self, snapshot: dict, registration: dict) -> None:
        self._check()
        self.wholes += 1
        self.registered.append(registration)

    def register(self, registration: dict) -> None:
        self._check()
        self.registered.append(registration)


class Manager(CollectorManager):
    def __init__(self) -> None:
        super().__init__("redis://127.0.0.1:1/0", "test", Outbox(max_records=10))
        self.sent: list[tuple[str, Any, str]] = []

    def publish(self, event: str, data: Any, namespace: str) -> None:
        self.sent.append((event, data, namespace))


def make() -> tuple[Manager, FakePicture, Publisher, list[float]]:
    manager, picture, sleeps = Manager(), FakePicture(), []
    publisher = Publisher(manager, picture, lambda: {"status": [], "ticker": [], "trade": []},
                          lambda: {"id": "c1", "exchanges": ["coinbase"]}, sleeps.append)
    return manager, picture, publisher, sleeps


def test_emit_only_queues_and_the_outbox_drops_the_oldest_batches_when_full():
    manager, _, _, _ = make()
    manager.emit("trade", [{"n": n} for n in range(4)])
    manager.emit("trade", [{"n": n} for n in range(4, 8)])
    manager.emit("status", [{"n": 8}], to="some-sid")  # addressed: a collector has no clients
    assert manager.outbox.records == 8
    manager.emit("ticker", [{"n": n} for n in range(5)])
    assert manager.outbox.records == 9 and manager.outbox.dropped == 4
    assert manager.outbox.peek()[1][0] == {"n": 4}


def test_batches_are_written_to_the_picture_then_published_in_order():
    manager, picture, publisher, _ = make()
    manager.emit("status", [{"s": 1}])
    manager.emit("trade", [{"t": 1}])
    manager.emit("alert", {"a": 1})
    for _ in range(4):
        publisher.step()
    assert picture.wholes == 1  # the whole picture first, at start
    assert picture.writes == [("status", [{"s": 1}]), ("trade", [{"t": 1}])]
    assert [sent[0] for sent in manager.sent] == ["status", "trade", "alert"]
    assert publisher.stats()["state"] == "ok" and publisher.published == 3


def test_a_failing_redis_keeps_the_backlog_and_the_picture_is_rewritten_on_recovery():
    manager, picture, publisher, sleeps = make()
    publisher.step()  # connected
    picture.down = True
    manager.emit("trade", [{"t": 1}])
    manager.emit("trade", [{"t": 2}])
    publisher.step()
    publisher.step()
    publisher.step()
    assert publisher.state == "failing" and len(manager.outbox) == 2
    assert sleeps == [0.5, 1.0, 2.0]  # backoff
    assert publisher.stats()["last_error"].startswith("Error 111")
    picture.down = False
    publisher.step()
    publisher.step()
    assert picture.wholes == 2  # a restarted Redis holds nothing: everything again
    assert [sent[1] for sent in manager.sent] == [[{"t": 1}], [{"t": 2}]]
    assert publisher.recoveries == 1 and publisher.state == "ok"


def test_heartbeats_register_and_a_stop_says_goodbye():
    manager, picture, publisher, _ = make()
    publisher.step()
    publisher._stopping = True  # one heartbeat from the task, then stop
    manager.outbox.put("heartbeat", {"id": "c1"}, HEARTBEAT_NAMESPACE)
    publisher.step()
    assert picture.registered[-1]["id"] == "c1" and "time" in picture.registered[-1]
    assert manager.sent[-1][2] == HEARTBEAT_NAMESPACE
    publisher.run()  # drains, then ends
    assert publisher.stop(0.1) is False  # nothing runs the outbox any more
    assert manager.outbox.peek()[1]["stopping"] is True
