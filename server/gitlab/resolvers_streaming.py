"""The consolidated streaming API's mutations (16.11+): group and instance destinations with
a ``category`` and a JSON ``config``, and their filters.

Only the ``http`` category is served. Its ``config`` is ``{"url": ..., "headers": {"Name":
{"value": ..., "active": true}}}``; the headers are kept as the destination's headers, so the
streamer treats both APIs alike. Permission is checked before the config is looked at, as
GitLab authorizes before it validates.
"""

from __future__ import annotations

from typing import Any

from auditstream.server.gitlab import filters
from auditstream.server.gitlab.context import Info, RequestContext, context, payload
from auditstream.server.gitlab.destinations import Api, Destination, Header, Outcome, Scope
from auditstream.server.gitlab.errors import ArgumentError
from auditstream.server.gitlab.resolvers_legacy import event_types_add, event_types_remove
from auditstream.server.gitlab.resolvers_types import Resolver
from auditstream.server.gitlab.rules import (
    CATEGORIES,
    CATEGORY_NOT_SERVED,
    CONFIG_INVALID,
    config_header_errors,
    config_headers,
)

Input = dict[str, Any]
FIELD = "externalAuditEventDestination"
ConfigHeaders = list[tuple[str, str, bool]]


def _parse(category: str | None, config: object) -> tuple[str, ConfigHeaders] | list[str]:
    """The config's URL and headers, or the messages that refuse them."""
    if category is not None:
        if category not in CATEGORIES:
            # GitLab's enum attribute refuses an unknown value outright.
            raise ArgumentError(f"'{category}' is not a valid category")
        if category != "http":
            return [CATEGORY_NOT_SERVED.format(category=category)]
    if config is None:
        return []
    parsed = config_headers(config)
    if parsed is None:
        return [CONFIG_INVALID]
    errors = config_header_errors(parsed[1])
    return errors or parsed


def _create(scope: Scope) -> Resolver:
    def resolve(_root: None, info: Info, input: Input) -> Input:
        ctx = context(info)
        group_path = input.get("groupPath") if scope is Scope.GROUP else None
        if scope is Scope.GROUP:
            ctx.core.managed_group(ctx.user, group_path or "")
        else:
            ctx.core.require_admin(ctx.user)
        parsed = _parse(input["category"], input["config"])
        if isinstance(parsed, list):
            return payload(input, Outcome.refused(parsed or [CONFIG_INVALID]), FIELD)
        url, headers = parsed
        outcome = ctx.core.create_destination(
            ctx.user, Api.STREAMING, scope, group_path=group_path, url=url, headers=headers,
            name=input.get("name"), token=input.get("secretToken"))
        return payload(input, outcome, FIELD)
    return resolve


def _update(scope: Scope) -> Resolver:
    def resolve(_root: None, info: Info, input: Input) -> Input:
        ctx = context(info)
        current = ctx.core.managed(ctx.user, Api.STREAMING, scope, input["id"])
        parsed = _parse(input.get("category"), input.get("config"))
        if isinstance(parsed, list) and parsed:
            return payload(input, Outcome.refused(parsed), FIELD)
        return payload(input, _apply_update(ctx, current, input, parsed), FIELD)
    return resolve


def _apply_update(ctx: RequestContext, current: Destination, input: Input,
                  parsed: tuple[str, ConfigHeaders] | list[str]) -> Outcome[Destination]:
    changes: dict[str, Any] = {"name": input.get("name"), "active": input.get("active"),
                               "token": input.get("secretToken"),
                               "category": input.get("category")}
    if isinstance(parsed, tuple):
        url, headers = parsed
        changes["url"] = url
        changes["headers"] = tuple(
            Header(number, key, value, active)
            for number, (key, value, active) in enumerate(headers, 1))
    return ctx.core.update_destination(ctx.user, Api.STREAMING, current.scope, current.id,
                                       **changes)


def _delete(scope: Scope) -> Resolver:
    def resolve(_root: None, info: Info, input: Input) -> Input:
        ctx = context(info)
        return payload(input, ctx.core.destroy_destination(ctx.user, Api.STREAMING, scope,
                                                           input["id"]))
    return resolve


def namespace_filter_create(_root: None, info: Info,
                            input: Input) -> Input:
    ctx = context(info)
    path = input.get("namespacePath")
    if path is None:
        raise ArgumentError("namespacePath is required")
    outcome = filters.add_namespace_filter(ctx.core, ctx.user, Api.STREAMING,
                                           input["destinationId"],
                                           ctx.core.directory.namespace_by_path(path))
    return payload(input, outcome, "namespaceFilter")


def namespace_filter_delete(_root: None, info: Info,
                            input: Input) -> Input:
    ctx = context(info)
    return payload(input, filters.remove_namespace_filter(ctx.core, ctx.user, Api.STREAMING,
                                                          input["namespaceFilterId"]))


STREAMING_MUTATIONS: dict[str, Resolver] = {
    "groupAuditEventStreamingDestinationsCreate": _create(Scope.GROUP),
    "groupAuditEventStreamingDestinationsUpdate": _update(Scope.GROUP),
    "groupAuditEventStreamingDestinationsDelete": _delete(Scope.GROUP),
    "instanceAuditEventStreamingDestinationsCreate": _create(Scope.INSTANCE),
    "instanceAuditEventStreamingDestinationsUpdate": _update(Scope.INSTANCE),
    "instanceAuditEventStreamingDestinationsDelete": _delete(Scope.INSTANCE),
    "auditEventsGroupDestinationEventsAdd": event_types_add(Api.STREAMING, Scope.GROUP),
    "auditEventsGroupDestinationEventsDelete": event_types_remove(Api.STREAMING, Scope.GROUP),
    "auditEventsInstanceDestinationEventsAdd": event_types_add(Api.STREAMING, Scope.INSTANCE),
    "auditEventsInstanceDestinationEventsDelete": event_types_remove(Api.STREAMING,
                                                                     Scope.INSTANCE),
    "auditEventsGroupDestinationNamespaceFilterCreate": namespace_filter_create,
    "auditEventsGroupDestinationNamespaceFilterDelete": namespace_filter_delete,
}
