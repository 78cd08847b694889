"""Crash safety of the embedded log: processes killed with SIGKILL at random moments.

A producer child records every acknowledged record (partition, offset, payload id) in a side
file right after its delivery reports arrive; the parent kills it at random moments, again
and again, then proves that every acknowledged record is in the log exactly once, that
offsets are dense, and that the log opens cleanly and takes new writes. A consumer child
writes what it processed before committing; however it is killed, the group's committed
offsets never pass what it processed.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from riskstream.log import Consumer, DeliveryReport, Record, TopicPartition, TopicSpec
from riskstream.log.embedded import EmbeddedLog

PRODUCER_KILLS = 60
CONSUMER_KILLS = 15
PARTITIONS = 4

_PRODUCER = """
import random, sys
from riskstream.log import open_log
url, side_file, first_id, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
log = open_log(url)
acked = []

def on_delivery(report):
    if report.error is None:
        acked.append(f"{report.partition} {report.offset} {report.key.decode()}\\n")

producer = log.producer(on_delivery=on_delivery, linger_ms=rng.choice([0, 1, 5]))
out = open(side_file, "a")
print("ready", flush=True)
next_id = first_id
while True:
    for _ in range(rng.randint(1, 3000)):
        producer.produce("crash", b"payload-%d" % next_id, b"%d" % next_id)
        next_id += 1
    if rng.random() < 0.5:
        producer.flush()
    else:
        producer.poll(0)
    out.write("".join(acked))
    out.flush()
    acked.clear()
"""

_CONSUMER = """
import random, sys
from riskstream.errors import CommitFailedError
from riskstream.log import open_log
url, side_file, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
log = open_log(url)
consumer = log.consumer("workers", session_timeout_ms=400)
consumer.subscribe(["work"])
out = open(side_file, "a")
ready = False
while True:
    records = consumer.poll(rng.randint(1, 400), 0.1)
    if records:
        out.write("".join(f"{r.partition} {r.offset}\\n" for r in records))
        out.flush()
        try:
            consumer.commit()
        except CommitFailedError:
            pass
    if not ready and consumer.assignment():
        print("ready", flush=True)  # the kill timer starts once it owns partitions
        ready = True
"""


def complete_lines(side_files: Path) -> list[list[int]]:
    """The fully written lines of every run's side file (a kill can cut the last one short).

    One file per run, so a line cut short is never continued by the next run's first line.
    """
    rows: list[list[int]] = []
    for path in sorted(side_files.glob("run-*.txt")):
        lines = path.read_text().split("\n")[:-1]  # what follows the last newline is cut
        rows.extend([int(field) for field in line.split()] for line in lines)
    return rows


def run_and_kill(command: list[str], rng: random.Random, delay: tuple[float, float]) -> None:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n", "child failed before it was ready"
        time.sleep(rng.uniform(*delay))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL, "child ended before it was killed"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def read_everything(consumer: Consumer, tps: list[TopicPartition]) -> list[Record]:
    consumer.assign(tps)
    records: list[Record] = []
    while not set(tps) <= consumer.at_end():
        records.extend(consumer.poll(10_000, 0.0))
    return records


def test_acknowledged_records_survive_sigkill_exactly_once(tmp_path: Path) -> None:
    root = tmp_path / "log"
    url = f"embedded:{root}"
    with EmbeddedLog(root) as log:
        log.admin.create_topics([TopicSpec(name="crash", partitions=PARTITIONS)])
    script = tmp_path / "producer.py"
    script.write_text(_PRODUCER)
    side_files = tmp_path / "acked"
    side_files.mkdir()
    rng = random.Random(20_240_601)
    for run in range(PRODUCER_KILLS):
        side_file = side_files / f"run-{run:03d}.txt"
        command = [sys.executable, str(script), url, str(side_file), str(run * 10**8), str(run)]
        run_and_kill(command, rng, (0.01, 0.3))

    acked = complete_lines(side_files)
    assert all(len(row) == 3 for row in acked)
    assert len(acked) > 10_000, "too few acknowledged records for a meaningful test"
    with EmbeddedLog(root) as log:
        tps = [TopicPartition("crash", p) for p in range(PARTITIONS)]
        consumer = log.consumer()
        records = read_everything(consumer, tps)
        stored = {(r.partition, r.offset): r for r in records}
        for tp in tps:
            offsets = sorted(r.offset for r in records if r.partition == tp.partition)
            low, high = consumer.watermarks(tp)
            assert (low, high) == (0, len(offsets))
            assert offsets == list(range(high)), f"offsets of {tp} are not dense"
        ids = [int(r.key or b"") for r in records]
        assert len(ids) == len(set(ids)), "a payload was stored twice"
        assert all(r.value == b"payload-%d" % int(r.key or b"") for r in records)
        for partition, offset, payload_id in acked:
            record = stored.get((partition, offset))
            assert record is not None, f"acknowledged record {payload_id} is missing"
            assert record.key == b"%d" % payload_id
        assert len({payload_id for _, _, payload_id in acked}) == len(acked)

        # The log opens cleanly and takes new writes after the offsets it had.
        reports: list[DeliveryReport] = []
        producer = log.producer(on_delivery=reports.append)
        producer.produce("crash", b"after", partition=0)
        assert producer.flush() == 0
        assert (reports[0].error, reports[0].offset) == (None, consumer.watermarks(tps[0])[1] - 1)
        consumer.close()


def test_committed_offsets_never_pass_what_a_killed_consumer_processed(tmp_path: Path) -> None:
    root = tmp_path / "log"
    url = f"embedded:{root}"
    total = 30_000
    with EmbeddedLog(root) as log:
        log.admin.create_topics([TopicSpec(name="work", partitions=3)])
        producer = log.producer()
        for i in range(total):
            producer.produce("work", b"job-%d" % i, b"%d" % i)
        assert producer.flush() == 0
        producer.close()
    script = tmp_path / "consumer.py"
    script.write_text(_CONSUMER)
    side_files = tmp_path / "processed"
    side_files.mkdir()
    tps = [TopicPartition("work", p) for p in range(3)]
    rng = random.Random(7)
    with EmbeddedLog(root) as log:
        observer = log.consumer("workers")  # reads the group's commits; never joins it
        for run in range(CONSUMER_KILLS):
            side_file = side_files / f"run-{run:03d}.txt"
            command = [sys.executable, str(script), url, str(side_file), str(run)]
            run_and_kill(command, rng, (0.02, 0.3))
            processed: dict[int, set[int]] = {tp.partition: set() for tp in tps}
            for partition, offset in complete_lines(side_files):
                processed[partition].add(offset)
            for tp, committed in observer.committed(tps).items():
                below = set(range(committed or 0))
                assert below <= processed[tp.partition], (
                    f"run {run}: {tp} committed at {committed} but "
                    f"{len(below - processed[tp.partition])} offsets below were not processed"
                )
        progress = sum(offset or 0 for offset in observer.committed(tps).values())
        assert progress > 0, "the consumer never committed"
        observer.close()
