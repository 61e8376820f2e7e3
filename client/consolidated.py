"""The consolidated streaming API (GitLab 16.11+; the only one in 20.0), behind the same
methods as ``LegacyStreamingApi``.

Headers live inside a destination's ``config`` here, so a header's id is
``<destination gid>#<key>`` and changing one rewrites the destination's config.
"""

from __future__ import annotations

from typing import Any

from auditstream.client import documents_newer as ops
from auditstream.client import ids
from auditstream.client.errors import PermissionDenied, ValidationFailed
from auditstream.client.legacy import DEFAULT_PAGE_SIZE, GROUP_ROLE, INSTANCE_ROLE
from auditstream.client.models import (
    INSTANCE_SCOPE,
    Destination,
    StreamingHeader,
    group_scope,
)
from auditstream.client.session import GitLabSession

HTTP_CATEGORY = "http"
_HEADER_SEPARATOR = "#"


class ConsolidatedStreamingApi:
    def __init__(self, session: GitLabSession, group: str | None,
                 page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self._session = session
        self._group = group
        self._page_size = page_size
        self._role = GROUP_ROLE if group else INSTANCE_ROLE
        self.scope = group_scope(group) if group else INSTANCE_SCOPE
        self._kind = "group" if group else "instance"

    async def destinations(self) -> list[Destination]:
        if self._group is None:
            nodes = await self._session.paginate(
                ops.INSTANCE_STREAMING_DESTINATIONS, {"first": self._page_size},
                lambda data: data.get("auditEventsInstanceStreamingDestinations"),
                role_hint=self._role)
        else:
            nodes = await self._session.paginate(
                ops.GROUP_STREAMING_DESTINATIONS,
                {"fullPath": self._group, "first": self._page_size},
                lambda data: _group_connection(data, self._group or ""), role_hint=self._role)
        return [self._destination(node) for node in nodes]

    async def create_destination(self, url: str, name: str | None,
                                 verification_token: str | None) -> Destination:
        values: dict[str, Any] = {"category": HTTP_CATEGORY, "config": {"url": url}}
        if name:
            values["name"] = name
        if verification_token:
            values["secretToken"] = verification_token
        if self._group is not None:
            values["groupPath"] = self._group
        document, field = ((ops.CREATE_GROUP_STREAMING,
                            "groupAuditEventStreamingDestinationsCreate") if self._group else
                           (ops.CREATE_INSTANCE_STREAMING,
                            "instanceAuditEventStreamingDestinationsCreate"))
        payload = await self._mutate(document, field, values)
        return self._destination(payload["externalAuditEventDestination"])

    async def update_destination(self, destination: str, url: str | None,
                                 name: str | None) -> Destination:
        values: dict[str, Any] = {"id": self._destination_gid(destination)}
        if url:
            current = await self._find(values["id"])
            values["config"] = {**_config(current), "url": url}
        if name:
            values["name"] = name
        return await self._update(values)

    async def delete_destination(self, destination: str) -> None:
        document, field = ((ops.DELETE_GROUP_STREAMING,
                            "groupAuditEventStreamingDestinationsDelete") if self._group else
                           (ops.DELETE_INSTANCE_STREAMING,
                            "instanceAuditEventStreamingDestinationsDelete"))
        await self._mutate(document, field, {"id": self._destination_gid(destination)})

    async def add_header(self, destination: str, key: str, value: str) -> StreamingHeader:
        gid = self._destination_gid(destination)
        config = _config(await self._find(gid))
        headers = dict(config.get("headers") or {})
        if key in headers:
            raise ValidationFailed(["Key has already been taken"])
        headers[key] = {"value": value, "active": True}
        await self._update({"id": gid, "config": {**config, "headers": headers}})
        return StreamingHeader(id=gid + _HEADER_SEPARATOR + key, key=key, value=value)

    async def update_header(self, header: str, key: str, value: str) -> StreamingHeader:
        gid, old_key = self._header_parts(header)
        config = _config(await self._find(gid))
        headers = dict(config.get("headers") or {})
        if old_key not in headers:
            raise PermissionDenied([f"no header {old_key!r} on {gid}"], self._role)
        active = (headers.pop(old_key) or {}).get("active", True)
        headers[key] = {"value": value, "active": active}
        await self._update({"id": gid, "config": {**config, "headers": headers}})
        return StreamingHeader(id=gid + _HEADER_SEPARATOR + key, key=key, value=value,
                               active=bool(active))

    async def delete_header(self, header: str) -> None:
        gid, key = self._header_parts(header)
        config = _config(await self._find(gid))
        headers = dict(config.get("headers") or {})
        if headers.pop(key, None) is None:
            raise PermissionDenied([f"no header {key!r} on {gid}"], self._role)
        await self._update({"id": gid, "config": {**config, "headers": headers}})

    async def add_event_types(self, destination: str, event_types: list[str]) -> list[str]:
        document, field = ((ops.ADD_GROUP_STREAMING_EVENTS,
                            "auditEventsGroupDestinationEventsAdd") if self._group else
                           (ops.ADD_INSTANCE_STREAMING_EVENTS,
                            "auditEventsInstanceDestinationEventsAdd"))
        payload = await self._mutate(document, field, {
            "destinationId": self._destination_gid(destination), "eventTypeFilters": event_types})
        return list(payload.get("eventTypeFilters") or [])

    async def remove_event_types(self, destination: str, event_types: list[str]) -> None:
        document, field = ((ops.DELETE_GROUP_STREAMING_EVENTS,
                            "auditEventsGroupDestinationEventsDelete") if self._group else
                           (ops.DELETE_INSTANCE_STREAMING_EVENTS,
                            "auditEventsInstanceDestinationEventsDelete"))
        await self._mutate(document, field, {
            "destinationId": self._destination_gid(destination), "eventTypeFilters": event_types})

    async def set_namespace_filter(self, destination: str, path: str, kind: str) -> str:
        if self._group is None:
            raise ValidationFailed(["namespace filters are for group destinations"])
        payload = await self._mutate(
            ops.CREATE_GROUP_STREAMING_NAMESPACE_FILTER,
            "auditEventsGroupDestinationNamespaceFilterCreate",
            {"destinationId": self._destination_gid(destination), "namespacePath": path})
        return str(payload["namespaceFilter"]["namespace"]["fullPath"])

    async def remove_namespace_filter(self, destination: str) -> None:
        gid = self._destination_gid(destination)
        filters = (await self._find(gid)).get("namespaceFilters") or []
        if not filters:
            raise ValidationFailed([f"destination {destination} has no namespace filter"])
        for found in filters:
            await self._mutate(ops.DELETE_GROUP_STREAMING_NAMESPACE_FILTER,
                               "auditEventsGroupDestinationNamespaceFilterDelete",
                               {"namespaceFilterId": found["id"]})

    async def _find(self, gid: str) -> dict[str, Any]:
        document, variables, pick = (
            (ops.GROUP_STREAMING_DESTINATIONS, {"fullPath": self._group, "first": 100},
             lambda data: _group_connection(data, self._group or "")) if self._group else
            (ops.INSTANCE_STREAMING_DESTINATIONS, {"first": 100},
             lambda data: data.get("auditEventsInstanceStreamingDestinations")))
        for node in await self._session.paginate(document, variables, pick,
                                                 role_hint=self._role):
            if node["id"] == gid:
                return node
        raise PermissionDenied([f"no streaming destination {gid} in {self.scope}"], self._role)

    async def _update(self, values: dict[str, Any]) -> Destination:
        document, field = ((ops.UPDATE_GROUP_STREAMING,
                            "groupAuditEventStreamingDestinationsUpdate") if self._group else
                           (ops.UPDATE_INSTANCE_STREAMING,
                            "instanceAuditEventStreamingDestinationsUpdate"))
        payload = await self._mutate(document, field, values)
        return self._destination(payload["externalAuditEventDestination"])

    async def _mutate(self, document: str, field: str, values: dict[str, Any]) -> dict[str, Any]:
        return await self._session.mutate(document, field, {"input": values},
                                          role_hint=self._role)

    def _destination_gid(self, value: str) -> str:
        return ids.to_gid(value, ids.GROUP_STREAMING_DESTINATION if self._group
                          else ids.INSTANCE_STREAMING_DESTINATION)

    def _header_parts(self, header: str) -> tuple[str, str]:
        gid, separator, key = header.partition(_HEADER_SEPARATOR)
        if not separator or not key:
            raise ids.BadId(f"{header!r}: consolidated header ids are <destination>#<key>")
        return self._destination_gid(gid), key

    def _destination(self, node: dict[str, Any]) -> Destination:
        config = _config(node)
        headers = tuple(
            StreamingHeader(id=node["id"] + _HEADER_SEPARATOR + key,
                            key=key, value=str((spec or {}).get("value", "")),
                            active=bool((spec or {}).get("active", True)))
            for key, spec in (config.get("headers") or {}).items())
        filters = node.get("namespaceFilters") or []
        return Destination(
            id=node["id"], name=node["name"], url=str(config.get("url", "")),
            verification_token=node["secretToken"],
            event_type_filters=tuple(node.get("eventTypeFilters") or ()), headers=headers,
            scope=self.scope,
            namespace_filter=filters[0]["namespace"]["fullPath"] if filters else None,
            active=bool(node.get("active", True)))


def _config(node: dict[str, Any]) -> dict[str, Any]:
    config = node.get("config")
    return dict(config) if isinstance(config, dict) else {}


def _group_connection(data: dict[str, Any], path: str) -> dict[str, Any] | None:
    group = data.get("group")
    if group is None:
        raise PermissionDenied([f"Group '{path}' does not exist or you don't have permission "
                                "to see it"], GROUP_ROLE)
    connection: dict[str, Any] | None = group.get("externalAuditEventStreamingDestinations")
    if connection is None:
        raise PermissionDenied([f"You don't have permission to see the streaming destinations "
                                f"of '{path}'"], GROUP_ROLE)
    return connection
