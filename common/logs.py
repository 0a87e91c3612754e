"""Structured (JSON-lines) logging with the request id of the current request."""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
import time
from typing import IO, NamedTuple, cast

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

Fields = dict[str, object]
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class Unformatted(NamedTuple):
    """A line fields_line() took, formatted when its batch is written (off the event loop)."""

    created: float
    level: int
    logger: str
    msg: str
    fields: Fields
    request_id: str | None


class JsonFormatter(logging.Formatter):
    def __init__(self, process_name: str):
        super().__init__()
        self.process_name = process_name
        self._stamped = (-1, "")  # one attribute: formatted from more than one thread

    def format(self, record: logging.LogRecord) -> str:
        # Values passed with extra={…}: callers pass masked personal data only.
        fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return self.line(
            Unformatted(
                record.created,
                record.levelno,
                record.name,
                record.getMessage(),
                fields,
                request_id.get(),
            )
        )

    def line(self, taken: Unformatted) -> str:
        """The JSON line: time, level, process, logger, message, request id, then fields."""
        second = int(taken.created)
        stamped = self._stamped
        if second != stamped[0]:  # strftime once a second, not once a line
            stamped = self._stamped = (
                second,
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)),
            )
        line: Fields = {
            "ts": f"{stamped[1]}.{int((taken.created - second) * 1000):03d}Z",
            "level": logging.getLevelName(taken.level),
            "process": self.process_name,
            "logger": taken.logger,
            "msg": taken.msg,
        }
        if taken.request_id:
            line["request_id"] = taken.request_id
        line |= taken.fields
        return orjson.dumps(line, default=str).decode()


class BatchingHandler(logging.StreamHandler[IO[str]]):
    """Writes lines in batches, one write for many: at most `interval` s after they happen
    (sooner when `most` are waiting), at once for WARNING and above, and at exit. Under load
    a write and flush per line cost more than the rest of the line; a kill -9 can lose the
    last `interval` s of INFO lines. Lines fields_line() takes are formatted when written,
    by the flushing thread unless they pile up (`most` x BACKLOG) or a warning comes."""

    BACKLOG = 4

    def __init__(self, stream: IO[str], interval: float = 0.5, most: int = 500):
        super().__init__(stream)
        self.interval = interval
        self.most = most
        self.pending: list[str | Unformatted] = []
        self.dropped = 0  # lines that could not be written
        self.due = threading.Event()  # `most` lines wait: the flusher writes them now
        ticker = threading.Thread(target=self._tick, name="log-flusher", daemon=True)
        ticker.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.add(line, record.levelno)

    def add(self, line: str | Unformatted, level: int) -> None:
        """Take a line (the caller holds self.lock)."""
        self.pending.append(line)
        waiting = len(self.pending)
        if level >= logging.WARNING or waiting >= self.most * self.BACKLOG:
            self.flush()
        elif waiting >= self.most and not self.due.is_set():
            self.due.set()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            lines, self.pending = self.pending, []
            try:
                if lines:
                    self.stream.write("\n".join(map(self._text, lines)) + "\n")
                self.stream.flush()
            except OSError:
                # A full disk or a file-size limit: the lines are lost, but the code that
                # logged must carry on (a log call that raises would end a process's loop).
                self.dropped += len(lines)

    def _text(self, line: str | Unformatted) -> str:
        if isinstance(line, str):
            return line
        formatter = cast(JsonFormatter, self.formatter)
        try:
            return formatter.line(line)
        except TypeError:  # a value orjson cannot write (an int past 64 bits): the line stays
            return formatter.line(
                line._replace(fields={"error": "its fields could not be written"})
            )

    def _tick(self) -> None:
        while True:
            self.due.wait(self.interval)  # the flush cadence of a background thread
            self.due.clear()
            if self.pending:
                self.flush()


_installed: BatchingHandler | None = None  # the handler setup() gave the root logger


def fields_line(logger: logging.Logger, level: int, msg: str, fields: Fields) -> None:
    """`logger.log(level, msg, extra=fields)`, cheaper: when the line can reach only the
    handler setup() installed (no other handler or filter on its way), it is handed straight
    to that handler's batch and formatted when the batch is written, by its thread. A
    LogRecord, its handlers' and filters' calls and the formatting cost several times that,
    once per lead, on the event loop. Otherwise (tests capturing logs, say) it is logged
    the usual way. `msg` is the whole message; `fields` hold no personal data and are not
    changed afterwards."""
    if not logger.isEnabledFor(level):
        return
    handler = _only_handler(logger)
    if handler is None or level < handler.level or handler.filters:
        logger.log(level, msg, extra=fields)
        return
    line = Unformatted(time.time(), level, logger.name, msg, fields, request_id.get())
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
