"""Labeled checkouts and the point-in-time split into a training and an evaluation period.

A checkout's fraud label arrives late (a chargeback weeks after the payment, a fraud report,
later an MFA outcome), so a row records *when* its first label arrived, not just whether::

    LabeledCheckout(transaction_id="t1", user_id="u1", event_time=checkout_ms, amount=80.0,
                    features={...}, label_time=chargeback_ms)   # None: never labeled

A model trained at ``train_until`` may only see labels that had arrived by then
(:func:`label_at`), and it leaves out the checkouts of the last ``label_maturity_ms`` before
``train_until``: most of their labels are still on their way, so they would count as
legitimate and teach the model that fresh fraud looks fine. The evaluation period starts at
``train_until`` - the first checkout the model would have scored - and is labeled with
everything known.

A label names one transaction, but fraud comes in incidents: a drained account pays a dozen
times in twenty minutes, a card tester tries thirty cards, and the issuer charges back only
some of them, days apart. :func:`propagate_labels` carries each label to the other checkouts
of its incident - the same device, in the same country, within a short window - at the time
that label arrived, so the model learns the whole incident from the part that was reported,
without ever seeing a label before it could have been known.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

from riskstream.events import Chargeback, Checkout, FraudReported

__all__ = [
    "DAY_MS",
    "DEFAULT_INCIDENT_KEYS",
    "DEFAULT_INCIDENT_WINDOW_MS",
    "Dataset",
    "FeatureValue",
    "LabeledCheckout",
    "LabeledRows",
    "Split",
    "first_label_times",
    "label_at",
    "labeled_checkout",
    "propagate_labels",
]

DAY_MS = 86_400_000

#: One feature's value as the feature engine gives it; ``None`` is missing.
FeatureValue = float | int | bool | str | None


class LabeledCheckout(msgspec.Struct, frozen=True):
    """A checkout, its features as of its event time, and when its first fraud label arrived.

    ``label_time`` is the event time of the first label event for the transaction (``None``:
    no label ever arrived, the checkout counts as legitimate).
    """

    transaction_id: str
    user_id: str
    event_time: int
    amount: float
    features: dict[str, FeatureValue]
    label_time: int | None


def label_at(row: LabeledCheckout, as_of: int | None = None) -> bool:
    """Whether ``row`` was known to be fraud at ``as_of`` (``None``: with every label known).

    A label that arrived exactly at ``as_of`` counts.
    """
    return row.label_time is not None and (as_of is None or row.label_time <= as_of)


def first_label_times(events: Iterable[Chargeback | FraudReported]) -> dict[str, int]:
    """Transaction id → event time of its first fraud label.

    Every chargeback labels its transaction; a fraud report only when ``confirmed``.
    """
    first: dict[str, int] = {}
    for event in events:
        if isinstance(event, FraudReported) and not event.confirmed:
            continue
        seen = first.get(event.transaction_id)
        if seen is None or event.event_time < seen:
            first[event.transaction_id] = event.event_time
    return first


def labeled_checkout(
    checkout: Checkout,
    features: Mapping[str, FeatureValue],
    label_times: Mapping[str, int],
) -> LabeledCheckout:
    """The row for ``checkout``: its features and the arrival of its label, if any."""
    return LabeledCheckout(
        transaction_id=checkout.transaction_id,
        user_id=checkout.user_id,
        event_time=checkout.event_time,
        amount=checkout.amount,
        features=dict(features),
        label_time=label_times.get(checkout.transaction_id),
    )


#: How far around a labelled checkout its incident reaches (two hours either side).
DEFAULT_INCIDENT_WINDOW_MS = 2 * 3_600_000

#: The features that must all be equal for two checkouts to be one incident: one device in
#: one country (a session stolen with the victim's device fingerprint happens elsewhere,
#: so the victim's own checkouts on that device stay theirs).
DEFAULT_INCIDENT_KEYS = ("device.id", "checkout.country")


def propagate_labels(
    rows: Iterable[LabeledCheckout],
    *,
    window_ms: int = DEFAULT_INCIDENT_WINDOW_MS,
    keys: Sequence[str] = DEFAULT_INCIDENT_KEYS,
) -> list[LabeledCheckout]:
    """The rows, each labeled at the earliest label time among the labelled checkouts of its
    incident: those whose ``keys`` features all equal its own (none missing) and whose event
    time is within ``window_ms`` of its own (never earlier than the row's own event time). A
    row keeps its own label when that came first; rows without every key are returned as
    they are, and so is everything when ``window_ms`` is negative or ``keys`` empty."""
    out = list(rows)
    if window_ms < 0 or not keys:
        return out
    groups: dict[tuple[object, ...], list[int]] = {}
    for index, row in enumerate(out):
        key = tuple(row.features.get(name) for name in keys)
        if all(part is not None for part in key):
            groups.setdefault(key, []).append(index)
    for members in groups.values():
        # the incident's labels by checkout time: (checkout time, label time)
        labelled = sorted(
            (out[i].event_time, label) for i in members if (label := out[i].label_time) is not None
        )
        if not labelled:
            continue
        times = [at for at, _ in labelled]
        for i in members:
            row = out[i]
            lo = bisect_left(times, row.event_time - window_ms)
            hi = bisect_right(times, row.event_time + window_ms)
            if lo == hi:
                continue
            # known no sooner than the checkout itself
            known = max(min(label for _, label in labelled[lo:hi]), row.event_time)
            if row.label_time is None or known < row.label_time:
                out[i] = msgspec.structs.replace(row, label_time=known)
    return out


@dataclass(frozen=True, slots=True)
class LabeledRows:
    """The checkouts of one period, ``start <= event_time < end`` (``None``: open), and their
    labels as of ``labels_as_of`` (``None``: every label known), in event-time order."""

    rows: tuple[LabeledCheckout, ...]
    labels: npt.NDArray[np.bool_]
    start: int | None
    end: int | None
    labels_as_of: int | None

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[LabeledCheckout]:
        return iter(self.rows)

    @property
    def frauds(self) -> int:
        """How many rows are labeled fraud."""
        return int(self.labels.sum())

    @property
    def first_event_time(self) -> int | None:
        """The earliest checkout's event time (``None`` for an empty period)."""
        return self.rows[0].event_time if self.rows else None

    @property
    def last_event_time(self) -> int | None:
        """The latest checkout's event time (``None`` for an empty period)."""
        return self.rows[-1].event_time if self.rows else None


@dataclass(frozen=True, slots=True)
class Split:
    """A training period and the evaluation period that follows it."""

    train: LabeledRows
    evaluation: LabeledRows
    train_until: int
    label_maturity_ms: int


class Dataset:
    """Labeled checkouts in a fixed order - event time, then transaction id - so that
    training does not depend on the order they were read in."""

    __slots__ = ("_rows", "_times")

    def __init__(self, rows: Iterable[LabeledCheckout]) -> None:
        self._rows = tuple(sorted(rows, key=lambda r: (r.event_time, r.transaction_id)))
        self._times = np.fromiter(
            (r.event_time for r in self._rows), dtype=np.int64, count=len(self._rows)
        )

    @property
    def rows(self) -> tuple[LabeledCheckout, ...]:
        return self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def period(
        self, start: int | None, end: int | None, *, labels_as_of: int | None = None
    ) -> LabeledRows:
        """The checkouts with ``start <= event_time < end``, labeled as of ``labels_as_of``."""
        lo = 0 if start is None else int(np.searchsorted(self._times, start, side="left"))
        hi = len(self._rows) if end is None else int(np.searchsorted(self._times, end, "left"))
        rows = self._rows[lo : max(lo, hi)]
        labels = np.fromiter((label_at(r, labels_as_of) for r in rows), np.bool_, len(rows))
        return LabeledRows(rows, labels, start, end, labels_as_of)

    def split(
        self,
        train_until: int,
        label_maturity_ms: int,
        *,
        train_from: int | None = None,
        eval_until: int | None = None,
    ) -> Split:
        """Training rows: ``train_from <= event_time < train_until - label_maturity_ms``,
        labeled with what had arrived by ``train_until``. Evaluation rows: ``train_until <=
        event_time < eval_until``, labeled with every label known. The checkouts of the
        maturity gap belong to neither."""
        if label_maturity_ms < 0:
            raise ValueError(f"label_maturity_ms must be >= 0, got {label_maturity_ms}")
        if eval_until is not None and eval_until < train_until:
            raise ValueError(f"eval_until ({eval_until}) is before train_until ({train_until})")
        train = self.period(train_from, train_until - label_maturity_ms, labels_as_of=train_until)
        evaluation = self.period(train_until, eval_until)
        return Split(train, evaluation, train_until, label_maturity_ms)
