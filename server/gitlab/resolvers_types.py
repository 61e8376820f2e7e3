"""Resolvers of the schema's object types and of ``Query``: how the stand-in's values appear
under GitLab's field names, and who may see them.

Reading follows GitLab: a group you cannot see is null (no error); a group's destinations are
null for anyone but its owners and administrators (field-level authorization, no error); the
instance's destinations are a top-level "does not exist or you don't have permission" error
for anyone but administrators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditstream.server.gitlab import ids
from auditstream.server.gitlab.context import Info, context
from auditstream.server.gitlab.destinations import Api, Destination, Header, NamespaceFilter, Scope
from auditstream.server.gitlab.directory import Group, Namespace, Project, User
from auditstream.server.gitlab.pagination import connection

Resolver = Callable[..., Any]


def attribute(name: str) -> Resolver:
    def resolve(obj: object, _info: Info) -> Any:
        return getattr(obj, name)
    return resolve


def _query_group(_root: None, info: Info, fullPath: str) -> Group | None:
    ctx = context(info)
    group = ctx.core.directory.group_by_path(fullPath)
    if group is None or not ctx.core.directory.can_read(ctx.user, group):
        return None
    return group


def _current_user(_root: None, info: Info) -> User | None:
    return context(info).user


def _instance_destinations(api: Api) -> Resolver:
    def resolve(_root: None, info: Info, **arguments: Any) -> dict[str, Any]:
        ctx = context(info)
        ctx.core.require_admin(ctx.user)
        return connection(ctx.core.store.listing(api, Scope.INSTANCE), _by_id, arguments)
    return resolve


def _group_destinations(api: Api) -> Resolver:
    def resolve(group: Group, info: Info,
                **arguments: Any) -> dict[str, Any] | None:
        ctx = context(info)
        if not ctx.core.may_manage(ctx.user, Scope.GROUP, group):
            return None
        return connection(ctx.core.store.listing(api, Scope.GROUP, group.id), _by_id,
                          arguments)
    return resolve


def _group_parent(group: Group, info: Info) -> Group | None:
    ctx = context(info)
    parent = ctx.core.directory.group(group.parent_id) if group.parent_id else None
    if parent is None or not ctx.core.directory.can_read(ctx.user, parent):
        return None
    return parent


def _destination_group(destination: Destination, info: Info) -> Group | None:
    return context(info).core.directory.group(destination.group_id or 0)


def _headers(destination: Destination, _info: Info,
             **arguments: Any) -> dict[str, Any]:
    return connection(destination.headers, _by_id, arguments)


def _namespace_filter(destination: Destination,
                      _info: Info) -> NamespaceFilter | None:
    return destination.namespace_filters[0] if destination.namespace_filters else None


def _filter_destination(api: Api) -> Resolver:
    def resolve(namespace_filter: NamespaceFilter, info: Info) -> Destination:
        found = context(info).core.store.get(api, Scope.GROUP, namespace_filter.destination_id)
        if found is None:
            raise LookupError("a namespace filter outlived its destination")
        return found
    return resolve


def _namespace_id(namespace: Namespace, _info: Info) -> str:
    # A group is its own namespace; a project has a ProjectNamespace of its own.
    if isinstance(namespace, Project):
        return ids.gid(ids.PROJECT_NAMESPACE, namespace.id)
    return namespace.gid


def _by_id(item: Destination | Header) -> int:
    return item.id


_LEGACY_DESTINATION: dict[str, Resolver] = {
    "id": attribute("gid"), "name": attribute("name"), "destinationUrl": attribute("url"),
    "verificationToken": attribute("token"),
    "eventTypeFilters": lambda d, _i: list(d.event_type_filters),
    "headers": _headers, "active": attribute("active"),
}
_STREAMING_DESTINATION: dict[str, Resolver] = {
    "id": attribute("gid"), "name": attribute("name"), "category": attribute("category"),
    "config": lambda d, _i: d.config(), "secretToken": attribute("token"),
    "active": attribute("active"), "eventTypeFilters": lambda d, _i: list(d.event_type_filters),
}
_HEADER: dict[str, Resolver] = {
    "id": attribute("gid"), "key": attribute("key"), "value": attribute("value"),
    "active": attribute("active")}
_NAMESPACE: dict[str, Resolver] = {
    "id": _namespace_id, "fullPath": attribute("full_path"), "name": attribute("name"),
    "path": attribute("path")}

TYPE_RESOLVERS: dict[str, dict[str, Resolver]] = {
    "Query": {
        "currentUser": _current_user, "group": _query_group,
        "instanceExternalAuditEventDestinations": _instance_destinations(Api.LEGACY),
        "auditEventsInstanceStreamingDestinations": _instance_destinations(Api.STREAMING),
    },
    "UserCore": {"id": attribute("gid"), "username": attribute("username"),
                 "name": attribute("name")},
    "Group": {
        "id": attribute("gid"), "fullPath": attribute("full_path"), "name": attribute("name"),
        "path": attribute("path"), "parent": _group_parent,
        "externalAuditEventDestinations": _group_destinations(Api.LEGACY),
        "externalAuditEventStreamingDestinations": _group_destinations(Api.STREAMING),
    },
    "Namespace": _NAMESPACE,
    "ExternalAuditEventDestination": {**_LEGACY_DESTINATION, "group": _destination_group,
                                      "namespaceFilter": _namespace_filter},
    "InstanceExternalAuditEventDestination": _LEGACY_DESTINATION,
    "AuditEventStreamingHeader": _HEADER,
    "AuditEventsStreamingInstanceHeader": _HEADER,
    "AuditEventStreamingHTTPNamespaceFilter": {
        "id": attribute("gid"), "namespace": attribute("namespace"),
        "externalAuditEventDestination": _filter_destination(Api.LEGACY)},
    "GroupAuditEventStreamingDestination": {
        **_STREAMING_DESTINATION, "group": _destination_group,
        "namespaceFilters": lambda d, _i: list(d.namespace_filters)},
    "InstanceAuditEventStreamingDestination": _STREAMING_DESTINATION,
    "GroupAuditEventNamespaceFilter": {
        "id": attribute("gid"), "namespace": attribute("namespace"),
        "externalStreamingDestination": _filter_destination(Api.STREAMING)},
}
