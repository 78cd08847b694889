"""The feature language: parsing, checking, canonical form, defaults and the catalogue."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from riskstream.errors import RiskstreamError
from riskstream.fraud.features import (
    DEFAULT_FEATURES_NAME,
    ENTITIES,
    ERROR_CODES,
    TOUCH_FIELDS,
    TOUCH_KINDS,
    AggregateSpec,
    Condition,
    FeatureError,
    FeatureSpecError,
    FeatureSpecs,
    Measure,
    Touch,
    catalogue_entries,
    default_features,
)
from riskstream.fraud.features.grammar import format_duration
from riskstream.fraud.rules import EXPECTED_FEATURES, FeatureCatalogue, RuleSet, ValueType

EXAMPLE = """\
# velocity
feature user.checkouts_1h            = count of checkout per user over 1h
feature user.checkout_amount_24h     = sum amount of checkout per user over 24h
feature user.avg_checkout_amount_30d = mean amount of checkout per user over 30d
feature user.failed_logins_10m       = count of login per user over 10m where not success
feature device.distinct_accounts_24h = distinct user of login, checkout, promo
                                         per device over 24h   # continues
feature instrument.promo_uses_24h    = count of checkout per instrument over 24h where promo
feature merchant.chargeback_rate_90d = ratio of chargeback to checkout per merchant over 90d

