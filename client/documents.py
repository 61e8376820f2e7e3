"""The legacy streaming API's operations (GitLab 14.5+; removed in 20.0), as named documents.

Each validates against GitLab's 16.3 schema: ``.ci/run`` checks them with
``server.gitlab.check_schema --operations`` against the reference file. Fields newer than 16.3
are left out on purpose (they are in ``documents_newer``).
"""

from __future__ import annotations

GROUP_DESTINATION_FIELDS = """
fragment GroupDestinationFields on ExternalAuditEventDestination {
  id
  name
  destinationUrl
  verificationToken
  eventTypeFilters
  headers(first: 100) { nodes { id key value } }
}
"""

INSTANCE_DESTINATION_FIELDS = """
fragment InstanceDestinationFields on InstanceExternalAuditEventDestination {
  id
  name
  destinationUrl
  verificationToken
  eventTypeFilters
  headers(first: 100) { nodes { id key value } }
}
"""

GROUP_DESTINATIONS = GROUP_DESTINATION_FIELDS + """
query GroupDestinations($fullPath: ID!, $first: Int, $after: String) {
  group(fullPath: $fullPath) {
    fullPath
    externalAuditEventDestinations(first: $first, after: $after) {
      nodes { ...GroupDestinationFields }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

INSTANCE_DESTINATIONS = INSTANCE_DESTINATION_FIELDS + """
query InstanceDestinations($first: Int, $after: String) {
  instanceExternalAuditEventDestinations(first: $first, after: $after) {
    nodes { ...InstanceDestinationFields }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CREATE_GROUP_DESTINATION = GROUP_DESTINATION_FIELDS + """
mutation CreateGroupDestination($input: ExternalAuditEventDestinationCreateInput!) {
  externalAuditEventDestinationCreate(input: $input) {
    errors
    externalAuditEventDestination { ...GroupDestinationFields }
  }
}
"""

UPDATE_GROUP_DESTINATION = GROUP_DESTINATION_FIELDS + """
mutation UpdateGroupDestination($input: ExternalAuditEventDestinationUpdateInput!) {
  externalAuditEventDestinationUpdate(input: $input) {
    errors
    externalAuditEventDestination { ...GroupDestinationFields }
  }
}
"""

DESTROY_GROUP_DESTINATION = """
mutation DestroyGroupDestination($input: ExternalAuditEventDestinationDestroyInput!) {
  externalAuditEventDestinationDestroy(input: $input) { errors }
}
"""

CREATE_INSTANCE_DESTINATION = INSTANCE_DESTINATION_FIELDS + """
mutation CreateInstanceDestination($input: InstanceExternalAuditEventDestinationCreateInput!) {
  instanceExternalAuditEventDestinationCreate(input: $input) {
    errors
    instanceExternalAuditEventDestination { ...InstanceDestinationFields }
  }
}
"""

UPDATE_INSTANCE_DESTINATION = INSTANCE_DESTINATION_FIELDS + """
mutation UpdateInstanceDestination($input: InstanceExternalAuditEventDestinationUpdateInput!) {
  instanceExternalAuditEventDestinationUpdate(input: $input) {
    errors
    instanceExternalAuditEventDestination { ...InstanceDestinationFields }
  }
}
"""

DESTROY_INSTANCE_DESTINATION = """
mutation DestroyInstanceDestination($input: InstanceExternalAuditEventDestinationDestroyInput!) {
  instanceExternalAuditEventDestinationDestroy(input: $input) { errors }
}
"""

CREATE_GROUP_HEADER = """
mutation CreateGroupHeader($input: AuditEventsStreamingHeadersCreateInput!) {
  auditEventsStreamingHeadersCreate(input: $input) { errors header { id key value } }
}
"""

UPDATE_GROUP_HEADER = """
mutation UpdateGroupHeader($input: AuditEventsStreamingHeadersUpdateInput!) {
  auditEventsStreamingHeadersUpdate(input: $input) { errors header { id key value } }
}
"""

DESTROY_GROUP_HEADER = """
mutation DestroyGroupHeader($input: AuditEventsStreamingHeadersDestroyInput!) {
  auditEventsStreamingHeadersDestroy(input: $input) { errors }
}
"""

CREATE_INSTANCE_HEADER = """
mutation CreateInstanceHeader($input: AuditEventsStreamingInstanceHeadersCreateInput!) {
  auditEventsStreamingInstanceHeadersCreate(input: $input) { errors header { id key value } }
}
"""

UPDATE_INSTANCE_HEADER = """
mutation UpdateInstanceHeader($input: AuditEventsStreamingInstanceHeadersUpdateInput!) {
  auditEventsStreamingInstanceHeadersUpdate(input: $input) { errors header { id key value } }
}
"""

DESTROY_INSTANCE_HEADER = """
mutation DestroyInstanceHeader($input: AuditEventsStreamingInstanceHeadersDestroyInput!) {
  auditEventsStreamingInstanceHeadersDestroy(input: $input) { errors }
}
"""

ADD_GROUP_EVENT_TYPES = """
mutation AddGroupEventTypeFilters($input: AuditEventsStreamingDestinationEventsAddInput!) {
  auditEventsStreamingDestinationEventsAdd(input: $input) { errors eventTypeFilters }
}
"""

REMOVE_GROUP_EVENT_TYPES = """
mutation RemoveGroupEventTypeFilters($input: AuditEventsStreamingDestinationEventsRemoveInput!) {
  auditEventsStreamingDestinationEventsRemove(input: $input) { errors }
}
"""

ADD_INSTANCE_EVENT_TYPES = """
mutation AddInstanceEventTypeFilters(
  $input: AuditEventsStreamingDestinationInstanceEventsAddInput!
) {
  auditEventsStreamingDestinationInstanceEventsAdd(input: $input) { errors eventTypeFilters }
}
"""

REMOVE_INSTANCE_EVENT_TYPES = """
mutation RemoveInstanceEventTypeFilters(
  $input: AuditEventsStreamingDestinationInstanceEventsRemoveInput!
) {
  auditEventsStreamingDestinationInstanceEventsRemove(input: $input) { errors }
}
"""

# Every legacy operation above, by name: what the schema check walks through.
LEGACY_OPERATIONS = {
    "GroupDestinations": GROUP_DESTINATIONS,
    "InstanceDestinations": INSTANCE_DESTINATIONS,
    "CreateGroupDestination": CREATE_GROUP_DESTINATION,
    "UpdateGroupDestination": UPDATE_GROUP_DESTINATION,
    "DestroyGroupDestination": DESTROY_GROUP_DESTINATION,
    "CreateInstanceDestination": CREATE_INSTANCE_DESTINATION,
    "UpdateInstanceDestination": UPDATE_INSTANCE_DESTINATION,
    "DestroyInstanceDestination": DESTROY_INSTANCE_DESTINATION,
    "CreateGroupHeader": CREATE_GROUP_HEADER,
    "UpdateGroupHeader": UPDATE_GROUP_HEADER,
    "DestroyGroupHeader": DESTROY_GROUP_HEADER,
    "CreateInstanceHeader": CREATE_INSTANCE_HEADER,
    "UpdateInstanceHeader": UPDATE_INSTANCE_HEADER,
    "DestroyInstanceHeader": DESTROY_INSTANCE_HEADER,
    "AddGroupEventTypeFilters": ADD_GROUP_EVENT_TYPES,
    "RemoveGroupEventTypeFilters": REMOVE_GROUP_EVENT_TYPES,
    "AddInstanceEventTypeFilters": ADD_INSTANCE_EVENT_TYPES,
    "RemoveInstanceEventTypeFilters": REMOVE_INSTANCE_EVENT_TYPES,
}
