"""Dropping a slow client's backlog keeps what the connection itself needs, in order.

Run against the queue and packet types of the installed python-engineio, in both async modes
the server can use, since ``dashboard.backpressure`` relies on their internals.
"""

from __future__ import annotations

import engineio
import pytest
from engineio import packet

from dashboard.backpressure import drop_events, is_event


@pytest.mark.parametrize("async_mode", ["threading", "eventlet"])
def test_only_event_packets_are_dropped_and_the_rest_keep_their_order(async_mode):
    server = engineio.Server(async_mode=async_mode)
    queue = server.create_queue()
    connect_ack = packet.Packet(packet.MESSAGE, '0{"sid":"abc"}')
    ping = packet.Packet(packet.PING)
    close = packet.Packet(packet.CLOSE)
    for item in (packet.Packet(packet.MESSAGE, '2["trade",[]]'), connect_ack, ping,
                 packet.Packet(packet.MESSAGE, '2["ticker",[]]'), close, None):
        queue.put(item)

    assert drop_events(queue, server.get_queue_empty_exception()) == 2

    assert [queue.get_nowait() for _ in range(queue.qsize())] == [connect_ack, ping, close, None]
    assert queue.unfinished_tasks == 4  # join() still waits for exactly what is queued


def test_what_counts_as_an_event():
    assert is_event(packet.Packet(packet.MESSAGE, '2["status",[]]'))
    assert not is_event(packet.Packet(packet.MESSAGE, "1"))  # Socket.IO disconnect
    assert not is_event(packet.Packet(packet.MESSAGE, b"binary"))
    assert not is_event(packet.Packet(packet.NOOP))
    assert not is_event(None)
