"""The consume ceiling of benchmarks/peers.py: raw confluent-kafka, nothing but consuming.

    python ceiling_app.py --bootstrap HOST:PORT --input TOPIC --group GROUP
                          --events N --stamp FILE

One ``confluent_kafka.Consumer`` in a fresh group (from the earliest offset, librdkafka's
defaults otherwise) subscribes to the input and consumes until it has received ``N``
records, checking each for an error and touching nothing else. It consumes as riskstream's
Kafka consumer does: ``consume(10_000, 0)`` takes what librdkafka has fetched, and only when
that is nothing does it wait for one record (``consume(1, 1.0)``) - a plain
``consume(10_000, timeout)`` would wait for a *full* batch. It writes the monotonic times of
its first record in hand and of the N-th (and its CPU time at both) to ``--stamp``, then
closes and exits.
"""

from __future__ import annotations

import argparse
import json
import time

from confluent_kafka import Consumer, KafkaException

BATCH = 10_000


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--bootstrap", "--input", "--group", "--stamp"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--events", type=int, required=True)
    args = parser.parse_args()
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([args.input])
    consume = consumer.consume
    seen = 0
    first_ns = first_cpu_ns = 0
    while seen < args.events:
        messages = consume(BATCH, 0)
        if not messages:
            messages = consume(1, 1.0)
            if not messages:
                continue
        if not first_ns:
            first_ns, first_cpu_ns = time.monotonic_ns(), time.process_time_ns()
        for message in messages:
            if message.error() is not None:
                raise KafkaException(message.error())
        seen += len(messages)
    last_ns, last_cpu_ns = time.monotonic_ns(), time.process_time_ns()
    stamps = {
        "first_ns": first_ns,
        "last_ns": last_ns,
        "first_cpu_ns": first_cpu_ns,
        "last_cpu_ns": last_cpu_ns,
        "records": seen,
    }
    with open(args.stamp, "w") as out:
        json.dump(stamps, out)
    consumer.close()


if __name__ == "__main__":
    main()
