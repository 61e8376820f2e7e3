"""Which streaming API to talk to: the legacy one where GitLab still has it, else the
consolidated one (GitLab 20.0 removes the legacy API). Chosen by flag, or by asking GitLab's
schema whether ``Group.externalAuditEventDestinations`` exists."""

from __future__ import annotations

from typing import Literal, Protocol

from auditstream.client import documents_newer as newer
from auditstream.client.consolidated import ConsolidatedStreamingApi
from auditstream.client.legacy import DEFAULT_PAGE_SIZE, LegacyStreamingApi
from auditstream.client.models import Destination, StreamingHeader
from auditstream.client.session import GitLabSession

ApiChoice = Literal["auto", "legacy", "consolidated"]


class StreamingApi(Protocol):
    """What the commands need; both APIs provide it."""

    scope: str

    async def destinations(self) -> list[Destination]: ...
    async def create_destination(self, url: str, name: str | None,
                                 verification_token: str | None) -> Destination: ...
    async def update_destination(self, destination: str, url: str | None,
                                 name: str | None) -> Destination: ...
    async def delete_destination(self, destination: str) -> None: ...
    async def add_header(self, destination: str, key: str, value: str) -> StreamingHeader: ...
    async def update_header(self, header: str, key: str, value: str) -> StreamingHeader: ...
    async def delete_header(self, header: str) -> None: ...
    async def add_event_types(self, destination: str, event_types: list[str]) -> list[str]: ...
    async def remove_event_types(self, destination: str, event_types: list[str]) -> None: ...
    async def set_namespace_filter(self, destination: str, path: str, kind: str) -> str: ...
    async def remove_namespace_filter(self, destination: str) -> None: ...


async def streaming_api(session: GitLabSession, group: str | None, choice: ApiChoice,
                        page_size: int = DEFAULT_PAGE_SIZE) -> StreamingApi:
    if choice == "auto":
        choice = await detect(session)
    if choice == "legacy":
        return LegacyStreamingApi(session, group, page_size)
    return ConsolidatedStreamingApi(session, group, page_size)


async def detect(session: GitLabSession) -> ApiChoice:
    """Legacy while GitLab has it (it is what most instances run), else consolidated."""
    data = await session.execute(newer.API_PROBE)
    fields = {field["name"] for field in ((data.get("group") or {}).get("fields") or [])}
    return "legacy" if "externalAuditEventDestinations" in fields else "consolidated"
