"""RunnerMetrics: what each report does to the rendered Prometheus text exposition."""

from __future__ import annotations

import os
import time

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from riskstream.log.records import Record, TopicPartition
from riskstream.stream.metrics import RunnerMetrics
from riskstream.stream.output import Output

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
BASE = {"application": "app", "worker": "w1"}


def scrape(metrics: RunnerMetrics) -> Samples:
    """Every sample of the rendered exposition, parsed back, by name and labels."""
    text = metrics.render().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset({**BASE, **labels}.items())))


def record(topic: str, offset: int = 0, timestamp: int = 0) -> Record:
    return Record(
        topic=topic, partition=0, offset=offset, timestamp=timestamp, key=b"k", value=b"v"
    )


@pytest.fixture
def metrics() -> RunnerMetrics:
    return RunnerMetrics("app", "w1", state_size_interval_s=3600)


def test_records_in_and_out_are_counted_per_topic(metrics: RunnerMetrics) -> None:
    metrics.records_in([record("a", 0), record("b", 0), record("a", 1)])
    metrics.records_in([record("a", 2)])
    metrics.records_in([])
    metrics.records_out([Output("out", None, b"1", 0), Output("out", None, b"2", 0)], "app.late")

    samples = scrape(metrics)
    assert value(samples, "riskstream_records_in_total", topic="a") == 3
    assert value(samples, "riskstream_records_in_total", topic="b") == 1
    assert value(samples, "riskstream_records_out_total", topic="out") == 2
    assert value(samples, "riskstream_dead_letters_total", topic="out") is None


def test_dead_letters_and_late_records_are_counted_by_input_topic(metrics: RunnerMetrics) -> None:
    late = (("late.topic", b"events.click"), ("rs.id", b"x"))
    metrics.records_out(
        [
            Output("dlq.events.login", None, b"bad", 0),
            Output("app.late", None, b"old", 0, headers=late),
            Output("dlq.events.login", None, b"worse", 0),
            Output("decisions", None, b"ok", 0),
        ],
        "app.late",
    )

    samples = scrape(metrics)
    assert value(samples, "riskstream_dead_letters_total", topic="events.login") == 2
    assert value(samples, "riskstream_late_records_total", topic="events.click") == 1
    assert value(samples, "riskstream_records_out_total", topic="dlq.events.login") == 2
    assert value(samples, "riskstream_records_out_total", topic="app.late") == 1


def test_end_to_end_latency_is_in_milliseconds_and_never_negative(
    metrics: RunnerMetrics,
) -> None:
    now_ms = int(time.time() * 1000)
    metrics.end_to_end(now_ms - 3_000)
    metrics.end_to_end(now_ms + 60_000)  # a producer clock ahead of ours counts as 0

    samples = scrape(metrics)
    name = "riskstream_end_to_end_latency_milliseconds"
    assert value(samples, f"{name}_count") == 2
    assert value(samples, f"{name}_bucket", le="0.5") == 1
    assert value(samples, f"{name}_bucket", le="2000.0") == 1
    assert value(samples, f"{name}_bucket", le="5000.0") == 2
    total = value(samples, f"{name}_sum")
    assert total is not None and 3_000 <= total < 4_000


def test_batch_and_commit_durations_are_histograms_in_seconds(metrics: RunnerMetrics) -> None:
    metrics.batch_processed(0.002)
    metrics.batch_processed(0.2)
    metrics.committed(0.03)

    samples = scrape(metrics)
    assert value(samples, "riskstream_batch_processing_seconds_count") == 2
    assert value(samples, "riskstream_batch_processing_seconds_bucket", le="0.0025") == 1
    assert value(samples, "riskstream_batch_processing_seconds_sum") == pytest.approx(0.202)
    assert value(samples, "riskstream_commit_seconds_count") == 1
    assert value(samples, "riskstream_commit_seconds_bucket", le="0.05") == 1


def test_lag_and_state_gauges_are_set_and_forgotten_on_revocation(
    metrics: RunnerMetrics,
) -> None:
    metrics.lag(TopicPartition("events", 0), 12)
    metrics.lag(TopicPartition("events", 1), 0)
    metrics.state_size(0, 42)
    metrics.state_size(1, 7)
    metrics.forget([TopicPartition("events", 1)], [1])

    samples = scrape(metrics)
    assert value(samples, "riskstream_consumer_lag", topic="events", partition="0") == 12
    assert value(samples, "riskstream_consumer_lag", topic="events", partition="1") is None
    assert value(samples, "riskstream_state_keys", task="0") == 42
    assert value(samples, "riskstream_state_keys", task="1") is None


def test_state_sizes_are_sampled_at_most_once_per_interval() -> None:
    throttled = RunnerMetrics("app", "w1", state_size_interval_s=3600)
    assert throttled.state_size_due()
    assert not throttled.state_size_due()
    always = RunnerMetrics("app", "w1", state_size_interval_s=0)
    assert always.state_size_due()
    assert always.state_size_due()


def test_restore_progress_and_duration(metrics: RunnerMetrics) -> None:
    progress = metrics.restore_progress(3)
    assert value(scrape(metrics), "riskstream_restore_progress_ratio", partition="3") == 0
    progress(250, 1_000)
    assert value(scrape(metrics), "riskstream_restore_progress_ratio", partition="3") == 0.25
    metrics.restore_progress(5)  # nothing to replay: the callback is never called
    metrics.restored(3, 1.5)
    metrics.restored(5, 0.01)

    samples = scrape(metrics)
    assert value(samples, "riskstream_restore_progress_ratio", partition="3") == 1
    assert value(samples, "riskstream_restore_progress_ratio", partition="5") == 1
    assert value(samples, "riskstream_restore_seconds_count") == 2
    assert value(samples, "riskstream_restore_seconds_bucket", le="1.0") == 1


def test_rebalances_and_suppressed_outputs_are_counted(metrics: RunnerMetrics) -> None:
    metrics.rebalanced("assigned")
    metrics.rebalanced("assigned")
    metrics.rebalanced("revoked")
    metrics.suppressed(5)

    samples = scrape(metrics)
    assert value(samples, "riskstream_rebalances_total", kind="assigned") == 2
    assert value(samples, "riskstream_rebalances_total", kind="revoked") == 1
    assert value(samples, "riskstream_outputs_suppressed_total") == 5


def test_each_instance_has_its_own_registry_and_leaves_the_default_one_alone() -> None:
    first, second = RunnerMetrics("app", "w1"), RunnerMetrics("app", "w1")
    first.records_in([record("a")])

    assert value(scrape(first), "riskstream_records_in_total", topic="a") == 1
    assert value(scrape(second), "riskstream_records_in_total", topic="a") is None
    assert REGISTRY.get_sample_value("riskstream_records_in_total", {**BASE, "topic": "a"}) is None


def test_the_worker_defaults_to_host_and_pid() -> None:
    assert RunnerMetrics("app").worker.endswith(f"-{os.getpid()}")
