"""Output epochs: the outputs produced between two commits, and whether the log has them all.

A commit may complete (state and offsets made durable) only once every output produced
before it was acknowledged, or an output could be lost: its input would count as done. The
runner does not wait for that with a flush, which would pause processing for a round trip;
each epoch counts its own acknowledgements, and the commit completes when its epoch and the
ones before it are settled.
"""

from __future__ import annotations

from riskstream.log.records import DeliveryReport

__all__ = ["OutputEpoch"]


class OutputEpoch:
    """Counts the acknowledgements of one epoch's outputs; keeps each output partition's
    last acknowledged offset in the shared ``acked`` (reports of a partition come in order)."""

    __slots__ = ("acked", "acked_offsets", "failures", "produced")

    def __init__(
        self, acked_offsets: dict[tuple[str, int], int], failures: list[DeliveryReport]
    ) -> None:
        self.produced = 0
        self.acked = 0
        self.acked_offsets = acked_offsets
        self.failures = failures

    def on_delivery(self, report: DeliveryReport) -> None:
        if report.error is None:
            self.acked += 1
            self.acked_offsets[report.topic, report.partition] = report.offset
        else:
            self.failures.append(report)
            self.acked += 1  # settled: the failure is reported at the commit

    def written(self, reports: list[DeliveryReport]) -> None:
        """Count records written at once (a batch's reports are in hand): as their reports
        would have counted one by one."""
        self.produced += len(reports)
        self.acked += len(reports)
        ok = [report for report in reports if report.error is None]
        if len(ok) < len(reports):
            self.failures.extend(report for report in reports if report.error is not None)
        # In report order, so each partition keeps its last (highest) offset.
        self.acked_offsets.update({(r.topic, r.partition): r.offset for r in ok})

    @property
    def settled(self) -> bool:
        return self.acked >= self.produced
