"""Kafka's default partitioner (murmur2), so a key lands on the same partition everywhere.

Matches ``org.apache.kafka.common.utils.Utils.murmur2`` and librdkafka's ``murmur2_random``
partitioner: ``(murmur2(key) & 0x7fffffff) % partitions``. Keys repeat heavily (user ids),
so results are cached per key; :func:`partitions_for` hashes many keys at once (a producer's
batch of new keys), vectorised with numpy.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

import numpy as np

__all__ = ["KeyPartitioner", "murmur2", "partition_for", "partitions_for"]

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF
# Below this many keys numpy's fixed cost per call outweighs its speed per key.
_VECTOR_MIN = 48
_CACHE_LIMIT = 1 << 16  # keys a KeyPartitioner remembers before it starts afresh

_words: dict[int, Callable[[bytes], tuple[int, ...]]] = {}  # word count -> unpacker


def murmur2(data: bytes) -> int:
    """32-bit murmur2 of ``data`` as Kafka computes it (unsigned result)."""
    length = len(data)
    h = _SEED ^ length
    n = length >> 2
    if n:
        unpack = _words.get(n)
        if unpack is None:
            unpack = _words[n] = struct.Struct(f"<{n}I").unpack_from
        for word in unpack(data):  # every little-endian 32-bit word in one C call
            k = (word * _M) & _MASK
            k = ((k ^ (k >> 24)) * _M) & _MASK
            h = ((h * _M) & _MASK) ^ k
    rest = length & 3
    if rest:
        tail = n << 2
        if rest == 3:
            h ^= data[tail + 2] << 16
        if rest >= 2:
            h ^= data[tail + 1] << 8
        h = ((h ^ data[tail]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


@lru_cache(maxsize=1 << 17)
def _positive_hash(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key``."""
    return _positive_hash(key) % partitions


def partitions_for(keys: Sequence[bytes], partitions: int) -> list[int]:
    """``[partition_for(key, partitions) for key in keys]``, in one vectorised pass when
    there are enough keys (no cache: for keys not seen before)."""
    if len(keys) < _VECTOR_MIN:
        return [(murmur2(key) & 0x7FFFFFFF) % partitions for key in keys]
    hashes = _murmur2_many(keys) & np.uint32(0x7FFFFFFF)
    return (hashes % np.uint32(partitions)).tolist()  # type: ignore[no-any-return] # numpy's tolist is untyped


def _murmur2_many(keys: Sequence[bytes]) -> np.ndarray[tuple[int], np.dtype[np.uint32]]:
    """murmur2 of every key: the keys, zero-padded to one width, as rows of 32-bit words;
    each column is mixed into the hashes of the keys that are that long (uint32 wraps)."""
    n = len(keys)
    m = np.uint32(_M)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=n)
    width = ((int(lengths.max()) >> 2) + 1) << 2  # room for the tail bytes of the longest
    padded = b"".join([key.ljust(width, b"\0") for key in keys])
    data = np.frombuffer(padded, dtype=np.uint8).reshape(n, width)
    words = data.view("<u4")
    h = np.uint32(_SEED) ^ lengths.astype(np.uint32)
    whole = lengths >> 2
    for column in range(int(whole.max())):
        k = words[:, column] * m
        k ^= k >> 24
        k *= m
        np.copyto(h, (h * m) ^ k, where=whole > column)
    rest = lengths & 3
    tail = whole << 2
    rows = np.arange(n)
    h ^= np.where(rest == 3, data[rows, tail + 2].astype(np.uint32) << 16, 0).astype(np.uint32)
    h ^= np.where(rest >= 2, data[rows, tail + 1].astype(np.uint32) << 8, 0).astype(np.uint32)
    np.copyto(h, (h ^ data[rows, tail]) * m, where=rest >= 1)
    h ^= h >> 13
    h *= m
    h ^= h >> 15
    return h


class KeyPartitioner(dict[bytes, int]):
    """The partitions of one partition count, per key: keys (user ids) repeat a lot, and
    the new keys of a batch are hashed together (:meth:`learn`), at a fraction of the cost
    of one at a time. Look a key up as ``partitioner[key]`` (hashed alone when unknown)."""

    def __init__(self, partitions: int) -> None:
        super().__init__()
        self.partitions = partitions

    def learn(self, keys: Iterable[bytes | None]) -> None:
        """Hash those of ``keys`` not known yet (``None`` is skipped), in one pass."""
        new = [key for key in dict.fromkeys(keys) if key is not None and key not in self]
        if not new:
            return
        if len(self) + len(new) > _CACHE_LIMIT:
            self.clear()
        self.update(zip(new, partitions_for(new, self.partitions), strict=True))

    def __missing__(self, key: bytes) -> int:
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        partition = self[key] = partition_for(key, self.partitions)
        return partition
