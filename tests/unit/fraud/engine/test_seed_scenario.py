"""The seed scenario and its near misses, through the whole fraud topology in process."""

from __future__ import annotations

import pytest

from riskstream.fraud.decision import Decision
from riskstream.services.replay import replay_records
from tests.fraud_support.scenarios import NEAR_MISSES, Variant, as_records, seed_scenario

SEED_RULE = "ato.new_device_promo_rush"


def _decide(variant: Variant, partitions: int = 1) -> Decision:
    events, txid = seed_scenario("u-1", variant)
    decisions = {
        d.transaction_id: d for d in replay_records(as_records(events), partitions=partitions)
    }
    assert len(decisions) == 11  # ten days of history and the takeover checkout
    return decisions[txid]


@pytest.mark.parametrize("partitions", [1, 3])
def test_seed_scenario_is_challenged_with_its_reason(partitions: int) -> None:
    decision = _decide(Variant(), partitions)
    fired = {reason.rule: reason for reason in decision.reasons}
    assert SEED_RULE in fired
    assert decision.action == "challenge"
    read = fired[SEED_RULE].features
    assert read["login.new_device"] is True
    assert read["login.new_country"] is True
    assert read["promo.value"] == 60.0
    assert read["promo.seconds_after_first_click"] == 20.0
    assert decision.missing == []
    assert decision.features["device.id"] == "dev-new"


@pytest.mark.parametrize("variant", NEAR_MISSES, ids=lambda v: v.name)
def test_near_misses_do_not_fire_the_seed_rule(variant: Variant) -> None:
    decision = _decide(variant)
    assert SEED_RULE not in {reason.rule for reason in decision.reasons}
    assert decision.missing == []


@pytest.mark.parametrize("variant", NEAR_MISSES, ids=lambda v: v.name)
def test_near_misses_are_not_challenged_by_any_rule(variant: Variant) -> None:
    decision = _decide(variant)
    assert decision.action in ("allow", "review"), [r.rule for r in decision.reasons]


def test_history_checkouts_are_allowed_and_explained() -> None:
    events, _ = seed_scenario("u-2")
    decisions = list(replay_records(as_records(events)))
    routine = [d for d in decisions if not d.transaction_id.endswith("takeover")]
    assert routine and all(d.action == "allow" for d in routine)
    last = routine[-1]
    assert (
        last.features["user.checkouts_24h"] == 1
    )  # yesterday's, exactly 24 h before: the window is [t-24h, t)
    assert last.features["login.new_device"] is False
    assert last.features["instrument.new_for_user"] is False
    assert last.features["account.age_ms"] == 9 * 86_400_000 + 120_000
