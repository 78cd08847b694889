"""TypedStore: Python keys and msgspec values over a byte store."""

from __future__ import annotations

import msgspec
import pytest

from riskstream.state import (
    BYTES_KEYS,
    INT_KEYS,
    STR_KEYS,
    MemoryStore,
    StateDecodeError,
    TypedStore,
)
from tests.unit.state.test_contract import CHANGELOG, STORE, TASK


class Profile(msgspec.Struct, frozen=True):
    logins: int
    devices: list[str]


def raw_store() -> MemoryStore:
    return MemoryStore(STORE, TASK, changelog=CHANGELOG)


def test_values_round_trip() -> None:
    store = TypedStore(raw_store(), Profile, STR_KEYS)
    store.put("u1", Profile(3, ["d1"]), expires_at=100)
    assert store.get("u1") == Profile(3, ["d1"])
    assert store.get("u2") is None
    store.delete("u1")
    assert store.get("u1") is None
    assert store.store.expire(100) == 0


def test_str_keys_iterate_in_order_and_by_prefix() -> None:
    store = TypedStore(raw_store(), int, STR_KEYS)
    for key in ("user:b", "user:a", "card:z", "user:é", "user:"):
        store.put(key, len(key))
    assert [k for k, _ in store.items()] == ["card:z", "user:", "user:a", "user:b", "user:é"]
    assert dict(store.items("user:a")) == {"user:a": 6}


def test_int_keys_sort_numerically() -> None:
    store = TypedStore(raw_store(), str, INT_KEYS)
    numbers = [5, -1, 0, 2**62, -(2**63), 2**63 - 1, 300]
    for n in numbers:
        store.put(n, str(n))
    assert [k for k, _ in store.items()] == sorted(numbers)
    assert store.get(-1) == "-1"


def test_bytes_keys_pass_through() -> None:
    raw = raw_store()
    store = TypedStore(raw, list[int], BYTES_KEYS)
    store.put(b"\x00k", [1, 2])
    assert raw.get(b"\x00k") == msgspec.msgpack.encode([1, 2])
    assert list(store.items()) == [(b"\x00k", [1, 2])]


def test_a_value_of_another_shape_raises_with_its_bytes() -> None:
    raw = raw_store()
    raw.put(b"u1", msgspec.msgpack.encode({"logins": "many"}))
    store = TypedStore(raw, Profile, STR_KEYS)
    with pytest.raises(StateDecodeError) as caught:
        store.get("u1")
    assert caught.value.key == b"u1"
    assert caught.value.raw == raw.get(b"u1")
