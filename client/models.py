"""What the client returns: frozen values, the same for the legacy and consolidated APIs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INSTANCE_SCOPE = "instance"


@dataclass(frozen=True, slots=True)
class StreamingHeader:
    """A custom HTTP header GitLab sends with every event to a destination."""

    id: str
    key: str
    value: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class Destination:
    """A streaming destination. ``scope`` is ``group:<full path>`` or ``instance``."""

    id: str
    name: str
    url: str
    verification_token: str = field(repr=False)  # a secret: never in a log line or traceback
    event_type_filters: tuple[str, ...]
    headers: tuple[StreamingHeader, ...]
    scope: str
    namespace_filter: str | None = None
    active: bool = True

    def as_json(self, *, show_token: bool) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "url": self.url, "scope": self.scope,
            "verification_token": self.verification_token if show_token
            else mask(self.verification_token),
            "event_type_filters": list(self.event_type_filters),
            "namespace_filter": self.namespace_filter, "active": self.active,
            "headers": [{"id": h.id, "key": h.key, "value": h.value, "active": h.active}
                        for h in self.headers],
        }


def group_scope(full_path: str) -> str:
    return f"group:{full_path}"


def mask(secret: str) -> str:
    """Enough to tell two tokens apart, not enough to use one."""
    return "****" + secret[-4:] if len(secret) >= 12 else "****"


def header_from(node: dict[str, Any]) -> StreamingHeader:
    return StreamingHeader(id=node["id"], key=node["key"], value=node["value"],
                           active=bool(node.get("active", True)))


def destination_from(node: dict[str, Any], scope: str) -> Destination:
    """A legacy destination node (group or instance) as a ``Destination``."""
    headers = node.get("headers") or {}
    return Destination(
        id=node["id"], name=node["name"], url=node["destinationUrl"],
        verification_token=node["verificationToken"],
        event_type_filters=tuple(node.get("eventTypeFilters") or ()),
        headers=tuple(header_from(h) for h in headers.get("nodes") or () if h),
        scope=scope)
