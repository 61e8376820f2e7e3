"""Event type filters and namespace filters of a destination: add and remove.

With no event type filter a destination gets every event type; with some, only those. A
namespace filter narrows a group destination to one subgroup or project (and what lies below
it). Each change is audited like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from auditstream.server.gitlab.core import GitLabCore
from auditstream.server.gitlab.destinations import (
    FILTER_MODELS,
    Api,
    Destination,
    NamespaceFilter,
    Outcome,
    Scope,
)
from auditstream.server.gitlab.directory import Namespace, User
from auditstream.server.gitlab.errors import ArgumentError, ResourceNotAvailable
from auditstream.server.gitlab.rules import event_type_errors, missing_event_types

_NAMESPACE_FILTER_EVENTS = {
    Api.LEGACY: ("create_http_namespace_filter", "delete_http_namespace_filter"),
    Api.STREAMING: ("created_group_namespace_filter", "deleted_group_namespace_filter"),
}
NOT_A_DESCENDANT = ("Namespace is not a descendant of the group associated with the "
                    "destination")


def add_event_types(core: GitLabCore, user: User | None, api: Api, scope: Scope, number: int,
                    event_types: Sequence[str]) -> Outcome[tuple[str, ...]]:
    author = core.actor(user)
    destination = core.managed(author, api, scope, number)
    _non_empty("eventTypeFilters", event_types)
    errors = event_type_errors(event_types, destination.event_type_filters)
    if errors:
        return Outcome.refused(errors)
    updated = core.store.save(replace(
        destination, event_type_filters=(*destination.event_type_filters, *event_types)))
    core.record([core.audit(author, "event_type_filters_created", updated,
                            "Created audit event type filter(s): " + ", ".join(event_types),
                            event_type_filters=list(event_types))])
    return Outcome(updated.event_type_filters)


def remove_event_types(core: GitLabCore, user: User | None, api: Api, scope: Scope,
                       number: int, event_types: Sequence[str]) -> Outcome[tuple[str, ...]]:
    author = core.actor(user)
    destination = core.managed(author, api, scope, number)
    _non_empty("eventTypeFilters", event_types)
    errors = missing_event_types(event_types, destination.event_type_filters)
    if errors:
        return Outcome.refused(errors)
    kept = tuple(t for t in destination.event_type_filters if t not in event_types)
    updated = core.store.save(replace(destination, event_type_filters=kept))
    core.record([core.audit(author, "event_type_filters_deleted", updated,
                            "Deleted audit event type filter(s): " + ", ".join(event_types),
                            event_type_filters=list(event_types))])
    return Outcome(kept)


def add_namespace_filter(core: GitLabCore, user: User | None, api: Api, number: int,
                         namespace: Namespace | None) -> Outcome[NamespaceFilter]:
    """Narrow a group destination to ``namespace`` (None: the path named nothing)."""
    author = core.actor(user)
    destination = core.managed(author, api, Scope.GROUP, number)
    if namespace is None or not core.directory.can_read(author, namespace):
        raise ResourceNotAvailable
    errors = _namespace_filter_errors(core, destination, namespace)
    if errors:
        return Outcome.refused(errors)
    created = NamespaceFilter(core.store.next_id(FILTER_MODELS[api]), namespace,
                              destination.id, FILTER_MODELS[api])
    updated = core.store.save(replace(
        destination, namespace_filters=(*destination.namespace_filters, created)))
    core.record([core.audit(author, _NAMESPACE_FILTER_EVENTS[api][0], updated,
                            "Create namespace filter for http streaming destination "
                            f"{updated.name} and namespace {namespace.full_path}")])
    return Outcome(created)


def remove_namespace_filter(core: GitLabCore, user: User | None, api: Api,
                            number: int) -> Outcome[NamespaceFilter]:
    author = core.actor(user)
    found = core.store.with_filter(api, number)
    if found is None:
        raise ResourceNotAvailable
    destination = core.managed(author, api, Scope.GROUP, found[0].id)
    kept = tuple(f for f in destination.namespace_filters if f.id != number)
    updated = core.store.save(replace(destination, namespace_filters=kept))
    core.record([core.audit(author, _NAMESPACE_FILTER_EVENTS[api][1], updated,
                            "Delete namespace filter for http streaming destination "
                            f"{updated.name} and namespace {found[1].namespace.full_path}")])
    return Outcome(found[1])


def _namespace_filter_errors(core: GitLabCore, destination: Destination,
                             namespace: Namespace) -> list[str]:
    group = core.directory.group(destination.group_id) if destination.group_id else None
    errors: list[str] = []
    if group is None or not core.directory.contains(group, namespace):
        errors.append(NOT_A_DESCENDANT)
    # The legacy API allows one filter per destination; the consolidated one, one per
    # namespace.
    if destination.api is Api.LEGACY and destination.namespace_filters:
        errors.append("External audit event destination has already been taken")
    elif any(f.namespace == namespace for f in destination.namespace_filters):
        errors.append("Namespace has already been taken")
    return errors


def _non_empty(argument: str, values: Sequence[str]) -> None:
    # GitLab refuses an empty list before the service runs: a top-level error.
    if not values:
        raise ArgumentError(f"{argument} is too short (minimum is 1)")
