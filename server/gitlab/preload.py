"""Destinations a seed file declares, made before the stand-in starts listening.

They are there from the start, as if created long ago: no audit event is recorded for them.
A seeded destination that breaks GitLab's rules is a seed error naming it.
"""

from __future__ import annotations

from auditstream.server.gitlab.core import GitLabCore, destination_model
from auditstream.server.gitlab.destinations import Api, Destination, Scope
from auditstream.server.gitlab.errors import GitLabConfigError
from auditstream.server.gitlab.rules import destination_errors, generate_verification_token
from auditstream.server.gitlab.seed import Seed


def preload_destinations(core: GitLabCore, seed: Seed) -> None:
    for number, entry in enumerate(seed.destinations, start=1):
        group = core.directory.group_by_path(entry.group) if entry.group else None
        scope = Scope.GROUP if group is not None else Scope.INSTANCE
        draft = Destination(
            api=Api.LEGACY, scope=scope, id=core.store.next_id(destination_model(Api.LEGACY,
                                                                                 scope)),
            group_id=group.id if group else None, url=entry.url,
            name=entry.name or f"Destination_{number}",
            token=entry.token or generate_verification_token(),
            event_type_filters=entry.event_types)
        errors = destination_errors(draft, core.store.siblings(draft), creating=True,
                                    top_level=group is None or group.top_level,
                                    strict_urls=core.strict_urls)
        if errors:
            raise GitLabConfigError(f"{seed.source}: destinations[{number}] ({entry.url}): "
                                    + "; ".join(errors))
        core.store.save(draft)
