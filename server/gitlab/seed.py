"""The seed: users, groups, projects and memberships (and optionally destinations) the
stand-in starts with, from a small TOML or JSON file or the built-in demo seed.

A seed file (TOML shown; JSON takes the same structure, chosen by the ``.json`` suffix)::

    [[users]]
    username = "owner"
    name = "Olivia Owner"                 # optional, default the username
    token = "glpat-demo-owner-000000000"  # its personal access token (api scope)
    admin = false                         # optional; administrators may do everything

    [[groups]]
    path = "acme"                         # full path; a subgroup names its parent first
    name = "ACME"                         # optional, default the last path segment
    owners = ["owner"]                    # optional: members by role; subgroups and
    maintainers = ["maintainer"]          # projects inherit them (GitLab's inheritance)
    developers = ["developer"]

    [[projects]]
    path = "acme/website"                 # its group's full path, then its own path
    developers = ["someone"]              # optional, as for groups

    [[destinations]]                      # optional: legacy destinations made at start
    group = "acme"                        # leave out for an instance destination
    url = "http://127.0.0.1:8080/gitlab"
    name = "siem"                         # optional, as in the API
    token = "0123456789abcdef0123"        # optional, as in the API (16-24 characters)
    event_types = ["repository_git_operation"]   # optional filters

Ids are given in file order from 1: users, groups and projects each count on their own.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from auditstream.server.gitlab.errors import GitLabConfigError


class Role(IntEnum):
    """GitLab's access levels (the numbers are GitLab's)."""

    GUEST = 10
    REPORTER = 20
    DEVELOPER = 30
    MAINTAINER = 40
    OWNER = 50


# The seed file's key for each role's member list.
ROLE_KEYS = {"owners": Role.OWNER, "maintainers": Role.MAINTAINER,
             "developers": Role.DEVELOPER, "reporters": Role.REPORTER, "guests": Role.GUEST}


@dataclass(frozen=True, slots=True)
class SeedUser:
    username: str
    token: str = field(repr=False)
    name: str = ""
    admin: bool = False


@dataclass(frozen=True, slots=True)
class SeedNamespace:
    """A group or a project: its full path, display name and direct members."""

    path: str
    name: str = ""
    members: tuple[tuple[str, Role], ...] = ()


@dataclass(frozen=True, slots=True)
class SeedDestination:
    url: str
    group: str | None = None
    name: str | None = None
    token: str | None = field(default=None, repr=False)
    event_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Seed:
    users: tuple[SeedUser, ...]
    groups: tuple[SeedNamespace, ...]
    projects: tuple[SeedNamespace, ...] = ()
    destinations: tuple[SeedDestination, ...] = ()
    source: str = "built-in seed"

    def __post_init__(self) -> None:
        validate_seed(self)

    def token_for(self, username: str) -> str:
        for user in self.users:
            if user.username == username:
                return user.token
        raise KeyError(username)


def validate_seed(seed: Seed) -> None:
    """Raise ``GitLabConfigError`` naming the first wrong entry (and the file)."""
    where = seed.source
    _unique([u.username for u in seed.users], f"{where}: users: username")
    _unique([u.token for u in seed.users], f"{where}: users: token (each user needs its own)")
    for user in seed.users:
        if not user.username or not user.token:
            raise GitLabConfigError(f"{where}: users: username and token are required")
    usernames = {u.username for u in seed.users}
    _unique([g.path for g in seed.groups] + [p.path for p in seed.projects],
            f"{where}: groups/projects: path")
    known: set[str] = set()
    for group in seed.groups:
        parent, _, _ = group.path.rpartition("/")
        if parent and parent not in known:
            raise GitLabConfigError(f"{where}: groups[{group.path!r}]: parent group "
                                    f"{parent!r} must come first")
        _check_members(group, usernames, f"{where}: groups[{group.path!r}]")
        known.add(group.path)
    for project in seed.projects:
        parent = project.path.rpartition("/")[0]
        if parent not in known:
            raise GitLabConfigError(f"{where}: projects[{project.path!r}]: no group "
                                    f"{parent!r} among the groups")
        _check_members(project, usernames, f"{where}: projects[{project.path!r}]")
    for destination in seed.destinations:
        if destination.group is not None and destination.group not in known:
            raise GitLabConfigError(f"{where}: destinations: no group {destination.group!r}")


def _unique(values: list[str], what: str) -> None:
    if len(set(values)) != len(values):
        duplicate = next(v for v in values if values.count(v) > 1)
        raise GitLabConfigError(f"{what}: {duplicate!r} appears twice")


def _check_members(namespace: SeedNamespace, usernames: set[str], where: str) -> None:
    if not namespace.path or any(not part for part in namespace.path.split("/")):
        raise GitLabConfigError(f"{where}: path must be non-empty segments joined by '/'")
    for username, _role in namespace.members:
        if username not in usernames:
            raise GitLabConfigError(f"{where}: member {username!r} is not among the users")


def load_seed(path: Path) -> Seed:
    """Read a seed file (TOML, or JSON by suffix), validated whole."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GitLabConfigError(f"cannot read seed file {path}: {exc.strerror or exc}") from exc
    try:
        document = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise GitLabConfigError(f"{path}: not valid {kind}: {exc}") from exc
    if not isinstance(document, dict):
        raise GitLabConfigError(f"{path}: the seed must be a table/object")
    return seed_from(document, str(path))


