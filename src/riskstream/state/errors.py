"""Errors of the state stores.

They join the tree of :class:`riskstream.errors.RiskstreamError` as one subtree::

    StateError                   misuse of a store, or a store that cannot continue
    ├── ChangelogError           a changelog record was not acknowledged: the store must be
    │                            restored before it takes more writes
    ├── StoreLockedError         another process holds the store's local files
    ├── SnapshotError            a snapshot stream that is truncated, corrupt or foreign
    └── StateDecodeError         a stored value that does not decode to the store's type
"""

from __future__ import annotations

from riskstream.errors import RiskstreamError

__all__ = [
    "ChangelogError",
    "SnapshotError",
    "StateDecodeError",
    "StateError",
    "StoreLockedError",
]


class StateError(RiskstreamError):
    """A state store was misused or cannot continue."""


class ChangelogError(StateError):
    """Changes could not be written to the changelog; the store refuses further commits."""


class StoreLockedError(StateError):
    """The store's local files are in use by another process (or another open store)."""


class SnapshotError(StateError):
    """A snapshot stream is truncated, corrupt, or belongs to another changelog partition."""


class StateDecodeError(StateError):
    """A stored value does not decode to the type a ``TypedStore`` expects.

    ``key`` is the raw key and ``raw`` the stored bytes, so the entry can be inspected or
    deleted by hand.
    """

    def __init__(self, reason: str, *, key: bytes, raw: bytes) -> None:
        super().__init__(f"state value for key {key!r} does not decode: {reason}")
        self.key = key
        self.raw = raw
