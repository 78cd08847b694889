"""benchmarks/report.py: JSON figure lines in, one summary table out."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPORT = Path(__file__).resolve().parents[3] / "benchmarks" / "report.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", REPORT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


report = _load()


def _figure(bench: str, metric: str, value: float, **params: object) -> str:
    return json.dumps(
        {
            "bench": bench,
            "backend": "kafka",
            "metric": metric,
            "value": value,
            "unit": "x",
            "params": params,
        }
    )


def test_figures_and_errors_are_told_apart_and_noise_is_skipped() -> None:
    lines = [
        "starting broker...",
        _figure("peers.riskstream", "events_per_s", 123456.7, events=1000),
        "{not json",
        json.dumps({"bench": "peers.faust", "backend": "kafka", "error": "RuntimeError: boom"}),
        json.dumps({"bench": "x", "metric": "events_per_s", "value": "fast"}),
    ]
    figures, failures = report.parse(lines, "peers.jsonl")
    assert [(f.bench, f.value, f.params) for f in figures] == [
        ("peers.riskstream", 123456.7, {"events": 1000})
    ]
    assert [(f.bench, f.error) for f in failures] == [("peers.faust", "RuntimeError: boom")]


def test_values_and_params_are_formatted_for_reading() -> None:
    assert report.format_value(123456.7) == "123,457"
    assert report.format_value(250.04) == "250.0"
    assert report.format_value(0.0123456) == "0.0123"
    text = report.format_params({"zeta": 1, "runs": [1, 2], "events": 200000, "nested": {"a": 1}})
    assert text == "events=200,000 zeta=1"
    assert report.format_params({"k": "v" * 100}, width=10).endswith("…")


def test_markdown_groups_each_benchmark_in_first_seen_order(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        "\n".join(
            [
                _figure("log.produce", "events_per_s", 5000),
                _figure("runtime.latency", "p99_ms", 4.5),
                _figure("log.consume", "events_per_s", 9000),
            ]
        )
    )
    (tmp_path / "a.log").write_text(
        json.dumps({"bench": "log.x", "backend": "kafka", "error": "e"})
    )
    figures, failures = [], []
    for source, lines in report._files([str(tmp_path)]):
        found, failed = report.parse(lines, source)
        figures += found
        failures += failed
    markdown = report.render_markdown(figures, failures).splitlines()
    assert [row.split(" | ")[0].lstrip("| ") for row in markdown[2:5]] == [
        "log.produce",
        "log.consume",
        "runtime.latency",
    ]
    assert markdown[-1] == "- `log.x` (kafka): e"


def test_main_exits_1_when_a_benchmark_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(_figure("peers.riskstream", "ratio_vs_faust", 12.5))
    assert report.main([str(good), "--markdown"]) == 0
    assert "| peers.riskstream | kafka | ratio_vs_faust | 12.5 | x |  |" in capsys.readouterr().out
    bad = tmp_path / "bad.log"
    bad.write_text(json.dumps({"bench": "peers.quix", "backend": "kafka", "error": "no venv"}))
    assert report.main([str(good), str(bad)]) == 1
