"""Late events at the edge: behind the partition's newest event time by more than the bound."""

from __future__ import annotations

import pytest

from udfs.lateness import LatenessTracker

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("times, late", [
    ([1_000, 2_000, 3_000], [False, False, False]),            # in order
    ([10_000, 5_000], [False, False]),                         # exactly at the bound: on time
    ([10_000, 4_999], [False, True]),                          # 1 ms past the bound
    ([10_000, 4_000, 9_000, 20_000, 14_999], [False, True, False, False, True]),
])
def test_late_against_the_partition_watermark(times, late):
    tracker = LatenessTracker(bound_ms=5_000)
    assert [tracker.is_late("t", 0, t) for t in times] == late


def test_partitions_and_topics_are_separate():
    tracker = LatenessTracker()
    assert not tracker.is_late("a", 0, 100_000)
    assert not tracker.is_late("a", 1, 1_000)      # another partition has its own watermark
    assert not tracker.is_late("b", 0, 1_000)      # another topic too
    assert tracker.is_late("a", 0, 1_000)
