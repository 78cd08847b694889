"""The idempotency store: bounded, oldest out first; fingerprints ignore metadata only."""

from __future__ import annotations

import msgspec
import pytest

from riskstream.services.api.idempotency import Entry, IdempotencyStore, fingerprint
from tests.unit.services.api.kit import checkout


def test_the_oldest_entries_leave_first_and_are_reported() -> None:
    evicted: list[str] = []
    store = IdempotencyStore(3, on_evict=evicted.append)
    for number in range(5):
        store.put(f"tx-{number}", Entry("u", None))
    assert len(store) == 3
    assert evicted == ["tx-0", "tx-1"]
    assert "tx-0" not in store and "tx-4" in store
    store.discard("tx-4")
    assert store.get("tx-4") is None


def test_a_store_needs_room_for_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        IdempotencyStore(0)


def test_fingerprints_ignore_metadata_but_not_the_purchase() -> None:
    original = checkout()
    resent = msgspec.structs.replace(
        original, event_id="other", event_time=original.event_time + 5, source="retry"
    )
    assert fingerprint(resent) == fingerprint(original)
    assert fingerprint(msgspec.structs.replace(original, amount=41.0)) != fingerprint(original)
    assert fingerprint(msgspec.structs.replace(original, user_id="u-2")) != fingerprint(original)
