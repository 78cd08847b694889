"""Stable 64-bit hashes of distinct values, so distinct counts survive restarts.

Python's ``hash()`` of ``str``/``bytes`` changes with every process (``PYTHONHASHSEED``), so it
cannot go into snapshots. :func:`stable_hash` maps a value to a signed 64-bit int that is the
same in every process: an ``int`` that fits in 64 bits is its own hash (exact, no collision);
anything else is hashed with BLAKE2b-64 over a type tag and its UTF-8 bytes (``str``), its
bytes (``bytes``), its decimal digits (larger ints) or its msgpack encoding (other values).
Two different values collide with probability about n²/2⁶⁵ for n values - below 10⁻¹³ for
a thousand values.

Values are told apart by type and content: ``1``, ``1.0``, ``True`` and ``"1"`` are four values.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import lru_cache
from hashlib import blake2b
from typing import Final

import msgspec

__all__ = ["stable_hash"]

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_encode = msgspec.msgpack.Encoder().encode


def _digest(data: bytes) -> int:
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "little", signed=True)


# Identifiers (devices, cards, IPs) repeat a lot within a partition: the cache turns the
# repeat hashes into one C-level dict lookup.
@lru_cache(maxsize=1 << 16)
def _hash_str(value: str) -> int:
    return _digest(b"s" + value.encode())


def stable_hash(value: Hashable) -> int:
    """A signed 64-bit hash of ``value`` that is identical in every process.

    Raises ``TypeError`` for a value msgpack cannot encode (anything but ``None``, bools,
    numbers, strings, bytes, tuples/lists of those, msgspec Structs...).
    """
    if isinstance(value, str):
        return _hash_str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if _INT64_MIN <= value <= _INT64_MAX:
            return int(value)
        return _digest(b"i" + str(value).encode())  # beyond msgpack's integers
    if isinstance(value, bytes):
        return _digest(b"b" + value)
    return _digest(b"m" + _encode(value))
