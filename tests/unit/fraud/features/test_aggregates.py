"""Per-entity aggregate state: each measure, point-in-time reads, arrival order, bounds,
serialisation and changes of the declared features."""

from __future__ import annotations

import itertools
import math
import random

import msgspec
import pytest

from riskstream.fraud.features import (
    DISTINCT_LIMIT,
    AggregateState,
    EntityAggregates,
    FeatureSpecs,
    Touch,
    bucket_width,
    default_features,
    retention_ms,
)
from riskstream.fraud.features.aggregates import TAIL, Buckets, DistinctValues

S = 1_000
MIN = 60 * S
H = 60 * MIN
DAY = 24 * H
T0 = 1_700_000_000_000 // DAY * DAY  # midnight: on every bucket boundary used below

USER = """\
feature user.checkouts_1h    = count of checkout per user over 1h
feature user.amount_1h       = sum amount of checkout per user over 1h
feature user.avg_amount_1h   = mean amount of checkout per user over 1h
feature user.min_amount_1h   = min amount of checkout per user over 1h
feature user.max_amount_1h   = max amount of checkout per user over 1h
feature user.instruments_1h  = distinct instrument of checkout per user over 1h
feature user.failed_logins_1h = count of login per user over 1h where not success
feature user.big_promo_1h    = count of checkout per user over 1h where promo and amount >= 100
"""
RATE = "feature merchant.rate_1h = ratio of chargeback to checkout per merchant over 1h\n"


def compiled(text: str, entity: str = "user") -> EntityAggregates:
    return EntityAggregates.compile(FeatureSpecs.from_text(text).for_entity(entity))


def feed(aggregates: EntityAggregates, touches: list[Touch]) -> AggregateState:
    state = aggregates.new_state()
    for touch in touches:
        aggregates.update(state, touch)
    return state


def checkout(t: int, amount: float | None = 10.0, **fields: object) -> Touch:
    return Touch("checkout", T0 + t, user="u1", amount=amount, **fields)  # type: ignore[arg-type]


# -- each measure ---------------------------------------------------------------------------


def test_an_empty_state_reads_zero_or_null() -> None:
    aggregates = compiled(USER + RATE.replace("merchant", "user"))
    assert aggregates.read(aggregates.new_state(), T0) == {
        "user.checkouts_1h": 0,
        "user.amount_1h": 0.0,
        "user.avg_amount_1h": None,
        "user.min_amount_1h": None,
        "user.max_amount_1h": None,
        "user.instruments_1h": 0,
        "user.failed_logins_1h": 0,
        "user.big_promo_1h": 0,
        "user.rate_1h": None,
    }


def test_each_measure_over_a_window() -> None:
    aggregates = compiled(USER)
    state = feed(
        aggregates,
        [
            checkout(-2 * H, 999.0, instrument="old"),  # before every window below
            checkout(0, 10.0, instrument="i1"),
            checkout(10 * MIN, 30.0, instrument="i2", promo=True),
            checkout(20 * MIN, 200.0, instrument="i1", promo=True),
            checkout(25 * MIN, None, instrument="i3"),  # no amount: counted, not measured
            Touch("login", T0 + 5 * MIN, user="u1", success=False),
            Touch("login", T0 + 6 * MIN, user="u1", success=True),
            Touch("login", T0 + 7 * MIN, user="u1"),  # success unknown: "not success" fails
        ],
    )
    assert aggregates.read(state, T0 + 30 * MIN) == {
        "user.checkouts_1h": 4,
        "user.amount_1h": 240.0,
        "user.avg_amount_1h": 80.0,
        "user.min_amount_1h": 10.0,
        "user.max_amount_1h": 200.0,
        "user.instruments_1h": 3,
        "user.failed_logins_1h": 1,
        "user.big_promo_1h": 1,
    }
    # an hour after the first checkout and the failed login of the window they have left it
    late = aggregates.read(state, T0 + H + 6 * MIN)
    assert late["user.checkouts_1h"] == 3
    assert late["user.min_amount_1h"] == 30.0
    assert late["user.instruments_1h"] == 3  # i1 was seen again at 20 min
    assert late["user.failed_logins_1h"] == 0
    gone = aggregates.read(state, T0 + 3 * H)
    assert gone == aggregates.read(aggregates.new_state(), T0 + 3 * H)