def seed_from(document: Mapping[str, Any], source: str) -> Seed:
    """A seed from a parsed document; errors name the key and ``source``."""
    unknown = set(document) - {"users", "groups", "projects", "destinations"}
    if unknown:
        raise GitLabConfigError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}")
    try:
        return Seed(
            users=tuple(_user(entry) for entry in _entries(document, "users")),
            groups=tuple(_namespace(entry) for entry in _entries(document, "groups")),
            projects=tuple(_namespace(entry) for entry in _entries(document, "projects")),
            destinations=tuple(_destination(entry)
                               for entry in _entries(document, "destinations")),
            source=source)
    except (TypeError, ValueError) as exc:
        raise GitLabConfigError(f"{source}: {exc}") from exc


def _entries(document: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    entries = document.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise TypeError(f"{key}: must be a list of tables")
    return entries


def _text(entry: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str):
        raise TypeError(f"{key}: must be a string, in {dict(entry)!r}" if key in entry
                        else f"{key}: required, missing in {sorted(entry)!r}")
    return value


def _user(entry: Mapping[str, Any]) -> SeedUser:
    _only(entry, "users", {"username", "token", "name", "admin"})
    username = _text(entry, "username")
    admin = entry.get("admin", False)
    if not isinstance(admin, bool):
        raise TypeError(f"users[{username!r}].admin: must be true or false")
    return SeedUser(username, _text(entry, "token"), _text(entry, "name", username), admin)


def _namespace(entry: Mapping[str, Any]) -> SeedNamespace:
    _only(entry, "groups/projects", {"path", "name", *ROLE_KEYS})
    path = _text(entry, "path")
    members: list[tuple[str, Role]] = []
    for key, role in ROLE_KEYS.items():
        names = entry.get(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise TypeError(f"{path}.{key}: must be a list of usernames")
        members.extend((name, role) for name in names)
    return SeedNamespace(path, _text(entry, "name", path.rpartition("/")[2]), tuple(members))


def _destination(entry: Mapping[str, Any]) -> SeedDestination:
    _only(entry, "destinations", {"url", "group", "name", "token", "event_types"})
    types = entry.get("event_types", [])
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise TypeError("destinations.event_types: must be a list of strings")
    return SeedDestination(
        url=_text(entry, "url"),
        group=_text(entry, "group") if "group" in entry else None,
        name=_text(entry, "name") if "name" in entry else None,
        token=_text(entry, "token") if "token" in entry else None,
        event_types=tuple(types))


def _only(entry: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")


def _demo_token(role: str) -> str:
    # The shape of a GitLab personal access token: "glpat-" and 20 characters.
    return "glpat-" + f"demo-{role}-".ljust(20, "0")


DEFAULT_SEED = Seed(
    users=(
        SeedUser("admin", _demo_token("admin"), "Ada Admin", admin=True),
        SeedUser("owner", _demo_token("owner"), "Olivia Owner"),
        SeedUser("maintainer", _demo_token("maint"), "Mark Maintainer"),
        SeedUser("developer", _demo_token("dev"), "Dana Developer"),
        SeedUser("outsider", _demo_token("out"), "Oscar Outsider"),
        SeedUser("globex-owner", _demo_token("globex"), "Gina Globex"),
    ),
    groups=(
        SeedNamespace("acme", "ACME", (("owner", Role.OWNER), ("maintainer", Role.MAINTAINER),
                                       ("developer", Role.DEVELOPER))),
        SeedNamespace("acme/platform", "Platform"),
        SeedNamespace("globex", "Globex", (("globex-owner", Role.OWNER),)),
    ),
    projects=(
        SeedNamespace("acme/website", "Website"),
        SeedNamespace("acme/platform/api", "API"),
        SeedNamespace("globex/portal", "Portal"),
    ),
)
