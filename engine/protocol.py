"""Worker <-> supervisor messages: typed events out, commands in, JSON lines.

Nothing else crosses the process boundary (docs/ARCHITECTURE.md, "The worker
protocol"). Each line is one
JSON object `{"v": PROTOCOL_VERSION, "seq": n, "kind": ..., <fields>}`;
the sequence number lets a reader see gaps and order, the version lets an
old GUI refuse a newer worker with a clear message instead of misreading it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Iterator, Optional, Union

from engine.training.callbacks import MetricPoint

PROTOCOL_VERSION = 1


class ProtocolError(ValueError):
    """A line that is not a valid protocol message (bad JSON, unknown kind, wrong version)."""


# --- events: worker -> supervisor ----------------------------------------------

@dataclass(frozen=True)
class Event:
    """Base of every event; `seq` is set by the sender when the line is written."""

    KIND: ClassVar[str] = ""
    run_id: int
    # compare=False: two events with the same payload are the same event
    # whatever line they travelled on.
    seq: int = field(default=0, kw_only=True, compare=False)


@dataclass(frozen=True)
class Started(Event):
    """The worker has its data and model and is about to train."""

    KIND: ClassVar[str] = "started"
    pid: int
    device: str
    num_params: int
    total_epochs: int
    steps_per_epoch: int


@dataclass(frozen=True)
class Metrics(Event):
    """A batch of metric points (per step and per epoch)."""

    KIND: ClassVar[str] = "metrics"
    points: list[MetricPoint]


@dataclass(frozen=True)
class Epoch(Event):
    """Epoch `epoch` (1-based) finished; `metrics` are its epoch values."""

    KIND: ClassVar[str] = "epoch"
    epoch: int
    total_epochs: int
    metrics: dict[str, float]
    eta_s: Optional[float]


@dataclass(frozen=True)
class System(Event):
    """System samples (key, wall_time, value) taken while the run trains."""

    KIND: ClassVar[str] = "system"
    samples: list[tuple[str, float, float]]


@dataclass(frozen=True)
class Log(Event):
    """A line for the run's log pane; level is info, warning or error."""

    KIND: ClassVar[str] = "log"
    level: str
    message: str


@dataclass(frozen=True)
class Status(Event):
    """The run's status changed without ending (queued, running, paused).

    So a view learns that a pause or resume took effect (the worker applies
    it between batches) without polling (docs/DESIGN-NOTES.md).
    """

    KIND: ClassVar[str] = "status"
    status: str


@dataclass(frozen=True)
class Checkpoint(Event):
    """A checkpoint of `kind` (best or last) was written to `path`."""

    KIND: ClassVar[str] = "checkpoint"
    kind: str  # best or last (on the wire: "checkpoint_kind", since "kind" names the event)
    path: str
    step: int
    epoch: int
    metric_value: Optional[float]


@dataclass(frozen=True)
class Finished(Event):
    """The run ended: completed, stopped, failed or crashed (error in words)."""

    KIND: ClassVar[str] = "finished"
    status: str
    error: Optional[str] = None


@dataclass(frozen=True)
class Heartbeat(Event):
    """The worker is alive (sent every few seconds, also while paused)."""

    KIND: ClassVar[str] = "heartbeat"


@dataclass(frozen=True)
class Owned(Event):
    """A Runner took charge of this run: it submitted it (status queued) or
    adopted it from the store (its current status and last epoch). The first
    event of every run a view hears of, with what a list row needs.

    Sent by the Runner itself, never by a worker."""

    KIND: ClassVar[str] = "owned"
    name: str
    status: str
    total_epochs: int
    epoch: int = 0
    parent_id: Optional[int] = None
    adopted: bool = False  # started elsewhere (a closed app, a terminal, another machine)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.KIND: cls for cls in (Started, Metrics, Epoch, System, Log, Status, Checkpoint, Finished, Heartbeat,
                              Owned)
}
AnyEvent = Union[Started, Metrics, Epoch, System, Log, Status, Checkpoint, Finished, Heartbeat, Owned]


# --- commands: supervisor -> worker ----------------------------------------------

@dataclass(frozen=True)
class Command:
    KIND: ClassVar[str] = ""


@dataclass(frozen=True)
class Pause(Command):
    """Pause between batches; the run's status becomes paused."""

    KIND: ClassVar[str] = "pause"


@dataclass(frozen=True)
class Resume(Command):
    """Continue a paused run."""

    KIND: ClassVar[str] = "resume"


