"""The hot-path histogram: a count is filed in the bucket a value search would choose."""

from __future__ import annotations

from polyim.histogram import SIZE_BOUNDS, Histogram


def test_counts_land_where_values_do() -> None:
    by_value, by_count = Histogram(SIZE_BOUNDS), Histogram(SIZE_BOUNDS)
    sizes = [*range(0, 130), 499, 500, 501, 9_999, 10_000, 10_001, 1 << 40]
    for n in sizes:
        by_value.observe(n)
        by_count.observe_count(n)
    assert by_count.counts == by_value.counts and by_count.sum == by_value.sum == sum(sizes)
    assert by_count.cumulative()[0] == ("1.0", 2)  # 0 and 1
    assert by_count.cumulative()[-1] == ("+Inf", len(sizes))
