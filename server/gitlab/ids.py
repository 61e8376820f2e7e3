"""GitLab's global IDs (``gid://gitlab/<Model>/<id>``) and the models the stand-in names.

Output fields are typed ``ID!`` and carry the whole string; input scalars are specific
(``AuditEventsExternalAuditEventDestinationID``) and GitLab refuses a global ID of another
model or a string that is not one, with the messages below.
"""

from __future__ import annotations

import re

GROUP = "Group"
PROJECT = "Project"
PROJECT_NAMESPACE = "Namespaces::ProjectNamespace"
USER = "User"
GROUP_DESTINATION = "AuditEvents::ExternalAuditEventDestination"
INSTANCE_DESTINATION = "AuditEvents::InstanceExternalAuditEventDestination"
GROUP_HEADER = "AuditEvents::Streaming::Header"
INSTANCE_HEADER = "AuditEvents::Streaming::InstanceHeader"
NAMESPACE_FILTER = "AuditEvents::Streaming::HTTP::NamespaceFilter"
GROUP_STREAMING_DESTINATION = "AuditEvents::Group::ExternalStreamingDestination"
INSTANCE_STREAMING_DESTINATION = "AuditEvents::Instance::ExternalStreamingDestination"
GROUP_NAMESPACE_FILTER = "AuditEvents::Group::NamespaceFilter"

# Each input ID scalar of the schema and the model its IDs must name.
SCALAR_MODELS = {
    "AuditEventsExternalAuditEventDestinationID": GROUP_DESTINATION,
    "AuditEventsInstanceExternalAuditEventDestinationID": INSTANCE_DESTINATION,
    "AuditEventsStreamingHeaderID": GROUP_HEADER,
    "AuditEventsStreamingInstanceHeaderID": INSTANCE_HEADER,
    "AuditEventsStreamingHTTPNamespaceFilterID": NAMESPACE_FILTER,
    "AuditEventsGroupExternalStreamingDestinationID": GROUP_STREAMING_DESTINATION,
    "AuditEventsInstanceExternalStreamingDestinationID": INSTANCE_STREAMING_DESTINATION,
    "AuditEventsGroupNamespaceFilterID": GROUP_NAMESPACE_FILTER,
}

_GID = re.compile(r"^gid://gitlab/(?P<model>[A-Za-z][A-Za-z0-9:]*)/(?P<id>[0-9]+)$")


def gid(model: str, number: int) -> str:
    return f"gid://gitlab/{model}/{number}"


def parse_gid(value: object, model: str) -> int:
    """The number in a global ID of ``model``; ValueError in GitLab's words otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a valid Global ID")
    match = _GID.match(value)
    if match is None:
        raise ValueError(f'"{value}" is not a valid Global ID')
    if match["model"] != model:
        raise ValueError(f'"{value}" does not represent an instance of {model}')
    return int(match["id"])
