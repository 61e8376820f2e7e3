"""Errors of the receiver, each with the HTTP answer it becomes.

    ReceiverError                 a refused request; ``status`` and ``reason`` are the answer
    ├── Unauthorized      (401)   no token, or one no destination holds; never retry as is
    ├── Forbidden         (403)   the client's network is not on the allow-list; never retry
    ├── BadRequest        (400)   the body is not what GitLab sends; never retry as is
    ├── RequestTimeout    (408)   the body did not arrive in time (a stalled or hostile client)
    ├── PayloadTooLarge   (413)   the body, or its gzip-decoded form, is over the limit
    └── Unavailable       (503)   the journal cannot take writes now; retrying later can help
"""

from __future__ import annotations

from typing import ClassVar


class ReceiverError(Exception):
    """A refused request. ``str(error)`` is the reason sent back as JSON."""

    status: ClassVar[int] = 500
    outcome: ClassVar[str] = "error"

    @property
    def reason(self) -> str:
        return str(self)


class Unauthorized(ReceiverError):
    status = 401
    outcome = "unauthorized"


class Forbidden(ReceiverError):
    status = 403
    outcome = "forbidden"


class BadRequest(ReceiverError):
    status = 400
    outcome = "bad_request"


class RequestTimeout(ReceiverError):
    status = 408
    outcome = "timeout"


class PayloadTooLarge(ReceiverError):
    status = 413
    outcome = "too_large"


class Unavailable(ReceiverError):
    status = 503
    outcome = "unavailable"
