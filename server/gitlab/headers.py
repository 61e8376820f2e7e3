"""Custom HTTP headers of legacy destinations (group and instance): create, update, destroy.

The consolidated API keeps headers inside a destination's ``config`` instead, and changes them
with the destination (``GitLabCore.update_destination``).
"""

from __future__ import annotations

from dataclasses import replace

from auditstream.server.gitlab.core import GitLabCore
from auditstream.server.gitlab.destinations import (
    HEADER_MODELS,
    Api,
    Destination,
    Header,
    Outcome,
    Scope,
)
from auditstream.server.gitlab.directory import User
from auditstream.server.gitlab.errors import ResourceNotAvailable
from auditstream.server.gitlab.rules import header_errors


def create_header(core: GitLabCore, user: User | None, scope: Scope, destination_id: int,
                  key: str, value: str, active: bool = True) -> Outcome[Header]:
    author = core.actor(user)
    destination = core.managed(author, Api.LEGACY, scope, destination_id)
    errors = header_errors(key, value, destination.headers, creating=True)
    if errors:
        return Outcome.refused(errors)
    model = HEADER_MODELS[scope]
    header = Header(core.store.next_id(model), key, value, active, model)
    updated = core.store.save(replace(destination, headers=(*destination.headers, header)))
    core.record([core.audit(author, _event_type(scope, "create"), updated,
                            f"Created custom HTTP header with key {key}.")])
    return Outcome(header)


def update_header(core: GitLabCore, user: User | None, scope: Scope, header_id: int,
                  key: str, value: str, active: bool | None = None) -> Outcome[Header]:
    author = core.actor(user)
    destination, header = _owner(core, author, scope, header_id)
    others = [h for h in destination.headers if h.id != header_id]
    errors = header_errors(key, value, others, creating=False)
    if errors:
        return Outcome.refused(errors)
    changed = replace(header, key=key, value=value,
                      active=header.active if active is None else active)
    updated = core.store.save(replace(destination, headers=tuple(
        changed if h.id == header_id else h for h in destination.headers)))
    message = (f"Updated a custom HTTP header from key {header.key} to have a key {key}."
               if key != header.key else f"Updated a custom HTTP header with key {key}.")
    core.record([core.audit(author, _event_type(scope, "update"), updated, message)])
    return Outcome(changed)


def destroy_header(core: GitLabCore, user: User | None, scope: Scope,
                   header_id: int) -> Outcome[Header]:
    author = core.actor(user)
    destination, header = _owner(core, author, scope, header_id)
    updated = core.store.save(replace(destination, headers=tuple(
        h for h in destination.headers if h.id != header_id)))
    core.record([core.audit(author, _event_type(scope, "destroy"), updated,
                            f"Destroyed a custom HTTP header with key {header.key}.")])
    return Outcome(header)


def _owner(core: GitLabCore, user: User, scope: Scope,
           header_id: int) -> tuple[Destination, Header]:
    found = core.store.with_header(scope, header_id)
    if found is None:
        raise ResourceNotAvailable
    destination = core.managed(user, Api.LEGACY, scope, found[0].id)
    return destination, found[1]


def _event_type(scope: Scope, verb: str) -> str:
    middle = "_instance" if scope is Scope.INSTANCE else ""
    return f"audit_events_streaming{middle}_headers_{verb}"
