"""Errors of the HEC stand-in.

    HecStandInError              base
    ├── HecConfigError           the stand-in's configuration is wrong (names the setting);
    │                            retrying cannot help until it is fixed
    ├── FaultSpecError           a scripted fault is described wrongly (names the field);
    │                            retrying cannot help
    └── HecRefusal               an answer Splunk would give instead of accepting: an HTTP
        │                        status, a JSON ``{"text", "code"}`` and, for a bad envelope,
        │                        ``invalid-event-number``. Whether retrying helps is the code's
        │                        meaning (9 busy: yes; 4 invalid token: no)
        └── ContentTooLarge      413: the body on the wire is over ``max_content_length``
                                 (Splunk gives no HEC code for it)
"""

from __future__ import annotations

from auditstream.server.hec.codes import status_and_text


class HecStandInError(Exception):
    """Base of the stand-in's errors."""


class HecConfigError(HecStandInError):
    """The stand-in's configuration is wrong; the message names the setting."""


class FaultSpecError(HecStandInError):
    """A scripted fault is described wrongly; the message names the field."""


class HecRefusal(HecStandInError):
    """A refused request, as Splunk words it: ``status``, ``code``, ``text``.

    ``invalid_event_number`` is the zero-based position of the first bad envelope when
    the envelopes before it were accepted (partial acceptance).
    """

    def __init__(self, code: int | None, *, invalid_event_number: int | None = None,
                 status: int | None = None, text: str | None = None) -> None:
        known_status, known_text = status_and_text(code) if code is not None else (500, "")
        self.code = code
        self.status = status if status is not None else known_status
        self.text = text if text is not None else known_text
        self.invalid_event_number = invalid_event_number
        super().__init__(f"{self.status} code {code}: {self.text}")

    def body(self) -> dict[str, object]:
        """The JSON answer Splunk sends for this refusal."""
        answer: dict[str, object] = {"text": self.text}
        if self.code is not None:
            answer["code"] = self.code
        if self.invalid_event_number is not None:
            answer["invalid-event-number"] = self.invalid_event_number
        return answer


class ContentTooLarge(HecRefusal):
    """The body on the wire is over ``max_content_length``: HTTP 413, no HEC code."""

    def __init__(self, limit: int) -> None:
        super().__init__(None, status=413,
                         text=f"Content too large: over max_content_length of {limit} bytes")
