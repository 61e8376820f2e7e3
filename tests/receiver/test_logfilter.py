"""aiohttp's records about malformed HTTP become one line at most WARNING, without a traceback."""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from auditstream.receiver.logfilter import MalformedHttpFilter


def record_of(level: int, error: BaseException) -> logging.LogRecord:
    return logging.LogRecord("aiohttp.server", level, __file__, 1,
                             "Error handling request from %s", ("127.0.0.1",),
                             (type(error), error, None))


def test_an_error_record_for_a_parser_refusal_becomes_a_warning_without_traceback() -> None:
    record = record_of(logging.ERROR, LineTooLong(b"x" * 9000, "8190"))
    assert MalformedHttpFilter().filter(record)
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert record.getMessage().startswith("malformed HTTP request refused: 400 ")
    assert "\n" not in record.getMessage()


def test_a_debug_record_stays_at_debug_and_other_errors_are_left_alone() -> None:
    debug = record_of(logging.DEBUG, BadHttpMessage("not HTTP\r\nGET /x"))
    MalformedHttpFilter().filter(debug)
    assert debug.levelno == logging.DEBUG
    assert "\n" not in debug.getMessage()
    other = record_of(logging.ERROR, RuntimeError("a bug"))
    MalformedHttpFilter().filter(other)
    assert other.levelno == logging.ERROR
    assert other.exc_info is not None
