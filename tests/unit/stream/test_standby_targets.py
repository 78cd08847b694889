"""Which tasks a worker keeps warm."""

from __future__ import annotations

from riskstream.stream.standby import standby_targets


def test_the_partitions_after_the_owned_ones_in_ring_order() -> None:
    assert standby_targets({0, 1, 2}, 8, 2) == {3, 4}
    assert standby_targets({6, 7}, 8, 3) == {0, 1, 2}


def test_interleaves_the_owned_partitions() -> None:
    # One step after each owned partition before two steps after any.
    assert standby_targets({0, 4}, 8, 2) == {1, 5}


def test_given_up_partitions_first() -> None:
    assert standby_targets({0, 1}, 8, 2, recent=(6, 5)) == {6, 5}
    assert standby_targets({0, 1}, 8, 3, recent=(1, 6)) == {6, 2, 3}


def test_never_an_owned_partition_and_at_most_all_others() -> None:
    assert standby_targets({0, 1, 2}, 4, 10) == {3}
    assert standby_targets(set(), 8, 4) == set()
    assert standby_targets({0}, 8, 0) == set()
