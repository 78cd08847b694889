"""The HTML report: one self-contained page with the four plots as inline SVG."""

from __future__ import annotations

import re

from riskstream.demo.html import PLOTS, render_html
from riskstream.demo.summary import build_summary
from tests.unit.demo.kit import decision, facts, truth

MS = 1_000_000


def test_the_page_holds_the_four_plots_and_nothing_from_elsewhere() -> None:
    records = [truth(f"live-{i}", "legit" if i % 5 else "card_testing", 10.0) for i in range(40)]
    decisions = [
        decision(r.transaction_id, "block" if r.is_fraud else "allow", 10.0, score=r.is_fraud * 95)
        for r in records
    ]
    sent = {r.transaction_id: i * 10 * MS for i, r in enumerate(records)}
    run = facts(
        started_at=1000.0,
        finished_at=1060.0,
        phases={"catch-up": (1001.0, 1010.0), "live": (1020.0, 1050.0)},
        sent_ns=sent,
        read_ns={tx: at + (5 + i % 7) * MS for i, (tx, at) in enumerate(sent.items())},
        decisions=decisions,
        truth=records,
        statuses={
            d.transaction_id: "cancelled" if d.action == "block" else "decided" for d in decisions
        },
        engine_samples=[(1001.0 + i, 1000 * i) for i in range(50)],
    )
    page = render_html(build_summary(run), run)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == len(PLOTS) == 4
    for name in PLOTS:
        assert f'id="plot-{name}"' in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "card_testing" in page and "Decision latency" in page


def test_an_empty_run_still_renders() -> None:
    run = facts()
    page = render_html(build_summary(run), run)
    assert page.count("<svg") == 4
    assert "no data" in page
