"""The runner's Prometheus endpoint, scraped over HTTP while it runs a topology on the
embedded log: records in and out, lag falling to 0, state size, a dead letter, rebalances."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from riskstream.log import EventLog, TopicSpec, open_log
from riskstream.stream.metrics import RunnerMetrics
from riskstream.stream.runner import Runner
from tests.integration.runner_app import PARTITIONS, topology

EVENTS = 2_000
APP = "restart-app"  # the application name of runner_app's topology

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

# Straight to 127.0.0.1, whatever proxy the environment names.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def samples_of(text: bytes) -> Samples:
    """Every sample of a text exposition, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def scrape(port: int) -> Samples:
    with _opener.open(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        return samples_of(response.read())


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over the series carrying ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, lbls), v in samples.items() if n == name and wanted <= lbls)


def series(samples: Samples, name: str) -> list[float]:
    return [v for (n, _), v in samples.items() if n == name]


def fill(log: EventLog) -> None:
    """``EVENTS`` good events and one that does not decode; timestamps are the wall clock."""
    log.admin.create_topics([TopicSpec(name="events", partitions=PARTITIONS)])
    producer = log.producer()
    for i in range(EVENTS):
        event = {"i": i, "n": 1, "t": 1_000_000 + i * 100}
        producer.produce("events", msgspec.json.encode(event), f"user-{i % 40}".encode())
    producer.produce("events", b"{not json", b"user-poison")
    assert producer.flush(30) == 0


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    log = open_log(f"embedded:{tmp_path / 'log'}")
    fill(log)
    return log


def test_a_running_worker_exposes_its_metrics_over_http(log: EventLog, tmp_path: Path) -> None:
    metrics = RunnerMetrics(APP, "worker-1", state_size_interval_s=0, lag_interval_s=0.02)
    runner = Runner(
        topology(),
        log,
        state_dir=tmp_path / "state",
        commit_interval_ms=50,
        max_batch=300,
        metrics=metrics,
    )
    server = metrics.serve(0)
    try:
        runner.start()
        highest_lag = 0.0
        while not (len(runner.units) == PARTITIONS and runner.caught_up()):
            runner.poll_once(0.05)
            highest_lag = max(highest_lag, total(scrape(server.port), "riskstream_consumer_lag"))
        runner.commit()
        samples = scrape(server.port)
    finally:
        server.close()
        runner.close()
        log.close()

    with pytest.raises(urllib.error.URLError):  # closed: the port is released
        scrape(server.port)
    assert highest_lag > 0
    lags = series(samples, "riskstream_consumer_lag")
    assert len(lags) == PARTITIONS
    assert set(lags) == {0}
    assert total(samples, "riskstream_records_in_total", topic="events") == EVENTS + 1
    assert total(samples, "riskstream_records_out_total", topic="totals") == EVENTS
    assert total(samples, "riskstream_records_out_total", topic="dlq.events") == 1
    assert total(samples, "riskstream_dead_letters_total", topic="events") == 1
    assert total(samples, "riskstream_state_keys") > 0
    assert total(samples, "riskstream_rebalances_total", kind="assigned") >= 1
    assert set(series(samples, "riskstream_restore_progress_ratio")) == {1}
    assert total(samples, "riskstream_restore_seconds_count") == PARTITIONS
    assert total(samples, "riskstream_batch_processing_seconds_count") > 0
    assert total(samples, "riskstream_commit_seconds_count") > 0
    latency_count = total(samples, "riskstream_end_to_end_latency_milliseconds_count")
    assert latency_count > 0
    mean_ms = total(samples, "riskstream_end_to_end_latency_milliseconds_sum") / latency_count
    assert 0 <= mean_ms < 60_000  # producer timestamps are this machine's wall clock
    every = {labels for (_, labels) in samples}
    assert all({("application", APP), ("worker", "worker-1")} <= labels for labels in every)


def _caught_up(*runners: Runner) -> bool:
    held = sum(len(runner.units) for runner in runners)
    return held == PARTITIONS and all(runner.caught_up() for runner in runners if runner.units)


def test_a_second_worker_moves_partitions_and_each_counts_its_own(
    log: EventLog, tmp_path: Path
) -> None:
    first = Runner(topology(), log, state_dir=tmp_path / "a", commit_interval_ms=50, max_batch=50)
    second = Runner(topology(), log, state_dir=tmp_path / "b", commit_interval_ms=50, max_batch=50)
    try:
        first.start()
        while len(first.units) < PARTITIONS:
            first.poll_once(0.05)
        second.start()
        while not (second.units and _caught_up(first, second)):
            first.poll_once(0.05)
            second.poll_once(0.05)
        first.commit()
        second.commit()
        held = len(first.units)
        a = samples_of(first.metrics.render())
        b = samples_of(second.metrics.render())
    finally:
        first.close()
        second.close()
        log.close()

    assert first.metrics.registry is not second.metrics.registry
    assert total(a, "riskstream_rebalances_total", kind="revoked") >= 1
    assert total(b, "riskstream_rebalances_total", kind="assigned") >= 1
    # Revocation commits, so no record is read twice; the lag gauges follow the partitions.
    counted = total(a, "riskstream_records_in_total") + total(b, "riskstream_records_in_total")
    assert counted == EVENTS + 1
    assert len(series(a, "riskstream_consumer_lag")) == held
    assert len(series(b, "riskstream_consumer_lag")) == PARTITIONS - held
