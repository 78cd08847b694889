"""One state store per task, shared by its steps through key prefixes.

A task's steps write to one :class:`~riskstream.state.KeyValueStore`, each under its own
prefix (``<step>\\x00``), so the whole task commits in one transaction with one commit marker
that also carries the task's input offsets: state and progress can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterator

from riskstream.state import KeyValueStore

__all__ = ["PrefixedStore"]


class PrefixedStore:
    """The part of a task store that belongs to one step."""

    __slots__ = ("_n", "_prefix", "_store")

    def __init__(self, store: KeyValueStore, step: str) -> None:
        self._store = store
        self._prefix = step.encode() + b"\x00"
        self._n = len(self._prefix)

    def get(self, key: bytes) -> bytes | None:
        return self._store.get(self._prefix + key)

    def put(self, key: bytes, value: bytes) -> None:
        self._store.put(self._prefix + key, value)

    def delete(self, key: bytes) -> None:
        self._store.delete(self._prefix + key)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        n = self._n
        for key, value in self._store.items(self._prefix):
            yield key[n:], value
