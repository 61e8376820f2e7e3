"""aiohttp's log lines about malformed HTTP, made into one warning line without a traceback.

aiohttp's server logs every request its parser refuses (a header line over 8 KiB, a
Content-Length beside Transfer-Encoding, a duplicate Content-Type) at ERROR, with a traceback.
A receiver reachable from a network sees such requests from every scanner, and the answer is
already right (400, connection closed); the traceback is noise that hides real errors.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

AIOHTTP_SERVER_LOGGER = "aiohttp.server"
_MAX_REASON_CHARS = 200


class MalformedHttpFilter(logging.Filter):
    """Turns aiohttp's "Error handling request" records for 4xx parser errors into warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError) and 400 <= error.code < 500:
            # repr(): the reason quotes the client's bytes, which must not start a log line
            reason = repr(str(error.message).strip()[:_MAX_REASON_CHARS])
            record.msg = f"malformed HTTP request refused: {error.code} {reason}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            if record.levelno > logging.WARNING:  # aiohttp logs some at DEBUG: left there
                record.levelno = logging.WARNING
                record.levelname = logging.getLevelName(logging.WARNING)
        return True


def quiet_malformed_http_logs() -> None:
    """Install the filter on aiohttp's server logger, once per process."""
    logger = logging.getLogger(AIOHTTP_SERVER_LOGGER)
    if not any(isinstance(f, MalformedHttpFilter) for f in logger.filters):
        logger.addFilter(MalformedHttpFilter())
