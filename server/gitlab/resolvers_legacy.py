"""The legacy streaming API's mutations (14.5+): destinations, headers, event type filters
and namespace filters, for groups and for the instance.

Each resolver only translates: GitLab's input names in, ``GitLabCore`` (or ``headers`` and
``filters``) does the work, GitLab's payload out. Input ID scalars arrive as numbers (the
schema's scalars checked their model already).
"""

from __future__ import annotations

from typing import Any

from auditstream.server.gitlab import filters, headers
from auditstream.server.gitlab.context import Info, context, payload
from auditstream.server.gitlab.destinations import Api, Scope
from auditstream.server.gitlab.errors import ArgumentError
from auditstream.server.gitlab.resolvers_types import Resolver

Input = dict[str, Any]
GROUP_FIELD = "externalAuditEventDestination"
INSTANCE_FIELD = "instanceExternalAuditEventDestination"


def group_destination_create(_root: None, info: Info, input: Input) -> Input:
    ctx = context(info)
    outcome = ctx.core.create_destination(
        ctx.user, Api.LEGACY, Scope.GROUP, group_path=input["groupPath"],
        url=input["destinationUrl"], name=input.get("name"),
        token=input.get("verificationToken"))
    return payload(input, outcome, GROUP_FIELD)


def instance_destination_create(_root: None, info: Info,
                                input: Input) -> Input:
    ctx = context(info)
    outcome = ctx.core.create_destination(ctx.user, Api.LEGACY, Scope.INSTANCE,
                                          group_path=None, url=input["destinationUrl"],
                                          name=input.get("name"))
    return payload(input, outcome, INSTANCE_FIELD)


def _destination_update(scope: Scope, field: str) -> Resolver:
    def resolve(_root: None, info: Info, input: Input) -> Input:
        ctx = context(info)
        outcome = ctx.core.update_destination(
            ctx.user, Api.LEGACY, scope, input["id"], url=input.get("destinationUrl"),
            name=input.get("name"), active=input.get("active"))
        return payload(input, outcome, field)
    return resolve


def _destination_destroy(scope: Scope) -> Resolver:
    def resolve(_root: None, info: Info, input: Input) -> Input:
        ctx = context(info)
        return payload(input, ctx.core.destroy_destination(ctx.user, Api.LEGACY, scope,
                                                           input["id"]))
    return resolve


def _header_create(scope: Scope) -> Resolver:
    def resolve(_root: None, info: Info, input: Input) -> Input:
        ctx = context(info)
        outcome = headers.create_header(ctx.core, ctx.user, scope, input["destinationId"],
                                        input["key"], input["value"],
                                        input.get("active", True) is not False)
        return payload(input, outcome, "header")
    return resolve


def _header_update(scope: Scope) -> Resolver:
    def resolve(_root: None, info: Info, input: Input) -> Input:
        ctx = context(info)
        outcome = headers.update_header(ctx.core, ctx.user, scope, input["headerId"],
                                        input["key"], input["value"], input.get("active"))
        return payload(input, outcome, "header")
    return resolve


def _header_destroy(scope: Scope) -> Resolver:
    def resolve(_root: None, info: Info, input: Input) -> Input:
        ctx = context(info)
        return payload(input, headers.destroy_header(ctx.core, ctx.user, scope,
                                                     input["headerId"]))
    return resolve


def event_types_add(api: Api, scope: Scope) -> Resolver:
    def resolve(_root: None, info: Info, input: Input) -> Input:
        ctx = context(info)
        outcome = filters.add_event_types(ctx.core, ctx.user, api, scope,
                                          input["destinationId"], input["eventTypeFilters"])
        answer = payload(input, outcome)
        answer["eventTypeFilters"] = list(outcome.value) if outcome.value is not None \
            else None
        return answer
    return resolve


def event_types_remove(api: Api, scope: Scope) -> Resolver:
    def resolve(_root: None, info: Info, input: Input) -> Input:
        ctx = context(info)
        return payload(input, filters.remove_event_types(
            ctx.core, ctx.user, api, scope, input["destinationId"], input["eventTypeFilters"]))
    return resolve


def namespace_filter_add(_root: None, info: Info, input: Input) -> Input:
    ctx = context(info)
    paths = [p for p in (input.get("groupPath"), input.get("projectPath")) if p is not None]
    if len(paths) != 1:
        # graphql-ruby's wording for an ``exactly_one_of`` argument rule.
        raise ArgumentError("AuditEventsStreamingHTTPNamespaceFiltersAddInput must include "
                            "exactly one of the following arguments: groupPath, projectPath.")
    directory = ctx.core.directory
    # A group path must name a group and a project path a project.
    found = (directory.group_by_path(paths[0]) if input.get("groupPath") is not None
             else directory.project_by_path(paths[0]))
    outcome = filters.add_namespace_filter(ctx.core, ctx.user, Api.LEGACY,
                                           input["destinationId"], found)
    return payload(input, outcome, "namespaceFilter")


def namespace_filter_delete(_root: None, info: Info,
                            input: Input) -> Input:
    ctx = context(info)
    return payload(input, filters.remove_namespace_filter(ctx.core, ctx.user, Api.LEGACY,
                                                          input["namespaceFilterId"]))


LEGACY_MUTATIONS: dict[str, Resolver] = {
    "externalAuditEventDestinationCreate": group_destination_create,
    "externalAuditEventDestinationUpdate": _destination_update(Scope.GROUP, GROUP_FIELD),
    "externalAuditEventDestinationDestroy": _destination_destroy(Scope.GROUP),
    "instanceExternalAuditEventDestinationCreate": instance_destination_create,
    "instanceExternalAuditEventDestinationUpdate": _destination_update(Scope.INSTANCE,
                                                                       INSTANCE_FIELD),
    "instanceExternalAuditEventDestinationDestroy": _destination_destroy(Scope.INSTANCE),
    "auditEventsStreamingHeadersCreate": _header_create(Scope.GROUP),
    "auditEventsStreamingHeadersUpdate": _header_update(Scope.GROUP),
    "auditEventsStreamingHeadersDestroy": _header_destroy(Scope.GROUP),
    "auditEventsStreamingInstanceHeadersCreate": _header_create(Scope.INSTANCE),
    "auditEventsStreamingInstanceHeadersUpdate": _header_update(Scope.INSTANCE),
    "auditEventsStreamingInstanceHeadersDestroy": _header_destroy(Scope.INSTANCE),
    "auditEventsStreamingDestinationEventsAdd": event_types_add(Api.LEGACY, Scope.GROUP),
    "auditEventsStreamingDestinationEventsRemove": event_types_remove(Api.LEGACY, Scope.GROUP),
    "auditEventsStreamingDestinationInstanceEventsAdd": event_types_add(Api.LEGACY,
                                                                        Scope.INSTANCE),
    "auditEventsStreamingDestinationInstanceEventsRemove": event_types_remove(Api.LEGACY,
                                                                              Scope.INSTANCE),
    "auditEventsStreamingHttpNamespaceFiltersAdd": namespace_filter_add,
    "auditEventsStreamingHttpNamespaceFiltersDelete": namespace_filter_delete,
}
