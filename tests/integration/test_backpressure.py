"""Back-pressure: an input that runs ahead of its task's other inputs is paused once too
many of its records wait, and resumed when they drained; nothing is lost or reordered."""

from __future__ import annotations

import uuid
from pathlib import Path

import msgspec
import pytest

from riskstream.log import TopicPartition, TopicSpec, open_log
from riskstream.stream import Runner, Topology
from riskstream.stream.item import Item
from riskstream.stream.processor import Context, KeyState

EACH = 3_000
LIMIT = 200


class Sequence:
    """Forwards each event with its topic, in the order the task sees them."""

    def process(self, item: Item, state: KeyState[int], ctx: Context) -> None:
        ctx.forward(item.value)

    def on_timer(self, at: int, state: KeyState[int], ctx: Context) -> None:
        """No timers."""


@pytest.fixture(params=["embedded", "kafka"])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "kafka":
        return f"kafka://{request.getfixturevalue('kafka_bootstrap')}"
    return f"embedded:{tmp_path / 'log'}"


def test_a_partition_far_ahead_is_paused_and_resumed_without_loss(
    log_url: str, tmp_path: Path
) -> None:
    log = open_log(log_url)
    run = uuid.uuid4().hex[:8]
    ahead, behind, sink = f"ahead-{run}", f"behind-{run}", f"ordered-{run}"
    log.admin.create_topics(
        [TopicSpec(name=ahead, partitions=1), TopicSpec(name=behind, partitions=1)]
    )
    producer = log.producer()
    # A backlog where all of "ahead" is later than all of "behind": read side by side, its
    # records wait in the task's buffer until "behind" has gone.
    for topic, start in ((ahead, 100_000), (behind, 1_000)):
        for i in range(EACH):
            value = msgspec.json.encode({"topic": topic, "t": start + i})
            producer.produce(topic, value, b"k", timestamp=start + i)
    producer.flush()

    topology = Topology("bp", idle_timeout_ms=10**12, allowed_lateness_ms=10**9)
    events = topology.source(
        "events", [ahead, behind], decode=msgspec.json.decode, event_time=lambda v: v["t"]
    )
    events.process("order", Sequence(), state_type=int).to(sink, encode=msgspec.json.encode)
    runner = Runner(topology, log, state_dir=tmp_path / "state", max_batch=100, max_buffered=LIMIT)
    runner.start()
    seen_paused: set[TopicPartition] = set()
    most_waiting = 0
    while runner.processed < 2 * EACH:
        runner.poll_once(0.05)
        seen_paused |= runner._consumer.paused()
        most_waiting = max([most_waiting, *(len(u.buffer) for u in runner.units.values())])
    assert runner._consumer.paused() == frozenset()  # resumed once drained
    runner.close()

    assert TopicPartition(ahead, 0) in seen_paused
    assert most_waiting <= LIMIT + 100  # the limit, plus at most one batch over it
    consumer = log.consumer()
    consumer.assign([TopicPartition(sink, 0)])
    out: list[dict[str, object]] = []
    while len(out) < 2 * EACH:
        out += [msgspec.json.decode(r.value or b"") for r in consumer.poll(10_000, 0.5)]
    consumer.close()
    times = [event["t"] for event in out]
    assert times == sorted(times)  # merged by time: nothing processed out of order
    assert sorted((e["topic"], e["t"]) for e in out) == sorted(
        (topic, start + i)
        for topic, start in ((ahead, 100_000), (behind, 1_000))
        for i in range(EACH)
    )
    log.close()
