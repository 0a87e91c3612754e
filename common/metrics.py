"""Prometheus metrics, one registry per application (tests build many apps in one process)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from common.store.base import Batching

# The *_created series double the output and nobody graphs them.
disable_created_metrics()
OTHER = "other"  # the label value of everything past a fold's cap


class Fold:
    """A label's values as the metrics show them: the `keep` values and the first `cap`
    others each as itself, every later one as `other`. Values come from outside (a landing
    page's campaign_id): without a bound each new one is a series for ever. Values equal
    under `key` are one series, shown as the `keep` spelling or the first one seen."""

    def __init__(self, cap: int, keep: Iterable[str] = (), key: Callable[[str], str] = str):
        self.cap = cap
        self.key = key
        self.shown = {key(value): value for value in keep}
        self.room = cap + len(self.shown)

    def __call__(self, value: str) -> str:
        key = self.key(value)
        shown = self.shown.get(key)
        if shown is not None:
            return shown
        if len(self.shown) < self.room:
            self.shown[key] = value
            return value
        return OTHER


class FoldedCounter:
    """A counter with one label whose values come from outside, folded (see Fold); each
    series's child is looked up once, not (under the counter's lock) on every count."""

    def __init__(self, counter: Counter, fold: Fold):
        self.counter = counter
        self.fold = fold
        self.children: dict[str, Counter] = {}

    def inc(self, value: str) -> None:
        child = self.children.get(value)
        if child is None:  # at most the fold's cap of values plus the first `other`s: bounded
            child = self.counter.labels(self.fold(value))
            if len(self.children) < 4 * self.fold.room:
                self.children[value] = child
        child.inc()


class Metrics:
    def __init__(self, process_name: str):
        self.registry = CollectorRegistry()
        self.process_name = process_name
        # Async callbacks run before each scrape, for values read from the database.
        self.before_scrape: list[Callable[[], Awaitable[None]]] = []
        self.requests = Counter(
            "leadrelay_http_requests_total",
            "HTTP requests answered",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "leadrelay_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count an answered request and its time; the labelled children are looked up once."""
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def counter(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(name, documentation, list(labels), registry=self.registry)

    def gauge(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, documentation, list(labels), registry=self.registry)

    def histogram(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Histogram:
        return Histogram(name, documentation, list(labels), registry=self.registry)

    async def render(self) -> bytes:
        for refresh in self.before_scrape:
            await refresh()
        return generate_latest(self.registry)


class BatchingCollector:
    """Group commit's counters (common/store/group_commit.py), read at each scrape: nothing
    is added to the write path. Batches over time is the commit rate, units over batches
    the mean batch, seconds over batches the writer's mean time a batch."""

    def __init__(self, batching: Callable[[], Batching]):
        self.batching = batching

    def collect(self) -> Iterator[Metric]:
        now = self.batching()
        yield CounterMetricFamily(
            "leadrelay_store_batches", "Group-commit batches committed", value=now.batches
        )
        yield CounterMetricFamily(
            "leadrelay_store_units", "Units of work those batches carried", value=now.units
        )
        yield CounterMetricFamily(
            "leadrelay_store_batch_seconds",
            "Time the writer spent running batches, commits included",
            value=now.seconds,
        )
        yield CounterMetricFamily(
            "leadrelay_store_batch_cpu_seconds",
            "The writer thread's CPU in that time (the rest it waited: disk, locks, the GIL)",
            value=now.cpu_seconds,
        )
        yield CounterMetricFamily(
            "leadrelay_store_batch_reruns",
            "Batches run again unit by unit, each in a savepoint: a unit failed or lost a race",
            value=now.reruns,
        )
        yield CounterMetricFamily(
            "leadrelay_store_write_turn_waits",
            "SQLite: batches whose writer found another process's writer at work and waited",
            value=now.turn_waits,
        )
        yield GaugeMetricFamily(
            "leadrelay_store_waiting", "Units of work waiting for the next batch", value=now.waiting
        )
