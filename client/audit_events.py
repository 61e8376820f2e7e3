"""GitLab's stored audit events over REST, for the tree a destination streams.

Which entities each endpoint lists (GitLab's ``Gitlab::Audit::Levels`` and its API docs):

- ``GET /projects/:id/audit_events``: the project's own events (Maintainer or Owner).
- ``GET /groups/:id/audit_events``: the group's own events (entity_type ``Group``); only
  behind the ``audit_log_group_level`` feature flag does it add the events of the group's
  projects, and never its subgroups' (GitLab issue 415290 asks for a whole-tree endpoint).
  Owner of the group.
- ``GET /audit_events``: every entity of the instance; administrators, self-managed; at most
  30 days per query.

A group destination streams events of the group, its subgroups and their projects, so a group
is listed as the group, each of ``/groups/:id/descendant_groups``, and each of
``/groups/:id/projects?include_subgroups=true``, and the lists are joined by event id (an
event the flag lists twice counts once). Every range is cut into windows of at most 30 days
(required for the instance endpoint, harmless for the others). Bounds go out in whole seconds,
widened outwards, both inclusive as GitLab treats them: an event on a window's edge is listed
twice and kept once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import orjson

from auditstream.client.errors import GitLabUnavailable
from auditstream.client.rest import RestSession

MAX_WINDOW = timedelta(days=30)
PER_PAGE = 100
OWNER = "the Owner role on the group"
MAINTAINER = "the Maintainer role (or Owner) on the project"
ADMINISTRATOR = "an administrator's token (self-managed GitLab)"
ScopeKind = Literal["group", "project", "instance"]


@dataclass(frozen=True, slots=True)
class AuditScope:
    """What a destination streams: a group's tree, a project, or the whole instance."""

    kind: ScopeKind
    path: str | None = None

    def __str__(self) -> str:
        return "instance" if self.kind == "instance" else f"{self.kind} {self.path}"


@dataclass(frozen=True, slots=True)
class Listing:
    """The stored events found (unique by id, oldest first) and the requests it took."""

    events: tuple[dict[str, Any], ...]
    queries: int


def windows(since: datetime, until: datetime,
            span: timedelta = MAX_WINDOW) -> list[tuple[datetime, datetime]]:
    """``[since, until]`` as consecutive windows of at most ``span``, sharing their edges;
    the bounds are widened to whole seconds first."""
    start = since.astimezone(UTC).replace(microsecond=0)
    end = until.astimezone(UTC)
    if end.microsecond:
        end = end.replace(microsecond=0) + timedelta(seconds=1)
    cuts: list[tuple[datetime, datetime]] = []
    while True:
        stop = min(start + span, end)
        cuts.append((start, stop))
        if stop >= end:
            return cuts
        start = stop


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encoded(path_or_id: str | int) -> str:
    return quote(str(path_or_id), safe="")


async def audit_event_pages(session: RestSession, scope: AuditScope, since: datetime,
                            until: datetime) -> AsyncIterator[list[dict[str, Any]]]:
    """The stored events of ``scope`` created in ``[since, until]``, page by page as GitLab
    serves them, each event once (an event listed again, on a window's edge or by two lists,
    is left out of the later page)."""
    seen: set[str] = set()
    for path, what, role in await _endpoints(session, scope):
        for start, stop in windows(since, until):
            params: dict[str, str | int] = {
                "pagination": "keyset", "order_by": "id", "sort": "asc", "per_page": PER_PAGE,
                "created_after": iso(start), "created_before": iso(stop)}
            async for page in session.pages(path, params, what=what, role=role):
                fresh = [item for item in page if str(item.get("id")) not in seen]
                seen.update(str(item.get("id")) for item in fresh)
                yield fresh


async def list_audit_events(session: RestSession, scope: AuditScope, since: datetime,
                            until: datetime) -> Listing:
    """Every stored event of ``scope`` created in ``[since, until]``, oldest first."""
    found: list[dict[str, Any]] = []
    before = session.requests
    async for page in audit_event_pages(session, scope, since, until):
        found.extend(page)
    return Listing(events=tuple(sorted(found, key=_order)), queries=session.requests - before)


def _order(item: dict[str, Any]) -> tuple[str, int, str]:
    key = item.get("id")
    return (str(item.get("created_at") or ""), key if isinstance(key, int) else 0, str(key))


async def _endpoints(session: RestSession, scope: AuditScope) -> list[tuple[str, str, str]]:
    """The (path, what, role needed) of every list the scope's events are in."""
    if scope.kind == "instance":
        return [("/audit_events", "the instance's audit events", ADMINISTRATOR)]
    assert scope.path is not None
    if scope.kind == "project":
        return [(f"/projects/{_encoded(scope.path)}/audit_events",
                 f"audit events of project {scope.path}", MAINTAINER)]
    group_ids, project_ids = await group_tree(session, scope.path)
    return ([(f"/groups/{gid}/audit_events", f"audit events of group {path}", OWNER)
             for gid, path in group_ids]
            + [(f"/projects/{pid}/audit_events", f"audit events of project {path}", MAINTAINER)
               for pid, path in project_ids])


async def group_tree(session: RestSession,
                     group: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The group and its descendant groups, and every project below it: (id, full path)."""
    top = f"/groups/{_encoded(group)}"
    _, body = await session.get(session.url(top), what=f"group {group}", role=OWNER)
    groups = [_entry(_object(body), "full_path", f"group {group}")]
    params: dict[str, str | int] = {"per_page": PER_PAGE, "all_available": "true"}
    async for page in session.pages(f"{top}/descendant_groups", params,
                                    what=f"subgroups of {group}", role=OWNER):
        groups += [_entry(g, "full_path", f"subgroups of {group}") for g in page]
    projects: list[tuple[int, str]] = []
    params = {"per_page": PER_PAGE, "include_subgroups": "true", "with_shared": "false",
              "order_by": "id", "sort": "asc"}
    async for page in session.pages(f"{top}/projects", params,
                                    what=f"projects of {group}", role=OWNER):
        projects += [_entry(p, "path_with_namespace", f"projects of {group}") for p in page]
    return groups, projects


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise GitLabUnavailable("GitLab did not answer with a group")
    return data


def _entry(item: dict[str, Any], path_key: str, what: str) -> tuple[int, str]:
    """(id, full path) of a group or project in GitLab's answer."""
    key = item.get("id")
    if isinstance(key, bool) or not isinstance(key, int):
        raise GitLabUnavailable(f"GitLab's answer for {what} has an item without a numeric id")
    return key, str(item.get(path_key, key))
