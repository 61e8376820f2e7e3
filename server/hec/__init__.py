"""auditstream.server.hec: a Splunk HTTP Event Collector stand-in that behaves as Splunk does,
faults included.

The public API for tests and demos::

    from auditstream.server.hec import HecConfig, HecToken, running_hec

    async with running_hec(HecConfig(tokens=(HecToken("tok", ack=True),))) as hec:
        hec.url, hec.headers(channel=...)        # where and how to send
        hec.faults.busy(next=3)                  # script what goes wrong
        await hec.received.wait_for(10)          # what arrived, and how often
        hec.received.duplicates()

Over HTTP, the same under ``/_stand-in/`` (see ``auditstream.server.hec.admin``); from the shell,
``auditstream serve hec``.
"""

from auditstream.server.hec.acks import AckLedger
from auditstream.server.hec.auth import CHANNEL_HEADER, AuthForm
from auditstream.server.hec.config import DEFAULT_TOKEN, HecConfig, HecToken
from auditstream.server.hec.control import Faults
from auditstream.server.hec.errors import (
    FaultSpecError,
    HecConfigError,
    HecRefusal,
    HecStandInError,
)
from auditstream.server.hec.faults import Endpoint, Fault, FaultKind, ScheduledFault
from auditstream.server.hec.records import Received, ReceivedEnvelope, RequestRecord, event_key
from auditstream.server.hec.service import RunningHec, running_hec, start_hec

__all__ = [
    "CHANNEL_HEADER",
    "DEFAULT_TOKEN",
    "AckLedger",
    "AuthForm",
    "Endpoint",
    "Fault",
    "FaultKind",
    "FaultSpecError",
    "Faults",
    "HecConfig",
    "HecConfigError",
    "HecRefusal",
    "HecStandInError",
    "HecToken",
    "Received",
    "ReceivedEnvelope",
    "RequestRecord",
    "RunningHec",
    "ScheduledFault",
    "event_key",
    "running_hec",
    "start_hec",
]
