"""Streaming destinations as values, and the store that holds them.

One ``Destination`` type covers GitLab's four tables: the legacy API's group and instance
destinations and the consolidated API's (16.11+) group and instance ones. They differ in
names, IDs and a few rules, not in what streaming does with them, so the streamer treats them
alike. Every change replaces a frozen value in the store; nothing is edited in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from auditstream.server.gitlab import ids
from auditstream.server.gitlab.directory import Namespace

T = TypeVar("T")

# What GitLab sends the destination's token in.
TOKEN_HEADER = "X-Gitlab-Event-Streaming-Token"  # noqa: S105 (a header name)
EVENT_TYPE_HEADER = "X-Gitlab-Audit-Event-Type"


class Api(StrEnum):
    LEGACY = "legacy"          # ExternalAuditEventDestination and friends (14.5+)
    STREAMING = "streaming"    # the consolidated API (16.11+)


class Scope(StrEnum):
    GROUP = "group"
    INSTANCE = "instance"


_MODELS = {
    (Api.LEGACY, Scope.GROUP): ids.GROUP_DESTINATION,
    (Api.LEGACY, Scope.INSTANCE): ids.INSTANCE_DESTINATION,
    (Api.STREAMING, Scope.GROUP): ids.GROUP_STREAMING_DESTINATION,
    (Api.STREAMING, Scope.INSTANCE): ids.INSTANCE_STREAMING_DESTINATION,
}
HEADER_MODELS = {Scope.GROUP: ids.GROUP_HEADER, Scope.INSTANCE: ids.INSTANCE_HEADER}
FILTER_MODELS = {Api.LEGACY: ids.NAMESPACE_FILTER, Api.STREAMING: ids.GROUP_NAMESPACE_FILTER}


@dataclass(frozen=True, slots=True)
class Header:
    """A custom HTTP header sent with every event; inactive ones are kept but not sent."""

    id: int
    key: str
    value: str
    active: bool = True
    model: str = ids.GROUP_HEADER

    @property
    def gid(self) -> str:
        return ids.gid(self.model, self.id)


@dataclass(frozen=True, slots=True)
class NamespaceFilter:
    """Only events of this subgroup or project (and what lies below it) are streamed."""

    id: int
    namespace: Namespace
    destination_id: int
    model: str = ids.NAMESPACE_FILTER

    @property
    def gid(self) -> str:
        return ids.gid(self.model, self.id)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where GitLab streams: the URL, the token it sends, headers and filters."""

    api: Api
    scope: Scope
    id: int
    name: str
    url: str
    token: str = field(repr=False)
    group_id: int | None = None
    active: bool = True
    category: str = "http"
    event_type_filters: tuple[str, ...] = ()
    headers: tuple[Header, ...] = ()
    namespace_filters: tuple[NamespaceFilter, ...] = ()

    @property
    def model(self) -> str:
        return _MODELS[(self.api, self.scope)]

    @property
    def gid(self) -> str:
        return ids.gid(self.model, self.id)

    def header(self, number: int) -> Header | None:
        return next((h for h in self.headers if h.id == number), None)

    def config(self) -> dict[str, Any]:
        """The consolidated API's ``config`` for the http category."""
        return {"url": self.url,
                "headers": {h.key: {"value": h.value, "active": h.active}
                            for h in self.headers}}


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What an operation did: its value, or GitLab's validation messages (never both)."""

    value: T | None = None
    errors: tuple[str, ...] = ()

    @classmethod
    def refused(cls, errors: list[str] | tuple[str, ...]) -> Outcome[T]:
        return cls(None, tuple(errors))


class DestinationStore:
    """Every destination, by table; ids count per table from 1, as GitLab's do."""

    def __init__(self) -> None:
        self._tables: dict[tuple[Api, Scope], dict[int, Destination]] = {
            key: {} for key in _MODELS}
        self._sequences: dict[str, int] = {}

    def next_id(self, model: str) -> int:
        self._sequences[model] = self._sequences.get(model, 0) + 1
        return self._sequences[model]

    def all(self) -> Iterator[Destination]:
        for table in self._tables.values():
            yield from table.values()

    def get(self, api: Api, scope: Scope, number: int) -> Destination | None:
        return self._tables[(api, scope)].get(number)

    def listing(self, api: Api, scope: Scope, group_id: int | None = None) -> list[Destination]:
        """A group's destinations (or the instance's) in creation order."""
        table = self._tables[(api, scope)]
        return [d for _, d in sorted(table.items()) if d.group_id == group_id]

    def siblings(self, destination: Destination) -> list[Destination]:
        """The other destinations of the same table and group, which rules compare with."""
        return [d for d in self.listing(destination.api, destination.scope, destination.group_id)
                if d.id != destination.id]

    def save(self, destination: Destination) -> Destination:
        self._tables[(destination.api, destination.scope)][destination.id] = destination
        return destination

    def delete(self, destination: Destination) -> None:
        self._tables[(destination.api, destination.scope)].pop(destination.id, None)

    def with_header(self, scope: Scope, number: int) -> tuple[Destination, Header] | None:
        """The legacy destination holding header ``number`` of the given scope's table."""
        for destination in self._tables[(Api.LEGACY, scope)].values():
            header = destination.header(number)
            if header is not None:
                return destination, header
        return None

    def with_filter(self, api: Api, number: int) -> tuple[Destination, NamespaceFilter] | None:
        """The group destination holding namespace filter ``number``."""
        for destination in self._tables[(api, Scope.GROUP)].values():
            for namespace_filter in destination.namespace_filters:
                if namespace_filter.id == number:
                    return destination, namespace_filter
        return None
