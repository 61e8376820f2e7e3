"""Activity on demand: N audit events of given types on given groups and projects, with the
payloads GitLab gives them (git operations with ``custom_message`` objects, merge requests,
member changes, ...).

Pure: ``make_events`` takes the directory, the event log (for stored events' ids), a clock and
a random generator, and returns the events; recording and streaming them is the caller's.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from auditstream.common.event_types import gitlab_event_types
from auditstream.server.gitlab.directory import Directory, Namespace, Project, User
from auditstream.server.gitlab.errors import StandInRequestError
from auditstream.server.gitlab.events import AuditEvent, Entity, EventLog, Target
from auditstream.server.gitlab.seed import Role

Details = Callable[[random.Random, Namespace, User], tuple[Target, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class EventKind:
    """One event type: whether GitLab stores it, what it can be about, how its details look."""

    name: str
    stored: bool
    projects_only: bool
    details: Details


def _git(rng: random.Random, on: Namespace, _author: User) -> tuple[Target, dict[str, Any]]:
    protocol = rng.choice(("http", "ssh"))
    action = rng.choice(("git-upload-pack", "git-upload-pack", "git-receive-pack"))
    return (Target(on.id, "Project", on.full_path),
            {"custom_message": {"protocol": protocol, "action": action}})


def _merge_request(rng: random.Random, on: Namespace,
                   _author: User) -> tuple[Target, dict[str, Any]]:
    iid = rng.randint(1, 999)
    return (Target(rng.randint(1000, 99999), "MergeRequest", f"!{iid} Update dependencies"),
            {"custom_message": "Added merge request"})


def _member(change: str) -> Details:
    def details(rng: random.Random, on: Namespace, author: User) -> tuple[Target, dict[str, Any]]:
        level = rng.choice(("Guest", "Reporter", "Developer", "Maintainer"))
        member = rng.randint(100, 9999)
        target = Target(member, "User", f"user{member}")
        if change == "add":
            return target, {"add": "user_access", "as": level, "member_id": member}
        if change == "change":
            return target, {"change": "access_level", "from": "Developer", "to": level,
                            "member_id": member}
        return target, {"remove": "user_access", "member_id": member}
    return details


def _group_link(rng: random.Random, on: Namespace,
                _author: User) -> tuple[Target, dict[str, Any]]:
    shared = rng.randint(100, 999)
    return (Target(shared, "Group", f"shared-group-{shared}"),
            {"custom_message": "Added project group link", "access_level": "Developer"})


def _generic(rng: random.Random, on: Namespace, _author: User) -> tuple[Target, dict[str, Any]]:
    kind = "Project" if isinstance(on, Project) else "Group"
    return Target(on.id, kind, on.full_path), {"custom_message": "Audit operation"}


def _fork(rng: random.Random, on: Namespace, author: User) -> tuple[Target, dict[str, Any]]:
    return (Target(on.id, "Project", on.full_path),
            {"custom_message": f"Forked project to {author.username}/{on.path}"})


def _saved(name: str) -> bool:
    """GitLab's "Saved to database" for the type (its published list, shipped with the
    package: common/gitlab_audit_event_types.json); a type it does not list is stored, as
    GitLab's generic audit events are."""
    listed = {t.name: t for t in gitlab_event_types().types}.get(name)
    return listed.saved_to_database if listed is not None else True


# ``stored`` follows GitLab's list: git operations and merge request creation are streamed
# only (reconcile cannot bring them back); forks, members and the rest are kept.
KINDS = {kind.name: kind for kind in (
    EventKind("repository_git_operation", stored=_saved("repository_git_operation"),
              projects_only=True, details=_git),
    EventKind("merge_request_create", stored=_saved("merge_request_create"),
              projects_only=True, details=_merge_request),
    EventKind("project_fork_operation", stored=_saved("project_fork_operation"),
              projects_only=True, details=_fork),
    EventKind("member_created", stored=_saved("member_created"), projects_only=False,
              details=_member("add")),
    EventKind("member_updated", stored=_saved("member_updated"), projects_only=False,
              details=_member("change")),
    EventKind("member_destroyed", stored=_saved("member_destroyed"), projects_only=False,
              details=_member("remove")),
    EventKind("project_group_link_create", stored=_saved("project_group_link_create"),
              projects_only=True, details=_group_link),
    EventKind("audit_operation", stored=_saved("audit_operation"), projects_only=False,
              details=_generic),
)}
DEFAULT_TYPES = ("repository_git_operation", "merge_request_create", "member_created")


@dataclass(frozen=True, slots=True)
class ActivitySpec:
    """What to make: ``count`` events cycling through ``event_types`` and the ``on``
    namespaces (full paths; every project when empty), by ``author`` (a member when None)."""

    count: int
    event_types: tuple[str, ...] = DEFAULT_TYPES
    on: tuple[str, ...] = ()
    author: str | None = None


def make_events(spec: ActivitySpec, directory: Directory, log: EventLog,
                clock: Callable[[], Any], rng: random.Random) -> list[AuditEvent]:
    """The events of ``spec``; ``StandInRequestError`` names what is unknown."""
    if spec.count < 0:
        raise StandInRequestError(f"count: must be 0 or more, got {spec.count}")
    kinds = [_kind(name) for name in spec.event_types or DEFAULT_TYPES]
    places = _places(spec.on, directory)
    events: list[AuditEvent] = []
    for number in range(spec.count):
        kind = kinds[number % len(kinds)]
        on = _place_for(kind, places, number)
        author = _author(spec.author, directory, on, rng)
        target, details = kind.details(rng, on, author)
        event_id: int | str = log.next_id() if kind.stored else str(uuid.uuid4())
        events.append(AuditEvent(id=event_id, event_type=kind.name, author=author,
                                 entity=Entity.of(on), target=target, created_at=clock(),
                                 stored=kind.stored, details=details,
                                 ip_address=f"203.0.113.{rng.randint(1, 254)}"))
    return events


def _kind(name: str) -> EventKind:
    kind = KINDS.get(name)
    if kind is None:
        raise StandInRequestError(f"event_types: unknown type {name!r}; known: "
                                  + ", ".join(sorted(KINDS)))
    return kind


def _places(paths: Sequence[str], directory: Directory) -> list[Namespace]:
    if not paths:
        return [*directory.projects] or [*directory.groups]
    places: list[Namespace] = []
    for path in paths:
        found = directory.namespace_by_path(path)
        if found is None:
            raise StandInRequestError(f"on: no group or project {path!r}")
        places.append(found)
    return places


def _place_for(kind: EventKind, places: list[Namespace], number: int) -> Namespace:
    """The next place for ``kind``: project-only events skip groups (cycling in order)."""
    usable = [p for p in places if isinstance(p, Project)] if kind.projects_only else places
    if not usable:
        raise StandInRequestError(f"on: {kind.name} happens on projects; give a project")
    return usable[number % len(usable)]


def _author(username: str | None, directory: Directory, on: Namespace,
            rng: random.Random) -> User:
    if username is not None:
        user = directory.user_named(username)
        if user is None:
            raise StandInRequestError(f"author: no user {username!r}")
        return user
    members = [u for u in directory.users
               if not u.admin and (directory.role_in(u, on) or 0) >= Role.DEVELOPER]
    admins = [u for u in directory.users if u.admin]
    choices = members or admins or list(directory.users)
    return rng.choice(choices)