def test_ratio_counts_numerator_over_denominator_touches() -> None:
    aggregates = compiled(RATE, "merchant")
    touches = [Touch("checkout", T0 + i * MIN, merchant="m") for i in range(10)]
    touches += [Touch("chargeback", T0 + 30 * MIN + i, merchant="m") for i in range(3)]
    touches.append(Touch("fraud_reported", T0 + 31 * MIN, merchant="m"))  # not read
    state = feed(aggregates, touches)
    assert aggregates.read(state, T0 + 40 * MIN) == {"merchant.rate_1h": 0.3}
    only_labels = feed(aggregates, touches[10:])
    assert aggregates.read(only_labels, T0 + 40 * MIN) == {"merchant.rate_1h": None}
    assert aggregates.read(state, T0 + 5 * MIN + 1) == {"merchant.rate_1h": 0.0}


def test_distinct_numbers_and_strings() -> None:
    aggregates = compiled("feature user.amounts_1h = distinct amount of checkout per user over 1h")
    state = feed(
        aggregates,
        [
            checkout(1, 1),
            checkout(2, 1.0),
            checkout(3, 2.5),
            checkout(4, None),
            checkout(5, math.nan),
        ],
    )
    assert aggregates.read(state, T0 + MIN) == {"user.amounts_1h": 2}


def test_non_finite_values_are_skipped() -> None:
    aggregates = compiled(USER)
    state = feed(aggregates, [checkout(1, math.inf), checkout(2, math.nan), checkout(3, 5.0)])
    values = aggregates.read(state, T0 + MIN)
    assert values["user.checkouts_1h"] == 3
    assert values["user.amount_1h"] == 5.0
    assert values["user.max_amount_1h"] == 5.0


def test_conditions_on_strings_and_numbers() -> None:
    text = (
        'feature user.de = count of checkout per user over 1h where country = "DE"\n'
        'feature user.not_de = count of checkout per user over 1h where country != "DE"\n'
        "feature user.small = count of checkout per user over 1h where amount < 50 and amount > 5\n"
    )
    aggregates = compiled(text)
    state = feed(
        aggregates,
        [
            checkout(1, 10.0, country="DE"),
            checkout(2, 60.0, country="FR"),
            checkout(3, 5.0, country=None),  # null: neither = nor != holds
            checkout(4, None, country="DE"),
        ],
    )
    assert aggregates.read(state, T0 + MIN) == {"user.de": 2, "user.not_de": 1, "user.small": 1}


# -- never the future -----------------------------------------------------------------------


def test_a_touch_at_or_after_the_read_never_counts() -> None:
    aggregates = compiled(USER)
    state = feed(aggregates, [checkout(0, 10.0, instrument="i1")])
    at = T0
    assert aggregates.read(state, at)["user.checkouts_1h"] == 0
    assert aggregates.read(state, at)["user.instruments_1h"] == 0
    assert aggregates.read(state, at + 1)["user.checkouts_1h"] == 1
    assert aggregates.read(state, at + 1)["user.instruments_1h"] == 1


