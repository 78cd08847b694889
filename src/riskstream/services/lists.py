"""Block and allow lists on the compacted topic ``risk.lists``.

One record per entry: the key is ``"{list}:{kind}:{value}"`` (``blocklist:device:d-123``),
the value a :class:`ListEntry` as JSON; a tombstone removes the entry. Rules test membership
by the names of the rule language, ``blocklist.device`` or ``allowlist.instrument``
(:attr:`ListEntry.list_ref`). An entry may expire (``expires_at``, epoch ms): readers ignore
it from then on, so a time-limited block needs no second write to end.

::

    add_list_entry(log, "blocklist", "device", "d-123", reason="ring", ttl_ms=parse_ttl("7d"))
    remove_list_entry(log, ListName.BLOCKLIST, ListKind.DEVICE, "d-123")

:class:`ListTable` is what a reader keeps: the decoded entries, and at a given time the
lists they make (``{"blocklist.device": frozenset({...}), ...}``) with a version that is a
hash of their content - equal in every process that read the same entries.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

import msgspec

from riskstream.fraud.rules import ListKind
from riskstream.log.port import EventLog
from riskstream.services.compacted import (
    Change,
    ensure_compacted_topics,
    put,
    read_compacted,
)
from riskstream.services.hotreload import Clock, Rejected, wall_clock_ms

__all__ = [
    "LISTS_TOPIC",
    "ListEntry",
    "ListName",
    "ListSnapshot",
    "ListTable",
    "add_list_entry",
    "decode_entry",
    "list_key",
    "parse_ttl",
    "read_list_entries",
    "remove_list_entry",
]

LISTS_TOPIC: Final = "risk.lists"

_TTL_UNITS_MS: Final = {
    "ms": 1,
    "s": 1_000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 7 * 86_400_000,
}
_TTL_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")


class ListName(StrEnum):
    """Which list an entry is on."""

    BLOCKLIST = "blocklist"
    ALLOWLIST = "allowlist"


class ListEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a block or allow list, as published (times in epoch ms)."""

    list_name: ListName = msgspec.field(name="list")
    kind: ListKind
    value: str
    reason: str = ""
    added_at: int
    expires_at: int | None = None

    @property
    def key(self) -> str:
        """The record key: ``"{list}:{kind}:{value}"``."""
        return list_key(self.list_name, self.kind, self.value)

    @property
    def list_ref(self) -> str:
        """The list's name in the rule language: ``"blocklist.device"``."""
        return f"{self.list_name.value}.{self.kind.value}"

    def active(self, now_ms: int) -> bool:
        """Whether the entry counts at ``now_ms`` (it has not expired)."""
        return self.expires_at is None or now_ms < self.expires_at


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ListEntry)


def list_key(list_name: ListName | str, kind: ListKind | str, value: str) -> str:
    """The record key of an entry: ``"blocklist:device:d-123"``."""
    return f"{ListName(list_name).value}:{ListKind(kind).value}:{value}"


def parse_ttl(text: str) -> int:
    """A duration like ``7d``, ``12h``, ``1h30m``, ``2w`` or ``500ms`` in milliseconds."""
    compact = text.strip().replace(" ", "")
    parts = _TTL_PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(
            f"cannot read duration {text!r}: write it like 7d, 12h, 1h30m, 2w or 500ms"
        )
    ms = sum(int(number) * _TTL_UNITS_MS[unit] for number, unit in parts)
    if ms <= 0:
        raise ValueError(f"duration {text!r} must be longer than zero")
    return ms


def decode_entry(key: bytes, value: bytes) -> ListEntry:
    """The entry a record holds; :class:`Rejected` if it does not decode or match its key."""
    try:
        entry = _decoder.decode(value)
    except msgspec.DecodeError as exc:
        raise Rejected([f"not a list entry: {exc}"]) from exc
    if entry.key.encode() != key:
        shown = key.decode(errors="replace")
        raise Rejected([f"entry {entry.key!r} published under the key {shown!r}"])
    if not entry.value:
        raise Rejected(["empty list value"])
    return entry


