"""The watermark tracker's shortcuts against the rule it implements, computed in full."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.stream.eventtime import NO_WATERMARK, WatermarkTracker


class _Reference:
    """Minimum over the active inputs' highest event times, minus the lateness; when all are
    idle, event time moves on with processing time; never backwards."""

    def __init__(self, lateness: int, idle_ms: int) -> None:
        self.lateness, self.idle_ms = lateness, idle_ms
        self.high: dict[str, int] = {}
        self.seen: dict[str, int] = {}
        self.watermark = NO_WATERMARK

    def advance(self, now: int) -> int:
        active = [h for s, h in self.high.items() if now - self.seen[s] < self.idle_ms]
        if active:
            candidate = min(active) - self.lateness
        elif self.high:
            quiet = now - max(self.seen.values()) - self.idle_ms
            candidate = max(self.high.values()) + max(quiet, 0) - self.lateness
        else:
            candidate = NO_WATERMARK
        self.watermark = max(self.watermark, candidate)
        return self.watermark


_ops = st.lists(
    st.tuples(
        st.sampled_from(["observe", "observe", "observe", "advance", "register", "restore"]),
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 200),  # event time
        st.integers(0, 3),  # how far processing time moves (0: often the same instant)
    ),
    max_size=60,
)


@settings(max_examples=400, deadline=None)
@given(_ops, st.integers(0, 20), st.integers(0, 4))
def test_tracker_matches_the_rule(
    ops: list[tuple[str, str, int, int]], lateness: int, idle: int
) -> None:
    tracker = WatermarkTracker(allowed_lateness_ms=lateness, idle_timeout_ms=idle)
    model = _Reference(lateness, idle)
    now = 0
    for op, source, event_time, step in ops:
        now += step
        if op == "observe":
            if event_time > model.high.get(source, NO_WATERMARK):
                model.high[source] = event_time
            model.seen[source] = now
            assert tracker.observe(source, event_time, now) == model.advance(now)
        elif op == "advance":
            assert tracker.advance(now) == model.advance(now)
        elif op == "register":
            tracker.register(source, now)
            model.high.setdefault(source, NO_WATERMARK)
            model.seen.setdefault(source, now)
        else:
            tracker.restore({source: event_time}, now)
            model.high[source] = event_time
            model.seen[source] = now
            model.advance(now)
        assert tracker.watermark == model.watermark
