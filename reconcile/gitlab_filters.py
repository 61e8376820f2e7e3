"""The destination's filters, as GitLab has them (GraphQL, through ``client``)."""

from __future__ import annotations

from auditstream.client.api import streaming_api
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
        for destination in await api.destinations():
            if destination.id == target.destination_id:
                return DestinationFilter(tuple(destination.event_type_filters),
                                         destination.namespace_filter)
    raise NotConfigured(f"destination {target.destination_id} of {target.scope} is not in "
                        "GitLab any more: run 'auditstream destinations sync --write-config'")
