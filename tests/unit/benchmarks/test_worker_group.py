"""benchmarks/worker_group.py and fraud.py's checks: co-partitioned assignments, worker
counts, each checkout decided once, the profile's timed stacks."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


def _load(name: str) -> ModuleType:
    # Under its own name: fraud.py imports it as `worker_group`, as when run as a script.
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


worker_group = _load("worker_group")
fraud = _load("fraud")

TOPICS = ("events.login", "events.checkout", "app-repartition")


def _owned(numbers: list[int], topics: tuple[str, ...] = TOPICS) -> list[tuple[str, int]]:
    return [(topic, n) for topic in topics for n in numbers]


def test_a_co_partitioned_assignment_gives_each_worker_its_partition_numbers() -> None:
    held = worker_group.check_copartitioned([2, 2], [_owned([0, 2]), _owned([3, 1])], 4, TOPICS)
    assert held == [[0, 2], [1, 3]]


@pytest.mark.parametrize(
    ("units", "owned", "complaint"),
    [
        # partition 1 of one topic went to the other worker
        (
            [2, 2],
            [[*_owned([0, 2]), ("events.login", 1)], _owned([1, 3])],
            "split between workers {1: [0, 1]}",
        ),
        # worker 1 holds partition 3 without the repartition topic
        (
            [2, 2],
            [_owned([0, 2]), [*_owned([1]), *_owned([3], TOPICS[:2])]],
            "missing inputs {3: ['app-repartition']}",
        ),
        # nobody holds partition 3
        ([2, 1], [_owned([0, 2]), _owned([1])], "owned by no worker [3]"),
    ],
)
def test_an_assignment_that_is_not_co_partitioned_is_refused(
    units: list[int], owned: list[list[tuple[str, int]]], complaint: str
) -> None:
    with pytest.raises(RuntimeError, match="not co-partitioned") as raised:
        worker_group.check_copartitioned(units, owned, 4, TOPICS)
    assert complaint in str(raised.value)


def test_worker_counts_are_checked_against_the_partitions() -> None:
    parser = argparse.ArgumentParser()
    assert worker_group.worker_counts("1,2", parser, 8) == (1, 2)
    for bad in ("0", "9", "one", ""):
        with pytest.raises(SystemExit):
            worker_group.worker_counts(bad, parser, 8)


def test_each_checkout_must_be_decided_exactly_once() -> None:
    assert fraud.decided_once(["t1", "t2", "t3"], ["t3", "t1", "t2"]) == []
    problems = fraud.decided_once(["t1", "t2", "t3"], ["t1", "t1", "t2", "x9"])
    assert problems == [
        "1 checkouts without a decision (e.g. t3)",
        "1 checkouts decided more than once (e.g. t1)",
        "1 decisions of no checkout (e.g. x9)",
    ]


def test_the_profile_keeps_only_the_workers_timed_stacks(tmp_path: Path) -> None:
    worker = 'process 42:"python -c from multiprocessing.spawn";<module> (<string>:1)'
    timed = "drain_until_stopped (/x/benchmarks/fraud.py:600)"
    raw = tmp_path / "stacks.txt"
    raw.write_text(
        "\n".join(
            [
                f"{worker};{timed};poll_once (/x/riskstream/stream/runner.py:300);"
                "process (/x/riskstream/stream/task.py:214) 30",
                f"{worker};{timed};commit (/x/riskstream/stream/runner.py:400);"
                "flush (/x/riskstream/state/sqlite.py:90) 10",
                f"{worker};join_until_held (/x/benchmarks/worker_group.py:60) 500",
                'process 41:"python fraud.py";watch (/x/benchmarks/fraud.py:700) 900',
            ]
        )
    )
    sampled = fraud.read_samples(raw)
    assert sampled.total == 40
    assert dict(sampled.stages) == {"runtime": 30, "state + commit": 10}
    assert sampled.self_time["process (riskstream/stream/task.py:214)"] == 30
