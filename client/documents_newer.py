"""Operations newer than GitLab 16.3, written to GitLab's documentation (see the reference):
the legacy namespace filter (16.7+) and the consolidated streaming API (16.11+, the only one
left in GitLab 20.0). They cannot validate against the 16.3 schema file; the tests validate
them against the stand-in's SDL, which follows the same documentation."""

from __future__ import annotations

API_PROBE = """
query StreamingApiProbe {
  group: __type(name: "Group") { fields { name } }
}
"""

# The legacy destinations' namespace filters (16.7+), read beside GROUP_DESTINATIONS (which
# must stay valid on 16.3) and joined to them by id.
GROUP_NAMESPACE_FILTER = """
query GroupDestinationNamespaceFilter($fullPath: ID!, $first: Int, $after: String) {
  group(fullPath: $fullPath) {
    externalAuditEventDestinations(first: $first, after: $after) {
      nodes { id namespaceFilter { id namespace { fullPath } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

ADD_NAMESPACE_FILTER = """
mutation AddNamespaceFilter($input: AuditEventsStreamingHTTPNamespaceFiltersAddInput!) {
  auditEventsStreamingHttpNamespaceFiltersAdd(input: $input) {
    errors
    namespaceFilter { id namespace { fullPath } }
  }
}
"""

DELETE_NAMESPACE_FILTER = """
mutation DeleteNamespaceFilter($input: AuditEventsStreamingHTTPNamespaceFiltersDeleteInput!) {
  auditEventsStreamingHttpNamespaceFiltersDelete(input: $input) { errors }
}
"""

_GROUP_FIELDS = """
fragment GroupStreamingDestinationFields on GroupAuditEventStreamingDestination {
  id name category config secretToken active eventTypeFilters
  namespaceFilters { id namespace { fullPath } }
}
"""

_INSTANCE_FIELDS = """
fragment InstanceStreamingDestinationFields on InstanceAuditEventStreamingDestination {
  id name category config secretToken active eventTypeFilters
}
"""

GROUP_STREAMING_DESTINATIONS = _GROUP_FIELDS + """
query GroupStreamingDestinations($fullPath: ID!, $first: Int, $after: String) {
  group(fullPath: $fullPath) {
    fullPath
    externalAuditEventStreamingDestinations(first: $first, after: $after) {
      nodes { ...GroupStreamingDestinationFields }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

INSTANCE_STREAMING_DESTINATIONS = _INSTANCE_FIELDS + """
query InstanceStreamingDestinations($first: Int, $after: String) {
  auditEventsInstanceStreamingDestinations(first: $first, after: $after) {
    nodes { ...InstanceStreamingDestinationFields }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CREATE_GROUP_STREAMING = _GROUP_FIELDS + """
mutation CreateGroupStreamingDestination($input: GroupAuditEventStreamingDestinationsCreateInput!) {
  groupAuditEventStreamingDestinationsCreate(input: $input) {
    errors
    externalAuditEventDestination { ...GroupStreamingDestinationFields }
  }
}
"""

UPDATE_GROUP_STREAMING = _GROUP_FIELDS + """
mutation UpdateGroupStreamingDestination($input: GroupAuditEventStreamingDestinationsUpdateInput!) {
  groupAuditEventStreamingDestinationsUpdate(input: $input) {
    errors
    externalAuditEventDestination { ...GroupStreamingDestinationFields }
  }
}
"""

DELETE_GROUP_STREAMING = """
mutation DeleteGroupStreamingDestination($input: GroupAuditEventStreamingDestinationsDeleteInput!) {
  groupAuditEventStreamingDestinationsDelete(input: $input) { errors }
}
"""

CREATE_INSTANCE_STREAMING = _INSTANCE_FIELDS + """
mutation CreateInstanceStreamingDestination(
  $input: InstanceAuditEventStreamingDestinationsCreateInput!
) {
  instanceAuditEventStreamingDestinationsCreate(input: $input) {
    errors
    externalAuditEventDestination { ...InstanceStreamingDestinationFields }
  }
}
"""

UPDATE_INSTANCE_STREAMING = _INSTANCE_FIELDS + """
mutation UpdateInstanceStreamingDestination(
  $input: InstanceAuditEventStreamingDestinationsUpdateInput!
) {
  instanceAuditEventStreamingDestinationsUpdate(input: $input) {
    errors
    externalAuditEventDestination { ...InstanceStreamingDestinationFields }
  }
}
"""

DELETE_INSTANCE_STREAMING = """
mutation DeleteInstanceStreamingDestination(
  $input: InstanceAuditEventStreamingDestinationsDeleteInput!
) {
  instanceAuditEventStreamingDestinationsDelete(input: $input) { errors }
}
"""

ADD_GROUP_STREAMING_EVENTS = """
mutation AddGroupStreamingEventTypes($input: AuditEventsGroupDestinationEventsAddInput!) {
  auditEventsGroupDestinationEventsAdd(input: $input) { errors eventTypeFilters }
}
"""

DELETE_GROUP_STREAMING_EVENTS = """
mutation DeleteGroupStreamingEventTypes($input: AuditEventsGroupDestinationEventsDeleteInput!) {
  auditEventsGroupDestinationEventsDelete(input: $input) { errors }
}
"""

ADD_INSTANCE_STREAMING_EVENTS = """
mutation AddInstanceStreamingEventTypes($input: AuditEventsInstanceDestinationEventsAddInput!) {
  auditEventsInstanceDestinationEventsAdd(input: $input) { errors eventTypeFilters }
}
"""

DELETE_INSTANCE_STREAMING_EVENTS = """
mutation DeleteInstanceStreamingEventTypes(
  $input: AuditEventsInstanceDestinationEventsDeleteInput!
) {
  auditEventsInstanceDestinationEventsDelete(input: $input) { errors }
}
"""

CREATE_GROUP_STREAMING_NAMESPACE_FILTER = """
mutation CreateGroupStreamingNamespaceFilter(
  $input: AuditEventsGroupDestinationNamespaceFilterCreateInput!
) {
  auditEventsGroupDestinationNamespaceFilterCreate(input: $input) {
    errors
    namespaceFilter { id namespace { fullPath } }
  }
}
"""

DELETE_GROUP_STREAMING_NAMESPACE_FILTER = """
mutation DeleteGroupStreamingNamespaceFilter(
  $input: AuditEventsGroupDestinationNamespaceFilterDeleteInput!
) {
  auditEventsGroupDestinationNamespaceFilterDelete(input: $input) { errors }
}
"""

NEWER_OPERATIONS = {
    name: document for name, document in globals().items()
    if name.isupper() and not name.startswith("_") and isinstance(document, str)
    and name != "API_PROBE"
}
