"""422 problems locate the field the way FastAPI does, batch index included."""

from __future__ import annotations

import msgspec

from riskstream.services.api.ingest import parse_batch
from riskstream.services.api.problems import path_problem
from tests.unit.services.api.kit import NOW, body_of, checkout

LOGIN = {
    "type": "login",
    "event_id": "e-1",
    "user_id": "u-1",
    "event_time": NOW,
    "device_id": "d",
    "ip": "10.0.0.1",
    "country": "DE",
}


def test_paths_become_locations() -> None:
    problem = path_problem("$.a[2].b", "Expected `int`", index=4)
    assert problem.loc == ["body", 4, "a", 2, "b"]
    assert problem.field == "a.2.b"
    assert problem.index == 4
    missing = path_problem("$", "Object missing required field `amount`")
    assert missing.loc == ["body", "amount"]


def test_a_valid_batch_parses() -> None:
    events, problems = parse_batch(msgspec.json.encode([LOGIN]), max_events=10, now_ms=NOW)
    assert problems == []
    assert [type(e).__name__ for e in events] == ["Login"]


def test_every_invalid_item_is_reported_with_its_index_and_field() -> None:
    items = [
        LOGIN,
        {**LOGIN, "country": 5},
        {k: v for k, v in LOGIN.items() if k != "device_id"},
        {**LOGIN, "type": "teleport"},
        msgspec.json.decode(body_of(checkout())),
        {**LOGIN, "event_time": NOW + 3 * 86_400_000},
    ]
    _, problems = parse_batch(msgspec.json.encode(items), max_events=10, now_ms=NOW)
    assert [(p.index, p.field) for p in problems] == [
        (1, "country"),
        (2, "device_id"),
        (3, "type"),
        (4, "type"),
        (5, "event_time"),
    ]
    assert "POST /v1/checkouts" in problems[3].msg
    assert all(p.loc[:2] == ["body", p.index] for p in problems)


def test_batches_must_be_non_empty_arrays_within_the_limit() -> None:
    for body in (b"[]", b'{"type": "login"}', b"[", msgspec.json.encode([LOGIN] * 3)):
        events, problems = parse_batch(body, max_events=2, now_ms=NOW)
        assert events == [] and len(problems) == 1, body
