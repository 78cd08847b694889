"""A task as the runner holds it: with its store, its input positions and its checkpoint.

The checkpoint commits with the task's state (in the same store transaction, its changelog
marker carrying it too): where the task is in its inputs and, under ``low_latency``, where
its output partitions ended, so that a restarted task can find what it already wrote.
"""

from __future__ import annotations

import msgspec

from riskstream.log.port import EventLog, Producer
from riskstream.log.records import Record, TopicPartition
from riskstream.state import SqliteStore
from riskstream.stream.dedup import still_to_replay, written_since
from riskstream.stream.ordering import TimeOrderedBuffer
from riskstream.stream.task import Task

__all__ = ["RunnerCheckpoint", "TaskUnit", "tp_name", "tp_parse"]

_META_KEY = "runner"


class RunnerCheckpoint(msgspec.Struct, kw_only=True):
    """What a task commits with its state: where it is in its inputs and outputs."""

    inputs: dict[str, int] = msgspec.field(default_factory=dict)  # "topic:partition" -> next offset
    outputs: dict[str, int] = msgspec.field(default_factory=dict)  # "topic:partition" -> end offset
    watermarks: dict[str, int] = msgspec.field(default_factory=dict)


def tp_name(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


def tp_parse(name: str) -> TopicPartition:
    topic, _, partition = name.rpartition(":")
    return TopicPartition(topic, int(partition))


class TaskUnit:
    """A task with its store and its progress.

    ``replay_from`` holds the output offsets the task's duplicate scan started from; while
    the task is still replaying past outputs (its ``suppress`` set is not empty), its
    checkpoints keep them, so a crash during the replay scans the same outputs again.
    """

    __slots__ = (
        "buffer",
        "positions",
        "replay_from",
        "replay_until",
        "store",
        "suppressing",
        "task",
    )

    def __init__(self, task: Task, store: SqliteStore) -> None:
        self.task = task
        self.store = store
        self.positions: dict[TopicPartition, int] = {}
        self.replay_from: dict[str, int] = {}
        # The last input offsets whose outputs the task may still skip: once past them all,
        # whatever is left to skip never comes (see dedup.still_to_replay).
        self.replay_until: dict[TopicPartition, int] = {}
        self.buffer = TimeOrderedBuffer()
        self.suppressing = 0  # len(task.suppress) when last counted, for the metrics

    def resume(self, log: EventLog, outputs: list[TopicPartition], *, transactional: bool) -> None:
        """Take the task up where its restored store's checkpoint left it: input positions,
        watermarks, timers, and the outputs it wrote after the checkpoint, not to write them
        again (``outputs``: where it may have written if it never committed)."""
        task = self.task
        raw = self.store.metadata().get(_META_KEY)
        if raw is not None:
            checkpoint = msgspec.msgpack.decode(raw, type=RunnerCheckpoint)
            self.positions = {tp_parse(k): v for k, v in checkpoint.inputs.items()}
            task.restore_watermarks(checkpoint.watermarks)
            starts = {tp_parse(k): v for k, v in checkpoint.outputs.items()}
        else:
            # Never committed: anything this task wrote before a crash is in the whole log.
            starts = dict.fromkeys(outputs, 0)
        if transactional:
            # Outputs after the committed state were in a transaction that never committed:
            # read_committed readers never see them, so there is nothing to skip.
            starts = {}
        found = written_since(log, starts, {task.partition}) if starts else set()
        task.suppress, self.replay_until = still_to_replay(found, self.positions)
        self.suppressing = len(task.suppress)
        self.replay_from = {tp_name(tp): offset for tp, offset in starts.items()}
        task.restore_timers()

    def process(self, batch: list[Record]) -> None:
        """Hand the task ``batch``; only processed records move the positions that
        checkpoints record."""
        self.task.process(batch)
        positions = self.positions
        # A batch holds each input's records in offset order: the last one of each counts.
        # Every input of the task is its partition of a topic: the topic names the input.
        last = {record.topic: record.offset for record in batch}
        partition = self.task.partition
        for topic, offset in last.items():
            positions[TopicPartition(topic, partition)] = offset + 1
        if self.replay_until and self.task.suppress:
            self._end_replay_when_past()

    def _end_replay_when_past(self) -> None:
        positions = self.positions
        if all(positions.get(tp, 0) > last for tp, last in self.replay_until.items()):
            self.task.suppress.clear()
            self.suppressing = 0
            self.replay_until = {}

    def write_checkpoint(
        self, producer: Producer, output_ends: dict[str, int] | None = None
    ) -> None:
        """Send the store's pending changes and the task's checkpoint to its changelog;
        they count once the store commits. ``output_ends``: under ``low_latency`` only."""
        inputs = {tp_name(tp): offset for tp, offset in self.positions.items()}
        if output_ends is None:
            checkpoint = RunnerCheckpoint(inputs=inputs, watermarks=self.task.watermark_state())
        else:
            checkpoint = RunnerCheckpoint(
                inputs=inputs,
                outputs={**output_ends, **self.replay_from} if self.task.suppress else output_ends,
                watermarks=self.task.watermark_state(),
            )
        meta = {_META_KEY: msgspec.msgpack.encode(checkpoint)}
        self.store.flush(producer, meta, at_once=True)
