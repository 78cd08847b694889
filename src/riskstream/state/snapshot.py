"""The portable snapshot format: a store's committed state as one byte stream.

Any store can read any store's snapshot of the same changelog partition, so a snapshot
taken on one worker (and shipped, e.g. to object storage) lets another start from it and
replay only the changelog after ``commit.offset``.

Layout: the magic ``RSSTATE1``, then frames ``[u32 length][u32 crc32][msgpack payload]``:
one header, chunks of ``(key, value, expires_at)`` entries in key order, and an end frame
with the entry count, so truncation and corruption are detected before anything is used.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import BinaryIO

import msgspec

from riskstream.state.errors import SnapshotError
from riskstream.state.protocol import CommitPoint

__all__ = ["Entry", "SnapshotHeader", "read_snapshot", "write_snapshot"]

MAGIC = b"RSSTATE1"
_FRAME = struct.Struct(">II")
_CHUNK_ENTRIES = 8_192

Entry = tuple[bytes, bytes, int | None]
"""``(key, value, expires_at)``."""


class SnapshotHeader(msgspec.Struct, frozen=True, tag="header", array_like=True):
    """Whose state a snapshot holds and which commit it reflects."""

    store: str
    changelog: str
    partition: int
    commit: CommitPoint


class _Chunk(msgspec.Struct, frozen=True, tag="chunk", array_like=True):
    entries: list[Entry]


class _End(msgspec.Struct, frozen=True, tag="end", array_like=True):
    count: int


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(SnapshotHeader | _Chunk | _End).decode


def write_snapshot(out: BinaryIO, header: SnapshotHeader, entries: Iterable[Entry]) -> int:
    """Write a snapshot of ``entries`` (in key order); returns how many were written."""
    out.write(MAGIC)
    _write_frame(out, _encode(header))
    count = 0
    iterator = iter(entries)
    while chunk := list(islice(iterator, _CHUNK_ENTRIES)):
        _write_frame(out, _encode(_Chunk(chunk)))
        count += len(chunk)
    _write_frame(out, _encode(_End(count)))
    return count


def read_snapshot(src: BinaryIO) -> tuple[SnapshotHeader, Iterator[list[Entry]]]:
    """The header, and the entries chunk by chunk; the iterator raises ``SnapshotError``
    at the end if the stream is truncated or corrupt, so apply it all-or-nothing."""
    if src.read(len(MAGIC)) != MAGIC:
        raise SnapshotError("not a riskstream state snapshot")
    header = _read_frame(src)
    if not isinstance(header, SnapshotHeader):
        raise SnapshotError("snapshot does not start with a header")
    return header, _chunks(src)


def _chunks(src: BinaryIO) -> Iterator[list[Entry]]:
    count = 0
    while True:
        frame = _read_frame(src)
        if isinstance(frame, _End):
            if frame.count != count:
                raise SnapshotError(f"snapshot holds {count} entries, its end says {frame.count}")
            return
        if not isinstance(frame, _Chunk):
            raise SnapshotError("unexpected header inside a snapshot")
        count += len(frame.entries)
        yield frame.entries


def _write_frame(out: BinaryIO, payload: bytes) -> None:
    out.write(_FRAME.pack(len(payload), zlib.crc32(payload)))
    out.write(payload)


def _read_frame(src: BinaryIO) -> SnapshotHeader | _Chunk | _End:
    prefix = src.read(_FRAME.size)
    if len(prefix) < _FRAME.size:
        raise SnapshotError("snapshot is truncated")
    length, crc = _FRAME.unpack(prefix)
    payload = src.read(length)
    if len(payload) < length:
        raise SnapshotError("snapshot is truncated")
    if zlib.crc32(payload) != crc:
        raise SnapshotError("snapshot frame fails its checksum")
    try:
        frame: SnapshotHeader | _Chunk | _End = _decode(payload)
    except msgspec.DecodeError as exc:
        raise SnapshotError(f"snapshot frame does not decode: {exc}") from exc
    return frame
