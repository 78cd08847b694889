"""``TypedStore``: a byte store seen through a key codec and a msgspec value type."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

import msgspec

from riskstream.state.errors import StateDecodeError
from riskstream.state.protocol import KeyValueStore

__all__ = ["BYTES_KEYS", "INT_KEYS", "STR_KEYS", "KeyCodec", "TypedStore"]

K = TypeVar("K")
V = TypeVar("V")

_INT_BIAS = 1 << 63


class KeyCodec(Protocol[K]):
    """Keys to bytes and back, preserving order (so ``items`` is sorted by key)."""

    def encode(self, key: K) -> bytes: ...

    def decode(self, raw: bytes) -> K: ...


class _StrKeys:
    """UTF-8: byte order is code-point order."""

    def encode(self, key: str) -> bytes:
        return key.encode()

    def decode(self, raw: bytes) -> str:
        return raw.decode()


class _IntKeys:
    """Signed 64-bit, biased and big-endian: byte order is numeric order."""

    def encode(self, key: int) -> bytes:
        return (key + _INT_BIAS).to_bytes(8, "big")

    def decode(self, raw: bytes) -> int:
        return int.from_bytes(raw, "big") - _INT_BIAS


class _BytesKeys:
    def encode(self, key: bytes) -> bytes:
        return key

    def decode(self, raw: bytes) -> bytes:
        return raw


STR_KEYS: KeyCodec[str] = _StrKeys()
INT_KEYS: KeyCodec[int] = _IntKeys()
BYTES_KEYS: KeyCodec[bytes] = _BytesKeys()


class TypedStore(Generic[K, V]):
    """Python keys and values over a ``KeyValueStore``; values are msgpack of ``value_type``.

    ``TypedStore(store, Profile, STR_KEYS)`` reads and writes ``Profile`` structs by user id.
    A stored value that no longer decodes raises ``StateDecodeError`` with its raw bytes.
    Expiry, flushing and committing stay with the underlying ``store``.
    """

    def __init__(self, store: KeyValueStore, value_type: type[V], keys: KeyCodec[K]) -> None:
        self._store = store
        self._keys = keys
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder(value_type).decode

    @property
    def store(self) -> KeyValueStore:
        return self._store

    def get(self, key: K) -> V | None:
        raw_key = self._keys.encode(key)
        raw = self._store.get(raw_key)
        if raw is None:
            return None
        return self._decoded(raw_key, raw)

    def put(self, key: K, value: V, *, expires_at: int | None = None) -> None:
        self._store.put(self._keys.encode(key), self._encode(value), expires_at=expires_at)

    def delete(self, key: K) -> None:
        self._store.delete(self._keys.encode(key))

    def items(self, prefix: K | None = None) -> Iterator[tuple[K, V]]:
        """Entries in key order; ``prefix`` matches encoded keys (useful for ``str`` keys)."""
        raw_prefix = b"" if prefix is None else self._keys.encode(prefix)
        decode_key = self._keys.decode
        for raw_key, raw in self._store.items(raw_prefix):
            yield decode_key(raw_key), self._decoded(raw_key, raw)

    def _decoded(self, key: bytes, raw: bytes) -> V:
        try:
            return self._decode(raw)
        except msgspec.DecodeError as exc:
            raise StateDecodeError(str(exc), key=key, raw=raw) from exc