@pytest.mark.parametrize("future", [1, TAIL, TAIL + 1, 5 * TAIL])
def test_touches_from_the_future_already_in_the_state_never_count(future: int) -> None:
    aggregates = compiled(USER)
    at = T0 + 30 * MIN + 500
    past = [checkout(i * MIN, 10.0, instrument=f"p{i}") for i in range(30)]
    ahead = [checkout(30 * MIN + 500 + i * 10, 1000.0, instrument="f") for i in range(future)]
    state = feed(aggregates, past + ahead)
    values = aggregates.read(state, at)
    # the future checkouts are never seen: no 1000.0, no instrument "f"
    assert values["user.max_amount_1h"] == 10.0
    assert values["user.instruments_1h"] in range(31)
    assert values["user.checkouts_1h"] in range(31)
    width = bucket_width(H)
    if future <= TAIL:  # exact: every bucketed touch is earlier than `at`
        assert values["user.checkouts_1h"] == 30
        assert values["user.instruments_1h"] == 30
    else:  # the bucket holding `at` is left out whole: documented under-count
        expected = sum(1 for t in past if t.time < at // width * width)
        assert values["user.checkouts_1h"] == expected
        assert values["user.amount_1h"] == 10.0 * expected


def test_a_distinct_value_seen_twice_after_the_read_hides_its_earlier_sighting() -> None:
    aggregates = compiled(USER)
    state = feed(aggregates, [checkout(t, 1.0, instrument="i") for t in (1, 10 * MIN, 11 * MIN)])
    assert aggregates.read(state, T0 + 5 * MIN)["user.instruments_1h"] == 0  # under-count
    assert aggregates.read(state, T0 + 10 * MIN + 1)["user.instruments_1h"] == 1


# -- arrival order ----------------------------------------------------------------------------


def test_out_of_order_arrival_reads_like_in_order() -> None:
    aggregates = compiled(USER + RATE.replace("merchant", "user"))
    rng = random.Random(5)
    touches = [
        Touch(
            rng.choice(("checkout", "checkout", "login", "chargeback")),
            T0 + rng.randrange(3 * H),
            user="u1",
            instrument=f"i{rng.randrange(6)}",
            amount=float(rng.randrange(1, 500)),
            success=rng.choice((True, False, None)),
            promo=rng.choice((True, False)),
        )
        for _ in range(400)
    ]
    in_order = feed(aggregates, sorted(touches, key=lambda t: t.time))
    newest = max(t.time for t in touches)
    for seed in range(5):
        shuffled = touches[:]
        random.Random(seed).shuffle(shuffled)
        state = feed(aggregates, shuffled)
        for at in range(newest - H // 8, newest + H, 7 * MIN + 3):
            got, want = aggregates.read(state, at), aggregates.read(in_order, at)
            assert got.keys() == want.keys()
            for name, value in want.items():
                assert got[name] == pytest.approx(value), (name, at)


def test_a_touch_too_late_to_matter_is_ignored() -> None:
    aggregates = compiled(USER)
    state = feed(aggregates, [checkout(i * MIN, instrument=f"i{i}") for i in range(3 * 60)])
    before = msgspec.msgpack.encode(state)
    aggregates.update(state, checkout(-5 * H, instrument="ancient"))
    assert msgspec.msgpack.encode(state) == before


# -- bounded state ----------------------------------------------------------------------------


def test_pruning_keeps_the_state_bounded() -> None:
    aggregates = compiled(USER)
    state = aggregates.new_state()
    for i in range(20_000):  # one checkout every 17 s for ~4 days, a new card each time
        aggregates.update(state, checkout(i * 17 * S, 10.0, instrument=f"i{i}"))
    newest = T0 + 19_999 * 17 * S
    for name in aggregates.names:
        entry = aggregates.entry(state, name)
        if isinstance(entry, Buckets):
            assert len(entry.tt) == TAIL, name
            assert len(entry.keys) <= retention_ms(H) // bucket_width(H) + 2, name
            assert entry.keys[0] >= (newest - retention_ms(H)) // bucket_width(H) - 1, name
        elif entry is not None:  # never touched: no login came
            assert isinstance(entry, DistinctValues)
            assert len(entry.seen) <= H * 9 // 8 // (17 * S) + 1
    at = newest + 1
    start = (at - H) // bucket_width(H) * bucket_width(H)  # the old edge, at bucket resolution
    values = aggregates.read(state, at)
    assert values["user.checkouts_1h"] == sum(
        1 for i in range(20_000) if start <= T0 + i * 17 * S < at
    )
    assert values["user.instruments_1h"] == math.ceil(H / (17 * S))  # exact: [at - 1h, at)


def test_a_read_within_an_eighth_of_the_window_behind_the_newest_touch_is_whole() -> None:
    aggregates = compiled(USER)
    newest = T0 + 10 * H
    oldest = newest - retention_ms(H)  # the oldest moment such a read can need
    width = bucket_width(H)
    times = [oldest] + [oldest + 2 * i * width for i in range(1, TAIL + 1)] + [newest]
    # the last touch moves the oldest of the tail into a new bucket: a prune relative to it
    state = feed(aggregates, [Touch("checkout", t, user="u1", amount=1.0) for t in times])
    at = newest - H // 8
    assert aggregates.read(state, at)["user.checkouts_1h"] == len(times) - 1
    assert aggregates.read(state, at + 1)["user.checkouts_1h"] == len(times) - 1
    later = aggregates.read(state, newest + 1)["user.checkouts_1h"]
    assert later == sum(1 for t in times if (newest + 1 - H) // width * width <= t)


def test_distinct_saturates_at_its_limit() -> None:
    aggregates = compiled(
        "feature user.cards_1d = distinct instrument of checkout per user over 1d"
    )
    state = aggregates.new_state()
    for i in range(DISTINCT_LIMIT + 50):
        aggregates.update(state, checkout(i * S, instrument=f"i{i}"))
    entry = aggregates.entry(state, "user.cards_1d")
    assert isinstance(entry, DistinctValues)
    assert len(entry.seen) == DISTINCT_LIMIT
    assert "i0" not in entry.seen and f"i{DISTINCT_LIMIT + 49}" in entry.seen  # stalest went
    assert aggregates.read(state, T0 + H) == {"user.cards_1d": DISTINCT_LIMIT}


def test_touches_no_feature_reads_change_nothing() -> None:
    aggregates = compiled(USER)
    assert aggregates.kinds == frozenset({"checkout", "login"})
    state = aggregates.new_state()
    before = msgspec.msgpack.encode(state)
    for kind in ("click", "mouse", "promo", "address_changed", "profile_updated"):
        aggregates.update(state, Touch(kind, T0, user="u1", amount=1.0))
    assert msgspec.msgpack.encode(state) == before


# -- serialisation and schema changes ------------------------------------------------------------


def test_msgpack_round_trip_reads_the_same() -> None:
    aggregates = compiled(USER + RATE.replace("merchant", "user"))
    rng = random.Random(11)
    touches = [
        Touch(
            rng.choice(("checkout", "login", "chargeback")),
            T0 + rng.randrange(2 * H),
            user="u1",
            instrument=f"i{rng.randrange(5)}",
            amount=rng.uniform(1, 100),
            success=rng.random() < 0.5,
        )
        for _ in range(300)
    ]
    state = feed(aggregates, touches)
    data = msgspec.msgpack.encode(state)
    copy = msgspec.msgpack.decode(data, type=AggregateState)
    assert copy == state
    for at in range(T0, T0 + 3 * H, 13 * MIN):
        assert aggregates.read(copy, at) == aggregates.read(state, at)
    # and it goes on updating like the original
    more = checkout(2 * H + 1, 7.0, instrument="new")
    aggregates.update(copy, more)
    aggregates.update(state, more)
    assert msgspec.msgpack.encode(copy) == msgspec.msgpack.encode(state)


def test_changing_the_declared_features_keeps_the_others_state() -> None:
    old = compiled(USER)
    state = feed(old, [checkout(i * MIN, 10.0, instrument=f"i{i % 3}") for i in range(20)])
    at = T0 + 30 * MIN
    before = old.read(state, at)
    text = (
        USER.replace("min amount of checkout", "min amount of checkout, promo").replace(
            "feature user.max_amount_1h", "# gone"
        )  # redefined  # removed
        + "feature user.logins_1h = count of login per user over 1h\n"  # added
    )
    new = compiled(text)
    after = new.read(state, at)  # read before any update under the new features
    for name in new.names:
        if name in ("user.min_amount_1h", "user.logins_1h"):
            assert after[name] in (None, 0), name  # starts empty
        else:
            assert after[name] == before[name], name
    assert "user.max_amount_1h" not in after
    new.update(state, checkout(31 * MIN, 3.0, instrument="i9"))
    assert old.entry(state, "user.max_amount_1h") is None  # dropped at the first update
    assert len(state.entries) == len(new.names)  # one place per declared feature
    assert new.read(state, at + 2 * MIN)["user.min_amount_1h"] == 3.0
    assert new.read(state, at + 2 * MIN)["user.checkouts_1h"] == 21
    assert state.schema == new.new_state().schema


def test_read_into_fills_a_given_dict() -> None:
    aggregates = compiled(USER)
    state = feed(aggregates, [checkout(0, 4.0)])
    out: dict[str, float | int | None] = {"other.feature": 1}
    aggregates.read_into(state, T0 + 1, out)
    assert out["other.feature"] == 1
    assert out["user.amount_1h"] == 4.0


def test_compile_checks_names_and_is_the_only_constructor() -> None:
    spec = FeatureSpecs.from_text(USER).specs[0]
    with pytest.raises(ValueError, match="unique"):
        EntityAggregates.compile([spec, spec])
    with pytest.raises(TypeError, match="compile"):
        EntityAggregates()
    empty = EntityAggregates.compile(())
    state = empty.new_state()
    empty.update(state, checkout(0))
    assert empty.read(state, T0 + 1) == {} and empty.names == ()


def test_the_default_features_compile_for_every_entity() -> None:
    specs = default_features()
    seen: set[str] = set()
    for entity in ("user", "device", "instrument", "ip", "merchant"):
        aggregates = EntityAggregates.compile(specs.for_entity(entity))
        assert aggregates.names == tuple(s.name for s in specs.for_entity(entity))
        seen.update(aggregates.names)
        state = aggregates.new_state()
        for kind, i in itertools.product(("login", "checkout", "promo", "chargeback"), range(3)):
            aggregates.update(
                state,
                Touch(
                    kind,
                    T0 + i * MIN,
                    user=f"u{i}",
                    device="d",
                    ip="ip",
                    instrument="c",
                    merchant="m",
                    bin_country="DE",
                    amount=10.0,
                    success=False,
                    promo=True,
                ),
            )
        values = aggregates.read(state, T0 + 10 * MIN)
        assert set(values) == set(aggregates.names)
    assert seen == set(specs.names)
