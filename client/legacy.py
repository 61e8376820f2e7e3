"""The legacy streaming API (GitLab 14.5 to 19.x): one typed method per operation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from auditstream.client import documents as ops
from auditstream.client import documents_newer as newer
from auditstream.client import ids
from auditstream.client.errors import GitLabRefused, PermissionDenied, ValidationFailed
from auditstream.client.models import (
    INSTANCE_SCOPE,
    Destination,
    StreamingHeader,
    destination_from,
    group_scope,
    header_from,
)
from auditstream.client.session import GitLabSession

GROUP_ROLE = "needs the Owner role on a top-level group with Ultimate"
INSTANCE_ROLE = "needs an administrator of a self-managed instance"
DEFAULT_PAGE_SIZE = 100  # GitLab's maximum page size


class LegacyStreamingApi:
    """Destinations, headers and event type filters of a group (``group`` set) or the
    instance (``group`` None)."""

    def __init__(self, session: GitLabSession, group: str | None,
                 page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self._session = session
        self._page_size = page_size
        self._group = group
        self._role = GROUP_ROLE if group else INSTANCE_ROLE
        self.scope = group_scope(group) if group else INSTANCE_SCOPE

    # -- destinations --------------------------------------------------------------------------

    async def destinations(self) -> list[Destination]:
        if self._group is None:
            nodes = await self._session.paginate(
                ops.INSTANCE_DESTINATIONS, {"first": self._page_size},
                lambda data: data.get("instanceExternalAuditEventDestinations"),
                role_hint=self._role)
            return [destination_from(node, self.scope) for node in nodes]
        nodes = await self._session.paginate(
            ops.GROUP_DESTINATIONS, {"fullPath": self._group, "first": self._page_size},
            lambda data: _group_connection(data, self._group or ""), role_hint=self._role)
        filters = await self._namespace_filters()
        return [replace(destination_from(node, self.scope),
                        namespace_filter=_filter_path(filters.get(node["id"])))
                for node in nodes]

    async def create_destination(self, url: str, name: str | None,
                                 verification_token: str | None) -> Destination:
        values: dict[str, Any] = {"destinationUrl": url}
        if name:
            values["name"] = name
        if self._group is None:
            if verification_token:
                raise ValueError("instance destinations get their token from GitLab")
            payload = await self._mutate(ops.CREATE_INSTANCE_DESTINATION,
                                         "instanceExternalAuditEventDestinationCreate", values)
            return destination_from(payload["instanceExternalAuditEventDestination"], self.scope)
        values["groupPath"] = self._group
        if verification_token:
            values["verificationToken"] = verification_token
        payload = await self._mutate(ops.CREATE_GROUP_DESTINATION,
                                     "externalAuditEventDestinationCreate", values)
        return destination_from(payload["externalAuditEventDestination"], self.scope)

    async def update_destination(self, destination: str, url: str | None,
                                 name: str | None) -> Destination:
        values: dict[str, Any] = {"id": self._destination_gid(destination)}
        if url:
            values["destinationUrl"] = url
        if name:
            values["name"] = name
        if self._group is None:
            payload = await self._mutate(ops.UPDATE_INSTANCE_DESTINATION,
                                         "instanceExternalAuditEventDestinationUpdate", values)
            return destination_from(payload["instanceExternalAuditEventDestination"], self.scope)
        payload = await self._mutate(ops.UPDATE_GROUP_DESTINATION,
                                     "externalAuditEventDestinationUpdate", values)
        return destination_from(payload["externalAuditEventDestination"], self.scope)

    async def delete_destination(self, destination: str) -> None:
        values = {"id": self._destination_gid(destination)}
        if self._group is None:
            await self._mutate(ops.DESTROY_INSTANCE_DESTINATION,
                               "instanceExternalAuditEventDestinationDestroy", values)
        else:
            await self._mutate(ops.DESTROY_GROUP_DESTINATION,
                               "externalAuditEventDestinationDestroy", values)

    # -- headers -------------------------------------------------------------------------------

    async def add_header(self, destination: str, key: str, value: str) -> StreamingHeader:
        values = {"destinationId": self._destination_gid(destination), "key": key,
                  "value": value}
        document, field = ((ops.CREATE_INSTANCE_HEADER,
                            "auditEventsStreamingInstanceHeadersCreate") if self._group is None
                           else (ops.CREATE_GROUP_HEADER, "auditEventsStreamingHeadersCreate"))
        payload = await self._mutate(document, field, values)
        return header_from(payload["header"])

    async def update_header(self, header: str, key: str, value: str) -> StreamingHeader:
        values = {"headerId": self._header_gid(header), "key": key, "value": value}
        document, field = ((ops.UPDATE_INSTANCE_HEADER,
                            "auditEventsStreamingInstanceHeadersUpdate") if self._group is None
                           else (ops.UPDATE_GROUP_HEADER, "auditEventsStreamingHeadersUpdate"))
        payload = await self._mutate(document, field, values)
        return header_from(payload["header"])

    async def delete_header(self, header: str) -> None:
        values = {"headerId": self._header_gid(header)}
        document, field = ((ops.DESTROY_INSTANCE_HEADER,
                            "auditEventsStreamingInstanceHeadersDestroy") if self._group is None
                           else (ops.DESTROY_GROUP_HEADER, "auditEventsStreamingHeadersDestroy"))
        await self._mutate(document, field, values)

    # -- event type filters --------------------------------------------------------------------

    async def add_event_types(self, destination: str, event_types: list[str]) -> list[str]:
        values = {"destinationId": self._destination_gid(destination),
                  "eventTypeFilters": event_types}
        document, field = ((ops.ADD_INSTANCE_EVENT_TYPES,
                            "auditEventsStreamingDestinationInstanceEventsAdd")
                           if self._group is None else
                           (ops.ADD_GROUP_EVENT_TYPES, "auditEventsStreamingDestinationEventsAdd"))
        payload = await self._mutate(document, field, values)
        return list(payload.get("eventTypeFilters") or [])

    async def remove_event_types(self, destination: str, event_types: list[str]) -> None:
        values = {"destinationId": self._destination_gid(destination),
                  "eventTypeFilters": event_types}
        document, field = ((ops.REMOVE_INSTANCE_EVENT_TYPES,
                            "auditEventsStreamingDestinationInstanceEventsRemove")
                           if self._group is None else
                           (ops.REMOVE_GROUP_EVENT_TYPES,
                            "auditEventsStreamingDestinationEventsRemove"))
        await self._mutate(document, field, values)

    # -- namespace filter (16.7+) --------------------------------------------------------------

    async def set_namespace_filter(self, destination: str, path: str, kind: str) -> str:
        """Stream only events of one subgroup or project (``kind``: group or project)."""
        if self._group is None:
            raise ValidationFailed(["namespace filters are for group destinations"])
        values = {"destinationId": self._destination_gid(destination),
                  "projectPath" if kind == "project" else "groupPath": path}
        payload = await self._mutate(newer.ADD_NAMESPACE_FILTER,
                                     "auditEventsStreamingHttpNamespaceFiltersAdd", values)
        return str(payload["namespaceFilter"]["namespace"]["fullPath"])

    async def remove_namespace_filter(self, destination: str) -> None:
        if self._group is None:
            raise ValidationFailed(["namespace filters are for group destinations"])
        found = (await self._namespace_filters()).get(self._destination_gid(destination))
        if not found:
            raise ValidationFailed([f"destination {destination} has no namespace filter"])
        await self._mutate(newer.DELETE_NAMESPACE_FILTER,
                           "auditEventsStreamingHttpNamespaceFiltersDelete",
                           {"namespaceFilterId": found["id"]})

    async def _namespace_filters(self) -> dict[str, dict[str, Any]]:
        """Each group destination's namespace filter node, by destination id. A separate query:
        the field is newer (16.7) than the one listing destinations, which 16.3 must run."""
        group = self._group or ""
        try:
            nodes = await self._session.paginate(
                newer.GROUP_NAMESPACE_FILTER, {"fullPath": group, "first": self._page_size},
                lambda data: _group_connection(data, group), role_hint=self._role)
        except GitLabRefused as exc:
            if any("namespaceFilter" in message for message in exc.messages):
                return {}  # GitLab 16.3 to 16.6: no namespace filters to show
            raise
        return {node["id"]: node["namespaceFilter"] for node in nodes
                if node.get("namespaceFilter")}

    # -- helpers -------------------------------------------------------------------------------

    async def _mutate(self, document: str, field: str, values: dict[str, Any]) -> dict[str, Any]:
        return await self._session.mutate(document, field, {"input": values},
                                          role_hint=self._role)

    def _destination_gid(self, value: str) -> str:
        return ids.to_gid(value, ids.INSTANCE_DESTINATION if self._group is None
                          else ids.GROUP_DESTINATION)

    def _header_gid(self, value: str) -> str:
        return ids.to_gid(value, ids.INSTANCE_HEADER if self._group is None
                          else ids.GROUP_HEADER)


def _filter_path(node: dict[str, Any] | None) -> str | None:
    return str(node["namespace"]["fullPath"]) if node else None


def _group_connection(data: dict[str, Any], path: str) -> dict[str, Any] | None:
    group = data.get("group")
    if group is None:  # GitLab answers null, without an error, for a group you cannot see
        raise PermissionDenied([f"Group '{path}' does not exist or you don't have permission "
                                "to see it"], GROUP_ROLE)
    connection: dict[str, Any] | None = group.get("externalAuditEventDestinations")
    if connection is None:
        raise PermissionDenied([f"You don't have permission to see the streaming destinations "
                                f"of '{path}'"], GROUP_ROLE)
    return connection
