"""How the benchmarks print a set of timings, and a process's group-commit batches."""

from __future__ import annotations

import gc
import os
import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


@contextmanager
def quiet_collector() -> Iterator[None]:
    """While a benchmark's own client times requests: its cyclic collector off, what it holds
    set aside first. A pass over the whole heap (the emulators', the client's) stopped the
    client's loop for ~30 ms, and the requests in flight then read as slow: measured, it was
    the largest stall in ingest's p99 at 1,000 leads/s. The client's few seconds of garbage
    wait for the collector until the block ends."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


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


class Cores:
    """Where the machine's cores went between `start()` and `stop()`: the whole machine busy
    (from /proc/stat), the processes measured, this benchmark's own process (the emulated CRM
    serves from it) and the rest (on PostgreSQL, mostly its server). A figure near the core
    count says the machine, not the processes, is what limits."""

    def __init__(self, *pids: int):
        self.pids = pids
        self.count = os.cpu_count() or 1
        self.process_seconds = 0.0  # the measured processes' CPU between start and stop

    def start(self) -> None:
        self._from = (_machine(), self._processes(), time.process_time(), time.monotonic())

    def stop(self) -> None:
        (busy0, all0), process0, own0, at0 = self._from
        (busy1, all1), process1 = _machine(), self._processes()
        own1, at1 = time.process_time(), time.monotonic()
        self._wall = max(at1 - at0, 1e-9)
        self._busy = (busy1 - busy0) / max(all1 - all0, 1) * self.count
        self._own = own1 - own0
        self.process_seconds = process1 - process0

    def line(self, name: str, rest_is: str = "the rest") -> str:
        process, own = self.process_seconds / self._wall, self._own / self._wall
        rest = max(self._busy - process - own, 0.0)
        return (
            f"cores busy {self._busy:.2f} of {self.count}: {name} {process:.2f},"
            f" this benchmark's emulators {own:.2f}, {rest_is} {rest:.2f}"
        )

    def bound(self, rate: float) -> float:
        """Units a second if every core worked at this run's CPU a unit (all processes):
        the machine's own limit, whatever the measured processes did better."""
        return rate * self.count / max(self._busy, 1e-9)

    def _processes(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)


def _machine() -> tuple[int, int]:
    """(busy, all) clock ticks of every core since boot."""
    first = Path("/proc/stat").read_text().split("\n", 1)[0]
    ticks = [int(field) for field in first.split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


def cpu_seconds(pid: int) -> float:
    """A process's CPU seconds so far (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
