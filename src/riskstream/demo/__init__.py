"""``riskstream demo``: the whole product, end to end, on one machine.

A simulated shop's history goes onto the log; the fraud engine decides it (its throughput),
learns a LightGBM model from it and loads it without a restart; then live traffic of the
same customers - and fraudsters - flows through the engine, the Fraud Service holds what is
challenged or blocked while simulated customers answer the MFA challenges, and the read
models follow. The report measures the run against the simulator's ground truth (which the
engine never reads): decision latency, throughput, the per-scenario confusion matrix, fraud
amount stopped, friction for genuine customers - in the terminal, as JSON and as an HTML
page with plots.

::

    result = run_demo(DemoConfig(duration_s=60, rate=1_000))
    result.summary.latency.p99_ms, result.html_path

Modules: :mod:`.config` (what to run, where), :mod:`.namespace` (the run's topics),
:mod:`.traffic` (history and live traffic), :mod:`.children` and :mod:`.fleet` (the
processes), :mod:`.training`, :mod:`.customers` (MFA answers), :mod:`.run`
(the phases), :mod:`.facts`, :mod:`.metrics` and :mod:`.summary` (the report's figures),
:mod:`.render`, :mod:`.html` and :mod:`.display` (showing them). A script that calls
:func:`run_demo` does so under ``if __name__ == "__main__":`` (its processes import the
main module).
"""

from .config import DEFAULT_OUT, DemoConfig, RunLayout, default_users
from .dashboard import Dashboard
from .display import LiveDisplay
from .namespace import Namespace
from .render import render_summary
from .run import PHASES, DemoError, DemoResult, new_dashboard, run_demo
from .summary import DemoSummary, build_summary, encode_summary

__all__ = [
    "DEFAULT_OUT",
    "PHASES",
    "Dashboard",
    "DemoConfig",
    "DemoError",
    "DemoResult",
    "DemoSummary",
    "LiveDisplay",
    "Namespace",
    "RunLayout",
    "build_summary",
    "default_users",
    "encode_summary",
    "new_dashboard",
    "render_summary",
    "run_demo",
]
