"""Every GraphQL operation the tests send, as named documents.

``test_gitlab_schema`` validates each against the stand-in's SDL, so a test can only
exercise the stand-in with operations GitLab's schema accepts. Malformed values are sent as
variables, never as literals, so the documents themselves stay valid.
"""

from __future__ import annotations

DESTINATION_FIELDS = """
fragment DestinationFields on ExternalAuditEventDestination {
  id name destinationUrl verificationToken eventTypeFilters active
  group { id fullPath }
  headers { nodes { id key value active } }
  namespaceFilter { id namespace { id fullPath } externalAuditEventDestination { id } }
}
"""

INSTANCE_FIELDS = """
fragment InstanceFields on InstanceExternalAuditEventDestination {
  id name destinationUrl verificationToken eventTypeFilters active
  headers { nodes { id key value active } }
}
"""

STREAMING_FIELDS = """
fragment StreamingFields on GroupAuditEventStreamingDestination {
  id name category config secretToken active eventTypeFilters
  group { fullPath }
  namespaceFilters { id namespace { fullPath } externalStreamingDestination { id } }
}
"""

CURRENT_USER = "query CurrentUser { currentUser { id username name } }"

GROUP = """
query Group($fullPath: ID!) {
  group(fullPath: $fullPath) { id fullPath name path parent { fullPath } }
}
"""

