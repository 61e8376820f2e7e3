"""GitLab's REST audit event lists: ``GET /api/v4/groups/:id/audit_events``,
``/projects/:id/audit_events`` and ``/audit_events`` (administrators), newest first; and what
a client needs to walk a group's tree: ``GET /groups/:id``, ``/groups/:id/descendant_groups``
and ``/groups/:id/projects?include_subgroups=true``.

``:id`` is a number or a URL-encoded full path. ``created_after`` / ``created_before``
(ISO 8601, both inclusive) narrow the list. Two paginations, as GitLab serves them:

- offset (deprecated in 17.8): ``page``, ``per_page`` (default 20, at most 100), ``X-*`` and
  a ``Link`` header with prev/next/first/last;
- keyset (``pagination=keyset&order_by=id``, ``sort`` asc or desc, default desc): no totals,
  only ``Link: <...&cursor=...>; rel="next"`` while there is more. Exact while new events
  are added, where offset pages shift.

Which entities each list holds is GitLab's default (``audit_log_group_level`` off): a group's
list is the group's own events, not its subgroups' nor its projects'; a project's is the
project's; the instance's is every stored event, at most 30 days per query (a wider range is
refused with 400; without ``created_after`` the last 30 days before ``created_before``). Only
stored events are listed: stream-only ones never reach the database (``activity.KINDS``).
A group owner sees the group's events, a project maintainer the project's. The throttle
knob (``state.throttle``) answers the next requests with 429 and GitLab's rate-limit headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlencode

import orjson
from aiohttp import web

from auditstream.server.gitlab.auth import authenticate
from auditstream.server.gitlab.directory import Directory, Group, Namespace, Project, User
from auditstream.server.gitlab.errors import ArgumentError, RestError, UnknownToken
from auditstream.server.gitlab.events import AuditEvent
from auditstream.server.gitlab.pagination import decode_cursor, encode_cursor
from auditstream.server.gitlab.seed import Role
from auditstream.server.gitlab.state import GITLAB_STATE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
INSTANCE_MAX_RANGE = timedelta(days=30)
THROTTLED_BODY = b"Retry later\n"  # what GitLab's Rack::Attack answers


def add_rest_routes(app: web.Application) -> None:
    app.router.add_get("/api/v4/groups/{id}/audit_events", group_audit_events)
    app.router.add_get("/api/v4/projects/{id}/audit_events", project_audit_events)
    app.router.add_get("/api/v4/audit_events", instance_audit_events)
    app.router.add_get("/api/v4/groups/{id}", group_details)
    app.router.add_get("/api/v4/groups/{id}/descendant_groups", descendant_groups)
    app.router.add_get("/api/v4/groups/{id}/projects", group_projects)


@web.middleware
async def throttled(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The rate-limit knob, before anything else, as GitLab's throttle sits in front."""
    if request.path.startswith("/api/v4/"):
        headers = request.app[GITLAB_STATE].throttle.take()
        if headers is not None:
            return web.Response(status=429, body=THROTTLED_BODY, headers=headers,
                                content_type="text/plain")
    return await handler(request)


async def group_details(request: web.Request) -> web.Response:
    directory = request.app[GITLAB_STATE].core.directory
    group = _find(directory, request, "Group", _user(request))
    assert isinstance(group, Group)
    return _json(_group_json(group))


async def descendant_groups(request: web.Request) -> web.Response:
    directory = request.app[GITLAB_STATE].core.directory
    group = _find(directory, request, "Group", _user(request))
    below = [g for g in directory.groups if g.full_path.startswith(group.full_path + "/")]
    return _offset_page(request, [_group_json(g) for g in sorted(below, key=lambda g: g.id)])


async def group_projects(request: web.Request) -> web.Response:
    directory = request.app[GITLAB_STATE].core.directory
    group = _find(directory, request, "Group", _user(request))
    deep = request.query.get("include_subgroups", "false") == "true"
    found = [p for p in directory.projects
             if p.group_id == group.id or (deep and p.full_path.startswith(group.full_path + "/"))]
    items = [{"id": p.id, "name": p.name, "path": p.path, "path_with_namespace": p.full_path,
              "namespace": {"id": p.group_id, "kind": "group"}}
             for p in sorted(found, key=lambda p: p.id)]
    return _offset_page(request, items)


def _group_json(group: Group) -> dict[str, object]:
    return {"id": group.id, "name": group.name, "path": group.path,
            "full_path": group.full_path, "parent_id": group.parent_id}


def _offset_page(request: web.Request, items: list[dict[str, object]]) -> web.Response:
    page, per_page = page_parameters(request.query)
    headers = page_headers(str(request.url.with_query(None)), dict(request.query), page,
                           per_page, len(items))
    return _json(items[(page - 1) * per_page: page * per_page], headers)


def _json(data: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json",
                        headers=headers)


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
    return _listing(request, None, max_range=INSTANCE_MAX_RANGE)


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


def _listing(request: web.Request, entity: Namespace | None, *,
             max_range: timedelta | None = None) -> web.Response:
    query = request.query
    after, before = time_parameter(query, "created_after"), time_parameter(query,
                                                                           "created_before")
    if max_range is not None:
        after, before = _bounded(after, before, max_range)
    events = request.app[GITLAB_STATE].core.events.listing(
        entity, created_after=after, created_before=before)
    if query.get("pagination") == "keyset":
        return _keyset_page(request, events)
    page, per_page = page_parameters(query)
    chosen = events[(page - 1) * per_page: page * per_page]
    headers = page_headers(str(request.url.with_query(None)), dict(query), page, per_page,
                           len(events))
    return _json([e.rest_item() for e in chosen], headers)


def _bounded(after: datetime | None, before: datetime | None,
             max_range: timedelta) -> tuple[datetime, datetime | None]:
    """The instance list's 30 days: a wider range is refused, a missing start defaulted."""
    end = before if before is not None else datetime.now(UTC)
    if after is None:
        return end - max_range, before
    if end - after > max_range:
        raise RestError.message(400, "400 Bad request - created_after and created_before "
                                     f"must be at most {max_range.days} days apart")
    return after, before


def _keyset_page(request: web.Request, events: list[AuditEvent]) -> web.Response:
    """One keyset page: ``order_by=id``, ``sort`` asc/desc, ``cursor`` from the last page."""
    query = request.query
    if query.get("order_by", "id") != "id":
        raise RestError.error(400, "order_by does not have a valid value")
    sort = query.get("sort", "desc")
    if sort not in ("asc", "desc"):
        raise RestError.error(400, "sort does not have a valid value")
    _, per_page = page_parameters(query)
    ordered = sorted(events, key=lambda e: int(e.id), reverse=sort == "desc")
    if "cursor" in query:
        try:
            cut = decode_cursor(query["cursor"])
        except ArgumentError:
            raise RestError.error(400, "cursor is invalid") from None
        ordered = [e for e in ordered if (int(e.id) > cut if sort == "asc" else int(e.id) < cut)]
    chosen = ordered[:per_page]
    headers = {"X-Per-Page": str(per_page)}
    if len(ordered) > per_page:
        following = {**query, "cursor": encode_cursor(int(chosen[-1].id)), "order_by": "id",
                     "pagination": "keyset", "per_page": str(per_page), "sort": sort}
        url = f"{request.url.with_query(None)}?{urlencode(sorted(following.items()))}"
        headers["Link"] = f'<{url}>; rel="next"'
    return _json([e.rest_item() for e in chosen], headers)


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
