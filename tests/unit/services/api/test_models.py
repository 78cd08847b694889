"""The checkout body mirrors the Checkout event and refuses bad input naming the field."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from riskstream.events import SCHEMA_VERSION, Checkout
from riskstream.services.api.models import CheckoutRequest, checkout_event, checkout_problems
from riskstream.services.api.problems import from_decode_error
from riskstream.services.fraud_service.challenge import challenge_id_for
from tests.unit.services.api.kit import NOW, body_of, checkout

decode = msgspec.json.Decoder(CheckoutRequest).decode


def test_the_body_has_every_field_of_the_checkout_event() -> None:
    event_fields = set(Checkout.__struct_fields__)
    body_fields = set(CheckoutRequest.__struct_fields__) - {"type"}
    assert body_fields == event_fields
    assert SCHEMA_VERSION == 1  # the body accepts schema_version 1 only: widen it with a bump


def test_an_encoded_checkout_event_is_a_valid_body_and_round_trips() -> None:
    event = checkout()
    request = decode(body_of(event))
    assert checkout_event(request, NOW) == event


def test_event_id_and_time_are_derived_when_left_out() -> None:
    request = decode(
        msgspec.json.encode(
            {
                k: v
                for k, v in msgspec.structs.asdict(checkout("tx-9")).items()
                if k not in ("event_id", "event_time", "source")
            }
        )
    )
    event = checkout_event(request, NOW)
    assert event.event_id == "tx-9-checkout"
    assert event.event_time == NOW
    assert event.source == "api"


def _problem(changes: dict[str, object], drop: str | None = None) -> tuple[list[str | int], str]:
    fields = {"type": "checkout", **msgspec.structs.asdict(checkout())}
    fields.update(changes)
    if drop:
        del fields[drop]
    with pytest.raises(msgspec.ValidationError) as caught:
        decode(msgspec.json.encode(fields))
    problem = from_decode_error(caught.value)
    return problem.loc, problem.field


@pytest.mark.parametrize(
    ("changes", "drop", "field"),
    [
        ({}, "amount", "amount"),
        ({"amount": "12"}, None, "amount"),
        ({"amount": -5}, None, "amount"),
        ({"currency": "eur"}, None, "currency"),
        ({"country": "Germany"}, None, "country"),
        ({"item_count": 0}, None, "item_count"),
        ({"transaction_id": "has space"}, None, "transaction_id"),
        ({"ammount": 3}, None, "ammount"),
        ({"type": "login"}, None, "type"),
        ({"bin": "12ab"}, None, "bin"),
    ],
)
def test_invalid_bodies_name_the_field(
    changes: dict[str, object], drop: str | None, field: str
) -> None:
    loc, named = _problem(changes, drop)
    assert named == field
    assert loc == ["body", field]


def test_checks_beyond_the_schema_name_their_field() -> None:
    request = decode(body_of(checkout(ip="not-an-ip", event_time=NOW + 2 * 86_400_000)))
    assert [field for field, _ in checkout_problems(request, NOW)] == ["ip", "event_time"]
    assert checkout_problems(decode(body_of(checkout(ip="2001:db8::1"))), NOW) == []


def test_challenge_ids_derive_from_the_transaction_id() -> None:
    first = challenge_id_for("tx-1")
    assert first == challenge_id_for("tx-1")
    assert first != challenge_id_for("tx-2")
    assert first.startswith("mfa-") and len(first) == 4 + 16
    # Reproducible by any service from the transaction id alone.
    assert first == "mfa-" + hashlib.sha256(b"tx-1").hexdigest()[:16]
