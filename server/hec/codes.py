"""Splunk HEC's answer codes: each with its HTTP status and Splunk's own text. Pure data.

The table is `reference/splunk-hec.md`'s; clients match on ``code`` (and some on ``text``),
so both are kept word for word.
"""

from __future__ import annotations

SUCCESS = 0
TOKEN_DISABLED = 1
TOKEN_REQUIRED = 2
INVALID_AUTHORIZATION = 3
INVALID_TOKEN = 4
NO_DATA = 5
INVALID_DATA_FORMAT = 6
INCORRECT_INDEX = 7
INTERNAL_SERVER_ERROR = 8
SERVER_BUSY = 9
CHANNEL_MISSING = 10
INVALID_CHANNEL = 11
EVENT_REQUIRED = 12
EVENT_BLANK = 13
ACK_DISABLED = 14
INDEXED_FIELDS = 15
QUERY_AUTH_DISABLED = 16
HEALTHY = 17
UNHEALTHY_QUEUES_FULL = 18
UNHEALTHY_ACK_UNAVAILABLE = 19
UNHEALTHY_BOTH = 20

CODES: dict[int, tuple[int, str]] = {
    SUCCESS: (200, "Success"),
    TOKEN_DISABLED: (403, "Token disabled"),
    TOKEN_REQUIRED: (401, "Token is required"),
    INVALID_AUTHORIZATION: (401, "Invalid authorization"),
    INVALID_TOKEN: (403, "Invalid token"),
    NO_DATA: (400, "No data"),
    INVALID_DATA_FORMAT: (400, "Invalid data format"),
    INCORRECT_INDEX: (400, "Incorrect index"),
    INTERNAL_SERVER_ERROR: (500, "Internal server error"),
    SERVER_BUSY: (503, "Server is busy"),
    CHANNEL_MISSING: (400, "Data channel is missing"),
    INVALID_CHANNEL: (400, "Invalid data channel"),
    EVENT_REQUIRED: (400, "Event field is required"),
    EVENT_BLANK: (400, "Event field cannot be blank"),
    ACK_DISABLED: (400, "ACK is disabled"),
    INDEXED_FIELDS: (400, "Error in handling indexed fields"),
    QUERY_AUTH_DISABLED: (400, "Query string authorization is not enabled"),
    HEALTHY: (200, "HEC is healthy"),
    UNHEALTHY_QUEUES_FULL: (503, "HEC is unhealthy, queues are full"),
    UNHEALTHY_ACK_UNAVAILABLE: (503, "HEC is unhealthy, ack service unavailable"),
    UNHEALTHY_BOTH: (503, "HEC is unhealthy, queues are full, ack service unavailable"),
}

# The codes a single envelope can fail with (and so a scripted bad event may use).
ENVELOPE_CODES = frozenset({INVALID_DATA_FORMAT, INCORRECT_INDEX, EVENT_REQUIRED, EVENT_BLANK,
                            INDEXED_FIELDS})
UNHEALTHY_CODES = frozenset({UNHEALTHY_QUEUES_FULL, UNHEALTHY_ACK_UNAVAILABLE, UNHEALTHY_BOTH})


def status_and_text(code: int) -> tuple[int, str]:
    """The HTTP status and Splunk's text for ``code`` (KeyError for a code Splunk lacks)."""
    return CODES[code]


def answer(code: int, **extra: object) -> dict[str, object]:
    """The JSON body Splunk sends with ``code``, plus extra keys (``ackId``, ...)."""
    return {"text": CODES[code][1], "code": code, **extra}
