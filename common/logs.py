"""Structured (JSON-lines) logging with the request id of the current request."""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
import time
from typing import IO, cast

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

Fields = dict[str, object]
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, process_name: str):
        super().__init__()
        self.process_name = process_name

    _second = -1
    _stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        # Values passed with extra={…}: callers pass masked personal data only.
        fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return self.line(record.created, record.levelname, record.name, record.getMessage(), fields)

    def line(self, created: float, level: str, logger: str, msg: str, fields: Fields) -> str:
        """The JSON line: time, level, process, logger, message, request id, then `fields`."""
        second = int(created)
        if second != self._second:  # strftime once a second, not once a line
            self._second, self._stamp = (
                second,
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)),
            )
        line: Fields = {
            "ts": f"{self._stamp}.{int((created - second) * 1000):03d}Z",
            "level": level,
            "process": self.process_name,
            "logger": logger,
            "msg": msg,
        }
        current = request_id.get()
        if current:
            line["request_id"] = current
        line |= fields
        return orjson.dumps(line, default=str).decode()


class BatchingHandler(logging.StreamHandler[IO[str]]):
    """Writes lines in batches, one write for many: at most `interval` s after they happen,
    at once for WARNING and above, and at exit. Under load a write and flush per line cost
    more than the rest of the line; a kill -9 can lose the last `interval` s of INFO lines."""

    def __init__(self, stream: IO[str], interval: float = 0.5, most: int = 500):
        super().__init__(stream)
        self.interval = interval
        self.most = most
        self.pending: list[str] = []
        self.dropped = 0  # lines that could not be written
        ticker = threading.Thread(target=self._tick, name="log-flusher", daemon=True)
        ticker.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.add(line, record.levelno)

    def add(self, line: str, level: int) -> None:
        """Take a formatted line (the caller holds self.lock)."""
        self.pending.append(line)
        if level >= logging.WARNING or len(self.pending) >= self.most:
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            lines, self.pending = self.pending, []
            try:
                if lines:
                    self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except OSError:
                # A full disk or a file-size limit: the lines are lost, but the code that
                # logged must carry on (a log call that raises would end a process's loop).
                self.dropped += len(lines)

    def _tick(self) -> None:
        while True:
            time.sleep(self.interval)  # the flush cadence of a background thread
            if self.pending:
                self.flush()


_installed: BatchingHandler | None = None  # the handler setup() gave the root logger


def fields_line(logger: logging.Logger, level: int, msg: str, fields: Fields) -> None:
    """`logger.log(level, msg, extra=fields)`, cheaper: when the line can reach only the
    handler setup() installed (no other handler or filter on its way), it is formatted
    straight into that handler's batch. A LogRecord, its handlers' and filters' calls cost
    four times the line itself, once per lead. Otherwise (tests capturing logs, say) it is
    logged the usual way. `msg` is the whole message; `fields` hold no personal data."""
    if not logger.isEnabledFor(level):
        return
    handler = _only_handler(logger)
    if handler is None or level < handler.level or handler.filters:
        logger.log(level, msg, extra=fields)
        return
    formatter = cast(JsonFormatter, handler.formatter)
    line = formatter.line(time.time(), logging.getLevelName(level), logger.name, msg, fields)
    with handler.lock:  # type: ignore[union-attr]
        handler.add(line, level)


def _only_handler(logger: logging.Logger) -> BatchingHandler | None:
    """setup()'s handler if it is the only one a record of `logger` reaches, unfiltered."""
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        if current.handlers:
            if current.handlers == [_installed] and current.parent is None:
                return _installed
            return None
        current = current.parent if current.propagate else None
    return None


class MalformedRequests(logging.Filter):
    """aiohttp logs a request it cannot parse ("Error handling request") with the raw bytes
    in the message: a webhook's ?token=, a phone number. Keep only what went wrong, and at
    most `most` such lines a minute (a slow-loris or a scanner could write a megabyte a
    second); the rest are counted in the next line that is let through."""

    def __init__(self, most: int = 30, per: float = 60.0):
        super().__init__()
        self.most, self.per = most, per
        self.window_start, self.in_window, self.dropped = 0.0, 0, 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self.window_start > self.per:
            self.window_start, self.in_window = now, 0
        self.in_window += 1
        if self.in_window > self.most:
            self.dropped += 1
            return False
        error = record.exc_info[1] if record.exc_info else None
        what = type(error).__name__ if error is not None else "unknown error"
        record.msg = "malformed or broken request refused: %s (%d similar lines dropped)"
        record.args = (what, self.dropped)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        self.dropped = 0
        return True


def setup(process_name: str, level: str = "INFO", stream: IO[str] | None = None) -> None:
    # The lines carry none of the caller's file, line, function, thread or process: the
    # logging module's documented switches spare every record looking them up (a stack
    # walk for the caller, on each lead's line).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    global _installed
    handler = BatchingHandler(stream or sys.stderr)
    formatter = JsonFormatter(process_name)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    _installed = handler
    root.setLevel(level)
    logging.getLogger("aiohttp.server").addFilter(MalformedRequests())