@dataclass(frozen=True)
class Stop(Command):
    """Finish the batch, save a last checkpoint, end as stopped."""

    KIND: ClassVar[str] = "stop"


@dataclass(frozen=True)
class Detach(Command):
    """The supervisor is letting go: train on without it.

    After this the worker ignores stdin closing (no Stop can arrive any more,
    which is the point), stops streaming events and closes its end of the
    stream (the store is the record); a paused run stays paused, for whoever
    adopts it next to resume or stop (by signal or through the store).
    """

    KIND: ClassVar[str] = "detach"


COMMAND_TYPES: dict[str, type[Command]] = {cls.KIND: cls for cls in (Pause, Resume, Stop, Detach)}


# --- encoding -------------------------------------------------------------------

_WIRE_NAMES = {"kind": "checkpoint_kind"}


def _payload(msg: Event | Command) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(msg):
        if f.name == "seq":
            continue
        value = getattr(msg, f.name)
        if f.name == "points":
            # The wire name of MetricPoint.wall_time is "time" (docs/ARCHITECTURE.md, "The worker protocol").
            value = [{"key": p.key, "step": p.step, "epoch": p.epoch, "value": p.value,
                      "time": p.wall_time} for p in value]
        elif f.name == "samples":
            value = [list(s) for s in value]
        out[_WIRE_NAMES.get(f.name, f.name)] = value
    return out


def encode_event(event: Event, seq: int) -> bytes:
    """One event as one JSON line (bytes, newline-terminated), numbered `seq`."""
    head = {"v": PROTOCOL_VERSION, "seq": seq, "kind": event.KIND}
    # NaN and inf stay as JSON's NaN/Infinity extensions: both ends are Python
    # and a diverging loss must reach the plot as what it is.
    return (json.dumps({**head, **_payload(event)}, separators=(",", ":")) + "\n").encode("utf-8")


def encode_command(command: Command) -> bytes:
    return (json.dumps({"v": PROTOCOL_VERSION, "kind": command.KIND}) + "\n").encode("utf-8")


def _parse_line(line: bytes | str, what: str) -> dict[str, Any]:
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ProtocolError(f"not a {what} line (invalid JSON: {e.msg}): {text[:120]!r}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"not a {what} line (expected a JSON object): {text[:120]!r}")
    version = obj.pop("v", None)
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"{what} protocol version {version!r} is not {PROTOCOL_VERSION}: the worker and the "
            "app come from different LayerDeck versions; reinstall so both match")
    return obj


def decode_event(line: bytes | str) -> AnyEvent:
    """Parse one line written by `encode_event`; ProtocolError says what is wrong."""
    obj = _parse_line(line, "event")
    kind = obj.pop("kind", None)
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise ProtocolError(f"unknown event kind {kind!r}; expected one of {sorted(EVENT_TYPES)}")
    seq = obj.pop("seq", 0)
    try:
        if "points" in obj:
            obj["points"] = [MetricPoint(p["key"], int(p["step"]), int(p["epoch"]),
                                         float("nan") if p["value"] is None else float(p["value"]),
                                         float(p["time"])) for p in obj["points"]]
        if "checkpoint_kind" in obj:
            obj["kind"] = obj.pop("checkpoint_kind")
        if "samples" in obj:
            obj["samples"] = [(str(k), float(t), float(v)) for k, t, v in obj["samples"]]
        return cls(**obj, seq=int(seq))  # type: ignore[return-value]
    except (TypeError, KeyError, ValueError) as e:
        raise ProtocolError(f"malformed {kind!r} event ({e}): {str(line)[:120]}") from None


def iter_lines(fd: int, chunk_size: int = 65536) -> Iterator[bytes]:
    """The lines arriving on a pipe, until it closes.

    Raw os.read rather than a buffered file: a daemon thread blocked inside a
    buffered reader can abort the interpreter at exit ("could not acquire
    lock"), and the readers on both sides of the pipe are daemon threads.
    """
    pending = b""
    while True:
        try:
            chunk = os.read(fd, chunk_size)
        except OSError:
            chunk = b""
        if not chunk:
            if pending:
                yield pending
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from lines


def decode_command(line: bytes | str) -> Command:
    obj = _parse_line(line, "command")
    kind = obj.pop("kind", None)
    cls = COMMAND_TYPES.get(kind)
    if cls is None:
        raise ProtocolError(f"unknown command {kind!r}; expected one of {sorted(COMMAND_TYPES)}")
    return cls()
