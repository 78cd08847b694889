"""Labeled rows, label delay and label maturity."""

from __future__ import annotations

import random

import pytest

from riskstream.events import Chargeback, Checkout, FraudReported
from riskstream.fraud.model import (
    DAY_MS,
    DEFAULT_INCIDENT_KEYS,
    DEFAULT_INCIDENT_WINDOW_MS,
    Dataset,
    FeatureValue,
    LabeledCheckout,
    first_label_times,
    label_at,
    labeled_checkout,
    propagate_labels,
)
from tests.unit.fraud.model.synthetic import T0


def row(tx: str, event_time: int, label_time: int | None = None) -> LabeledCheckout:
    return LabeledCheckout(tx, "u1", event_time, 10.0, {}, label_time)


def test_a_label_counts_from_the_moment_it_arrived() -> None:
    r = row("t", T0, label_time=T0 + 10 * DAY_MS)
    assert not label_at(r, T0 + 10 * DAY_MS - 1)
    assert label_at(r, T0 + 10 * DAY_MS)
    assert label_at(r, T0 + 11 * DAY_MS)
    assert label_at(r)  # every label known
    assert not label_at(row("t", T0), None)


def test_split_uses_only_labels_known_at_train_until() -> None:
    until = T0 + 30 * DAY_MS
    rows = [
        row("early_label", T0 + DAY_MS, label_time=T0 + 5 * DAY_MS),
        row("late_label", T0 + 2 * DAY_MS, label_time=until + 1),
        row("on_time", T0 + 3 * DAY_MS, label_time=until),
        row("legit", T0 + 4 * DAY_MS),
    ]
    split = Dataset(rows).split(until, 7 * DAY_MS)
    train = dict(
        zip((r.transaction_id for r in split.train), split.train.labels.tolist(), strict=True)
    )
    assert train == {"early_label": True, "late_label": False, "on_time": True, "legit": False}
    assert split.train.labels_as_of == until


def test_split_leaves_out_the_checkouts_too_recent_for_their_labels() -> None:
    until = T0 + 30 * DAY_MS
    maturity = 7 * DAY_MS
    rows = [row(f"t{d}", T0 + d * DAY_MS, label_time=T0 + (d + 1) * DAY_MS) for d in range(40)]
    split = Dataset(rows).split(until, maturity, eval_until=T0 + 35 * DAY_MS)
    assert [r.transaction_id for r in split.train] == [f"t{d}" for d in range(23)]
    assert all(r.event_time < until - maturity for r in split.train)
    # the evaluation period starts at train_until and knows every label
    assert [r.transaction_id for r in split.evaluation] == [f"t{d}" for d in range(30, 35)]
    assert split.evaluation.labels.all()
    assert split.evaluation.labels_as_of is None
    # the maturity gap belongs to neither
    gap = {f"t{d}" for d in range(23, 30)}
    assert not gap & {r.transaction_id for r in (*split.train, *split.evaluation)}


def test_split_respects_train_from_and_rejects_bad_bounds() -> None:
    rows = [row(f"t{d}", T0 + d * DAY_MS) for d in range(10)]
    split = Dataset(rows).split(T0 + 8 * DAY_MS, 0, train_from=T0 + 5 * DAY_MS)
    assert [r.transaction_id for r in split.train] == ["t5", "t6", "t7"]
    assert split.train.first_event_time == T0 + 5 * DAY_MS
    with pytest.raises(ValueError, match="label_maturity_ms"):
        Dataset(rows).split(T0, -1)
    with pytest.raises(ValueError, match="eval_until"):
        Dataset(rows).split(T0 + DAY_MS, 0, eval_until=T0)
    empty = Dataset(rows).split(T0, DAY_MS, train_from=T0 + 5 * DAY_MS)
    assert len(empty.train) == 0 and empty.train.first_event_time is None


def test_dataset_order_does_not_depend_on_input_order() -> None:
    rows = [row(f"t{i}", T0 + (i % 5) * DAY_MS) for i in range(50)]
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    assert Dataset(rows).rows == Dataset(shuffled).rows


def test_first_label_times_from_label_events() -> None:
    events = [
        Chargeback(event_id="e1", user_id="u", event_time=T0 + 9, transaction_id="a", amount=5.0),
        FraudReported(event_id="e2", user_id="u", event_time=T0 + 3, transaction_id="a"),
        FraudReported(
            event_id="e3", user_id="u", event_time=T0 + 1, transaction_id="b", confirmed=False
        ),
        Chargeback(event_id="e4", user_id="u", event_time=T0 + 7, transaction_id="c", amount=5.0),
    ]
    assert first_label_times(events) == {"a": T0 + 3, "c": T0 + 7}


