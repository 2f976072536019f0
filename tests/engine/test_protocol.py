"""The worker <-> supervisor wire format: every event and command survives a
round trip, and a bad line is refused with a message saying what is wrong."""
from __future__ import annotations

import json
import math
import os
import threading

import pytest

from engine.protocol import (
    PROTOCOL_VERSION,
    Checkpoint,
    Detach,
    Epoch,
    Finished,
    Heartbeat,
    Log,
    Metrics,
    Pause,
    ProtocolError,
    Resume,
    Started,
    Status,
    Stop,
    System,
    decode_command,
    decode_event,
    encode_command,
    encode_event,
)
from engine.training.callbacks import MetricPoint
from engine.worker.sender import EventSender, decimate

EVENTS = [
    Started(3, pid=1234, device="cpu", num_params=5210, total_epochs=2, steps_per_epoch=8),
    Metrics(3, [MetricPoint("train/loss_step", 4, 1, 0.5, 1700000000.25),
                MetricPoint("val/accuracy", 8, 1, 0.93, 1700000001.0)]),
    Epoch(3, epoch=1, total_epochs=2, metrics={"val/loss": 0.21, "lr": 0.001}, eta_s=3.5),
    Epoch(3, epoch=2, total_epochs=2, metrics={}, eta_s=None),
    System(3, [("cpu/percent", 1700000000.0, 41.0), ("proc/rss_mb", 1700000000.0, 512.5)]),
    Log(3, level="warning", message="lr is high — ünïcode survives"),
    Status(3, "paused"),
    Checkpoint(3, kind="best", path="/tmp/run-3/best.pt", step=16, epoch=2, metric_value=0.2),
    Checkpoint(3, kind="last", path="/tmp/run-3/last.pt", step=16, epoch=2, metric_value=None),
    Finished(3, status="failed", error="loss became NaN at epoch 2, step 11 — try a lower learning rate"),
    Finished(3, status="completed"),
    Heartbeat(3),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_round_trips_with_its_sequence_number(event):
    line = encode_event(event, seq=42)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    head = json.loads(line)
    assert head["v"] == PROTOCOL_VERSION and head["seq"] == 42 and head["kind"] == event.KIND
    back = decode_event(line)
    assert back == event and back.seq == 42


def test_metric_points_travel_as_key_step_epoch_value_time():
    line = encode_event(EVENTS[1], seq=1)
    assert json.loads(line)["points"][0] == {"key": "train/loss_step", "step": 4, "epoch": 1,
                                            "value": 0.5, "time": 1700000000.25}


def test_nan_and_inf_losses_reach_the_supervisor_as_what_they_are():
    event = Metrics(1, [MetricPoint("train/loss", 1, 1, float("nan"), 0.0),
                        MetricPoint("val/loss", 1, 1, float("inf"), 0.0)])
    back = decode_event(encode_event(event, 1))
    assert math.isnan(back.points[0].value) and back.points[1].value == math.inf


def test_commands_round_trip():
    for command in (Pause(), Resume(), Stop(), Detach()):
        assert decode_command(encode_command(command)) == command


@pytest.mark.parametrize("line, words", [
    (b"hello from a stray print\n", "invalid JSON"),
    (b"[1, 2]\n", "expected a JSON object"),
    (b'{"seq": 1, "kind": "metrics", "run_id": 1, "points": []}\n', "version None"),
    (b'{"v": 999, "seq": 1, "kind": "heartbeat", "run_id": 1}\n', "different LayerDeck versions"),
    (b'{"v": 1, "seq": 1, "kind": "teleport", "run_id": 1}\n', "unknown event kind 'teleport'"),
    (b'{"v": 1, "seq": 1, "kind": "started", "run_id": 1}\n', "malformed 'started' event"),
])
def test_a_bad_event_line_is_refused_with_the_reason(line, words):
    with pytest.raises(ProtocolError, match=words):
        decode_event(line)


def test_an_unknown_command_names_the_known_ones():
    with pytest.raises(ProtocolError, match=r"unknown command 'explode'.*pause.*resume.*stop"):
        decode_command(b'{"v": 1, "kind": "explode"}')


def test_decimation_keeps_every_epoch_point():
    points = [MetricPoint("train/loss_step", s, 1, 1.0, 0.0) for s in range(1000)]
    points += [MetricPoint("val/loss", 1000, 1, 0.5, 0.0)]
    kept = decimate(points, 100)
    assert len(kept) <= 100
    assert MetricPoint("val/loss", 1000, 1, 0.5, 0.0) in kept
    steps = [p.step for p in kept if p.key == "train/loss_step"]
    assert steps == sorted(steps) and steps[-1] > 900  # spread over the whole range, in order


def _read_all(fd: int) -> list:
    chunks = []
    while True:
        data = os.read(fd, 65536)
        if not data:
            break
        chunks.append(data)
    return [decode_event(line) for line in b"".join(chunks).splitlines()]


def test_sender_coalesces_metric_batches_and_keeps_order():
    r, w = os.pipe()
    sender = EventSender(w)
    sender.start()
    sender.send(Started(1, pid=1, device="cpu", num_params=1, total_epochs=1, steps_per_epoch=500))
    for step in range(1, 501):  # a fast loop: 500 batches in far less than a second
        sender.send(Metrics(1, [MetricPoint("train/loss_step", step, 1, 1.0 / step, 0.0)]))
    sender.send(Epoch(1, epoch=1, total_epochs=1, metrics={"val/loss": 0.1}, eta_s=0.0))
    sender.send(Finished(1, status="completed"))
    sender.close()
    events = _read_all(r)
    os.close(r)
    kinds = [e.KIND for e in events]
    assert kinds[0] == "started" and kinds[-2:] == ["epoch", "finished"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    batches = [e for e in events if isinstance(e, Metrics)]
    assert len(batches) < 50  # coalesced, not one line per batch
    steps = [p.step for b in batches for p in b.points]
    assert steps == list(range(1, 501))  # nothing dropped while the reader keeps up


def test_a_slow_reader_never_blocks_the_sender_and_loses_only_step_points():
    r, w = os.pipe()
    sender = EventSender(w, max_points=200)
    sender.start()
    gate = threading.Event()
    received: list = []

    def slow_reader():
        gate.wait()
        received.extend(_read_all(r))

    reader = threading.Thread(target=slow_reader)
    reader.start()
    # Far more than a pipe buffer holds: send() must return while nobody reads.
    for step in range(1, 20001):
        sender.send(Metrics(1, [MetricPoint("train/loss_step", step, 1, 0.5, 0.0)]))
        if step % 1000 == 0:
            sender.send(Metrics(1, [MetricPoint("train/loss", step, step // 1000, 0.4, 0.0)]))
    gate.set()
    sender.send(Finished(1, status="completed"))
    sender.close()
    reader.join()
    os.close(r)
    points = [p for e in received if isinstance(e, Metrics) for p in e.points]
    epoch_steps = [p.step for p in points if p.key == "train/loss"]
    assert epoch_steps == list(range(1000, 20001, 1000))
    assert sender.dropped_points > 0
    assert received[-1] == Finished(1, status="completed")


def test_a_closed_pipe_marks_the_sender_broken_instead_of_raising():
    r, w = os.pipe()
    os.close(r)
    sender = EventSender(w)
    sender.start()
    sender.send(Log(1, level="info", message="nobody listens"))
    sender.close()
    assert sender.broken


def test_detach_closes_the_stream_at_once_and_discards_later_events():
    r, w = os.pipe()
    sender = EventSender(w)
    sender.start()
    sender.send(Log(1, level="info", message="before"))
    sender.detach()
    sender.send(Finished(1, status="completed"))  # nobody listens any more: dropped, no error
    events = _read_all(r)  # returns: the sender closed its end without being closed itself
    os.close(r)
    assert Finished(1, status="completed") not in events
    sender.close()
    assert sender.broken
