"""Training rows from decisions: each label reaches the rest of its incident when asked."""

from __future__ import annotations

import msgspec

from riskstream.fraud.decision import Decision
from riskstream.services.training import labeled_rows
from tests.unit.services.test_backtest_report import T0, decision

H = 3_600_000


def test_labels_reach_the_incident_only_with_a_window() -> None:
    def on(txid: str, minute: int, device: str) -> Decision:
        features = {"device.id": device, "checkout.country": "NL"}
        return msgspec.structs.replace(
            decision(txid, "allow", 50.0, minute=minute), features=features
        )

    decisions = [on("first", 0, "rig"), on("second", 1, "rig"), on("elsewhere", 2, "home")]
    labels = {"second": T0 + 9 * 24 * H}
    plain = {r.transaction_id: r.label_time for r in labeled_rows(decisions, labels)}
    assert plain == {"first": None, "second": T0 + 9 * 24 * H, "elsewhere": None}
    spread = labeled_rows(decisions, labels, incident_window_ms=2 * H)
    assert {r.transaction_id: r.label_time for r in spread} == {
        "first": T0 + 9 * 24 * H,
        "second": T0 + 9 * 24 * H,
        "elsewhere": None,
    }
    assert [r.features["device.id"] for r in spread] == ["rig", "rig", "home"]
