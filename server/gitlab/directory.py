"""Who and what the stand-in knows: users, the group tree, projects, and who may do what.

Pure and read-only once built from a seed. Roles are inherited as in GitLab: a member of a
group has at least that role in every subgroup and project below it; administrators may do
everything.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field

from auditstream.server.gitlab import ids
from auditstream.server.gitlab.seed import Role, Seed


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    name: str
    token: str = field(repr=False)
    admin: bool = False

    @property
    def gid(self) -> str:
        return ids.gid(ids.USER, self.id)


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    full_path: str
    name: str
    parent_id: int | None

    @property
    def path(self) -> str:
        return self.full_path.rpartition("/")[2]

    @property
    def gid(self) -> str:
        return ids.gid(ids.GROUP, self.id)

    @property
    def top_level(self) -> bool:
        return self.parent_id is None


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    full_path: str
    name: str
    group_id: int

    @property
    def path(self) -> str:
        return self.full_path.rpartition("/")[2]

    @property
    def gid(self) -> str:
        return ids.gid(ids.PROJECT, self.id)


Namespace = Group | Project


class Directory:
    """Users, groups and projects, looked up by id, path or token."""

    def __init__(self, users: tuple[User, ...], groups: tuple[Group, ...],
                 projects: tuple[Project, ...],
                 members: dict[tuple[int, str, int], Role]) -> None:
        self.users = users
        self.groups = groups
        self.projects = projects
        # (user id, "group" or "project", namespace id) -> the direct role there
        self._members = members

    @classmethod
    def from_seed(cls, seed: Seed) -> Directory:
        users = tuple(User(n, u.username, u.name or u.username, u.token, u.admin)
                      for n, u in enumerate(seed.users, start=1))
        user_ids = {user.username: user.id for user in users}
        group_ids: dict[str, int] = {}
        groups: list[Group] = []
        members: dict[tuple[int, str, int], Role] = {}
        for number, entry in enumerate(seed.groups, start=1):
            parent = entry.path.rpartition("/")[0]
            groups.append(Group(number, entry.path, entry.name or entry.path,
                                group_ids.get(parent)))
            group_ids[entry.path] = number
            for username, role in entry.members:
                members[(user_ids[username], "group", number)] = role
        projects: list[Project] = []
        for number, entry in enumerate(seed.projects, start=1):
            projects.append(Project(number, entry.path, entry.name or entry.path,
                                    group_ids[entry.path.rpartition("/")[0]]))
            for username, role in entry.members:
                members[(user_ids[username], "project", number)] = role
        return cls(users, tuple(groups), tuple(projects), members)

    def user_by_token(self, token: str) -> User | None:
        found = None
        for user in self.users:
            # Compare every token in constant time, so timing says nothing about them.
            if hmac.compare_digest(user.token.encode(), token.encode()):
                found = user
        return found

    def user_named(self, username: str) -> User | None:
        return next((u for u in self.users if u.username == username), None)

    def user(self, number: int) -> User | None:
        return next((u for u in self.users if u.id == number), None)

    def group(self, number: int) -> Group | None:
        return next((g for g in self.groups if g.id == number), None)

    def project(self, number: int) -> Project | None:
        return next((p for p in self.projects if p.id == number), None)

    def group_by_path(self, full_path: str) -> Group | None:
        return next((g for g in self.groups if g.full_path == full_path), None)

    def project_by_path(self, full_path: str) -> Project | None:
        return next((p for p in self.projects if p.full_path == full_path), None)

    def namespace_by_path(self, full_path: str) -> Namespace | None:
        return self.group_by_path(full_path) or self.project_by_path(full_path)

    def ancestors(self, group: Group) -> Iterator[Group]:
        """The group itself, then its parent, up to its top-level group."""
        current: Group | None = group
        while current is not None:
            yield current
            current = self.group(current.parent_id) if current.parent_id else None

    def group_of(self, namespace: Namespace) -> Group:
        if isinstance(namespace, Group):
            return namespace
        group = self.group(namespace.group_id)
        if group is None:
            raise LookupError(f"project {namespace.full_path} has no group")
        return group

    def contains(self, outer: Namespace, inner: Namespace) -> bool:
        """Whether ``inner`` is ``outer`` or lies below it in the tree."""
        if isinstance(outer, Project):
            return isinstance(inner, Project) and inner.id == outer.id
        return any(g.id == outer.id for g in self.ancestors(self.group_of(inner)))

    def role_in(self, user: User, namespace: Namespace) -> Role | None:
        """The user's role in a group or project: the highest of its own and inherited."""
        roles = [self._members.get((user.id, "group", g.id))
                 for g in self.ancestors(self.group_of(namespace))]
        if isinstance(namespace, Project):
            roles.append(self._members.get((user.id, "project", namespace.id)))
        held = [role for role in roles if role is not None]
        return max(held) if held else None

    def can_read(self, user: User | None, namespace: Namespace) -> bool:
        """Every seeded group and project is private: members and administrators see it."""
        return user is not None and (user.admin or self.role_in(user, namespace) is not None)

    def has_role(self, user: User | None, namespace: Namespace, role: Role) -> bool:
        if user is None:
            return False
        held = self.role_in(user, namespace)
        return user.admin or (held is not None and held >= role)