feature device.distinct_instruments_24h = distinct instrument of checkout per device over 24h
"""

#: Every name the engine's contract expects from declared aggregates.
CONTRACT = (
    "user.checkouts_1m",
    "user.checkouts_1h",
    "user.checkouts_24h",
    "user.checkout_amount_1h",
    "user.checkout_amount_24h",
    "user.avg_checkout_amount_30d",
    "user.failed_logins_10m",
    "user.distinct_instruments_24h",
    "user.promo_uses_24h",
    "device.distinct_instruments_24h",
    "device.distinct_accounts_24h",
    "device.distinct_bin_countries_24h",
    "device.promo_uses_24h",
    "device.checkouts_1h",
    "instrument.chargebacks_90d",
    "instrument.distinct_accounts_30d",
    "instrument.promo_uses_24h",
    "ip.distinct_accounts_1h",
    "merchant.chargeback_rate_90d",
    "merchant.fraud_reports_90d",
)


def errors_of(text: str) -> list[tuple[int, int, str]]:
    with pytest.raises(FeatureSpecError) as caught:
        FeatureSpecs.from_text(text, name="t.features")
    assert all(e.file == "t.features" for e in caught.value.errors)
    return [(e.line, e.column, e.code) for e in caught.value.errors]


def messages_of(text: str) -> list[str]:
    with pytest.raises(FeatureSpecError) as caught:
        FeatureSpecs.from_text(text, name="t.features")
    return [e.message for e in caught.value.errors]


# -- parsing -------------------------------------------------------------------------------


def test_the_example_parses_to_specs() -> None:
    specs = FeatureSpecs.from_text(EXAMPLE, name="example.features")
    assert specs.names == (
        "user.checkouts_1h",
        "user.checkout_amount_24h",
        "user.avg_checkout_amount_30d",
        "user.failed_logins_10m",
        "device.distinct_accounts_24h",
        "instrument.promo_uses_24h",
        "merchant.chargeback_rate_90d",
        "device.distinct_instruments_24h",
    )
    assert specs["user.checkouts_1h"] == AggregateSpec(
        "user.checkouts_1h", Measure.COUNT, None, ("checkout",), "user", 3_600_000
    )
    assert specs["user.checkout_amount_24h"].measure is Measure.SUM
    assert specs["user.checkout_amount_24h"].field == "amount"
    assert specs["user.avg_checkout_amount_30d"].horizon_ms == 30 * 86_400_000
    assert specs["user.failed_logins_10m"].where == (Condition("success", "=", False),)
    accounts = specs["device.distinct_accounts_24h"]
    assert (accounts.measure, accounts.field) == (Measure.DISTINCT, "user")
    assert accounts.kinds == ("login", "checkout", "promo")
    assert accounts.entity == "device"
    assert specs["instrument.promo_uses_24h"].where == (Condition("promo", "=", True),)
    rate = specs["merchant.chargeback_rate_90d"]
    assert (rate.measure, rate.kinds) == (Measure.RATIO, ("chargeback", "checkout"))
    assert [s.name for s in specs.for_entity("device")] == [
        "device.distinct_accounts_24h",
        "device.distinct_instruments_24h",
    ]
    assert specs.for_entity("ip") == ()
    assert "user.checkouts_1h" in specs and "user.nothing" not in specs
    assert specs.get("user.nothing") is None
    assert len(specs) == 8 and list(specs) == list(specs.specs)


def test_conditions_literals_and_durations() -> None:
    text = (
        "feature user.x = count of checkout per user over 1h30m "
        'where amount >= 10_000 and amount < 0.5 and amount > -3 and country == "D\\u00c9" '
        'and bin_country != "US" and promo = true and success != true\n'
        "feature user.y = min amount of checkout per user over 500ms\n"
        "feature user.z = max discount of promo per user over 1.5s\n"
    )
    specs = FeatureSpecs.from_text(text)
    x = specs["user.x"]
    assert x.horizon_ms == 5_400_000
    assert x.where == (
        Condition("amount", ">=", 10_000),
        Condition("amount", "<", 0.5),
        Condition("amount", ">", -3),
        Condition("country", "=", "DÉ"),
        Condition("bin_country", "!=", "US"),
        Condition("promo", "=", True),
        Condition("success", "=", False),  # "!= true": null never passes, so "= false"
    )
    assert specs["user.y"].horizon_ms == 500
    assert specs["user.z"].horizon_ms == 1_500


def test_canonical_form_round_trips_and_versions_ignore_layout() -> None:
    specs = FeatureSpecs.from_text(EXAMPLE)
    canonical = "\n".join(str(s) for s in specs)
    assert (
        "feature user.failed_logins_10m = count of login per user over 10m where not success"
        in (canonical)
    )
    again = FeatureSpecs.from_text(canonical)
    assert again == specs
    assert again.version == specs.version
    assert hash(again) == hash(specs)
    changed = FeatureSpecs.from_text(EXAMPLE.replace("over 1h\n", "over 2h\n"))
    assert changed.version != specs.version
    assert len(specs.version) == 16


@pytest.mark.parametrize(
    ("ms", "text"),
    [(1, "1ms"), (1_500, "1s500ms"), (5_400_000, "1h30m"), (86_400_000, "1d"), (0, "0ms")],
)
def test_format_duration(ms: int, text: str) -> None:
    assert format_duration(ms) == text


def test_empty_and_comment_only_files_have_no_features() -> None:
    assert len(FeatureSpecs.from_text("")) == 0
    assert len(FeatureSpecs.from_text("# nothing\n\n   # here\n")) == 0


def test_from_file_names_the_path_in_errors(tmp_path: Path) -> None:
    good = tmp_path / "team.features"
    good.write_text(EXAMPLE, encoding="utf-8")
    assert FeatureSpecs.from_file(good) == FeatureSpecs.from_text(EXAMPLE)
    bad = tmp_path / "bad.features"
    bad.write_text("feature user.x = count of checkout per user over 0s\n", encoding="utf-8")
    with pytest.raises(FeatureSpecError) as caught:
        FeatureSpecs.from_file(bad)
    assert caught.value.file == str(bad)
    assert str(caught.value).endswith(
        f"{bad}:1:50: window '0s' must be longer than 0 and at most 400d"
    )


def test_specs_are_immutable_and_names_unique() -> None:
    specs = FeatureSpecs.from_text(EXAMPLE)
    with pytest.raises(AttributeError):
        specs._specs = ()  # the point of the test
    one = specs["user.checkouts_1h"]
    with pytest.raises(ValueError, match="declared twice"):
        FeatureSpecs([one, one])


# -- errors ---------------------------------------------------------------------------------

CASES: list[tuple[str, str, list[tuple[int, int, str]]]] = [
    (
        "syntax: missing window",
        "feature user.x = count of checkout per user\n",
        [(1, 44, "syntax")],
    ),
    (
        "syntax: keyword as name",
        "feature count = count of login per user over 1h",
        [(1, 9, "syntax")],
    ),
    (
        "syntax: sum without field",
        "feature user.x = sum of checkout per user over 1h",
        [(1, 22, "syntax")],
    ),
    (
        "syntax: bad character",
        "feature user.x = count of login per user over 1h where success & promo",
        [(1, 64, "syntax")],
    ),
    ("syntax: no feature keyword", "user.x = count of login per user over 1h", [(1, 1, "syntax")]),
    (
        "bad-literal: unit order",
        "feature user.x = count of login per user over 30m1h",
        [(1, 47, "bad-literal")],
    ),
    (
        "bad-literal: fractional ms",
        "feature user.x = count of login per user over 1.5ms",
        [(1, 47, "bad-literal")],
    ),
    (
        "bad-literal: string escape",
        'feature user.x = count of login per user over 1h where country = "\\q"',
        [(1, 66, "bad-literal")],
    ),
    (
        "duplicate-feature",
        "feature user.x = count of login per user over 1h\n"
        "feature user.x = count of checkout per user over 1h\n",
        [(2, 9, "duplicate-feature")],
    ),
    (
        "bad-name: no entity",
        "feature logins = count of login per user over 1h",
        [(1, 9, "bad-name")],
    ),
    (
        "bad-name: other entity",
        "feature device.x = count of login per user over 1h",
        [(1, 9, "bad-name")],
    ),
    (
        "unknown-entity",
        "feature card.x = count of checkout per card over 1h",
        [(1, 40, "unknown-entity")],
    ),
    (
        "unknown-kind",
        "feature user.x = count of login, chekout per user over 1h",
        [(1, 34, "unknown-kind")],
    ),
    (
        "unknown-kind: ratio",
        "feature merchant.x = ratio of refund to checkout per merchant over 1d",
        [(1, 31, "unknown-kind")],
    ),
    (
        "unknown-field: measured",
        "feature user.x = sum amout of checkout per user over 1h",
        [(1, 22, "unknown-field")],
    ),
    (
        "unknown-field: where",
        'feature user.x = count of checkout per user over 1h where currency = "EUR"',
        [(1, 59, "unknown-field")],
    ),
    (
        "type-mismatch: sum of a string",
        "feature user.x = sum country of checkout per user over 1h",
        [(1, 22, "type-mismatch")],
    ),
    (
        "type-mismatch: distinct bool",
        "feature user.x = distinct success of login per user over 1h",
        [(1, 27, "type-mismatch")],
    ),
    (
        "type-mismatch: bare number",
        "feature user.x = count of checkout per user over 1h where amount",
        [(1, 59, "type-mismatch")],
    ),
    (
        "type-mismatch: not string",
        "feature user.x = count of checkout per user over 1h where not country",
        [(1, 63, "type-mismatch")],
    ),
    (
        "type-mismatch: literal",
        'feature user.x = count of checkout per user over 1h where amount > "10"',
        [(1, 68, "type-mismatch")],
    ),
    (
        "type-mismatch: bool literal",
        "feature user.x = count of login per user over 1h where success = 1",
        [(1, 66, "type-mismatch")],
    ),
    (
        "type-mismatch: ordering a string",
        'feature user.x = count of checkout per user over 1h where country < "M"',
        [(1, 59, "type-mismatch")],
    ),
    (
        "bad-horizon: zero",
        "feature user.x = count of login per user over 0s",
        [(1, 47, "bad-horizon")],
    ),
    (
        "bad-horizon: too long",
        "feature user.x = count of login per user over 401d",
        [(1, 47, "bad-horizon")],
    ),
    (
        "bad-ratio",
        "feature merchant.x = ratio of checkout to checkout per merchant over 1d",
        [(1, 43, "bad-ratio")],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_error_has_its_code_and_position(
    text: str, expected: list[tuple[int, int, str]]
) -> None:
    assert errors_of(text) == expected


def test_every_error_code_is_covered() -> None:
    covered = {code for _, _, expected in CASES for _, _, code in expected}
    assert covered == set(ERROR_CODES)


def test_all_errors_are_collected_in_position_order() -> None:
    text = (
        "feature user.ok = count of login per user over 1h\n"
        "feature device.a = sum country of chekout per user over 0s\n"
        "feature user.b = count of checkout per user\n"  # syntax: does not hide the rest
        "feature user.ok = count of click per user over 1h where amount\n"
    )
    assert errors_of(text) == [
        (2, 9, "bad-name"),
        (2, 24, "type-mismatch"),
        (2, 35, "unknown-kind"),
        (2, 57, "bad-horizon"),
        (3, 44, "syntax"),
        (4, 9, "duplicate-feature"),
        (4, 57, "type-mismatch"),
    ]


def test_messages_explain_and_suggest() -> None:
    assert messages_of("feature user.x = count of chekout per user over 1h") == [
        "unknown event kind 'chekout' (did you mean 'checkout'?)"
    ]
    assert messages_of("feature user.x = sum amout of checkout per user over 1h") == [
        "touches have no field 'amout' (did you mean 'amount'?)"
    ]
    assert messages_of("feature device.x = count of login per user over 1h") == [
        "feature 'device.x' is kept per user: its name must start with 'user.'"
    ]
    assert messages_of("feature user.x = count of login per usr over 1h") == [
        "features are kept per user, device, instrument, ip, merchant, not 'usr' "
        "(did you mean 'user'?)"
    ]
    twice = "feature user.x = count of login per user over 1h\n" * 2
    assert messages_of(twice) == ["feature 'user.x' is already declared on line 1"]
    assert messages_of("feature user.x = sum country of checkout per user over 1h") == [
        "sum needs a number, but 'country' is a string"
    ]
    assert messages_of("feature user.x = count of checkout per user") == [
        "unexpected end of file; expected over"
    ]
    assert messages_of("feature count = count of login per user over 1h") == [
        "unexpected 'count'; expected a name ('count' is a keyword)"
    ]
    assert messages_of("feature user.x = count of checkout per user over 1h where amount") == [
        "'amount' tests a bool, but 'amount' is a number (compare it, like amount > 0)"
    ]


def test_errors_join_the_riskstream_tree_and_pickle() -> None:
    assert issubclass(FeatureError, RiskstreamError)
    assert issubclass(FeatureSpecError, FeatureError)
    error = FeatureError("boom", file="f.features", line=3, column=7, code="syntax")
    assert str(error) == "f.features:3:7: boom"
    assert error.location == ("f.features", 3, 7)
    with pytest.raises(FeatureSpecError) as caught:
        FeatureSpecs.from_text(
            "feature user.x = count of login per user over 0s\nfeature y", name="f"
        )
    rejected = caught.value
    assert (rejected.line, rejected.column, rejected.code) == (1, 47, "bad-horizon")
    assert str(rejected).startswith("features rejected, 2 errors:\nf:1:47: window")
    copy = pickle.loads(pickle.dumps(rejected))  # noqa: S301 - our own bytes
    assert [str(e) for e in copy.errors] == [str(e) for e in rejected.errors]
    single = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (single.message, single.location, single.code) == ("boom", error.location, "syntax")
    with pytest.raises(ValueError, match="at least one"):
        FeatureSpecError([])


# -- the default file and the catalogue ------------------------------------------------------


def test_the_default_file_declares_the_contract() -> None:
    specs = default_features()
    assert set(CONTRACT) <= set(specs.names)
    for name in specs.names:
        assert EXPECTED_FEATURES.get(name) in (None, ValueType.NUMBER), name
    # the features the engine's contract lists as aggregates are all declared
    aggregates = {n for n in EXPECTED_FEATURES if n.startswith(tuple(f"{e}." for e in ENTITIES))}
    assert {n for n in aggregates if n in CONTRACT} == set(CONTRACT)
    accounts = specs["device.distinct_accounts_24h"]
    assert accounts.kinds == ("login", "checkout", "promo") and accounts.field == "user"
    assert specs["ip.distinct_accounts_1h"].kinds == ("login", "checkout")
    assert specs["merchant.chargeback_rate_90d"].kinds == ("chargeback", "checkout")
    assert DEFAULT_FEATURES_NAME == "default.features"


def test_catalogue_entries_type_check_rules() -> None:
    specs = default_features()
    entries = catalogue_entries(specs)
    assert [e.name for e in entries] == list(specs.names)
    assert all(e.type is ValueType.NUMBER for e in entries)
    assert entries[0].description == specs.specs[0].expression
    catalogue = FeatureCatalogue.of(entries)
    rules = RuleSet.from_text(
        "rule r\n  version 1\n  when device.distinct_accounts_24h >= 3\n  action review\n",
        catalogue,
    )
    assert rules.used_features == ("device.distinct_accounts_24h",)


def test_touch_vocabulary() -> None:
    assert ENTITIES == ("user", "device", "instrument", "ip", "merchant")
    assert set(ENTITIES) <= set(TOUCH_FIELDS)
    assert set(TOUCH_FIELDS.values()) == {"string", "number", "bool"}
    assert set(TOUCH_FIELDS) | {"kind", "time"} == set(Touch.__struct_fields__)
    assert "checkout" in TOUCH_KINDS and "fraud_reported" in TOUCH_KINDS
