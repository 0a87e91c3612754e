"""The JSON log lines: a line written without a LogRecord reads as one written with it."""

import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import orjson

from common import logs

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FIELDS = {"lead_id": "L1", "phone": "+7*******67", "attempt": 2}


@contextmanager
def process_logging() -> Iterator[io.StringIO]:
    """logs.setup() as a process does it, writing to a buffer; pytest's own handlers and
    the logging module's switches are put back afterwards."""
    root, aiohttp_server = logging.getLogger(), logging.getLogger("aiohttp.server")
    saved = (root.handlers[:], root.level, aiohttp_server.filters[:])
    switches = (logging._srcfile, logging.logThreads, logging.logProcesses)
    stream = io.StringIO()
    logs.setup("test", "INFO", stream)
    try:
        yield stream
    finally:
        root.handlers[:], aiohttp_server.filters[:] = saved[0], saved[2]
        root.setLevel(saved[1])
        logging._srcfile, logging.logThreads, logging.logProcesses = switches


def written(stream: io.StringIO) -> list[dict[str, object]]:
    logging.getLogger().handlers[0].flush()
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    for line in lines:
        assert STAMP.match(str(line.pop("ts")))
    return lines


def test_a_line_without_a_record_reads_as_one_with_a_record():
    log = logging.getLogger("tests.unit.lines")
    token = logs.request_id.set("rid-1")
    try:
        with process_logging() as stream:
            logs.fields_line(log, logging.INFO, "lead accepted", FIELDS)
            log.info("lead accepted", extra=FIELDS)
            logs.fields_line(log, logging.DEBUG, "below the level", FIELDS)
            lines = written(stream)
    finally:
        logs.request_id.reset(token)
    shown = {"level": "INFO", "process": "test", "logger": "tests.unit.lines"}
    assert lines == 2 * [shown | {"msg": "lead accepted", "request_id": "rid-1"} | FIELDS]


def test_a_line_goes_through_logging_when_someone_else_listens(caplog):
    log = logging.getLogger("tests.unit.listened")
    with process_logging() as stream:
        logging.getLogger().addHandler(caplog.handler)  # a second handler on the way
        logs.fields_line(log, logging.WARNING, "repeat submission", FIELDS)
        lines = written(stream)
    [record] = [r for r in caplog.records if r.name == "tests.unit.listened"]
    assert (record.getMessage(), record.phone) == ("repeat submission", FIELDS["phone"])
    assert lines == [
        {"level": "WARNING", "process": "test", "logger": "tests.unit.listened"}
        | {"msg": "repeat submission"}
        | FIELDS
    ]


def test_a_filter_on_the_way_is_honoured():
    log = logging.getLogger("tests.unit.filtered")
    log.addFilter(lambda record: False)  # drops every line of this logger
    try:
        with process_logging() as stream:
            logs.fields_line(log, logging.INFO, "lead accepted", FIELDS)
            assert written(stream) == []
    finally:
        log.filters.clear()


def test_a_warning_writes_the_waiting_lines_at_once_in_order():
    log = logging.getLogger("tests.unit.ordered")
    with process_logging() as stream:
        logs.fields_line(log, logging.INFO, "lead accepted", FIELDS)
        logs.fields_line(log, logging.INFO, "too big", {"n": 2**70})  # orjson writes 64 bits
        log.warning("store slow", extra={"ms": 900})
        lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]  # no flush
    assert [(line["msg"], line.get("error")) for line in lines] == [
        ("lead accepted", None),
        ("too big", "its fields could not be written"),
        ("store slow", None),
    ]
    assert lines[2]["ms"] == 900 and lines[0]["phone"] == FIELDS["phone"]
