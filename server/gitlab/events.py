"""Audit events as GitLab makes them: the value, its streamed JSON, its REST form, the log.

A stored event has an integer id from the audit_events table and can be listed over REST; a
stream-only event (git operations, merge requests, ...) is never stored and gets a random
UUID as its id, a fresh one each time it is sent (GitLab before ``stream_id``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from auditstream.server.gitlab.directory import Group, Namespace, Project, User

INSTANCE_SCOPE = "Gitlab::Audit::InstanceScope"
DEFAULT_IP_ADDRESS = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Entity:
    """What an event is about: a group, a project, a user, or the instance itself.

    ``namespace`` is the group or project, which decides which group destinations get the
    event; events about a user or the instance go to instance destinations only.
    """

    type: str
    id: int
    path: str
    namespace: Namespace | None = None

    @classmethod
    def of(cls, namespace: Namespace) -> Entity:
        kind = "Group" if isinstance(namespace, Group) else "Project"
        return cls(kind, namespace.id, namespace.full_path, namespace)

    @classmethod
    def of_user(cls, user: User) -> Entity:
        return cls("User", user.id, user.username)

    @classmethod
    def instance(cls) -> Entity:
        return cls(INSTANCE_SCOPE, 1, "gitlab_instance")


@dataclass(frozen=True, slots=True)
class Target:
    id: int | str
    type: str
    details: str


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit event. ``details`` are the event's own keys (``custom_message``, ``change``,
    ``from``, ``to``, ...); the common ones are added when it is rendered."""

    id: int | str
    event_type: str
    author: User
    entity: Entity
    target: Target
    created_at: datetime
    stored: bool
    details: Mapping[str, Any] = field(default_factory=dict)
    ip_address: str = DEFAULT_IP_ADDRESS

    @property
    def key(self) -> str:
        """The id as a string, as receivers keep it."""
        return str(self.id)

    def with_fresh_id(self) -> AuditEvent:
        """The same stream-only event as GitLab re-sends it: a new random UUID."""
        return replace(self, id=str(uuid.uuid4()))

    def full_details(self) -> dict[str, Any]:
        return {
            "author_name": self.author.name, "author_class": "User",
            "target_id": self.target.id, "target_type": self.target.type,
            "target_details": self.target.details, **self.details,
            "ip_address": self.ip_address, "entity_path": self.entity.path,
        }

    def payload(self) -> dict[str, Any]:
        """The JSON object GitLab POSTs to a destination."""
        return {
            "id": self.id, "author_id": self.author.id, "author_name": self.author.name,
            "entity_id": self.entity.id, "entity_type": self.entity.type,
            "entity_path": self.entity.path, "details": self.full_details(),
            "ip_address": self.ip_address, "target_id": self.target.id,
            "target_type": self.target.type, "target_details": self.target.details,
            "created_at": timestamp(self.created_at), "event_type": self.event_type,
        }

    def rest_item(self) -> dict[str, Any]:
        """One item of ``GET /api/v4/.../audit_events``: author, target, IP and entity path
        only inside ``details`` (with the author's e-mail, since 15.9), the type as
        ``event_name`` (16.x+)."""
        return {
            "id": self.id, "author_id": self.author.id, "entity_id": self.entity.id,
            "entity_type": self.entity.type, "event_name": self.event_type,
            "details": {**self.full_details(), "author_email": self.author_email,
                        "event_name": self.event_type},
            "created_at": timestamp(self.created_at),
        }

    @property
    def author_email(self) -> str:
        return f"{self.author.username}@example.com"


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as GitLab writes it: ``2022-02-23T06:21:05.283Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now() -> datetime:
    return datetime.now(UTC)


class EventLog:
    """Every event made, and the stored ones with their ids (audit_events' sequence)."""

    def __init__(self) -> None:
        self._made: list[AuditEvent] = []
        self._stored: list[AuditEvent] = []
        self._sequence = 0

    def next_id(self) -> int:
        self._sequence += 1
        return self._sequence

    def add(self, events: Iterable[AuditEvent]) -> None:
        for event in events:
            self._made.append(event)
            if event.stored:
                self._stored.append(event)

    @property
    def made(self) -> tuple[AuditEvent, ...]:
        """Every event made, stored or not, in order."""
        return tuple(self._made)

    @property
    def stored(self) -> tuple[AuditEvent, ...]:
        return tuple(self._stored)

    def listing(self, entity: Namespace | None, *, created_after: datetime | None = None,
                created_before: datetime | None = None) -> list[AuditEvent]:
        """Stored events about ``entity`` (every one for None), newest first, as the REST API
        lists them; a group's list holds the group's own events, not its projects'."""
        kind = None if entity is None else ("Project" if isinstance(entity, Project)
                                            else "Group")
        found = [e for e in self._stored
                 if entity is None or (e.entity.type == kind and e.entity.id == entity.id)]
        if created_after is not None:
            found = [e for e in found if e.created_at >= created_after]
        if created_before is not None:
            found = [e for e in found if e.created_at <= created_before]
        return sorted(found, key=lambda e: int(e.id), reverse=True)