GROUP_DESTINATIONS = DESTINATION_FIELDS + """
query GroupDestinations($fullPath: ID!, $first: Int, $after: String, $last: Int,
                        $before: String) {
  group(fullPath: $fullPath) {
    externalAuditEventDestinations(first: $first, after: $after, last: $last,
                                   before: $before) {
      nodes { ...DestinationFields }
      edges { cursor node { id } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""

INSTANCE_DESTINATIONS = INSTANCE_FIELDS + """
query InstanceDestinations {
  instanceExternalAuditEventDestinations { nodes { ...InstanceFields } }
}
"""

CREATE = DESTINATION_FIELDS + """
mutation Create($input: ExternalAuditEventDestinationCreateInput!) {
  externalAuditEventDestinationCreate(input: $input) {
    clientMutationId errors externalAuditEventDestination { ...DestinationFields }
  }
}
"""

UPDATE = DESTINATION_FIELDS + """
mutation Update($input: ExternalAuditEventDestinationUpdateInput!) {
  externalAuditEventDestinationUpdate(input: $input) {
    errors externalAuditEventDestination { ...DestinationFields }
  }
}
"""

DESTROY = """
mutation Destroy($input: ExternalAuditEventDestinationDestroyInput!) {
  externalAuditEventDestinationDestroy(input: $input) { clientMutationId errors }
}
"""

HEADER_CREATE = """
mutation HeaderCreate($input: AuditEventsStreamingHeadersCreateInput!) {
  auditEventsStreamingHeadersCreate(input: $input) { errors header { id key value active } }
}
"""

HEADER_UPDATE = """
mutation HeaderUpdate($input: AuditEventsStreamingHeadersUpdateInput!) {
  auditEventsStreamingHeadersUpdate(input: $input) { errors header { id key value active } }
}
"""

HEADER_DESTROY = """
mutation HeaderDestroy($input: AuditEventsStreamingHeadersDestroyInput!) {
  auditEventsStreamingHeadersDestroy(input: $input) { errors }
}
"""

EVENTS_ADD = """
mutation EventsAdd($input: AuditEventsStreamingDestinationEventsAddInput!) {
  auditEventsStreamingDestinationEventsAdd(input: $input) { errors eventTypeFilters }
}
"""

EVENTS_REMOVE = """
mutation EventsRemove($input: AuditEventsStreamingDestinationEventsRemoveInput!) {
  auditEventsStreamingDestinationEventsRemove(input: $input) { errors }
}
"""

NAMESPACE_FILTER_ADD = """
mutation NamespaceFilterAdd($input: AuditEventsStreamingHTTPNamespaceFiltersAddInput!) {
  auditEventsStreamingHttpNamespaceFiltersAdd(input: $input) {
    errors namespaceFilter { id namespace { id fullPath } }
  }
}
"""

NAMESPACE_FILTER_DELETE = """
mutation NamespaceFilterDelete($input: AuditEventsStreamingHTTPNamespaceFiltersDeleteInput!) {
  auditEventsStreamingHttpNamespaceFiltersDelete(input: $input) { errors }
}
"""

INSTANCE_CREATE = INSTANCE_FIELDS + """
mutation InstanceCreate($input: InstanceExternalAuditEventDestinationCreateInput!) {
  instanceExternalAuditEventDestinationCreate(input: $input) {
    errors instanceExternalAuditEventDestination { ...InstanceFields }
  }
}
"""

INSTANCE_UPDATE = INSTANCE_FIELDS + """
mutation InstanceUpdate($input: InstanceExternalAuditEventDestinationUpdateInput!) {
  instanceExternalAuditEventDestinationUpdate(input: $input) {
    errors instanceExternalAuditEventDestination { ...InstanceFields }
  }
}
"""

INSTANCE_DESTROY = """
mutation InstanceDestroy($input: InstanceExternalAuditEventDestinationDestroyInput!) {
  instanceExternalAuditEventDestinationDestroy(input: $input) { errors }
}
"""

INSTANCE_HEADER_CREATE = """
mutation InstanceHeaderCreate($input: AuditEventsStreamingInstanceHeadersCreateInput!) {
  auditEventsStreamingInstanceHeadersCreate(input: $input) {
    errors header { id key value active }
  }
}
"""

INSTANCE_HEADER_UPDATE = """
mutation InstanceHeaderUpdate($input: AuditEventsStreamingInstanceHeadersUpdateInput!) {
  auditEventsStreamingInstanceHeadersUpdate(input: $input) {
    errors header { id key value active }
  }
}
"""

INSTANCE_HEADER_DESTROY = """
mutation InstanceHeaderDestroy($input: AuditEventsStreamingInstanceHeadersDestroyInput!) {
  auditEventsStreamingInstanceHeadersDestroy(input: $input) { errors }
}
"""

INSTANCE_EVENTS_ADD = """
mutation InstanceEventsAdd($input: AuditEventsStreamingDestinationInstanceEventsAddInput!) {
  auditEventsStreamingDestinationInstanceEventsAdd(input: $input) { errors eventTypeFilters }
}
"""

INSTANCE_EVENTS_REMOVE = """
mutation InstanceEventsRemove(
  $input: AuditEventsStreamingDestinationInstanceEventsRemoveInput!
) {
  auditEventsStreamingDestinationInstanceEventsRemove(input: $input) { errors }
}
"""

STREAMING_DESTINATIONS = STREAMING_FIELDS + """
query StreamingDestinations($fullPath: ID!) {
  group(fullPath: $fullPath) {
    externalAuditEventStreamingDestinations { nodes { ...StreamingFields } }
  }
}
"""

STREAMING_CREATE = STREAMING_FIELDS + """
mutation StreamingCreate($input: GroupAuditEventStreamingDestinationsCreateInput!) {
  groupAuditEventStreamingDestinationsCreate(input: $input) {
    errors externalAuditEventDestination { ...StreamingFields }
  }
}
"""

STREAMING_UPDATE = STREAMING_FIELDS + """
mutation StreamingUpdate($input: GroupAuditEventStreamingDestinationsUpdateInput!) {
  groupAuditEventStreamingDestinationsUpdate(input: $input) {
    errors externalAuditEventDestination { ...StreamingFields }
  }
}
"""

STREAMING_DELETE = """
mutation StreamingDelete($input: GroupAuditEventStreamingDestinationsDeleteInput!) {
  groupAuditEventStreamingDestinationsDelete(input: $input) { errors }
}
"""

STREAMING_EVENTS_ADD = """
mutation StreamingEventsAdd($input: AuditEventsGroupDestinationEventsAddInput!) {
  auditEventsGroupDestinationEventsAdd(input: $input) { errors eventTypeFilters }
}
"""

STREAMING_EVENTS_DELETE = """
mutation StreamingEventsDelete($input: AuditEventsGroupDestinationEventsDeleteInput!) {
  auditEventsGroupDestinationEventsDelete(input: $input) { errors }
}
"""

STREAMING_NAMESPACE_FILTER_CREATE = """
mutation StreamingNamespaceFilterCreate(
  $input: AuditEventsGroupDestinationNamespaceFilterCreateInput!
) {
  auditEventsGroupDestinationNamespaceFilterCreate(input: $input) {
    errors namespaceFilter { id namespace { fullPath } }
  }
}
"""

STREAMING_NAMESPACE_FILTER_DELETE = """
mutation StreamingNamespaceFilterDelete(
  $input: AuditEventsGroupDestinationNamespaceFilterDeleteInput!
) {
  auditEventsGroupDestinationNamespaceFilterDelete(input: $input) { errors }
}
"""

INSTANCE_STREAMING_DESTINATIONS = """
query InstanceStreamingDestinations {
  auditEventsInstanceStreamingDestinations {
    nodes { id name category config secretToken active eventTypeFilters }
  }
}
"""

INSTANCE_STREAMING_CREATE = """
mutation InstanceStreamingCreate($input: InstanceAuditEventStreamingDestinationsCreateInput!) {
  instanceAuditEventStreamingDestinationsCreate(input: $input) {
    errors externalAuditEventDestination { id name category config secretToken }
  }
}
"""

INSTANCE_STREAMING_UPDATE = """
mutation InstanceStreamingUpdate($input: InstanceAuditEventStreamingDestinationsUpdateInput!) {
  instanceAuditEventStreamingDestinationsUpdate(input: $input) {
    errors externalAuditEventDestination { id name config active }
  }
}
"""

INSTANCE_STREAMING_DELETE = """
mutation InstanceStreamingDelete($input: InstanceAuditEventStreamingDestinationsDeleteInput!) {
  instanceAuditEventStreamingDestinationsDelete(input: $input) { errors }
}
"""

INSTANCE_STREAMING_EVENTS_ADD = """
mutation InstanceStreamingEventsAdd($input: AuditEventsInstanceDestinationEventsAddInput!) {
  auditEventsInstanceDestinationEventsAdd(input: $input) { errors eventTypeFilters }
}
"""

INSTANCE_STREAMING_EVENTS_DELETE = """
mutation InstanceStreamingEventsDelete(
  $input: AuditEventsInstanceDestinationEventsDeleteInput!
) {
  auditEventsInstanceDestinationEventsDelete(input: $input) { errors }
}
"""

# Every operation above: what the schema test validates.
OPERATIONS = {name: value for name, value in dict(globals()).items()
              if name.isupper() and isinstance(value, str) and name != "OPERATIONS"
              and not name.endswith("_FIELDS")}
