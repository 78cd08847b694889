"""Ground truth: what each simulated checkout really was, kept apart from the event stream.

The engine never reads these records. They go to a JSONL file or to the ``sim.truth`` topic,
for evaluation (per-scenario recall, fraud amount caught, legitimate checkouts challenged).
The only labels the engine ever sees are the delayed ``Chargeback``/``FraudReported`` events
a real platform would receive, for part of the fraud, days after the checkout; each record
here says whether and when its label arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Final

import msgspec

__all__ = [
    "LEGIT",
    "TRUTH_TOPIC",
    "GroundTruth",
    "TruthFile",
    "decode_truth",
    "encode_truth",
    "read_truth",
]

TRUTH_TOPIC: Final = "sim.truth"
"""The topic ground truth may be written to, keyed by user id (never an engine input)."""

LEGIT: Final = "legit"
"""The scenario name of legitimate checkouts."""


class GroundTruth(msgspec.Struct, frozen=True, kw_only=True):
    """The truth about one checkout.

    ``scenario`` is ``"legit"`` or the fraud scenario that produced the checkout;
    ``incident_id`` groups the checkouts of one injected attack; ``label`` is
    ``"chargeback"``, ``"fraud_reported"`` or ``None`` (the fraud that is never reported),
    ``label_time`` the event time of that label.
    """

    transaction_id: str
    user_id: str
    event_time: int
    scenario: str
    is_fraud: bool
    amount: float
    merchant_id: str
    incident_id: str | None = None
    label: str | None = None
    label_time: int | None = None

    @property
    def key(self) -> bytes:
        return self.user_id.encode()


_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(GroundTruth)


def encode_truth(record: GroundTruth) -> bytes:
    """One record as JSON (no newline)."""
    return _ENCODER.encode(record)


def decode_truth(raw: bytes) -> GroundTruth:
    return _DECODER.decode(raw)


class TruthFile:
    """Appends ground-truth records to a JSONL file, one object per line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = self.path.open("wb")
        self.written = 0

    def write(self, record: GroundTruth) -> None:
        self._file.write(_ENCODER.encode(record) + b"\n")
        self.written += 1

    def write_many(self, records: Iterable[GroundTruth]) -> None:
        for record in records:
            self.write(record)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TruthFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def read_truth(path: str | Path) -> Iterator[GroundTruth]:
    """The records of a JSONL truth file, in order."""
    with Path(path).open("rb") as file:
        for line in file:
            if line.strip():
                yield _DECODER.decode(line)