def add_list_entry(
    log: EventLog,
    list_name: ListName | str,
    kind: ListKind | str,
    value: str,
    *,
    reason: str = "",
    ttl_ms: int | None = None,
    now: int | None = None,
    topic: str = LISTS_TOPIC,
) -> ListEntry:
    """Publish an entry (replacing one with the same key); it expires ``ttl_ms`` after ``now``."""
    if not value:
        raise ValueError("a list entry needs a value")
    if ttl_ms is not None and ttl_ms <= 0:
        raise ValueError(f"ttl_ms must be positive, not {ttl_ms}")
    added = wall_clock_ms() if now is None else now
    entry = ListEntry(
        list_name=ListName(list_name),
        kind=ListKind(kind),
        value=value,
        reason=reason,
        added_at=added,
        expires_at=None if ttl_ms is None else added + ttl_ms,
    )
    ensure_compacted_topics(log, topic)
    put(log, topic, [(entry.key.encode(), _encoder.encode(entry))])
    return entry


def remove_list_entry(
    log: EventLog,
    list_name: ListName | str,
    kind: ListKind | str,
    value: str,
    *,
    topic: str = LISTS_TOPIC,
) -> None:
    """Publish the removal (a tombstone) of an entry."""
    ensure_compacted_topics(log, topic)
    put(log, topic, [(list_key(list_name, kind, value).encode(), None)])


def read_list_entries(
    log: EventLog, *, topic: str = LISTS_TOPIC, timeout: float = 30.0
) -> list[ListEntry]:
    """Every published entry (expired ones too), by key; records that do not decode are
    left out."""
    ensure_compacted_topics(log, topic)
    entries: list[ListEntry] = []
    for key, value in sorted(read_compacted(log, topic, timeout=timeout).items()):
        try:
            entries.append(decode_entry(key, value))
        except Rejected:
            continue
    return entries


@dataclass(frozen=True, slots=True)
class ListSnapshot:
    """The lists at one time: name → values; ``valid_until``: the next expiry, if any."""

    lists: Mapping[str, frozenset[str]]
    version: str
    valid_until: int | None


class ListTable:
    """The decoded entries a reader has seen, and the lists they make at a given time.

    Not thread-safe: its owner serialises :meth:`apply` and :meth:`snapshot`.
    """

    def __init__(self, names: Iterable[str] = (), clock: Clock = wall_clock_ms) -> None:
        self._names = tuple(names)
        self._entries: dict[bytes, ListEntry] = {}
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[ListEntry]:
        """Every entry held, expired ones too."""
        return list(self._entries.values())

    def apply(
        self, changes: Iterable[Change], reject: Callable[[Change, Rejected], object]
    ) -> bool:
        """Take a batch of changes; ``reject`` hears of each record that does not decode.

        Returns whether any entry was added, replaced or removed.
        """
        entries = self._entries
        changed = False
        for change in changes:
            if change.value is None:
                changed = entries.pop(change.key, None) is not None or changed
                continue
            try:
                entry = decode_entry(change.key, change.value)
            except Rejected as exc:
                reject(change, exc)
                continue
            if entries.get(change.key) != entry:
                entries[change.key] = entry
                changed = True
        return changed

    def snapshot(self, now_ms: int | None = None) -> ListSnapshot:
        """The lists of the entries active at ``now_ms`` (the clock's now by default)."""
        now = self._clock() if now_ms is None else now_ms
        values: dict[str, set[str]] = {name: set() for name in self._names}
        valid_until: int | None = None
        for entry in self._entries.values():
            if not entry.active(now):
                continue
            values.setdefault(entry.list_ref, set()).add(entry.value)
            if entry.expires_at is not None and (
                valid_until is None or entry.expires_at < valid_until
            ):
                valid_until = entry.expires_at
        digest = hashlib.sha256()
        for name in sorted(values):
            for value in sorted(values[name]):
                digest.update(f"{name}\0{value}\n".encode())
        lists = MappingProxyType({name: frozenset(v) for name, v in values.items()})
        return ListSnapshot(lists, digest.hexdigest()[:16], valid_until)
