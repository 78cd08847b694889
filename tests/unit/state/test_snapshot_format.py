"""The snapshot stream format on its own."""

from __future__ import annotations

import io

import pytest

from riskstream.state import CommitPoint, SnapshotError
from riskstream.state.snapshot import Entry, SnapshotHeader, read_snapshot, write_snapshot

HEADER = SnapshotHeader("s", "app-s-changelog", 3, CommitPoint(seq=2, offset=9, metadata={}))


def written(entries: list[Entry]) -> bytes:
    out = io.BytesIO()
    assert write_snapshot(out, HEADER, entries) == len(entries)
    return out.getvalue()


@pytest.mark.parametrize("count", [0, 1, 8_192, 20_000])
def test_round_trip(count: int) -> None:
    entries: list[Entry] = [(b"%06d" % i, b"v", i if i % 2 else None) for i in range(count)]
    header, chunks = read_snapshot(io.BytesIO(written(entries)))
    assert header == HEADER
    assert [entry for chunk in chunks for entry in chunk] == entries


@pytest.mark.parametrize("cut", [1, 5, 100])
def test_truncation_is_detected(cut: int) -> None:
    data = written([(b"%06d" % i, b"v" * 10, None) for i in range(100)])
    with pytest.raises(SnapshotError):
        _header, chunks = read_snapshot(io.BytesIO(data[:-cut]))
        list(chunks)


def test_corruption_and_foreign_streams_are_detected() -> None:
    data = bytearray(written([(b"k", b"v" * 100, None)]))
    data[-40] ^= 0xFF
    with pytest.raises(SnapshotError, match="checksum"):
        list(read_snapshot(io.BytesIO(bytes(data)))[1])
    with pytest.raises(SnapshotError, match="not a riskstream"):
        read_snapshot(io.BytesIO(b"PK\x03\x04 a zip file"))
