"""Event schemas and codecs: round trips, tags, validation errors with field paths."""

from __future__ import annotations

import msgspec
import pytest

from riskstream.errors import EventDecodeError, EventEncodeError
from riskstream.events import (
    EVENT_TYPES,
    TOPIC_EVENTS,
    TRANSACTION_EVENT_TYPES,
    AddressChanged,
    Chargeback,
    Checkout,
    Click,
    Event,
    FraudReported,
    Login,
    MfaChallengeIssued,
    MfaCompleted,
    MouseMovement,
    ProfileUpdated,
    PromoApplied,
    TransactionCancelled,
    TransactionPaused,
    TransactionReleased,
    codec_for,
)

COMMON = {"event_id": "e-1", "user_id": "u-1", "event_time": 1_700_000_000_000, "source": "web"}

SAMPLES: list[Event] = [
    Login(**COMMON, device_id="d", ip="1.2.3.4", country="DE", latitude=52.5, longitude=13.4),
    Click(**COMMON, session_id="s", page="/cart", first_in_session=True),
    MouseMovement(
        **COMMON,
        session_id="s",
        sample_count=40,
        duration_ms=900,
        path_length=412.0,
        straightness=0.93,
        mean_speed=0.45,
        max_speed=2.1,
    ),
    PromoApplied(**COMMON, code="WELCOME50", discount_value=50.0, cart_value=120.0),
    Checkout(
        **COMMON,
        transaction_id="t",
        amount=99.5,
        currency="EUR",
        merchant_id="m",
        item_count=2,
        instrument_fingerprint="fp",
        bin_country="FR",
        device_id="d",
        ip="1.2.3.4",
        country="DE",
        shipping_address_hash="h",
    ),
    AddressChanged(**COMMON, address_hash="h2"),
    ProfileUpdated(**COMMON, fields=("email",), email_hash="eh"),
    Chargeback(**COMMON, transaction_id="t", amount=99.5, reason_code="10.4"),
    FraudReported(**COMMON, transaction_id="t"),
    MfaCompleted(**COMMON, transaction_id="t", challenge_id="c", passed=False),
    TransactionPaused(**COMMON, transaction_id="t", action="challenge", score=61.0),
    MfaChallengeIssued(**COMMON, transaction_id="t", challenge_id="c", channel="log", expires_at=5),
    TransactionReleased(**COMMON, transaction_id="t", reason="mfa passed"),
    TransactionCancelled(**COMMON, transaction_id="t", reason="mfa expired"),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_every_event_round_trips_through_its_topic_codec(event: Event) -> None:
    codec = codec_for(event.topic)
    raw = codec.encode(event)
    assert codec.decode(raw) == event
    assert msgspec.json.decode(raw)["type"] == type(event).__struct_config__.tag


def test_every_event_type_has_a_sample_and_a_topic() -> None:
    assert {type(e) for e in SAMPLES} == set(EVENT_TYPES) | set(TRANSACTION_EVENT_TYPES)
    assert {t for types in TOPIC_EVENTS.values() for t in types} == set(EVENT_TYPES) | set(
        TRANSACTION_EVENT_TYPES
    )


def test_events_are_frozen_and_keyed_by_user() -> None:
    login = SAMPLES[0]
    with pytest.raises(AttributeError):
        login.user_id = "other"  # type: ignore[misc]
    assert login.key == b"u-1"


def test_a_topic_decodes_only_its_own_kinds() -> None:
    raw = codec_for("events.login").encode(SAMPLES[0])
    with pytest.raises(EventDecodeError) as caught:
        codec_for("events.checkout").decode(raw)
    assert caught.value.path == "$.type"
    assert "login" in caught.value.reason


def test_shared_topic_carries_a_union() -> None:
    codec = codec_for("events.label")
    for event in (SAMPLES[7], SAMPLES[8]):
        assert codec.decode(codec.encode(event)) == event


def test_unknown_fields_are_tolerated() -> None:
    raw = codec_for("events.click").encode(SAMPLES[1])
    extended = raw[:-1] + b',"added_in_v2":{"nested":[1,2]}}'
    assert codec_for("events.click").decode(extended) == SAMPLES[1]


@pytest.mark.parametrize(
    ("mutation", "path"),
    [
        ((b'"amount":99.5', b'"amount":"lots"'), "$.amount"),
        ((b'"item_count":2', b'"item_count":2.5'), "$.item_count"),
        ((b'"user_id":"u-1",', b""), "$"),
    ],
)
def test_validation_errors_name_the_field_path(mutation: tuple[bytes, bytes], path: str) -> None:
    codec = codec_for("events.checkout")
    raw = codec.encode(SAMPLES[4]).replace(*mutation)
    with pytest.raises(EventDecodeError) as caught:
        codec.decode(raw)
    assert caught.value.path == path
    assert caught.value.raw == raw
    if path == "$":
        assert "user_id" in caught.value.reason


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"[]", b"null", None])
def test_malformed_payloads_raise_typed_errors(raw: bytes | None) -> None:
    with pytest.raises(EventDecodeError):
        codec_for("events.login").decode(raw)


def test_located_error_names_topic_partition_offset() -> None:
    with pytest.raises(EventDecodeError) as caught:
        codec_for("events.login").decode(b"{")
    located = caught.value.located("events.login", 3, 42)
    assert (located.topic, located.partition, located.offset) == ("events.login", 3, 42)
    assert "events.login[3]@42" in str(located)


def test_encode_failure_is_typed() -> None:
    bad = Click(**{**COMMON, "source": object()}, session_id="s", page="/")  # type: ignore[arg-type]
    with pytest.raises(EventEncodeError):
        codec_for("events.click").encode(bad)


def test_encode_many_matches_encode() -> None:
    codec = codec_for("events.click")
    assert codec.encode_many([SAMPLES[1]] * 3) == [codec.encode(SAMPLES[1])] * 3
