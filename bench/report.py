"""How the benchmarks print a set of timings, and a process's group-commit batches."""

from __future__ import annotations

import re
import statistics

import aiohttp


def percentiles(seconds: list[float]) -> str:
    """p50, p95, p99 and max of timings given in seconds, shown in milliseconds."""
    ordered = sorted(seconds)

    def at(share: float) -> float:
        return ordered[min(int(len(ordered) * share), len(ordered) - 1)] * 1000

    return (
        f"p50 {statistics.median(ordered) * 1000:.1f} ms  p95 {at(0.95):.1f} ms"
        f"  p99 {at(0.99):.1f} ms  max {ordered[-1] * 1000:.1f} ms"
    )


async def batching(base_url: str) -> dict[str, float]:
    """The ingest process's group-commit counters, from its /metrics."""
    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/metrics") as resp:
        text = await resp.text()
    found = re.findall(r"^leadrelay_store_(\w+)_total ([\d.e+-]+)$", text, re.MULTILINE)
    return {name: float(value) for name, value in found}


def batch_line(before: dict[str, float], after: dict[str, float]) -> str:
    """Between two scrapes: the mean batch, and the writer's time a batch and its CPU."""
    batches = after["batches"] - before["batches"]
    if not batches:
        return "no batch"
    each = {name: (after[name] - before[name]) / batches for name in after}
    return (
        f"batches of {each['units']:.1f} units, the writer {each['batch_seconds'] * 1e3:.1f} ms"
        f" a batch, {each['batch_cpu_seconds'] * 1e3:.1f} ms of it its CPU"
    )
