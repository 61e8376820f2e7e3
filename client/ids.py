"""GitLab global IDs (``gid://gitlab/Class/123``): built from numbers, read back to numbers."""

from __future__ import annotations

import re

GROUP_DESTINATION = "AuditEvents::ExternalAuditEventDestination"
INSTANCE_DESTINATION = "AuditEvents::InstanceExternalAuditEventDestination"
GROUP_HEADER = "AuditEvents::Streaming::Header"
INSTANCE_HEADER = "AuditEvents::Streaming::InstanceHeader"
GROUP_STREAMING_DESTINATION = "AuditEvents::Group::ExternalStreamingDestination"
INSTANCE_STREAMING_DESTINATION = "AuditEvents::Instance::ExternalStreamingDestination"
NAMESPACE_FILTER = "AuditEvents::Streaming::HTTP::NamespaceFilter"
DESTINATION_CLASSES = (GROUP_DESTINATION, INSTANCE_DESTINATION, GROUP_STREAMING_DESTINATION,
                       INSTANCE_STREAMING_DESTINATION)

_GID = re.compile(r"^gid://gitlab/(?P<cls>[A-Za-z:]+)/(?P<id>\d+)$")


class BadId(ValueError):
    """Neither a number nor a global ID of the expected kind."""


def to_gid(value: str | int, cls: str) -> str:
    """``12`` or ``gid://gitlab/<cls>/12`` as the global ID GitLab's input scalars take."""
    text = str(value).strip()
    if text.isdigit():
        return f"gid://gitlab/{cls}/{int(text)}"
    match = _GID.match(text)
    if match is None:
        raise BadId(f"{value!r} is not an id: give a number or gid://gitlab/{cls}/<number>")
    if match["cls"] != cls:
        raise BadId(f"{value!r} is a {match['cls']}, expected a {cls}")
    return text


def destination_number(gid: str) -> int:
    """The number of a destination's global ID, as GitLab answers it; ``BadId`` for anything
    else (what GitLab says is not trusted as a file name)."""
    match = _GID.match(gid)
    if match is None or match["cls"] not in DESTINATION_CLASSES:
        raise BadId(f"{gid[:100]!r} is not a streaming destination's global id "
                    "(gid://gitlab/<destination class>/<number>)")
    return int(match["id"])


def short_id(gid: str) -> str:
    """``gid://gitlab/X/12`` as ``12``, for tables; anything else as it is."""
    match = _GID.match(gid)
    return match["id"] if match else gid
