"""The destination's filters, as GitLab has them (GraphQL, through ``client``)."""

from __future__ import annotations

from auditstream.client import documents_newer as newer
from auditstream.client.api import streaming_api
from auditstream.client.errors import GitLabRefused
from auditstream.client.legacy import LegacyStreamingApi
from auditstream.client.models import Destination
from auditstream.client.session import GitLabSession
from auditstream.reconcile.config import ReconcileTarget
from auditstream.reconcile.errors import NotConfigured
from auditstream.reconcile.select import DestinationFilter


async def filters_from_gitlab(target: ReconcileTarget) -> DestinationFilter | None:
    """The event-type and namespace filters of the destination ``destination_id`` names;
    None when the config does not say which GitLab destination it is (or for a project,
    which has no streaming destinations of its own)."""
    if target.destination_id is None or target.scope.kind == "project":
        return None
    group = target.scope.path if target.scope.kind == "group" else None
    async with GitLabSession(target.gitlab_url, target.token.reveal()) as session:
        api = await streaming_api(session, group, "auto")
        found = next((d for d in await api.destinations() if d.id == target.destination_id),
                     None)
        if found is None:
            raise NotConfigured(f"destination {target.destination_id} of {target.scope} is "
                                "not in GitLab any more: run 'auditstream destinations sync'")
        namespace = found.namespace_filter
        if namespace is None and isinstance(api, LegacyStreamingApi) and group is not None:
            namespace = await _legacy_namespace_filter(session, group, found)
    return DestinationFilter(tuple(found.event_type_filters), namespace)


async def _legacy_namespace_filter(session: GitLabSession, group: str,
                                   destination: Destination) -> str | None:
    """The legacy API's namespace filter (16.7+; an older GitLab has none to apply)."""
    try:
        data = await session.execute(newer.GROUP_NAMESPACE_FILTER, {"fullPath": group})
    except GitLabRefused:
        return None
    nodes = (((data.get("group") or {}).get("externalAuditEventDestinations") or {})
             .get("nodes") or [])
    for node in nodes:
        if node and node.get("id") == destination.id and node.get("namespaceFilter"):
            return str(node["namespaceFilter"]["namespace"]["fullPath"])
    return None
