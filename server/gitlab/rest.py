"""GitLab's REST audit event lists: ``GET /api/v4/groups/:id/audit_events``,
``/projects/:id/audit_events`` and ``/audit_events`` (administrators), newest first.

``:id`` is a number or a URL-encoded full path. ``created_after`` / ``created_before``
(ISO 8601) narrow the list; ``page`` and ``per_page`` (default 20, at most 100) page it, with
GitLab's ``X-*`` and ``Link`` headers. Only stored events are listed: stream-only ones never
reach the database. A group owner sees the group's events, a project maintainer the project's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import unquote, urlencode

import orjson
from aiohttp import web

from auditstream.server.gitlab.auth import authenticate
from auditstream.server.gitlab.directory import Directory, Group, Namespace, Project, User
from auditstream.server.gitlab.errors import RestError, UnknownToken
from auditstream.server.gitlab.seed import Role
from auditstream.server.gitlab.state import GITLAB_STATE

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


def add_rest_routes(app: web.Application) -> None:
    app.router.add_get("/api/v4/groups/{id}/audit_events", group_audit_events)
    app.router.add_get("/api/v4/projects/{id}/audit_events", project_audit_events)
    app.router.add_get("/api/v4/audit_events", instance_audit_events)


async def group_audit_events(request: web.Request) -> web.Response:
    directory = request.app[GITLAB_STATE].core.directory
    user = _user(request)
    group = _find(directory, request, "Group", user)
    if not directory.has_role(user, group, Role.OWNER):
        raise RestError.message(403, "403 Forbidden")
    return _listing(request, group)


async def project_audit_events(request: web.Request) -> web.Response:
    directory = request.app[GITLAB_STATE].core.directory
    user = _user(request)
    project = _find(directory, request, "Project", user)
    if not directory.has_role(user, project, Role.MAINTAINER):
        raise RestError.message(403, "403 Forbidden")
    return _listing(request, project)


async def instance_audit_events(request: web.Request) -> web.Response:
    if not _user(request).admin:
        raise RestError.message(403, "403 Forbidden")
    return _listing(request, None)


def _user(request: web.Request) -> User:
    try:
        user = authenticate(request.headers, request.app[GITLAB_STATE].core.directory)
    except UnknownToken:
        user = None
    if user is None:
        raise RestError.message(401, "401 Unauthorized")
    return user


def _find(directory: Directory, request: web.Request, kind: str, user: User) -> Namespace:
    """The group or project ``:id`` names, if the user can see it (404 otherwise)."""
    # The raw path keeps %2F, so a full path arrives as one segment; decode it here.
    raw = request.raw_path.split("?")[0].split("/")[4]
    key = unquote(raw)
    found: Group | Project | None
    if kind == "Group":
        found = directory.group(int(key)) if key.isdigit() else directory.group_by_path(key)
    else:
        found = directory.project(int(key)) if key.isdigit() else directory.project_by_path(key)
    if found is None or not directory.can_read(user, found):
        raise RestError.message(404, f"404 {kind} Not Found")
    return found


def _listing(request: web.Request, entity: Namespace | None) -> web.Response:
    query = request.query
    page, per_page = page_parameters(query)
    after, before = time_parameter(query, "created_after"), time_parameter(query,
                                                                           "created_before")
    events = request.app[GITLAB_STATE].core.events.listing(
        entity, created_after=after, created_before=before)
    chosen = events[(page - 1) * per_page: page * per_page]
    headers = page_headers(str(request.url.with_query(None)), dict(query), page, per_page,
                           len(events))
    return web.Response(body=orjson.dumps([e.rest_item() for e in chosen]),
                        content_type="application/json", headers=headers)


def page_parameters(query: Mapping[str, str]) -> tuple[int, int]:
    """``page`` (from 1) and ``per_page`` (1-100, GitLab caps larger values at 100)."""
    values = []
    for name, default in (("page", 1), ("per_page", DEFAULT_PER_PAGE)):
        text = query.get(name, str(default))
        if not text.strip().isdigit():
            raise RestError.error(400, f"{name} is invalid")
        values.append(max(int(text), 1))
    return values[0], min(values[1], MAX_PER_PAGE)


def time_parameter(query: Mapping[str, str], name: str) -> datetime | None:
    text = query.get(name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RestError.error(400, f"{name} is invalid") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def page_headers(base_url: str, query: dict[str, str], page: int, per_page: int,
                 total: int) -> dict[str, str]:
    """GitLab's offset pagination headers for one page of ``total`` items."""
    pages = max((total + per_page - 1) // per_page, 1)
    following = page + 1 if page < pages else None
    previous = page - 1 if page > 1 else None

    def link(number: int) -> str:
        return f"{base_url}?{urlencode({**query, 'page': number, 'per_page': per_page})}"

    links = [f'<{link(previous)}>; rel="prev"'] if previous else []
    links += [f'<{link(following)}>; rel="next"'] if following else []
    links += [f'<{link(1)}>; rel="first"', f'<{link(pages)}>; rel="last"']
    return {
        "X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(total),
        "X-Total-Pages": str(pages), "X-Next-Page": str(following or ""),
        "X-Prev-Page": str(previous or ""), "Link": ", ".join(links),
    }
