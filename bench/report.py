"""How the benchmarks print a set of timings."""

from __future__ import annotations

import statistics


def percentiles(seconds: list[float]) -> str:
    """p50, p95, p99 and max of timings given in seconds, shown in milliseconds."""
    ordered = sorted(seconds)

    def at(share: float) -> float:
        return ordered[min(int(len(ordered) * share), len(ordered) - 1)] * 1000

    return (
        f"p50 {statistics.median(ordered) * 1000:.1f} ms  p95 {at(0.95):.1f} ms"
        f"  p99 {at(0.99):.1f} ms  max {ordered[-1] * 1000:.1f} ms"
    )
