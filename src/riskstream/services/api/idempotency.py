"""What the API remembers per transaction id, so a retried checkout is answered, not repeated.

The log is the truth: a checkout is on ``events.checkout`` and its decision on
``risk.decisions``. This store is a bounded, in-memory index of the most recent
transactions: the ones this process produced (from the moment it produces, so a duplicate
sent while the first is still waiting joins it) and, read back from the tail of both topics
at start-up, the ones produced before a restart. The oldest entries go first when it is full.

An entry keeps the checkout's fingerprint (a retry with other contents is a conflict, not a
retry), the answer given and, while the first request is still waiting, that request's
future. A transaction id the store does not hold is taken as new: retries are expected
within the window the store covers (``idempotency_entries`` recent transactions).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

import msgspec

from riskstream.events import Checkout
from riskstream.services.api.models import CheckoutAnswer

__all__ = ["Entry", "IdempotencyStore", "fingerprint"]

# Metadata, not the purchase: a retry may stamp a new time or come from a resent event.
_NOT_FINGERPRINTED: Final = frozenset({"event_id", "event_time", "source", "schema_version"})
_encoder = msgspec.json.Encoder()


def fingerprint(checkout: Checkout) -> bytes:
    """A digest of what was bought, by whom, how and where: equal for a faithful retry."""
    fields = {
        name: value
        for name, value in msgspec.structs.asdict(checkout).items()
        if name not in _NOT_FINGERPRINTED
    }
    return hashlib.blake2b(_encoder.encode(fields), digest_size=16).digest()


class Entry:
    """One transaction id.

    ``answered`` is the first request's future while it waits (duplicates await it);
    ``answer`` the answer once given; ``fingerprint`` is ``None`` when only the decision
    was found on the log (nothing to compare a retry with).
    """

    __slots__ = ("answer", "answered", "fingerprint", "user_id")

    def __init__(
        self,
        user_id: str,
        fingerprint: bytes | None,
        *,
        answer: CheckoutAnswer | None = None,
        answered: asyncio.Future[CheckoutAnswer] | None = None,
    ) -> None:
        self.user_id = user_id
        self.fingerprint = fingerprint
        self.answer = answer
        self.answered = answered


class IdempotencyStore:
    """Transaction id → :class:`Entry`, at most ``capacity`` of them, oldest out first.

    Used from the event loop only (no locks). ``on_evict`` hears each evicted id.
    """

    def __init__(self, capacity: int, *, on_evict: Callable[[str], None] | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._on_evict = on_evict

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, transaction_id: object) -> bool:
        return transaction_id in self._entries

    def get(self, transaction_id: str) -> Entry | None:
        return self._entries.get(transaction_id)

    def put(self, transaction_id: str, entry: Entry) -> Entry:
        """Remember ``entry`` as the newest; the oldest leave when over capacity."""
        entries = self._entries
        entries[transaction_id] = entry
        entries.move_to_end(transaction_id)
        while len(entries) > self.capacity:
            evicted, _ = entries.popitem(last=False)
            if self._on_evict is not None:
                self._on_evict(evicted)
        return entry

    def discard(self, transaction_id: str) -> None:
        """Forget a transaction (its checkout never reached the log)."""
        self._entries.pop(transaction_id, None)