def test_labeled_checkout_from_the_event() -> None:
    checkout = Checkout(
        event_id="e",
        user_id="u9",
        event_time=T0,
        transaction_id="tx",
        amount=42.5,
        currency="EUR",
        merchant_id="m",
        item_count=1,
        instrument_fingerprint="i",
        bin_country="DE",
        device_id="d",
        ip="10.0.0.1",
        country="DE",
        shipping_address_hash="h",
    )
    r = labeled_checkout(checkout, {"checkout.amount": 42.5}, {"tx": T0 + DAY_MS})
    assert r == LabeledCheckout("tx", "u9", T0, 42.5, {"checkout.amount": 42.5}, T0 + DAY_MS)
    assert labeled_checkout(checkout, {}, {}).label_time is None


# -- labels reach the rest of their incident -------------------------------------------------

H = 3_600_000


def on(
    tx: str, at: int, device: str | None = "d1", country: str | None = "DE", **kw: int
) -> LabeledCheckout:
    features: dict[str, FeatureValue] = {"device.id": device, "checkout.country": country}
    return LabeledCheckout(tx, "u1", at, 10.0, features, kw.get("label_time"))


def _labels(rows: list[LabeledCheckout]) -> dict[str, int | None]:
    return {r.transaction_id: r.label_time for r in rows}


def test_a_label_reaches_the_checkouts_of_its_device_and_country_within_the_window() -> None:
    charged_back = T0 + 9 * DAY_MS
    rows = [
        on("before", T0 - 2 * H + 1),
        on("drained", T0, label_time=charged_back),
        on("after", T0 + 90 * 60_000),
        on("too_late", T0 + 2 * H + 1),
        on("other_device", T0 + 60_000, device="d2"),
        on("other_country", T0 + 60_000, country="FR"),
        on("no_device", T0 + 60_000, device=None),
    ]
    labelled = _labels(propagate_labels(rows))
    assert labelled == {
        "before": charged_back,
        "drained": charged_back,
        "after": charged_back,
        "too_late": None,
        "other_device": None,
        "other_country": None,
        "no_device": None,
    }
    assert DEFAULT_INCIDENT_WINDOW_MS == 2 * H
    assert DEFAULT_INCIDENT_KEYS == ("device.id", "checkout.country")


def test_the_earliest_label_of_the_incident_wins_and_an_own_earlier_label_is_kept() -> None:
    rows = [
        on("a", T0, label_time=T0 + 5 * DAY_MS),
        on("b", T0 + 60_000, label_time=T0 + 2 * DAY_MS),
        on("c", T0 + 120_000),
        on("d", T0 + 180_000, label_time=T0 + DAY_MS),
    ]
    assert _labels(propagate_labels(rows)) == {
        "a": T0 + DAY_MS,
        "b": T0 + DAY_MS,
        "c": T0 + DAY_MS,
        "d": T0 + DAY_MS,
    }


def test_a_propagated_label_is_never_known_before_its_checkout() -> None:
    # a failed MFA labels its checkout at once; a later checkout of the incident is known
    # to be fraud no sooner than it happened
    rows = [on("mfa_failed", T0, label_time=T0 + 60_000), on("next", T0 + H)]
    assert _labels(propagate_labels(rows)) == {"mfa_failed": T0 + 60_000, "next": T0 + H}


def test_propagation_keeps_the_split_point_in_time() -> None:
    until = T0 + 10 * DAY_MS
    rows = [
        on("reported", T0, label_time=until + 1),  # arrives after training
        on("sibling", T0 + 60_000),
        on("legit", T0 + DAY_MS, device="d9"),
    ]
    split = Dataset(propagate_labels(rows)).split(until, DAY_MS)
    assert split.train.frauds == 0  # the sibling's label is the reported one's: not known yet
    assert _labels(propagate_labels(rows))["sibling"] == until + 1


def test_no_window_or_no_keys_leaves_the_labels_as_they_are() -> None:
    rows = [on("a", T0, label_time=T0 + DAY_MS), on("b", T0 + 60_000)]
    assert propagate_labels(rows, window_ms=-1) == rows
    assert propagate_labels(rows, keys=()) == rows
    assert _labels(propagate_labels(rows, window_ms=0)) == {"a": T0 + DAY_MS, "b": None}
