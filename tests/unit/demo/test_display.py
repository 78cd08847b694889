"""The live view renders every state a run goes through."""

from __future__ import annotations

from rich.console import Console

from riskstream.demo import DemoConfig, LiveDisplay, new_dashboard


def test_the_live_view_renders_pending_running_and_done_phases() -> None:
    dashboard = new_dashboard(DemoConfig())
    console = Console(record=True, width=100)
    view = LiveDisplay(dashboard, console)
    console.print(view.__rich__())  # nothing started
    dashboard.start("setup")
    dashboard.finish("setup", "4 processes starting")
    dashboard.start("history", total=1_000.0)
    dashboard.progress("history", 250.0, detail="250 events")
    dashboard.start("train")  # no total: an indeterminate bar
    dashboard.engine_processed, dashboard.engine_rate, dashboard.model = 1_234, 567.0, "m-1"
    dashboard.live_produced, dashboard.live_checkouts = 100, 5
    dashboard.live_actions.update({"allow": 4, "block": 1})
    dashboard.latency_ms.extend([5.0, 7.0, 40.0])
    dashboard.mfa_passed = 1
    console.print(view.__rich__())
    text = console.export_text()
    assert "✔" in text and "4 processes starting" in text
    assert "250 events" in text and "1,234 events processed" in text and "model m-1" in text
    assert "allow 4" in text and "block 1" in text and "p50 7.0 ms" in text
    assert "1 passed" in text


def test_overlapping_phases_both_show_their_progress() -> None:
    dashboard = new_dashboard(DemoConfig())
    console = Console(record=True, width=140)
    view = LiveDisplay(dashboard, console)
    dashboard.start("history", total=100.0)
    dashboard.progress("history", 40.0, detail="400 events written")
    dashboard.start("catch-up")
    dashboard.progress("catch-up", 10.0, total=30.0, detail="10 of 30 checkouts decided")
    console.print(view.__rich__())
    lines = console.export_text().splitlines()
    history = next(line for line in lines if "history" in line)
    catch_up = next(line for line in lines if "catch-up" in line)
    assert "▶" in history and "400 events written" in history
    assert "▶" in catch_up and "10 of 30 checkouts decided" in catch_up
    assert [p.key for p in dashboard.phases.values() if p.status == "running"] == [
        "history",
        "catch-up",
    ]


def test_a_long_detail_is_cut_not_the_marks_and_bars() -> None:
    dashboard = new_dashboard(DemoConfig())
    console = Console(record=True, width=60)
    view = LiveDisplay(dashboard, console)
    dashboard.start("history", total=100.0)
    dashboard.progress("history", 40.0, detail="a detail far longer than the console " * 3)
    console.print(view.__rich__())
    lines = console.export_text().splitlines()
    history = next(line for line in lines if "history" in line)
    assert history.split()[1:3] == ["▶", "history"] and "━" in history and "…" in history
    pending = [line for line in lines if line.split()[1:2] == ["·"]]
    assert len(pending) == len(dashboard.phases) - 1
