"""The stand-in's GitLab: who may do what to which destination, and the audit trail of it.

``GitLabCore`` is what the GraphQL resolvers call. Each operation checks permission first
(GitLab's ``ResourceNotAvailable`` when the object is missing or the user may not act on it),
then GitLab's rules (messages as values in the ``Outcome``), then saves and records the audit
event GitLab records for the change. Recording hands events to listeners (the streamer), so
this module does no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from auditstream.server.gitlab.destinations import (
    Api,
    Destination,
    DestinationStore,
    Header,
    Outcome,
    Scope,
)
from auditstream.server.gitlab.directory import Directory, Group, User
from auditstream.server.gitlab.errors import ResourceNotAvailable
from auditstream.server.gitlab.events import AuditEvent, Entity, EventLog, Target, now
from auditstream.server.gitlab.rules import (
    destination_errors,
    generate_secret_token,
    generate_verification_token,
)
from auditstream.server.gitlab.seed import Role

Listener = Callable[[Sequence[AuditEvent]], None]

# The audit event type GitLab records for each change, by (api, scope) and verb.
_CHANGE_TYPES = {
    (Api.LEGACY, Scope.GROUP): "{verb}_event_streaming_destination",
    (Api.LEGACY, Scope.INSTANCE): "{verb}_instance_event_streaming_destination",
    (Api.STREAMING, Scope.GROUP): "{verb}d_group_audit_event_streaming_destination",
    (Api.STREAMING, Scope.INSTANCE): "{verb}d_instance_audit_event_streaming_destination",
}
_VERBS = {Api.LEGACY: ("create", "update", "destroy"),
          Api.STREAMING: ("create", "update", "delete")}


class GitLabCore:
    """Directory, destinations and audit events, with GitLab's permissions and rules."""

    def __init__(self, directory: Directory, *, strict_urls: bool = False,
                 clock: Callable[[], datetime] = now) -> None:
        self.directory = directory
        self.store = DestinationStore()
        self.events = EventLog()
        self.strict_urls = strict_urls
        self.clock = clock
        self._listeners: list[Listener] = []

    # --- audit events ----------------------------------------------------------------

    def on_events(self, listener: Listener) -> None:
        """Call ``listener`` with every batch of events recorded from now on."""
        self._listeners.append(listener)

    def record(self, events: Sequence[AuditEvent]) -> None:
        """Keep the events (the stored ones for REST) and hand them to the streamer."""
        self.events.add(events)
        for listener in self._listeners:
            listener(events)

    def audit(self, user: User, event_type: str, destination: Destination,
              message: str, **details: Any) -> AuditEvent:
        """The stored audit event of a change to ``destination``."""
        group = self.directory.group(destination.group_id) if destination.group_id else None
        entity = Entity.of(group) if group is not None else Entity.instance()
        return AuditEvent(
            id=self.events.next_id(), event_type=event_type, author=user, entity=entity,
            target=Target(destination.id, destination.model, destination.name),
            created_at=self.clock(), stored=True,
            details={"custom_message": message, **details})

    # --- permissions ---------------------------------------------------------------------

    def may_manage(self, user: User | None, scope: Scope, group: Group | None) -> bool:
        """Owner of the group (inherited roles count) for a group destination; an
        administrator for an instance one."""
        if user is None:
            return False
        if scope is Scope.INSTANCE:
            return user.admin
        return group is not None and self.directory.has_role(user, group, Role.OWNER)

    def managed_group(self, user: User | None, full_path: str) -> Group:
        group = self.directory.group_by_path(full_path)
        if group is None or not self.may_manage(user, Scope.GROUP, group):
            raise ResourceNotAvailable
        return group

    def managed(self, user: User | None, api: Api, scope: Scope, number: int) -> Destination:
        """The destination, if it exists and ``user`` may manage it."""
        destination = self.store.get(api, scope, number)
        if destination is None:
            raise ResourceNotAvailable
        group = self.directory.group(destination.group_id) if destination.group_id else None
        if not self.may_manage(user, scope, group):
            raise ResourceNotAvailable
        return destination

    def require_admin(self, user: User | None) -> User:
        if user is None or not user.admin:
            raise ResourceNotAvailable
        return user

    def actor(self, user: User | None) -> User:
        """The user acting; an anonymous request may change nothing."""
        if user is None:
            raise ResourceNotAvailable
        return user

    # --- destinations --------------------------------------------------------------------

    def create_destination(self, user: User | None, api: Api, scope: Scope, *,
                           group_path: str | None, url: str, name: str | None = None,
                           token: str | None = None,
                           headers: Sequence[tuple[str, str, bool]] = ()) -> Outcome[Destination]:
        """A new destination of ``group_path`` (None for the instance); ``token`` and
        ``name`` are generated when not given, as GitLab does."""
        author = self.actor(user)
        group = self.managed_group(author, group_path or "") if scope is Scope.GROUP else None
        if scope is Scope.INSTANCE:
            self.require_admin(author)
        if token is None:
            token = (generate_verification_token() if api is Api.LEGACY
                     else generate_secret_token())
        draft = Destination(
            api=api, scope=scope, id=self.store.next_id(destination_model(api, scope)),
            group_id=group.id if group else None, url=url, token=token,
            name=name if name is not None else f"Destination_{uuid.uuid4()}",
            headers=tuple(Header(n, k, v, a) for n, (k, v, a) in enumerate(headers, 1)))
        errors = destination_errors(draft, self.store.siblings(draft), creating=True,
                                    top_level=group is None or group.top_level,
                                    strict_urls=self.strict_urls)
        if errors:
            return Outcome.refused(errors)
        saved = self.store.save(draft)
        self.record([self.audit(author, change_type(api, scope, 0), saved,
                                f"Create event streaming destination {saved.url}")])
        return Outcome(saved)

    def update_destination(self, user: User | None, api: Api, scope: Scope, number: int,
                           **changes: Any) -> Outcome[Destination]:
        """Change the given attributes (``url``, ``name``, ``active``, ``token``,
        ``headers``, ``category``); None means "leave as it is"."""
        author = self.actor(user)
        current = self.managed(author, api, scope, number)
        given = {k: v for k, v in changes.items() if v is not None}
        updated = replace(current, **given)
        group = self.directory.group(current.group_id) if current.group_id else None
        errors = destination_errors(updated, self.store.siblings(updated), creating=False,
                                    top_level=group is None or group.top_level,
                                    strict_urls=self.strict_urls)
        if errors:
            return Outcome.refused(errors)
        self.store.save(updated)
        self.record([
            self.audit(author, change_type(api, scope, 1), updated,
                       f"Changed {attribute} from {old} to {new}",
                       change=attribute, **{"from": old, "to": new})
            for attribute, old, new in _changed(current, updated)])
        return Outcome(updated)

    def destroy_destination(self, user: User | None, api: Api, scope: Scope,
                            number: int) -> Outcome[Destination]:
        author = self.actor(user)
        destination = self.managed(author, api, scope, number)
        self.store.delete(destination)
        self.record([self.audit(author, change_type(api, scope, 2), destination,
                                f"Destroy event streaming destination {destination.url}")])
        return Outcome(destination)

def destination_model(api: Api, scope: Scope) -> str:
    return Destination(api, scope, 0, "", "", "").model


def change_type(api: Api, scope: Scope, verb: int) -> str:
    """The audit event type of a change: verb 0 create, 1 update, 2 destroy/delete."""
    return _CHANGE_TYPES[(api, scope)].format(verb=_VERBS[api][verb])


def _changed(old: Destination, new: Destination) -> list[tuple[str, object, object]]:
    """The attributes an update changed, as GitLab's ``audit_changes`` names them."""
    pairs = [("destination_url", old.url, new.url), ("name", old.name, new.name),
             ("active", old.active, new.active), ("category", old.category, new.category)]
    changed = [(attribute, a, b) for attribute, a, b in pairs if a != b]
    if old.token != new.token:
        changed.append(("secret_token", "[REDACTED]", "[REDACTED]"))
    if old.headers != new.headers:
        changed.append(("config", "headers", "headers"))
    return changed
