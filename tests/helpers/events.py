"""Events as the receiver hands them to a journal: the one builder for journal tests."""

from __future__ import annotations

from auditstream.journal import IncomingEvent


def event(event_id: str | int, *, instance: str = "default", received_at: float = 1000.0,
          body: bytes | None = None, extra_keys: tuple[str, ...] = (),
          destination: str = "default") -> IncomingEvent:
    """An audit_operation on acme/app, deduplicated by its id (and ``extra_keys``)."""
    return IncomingEvent(
        instance=instance, event_id=str(event_id), dedup_keys=(f"id:{event_id}", *extra_keys),
        destination=destination, received_at=received_at,
        body=body if body is not None else b'{"id": %s}' % str(event_id).encode(),
        event_type="audit_operation", created_at=999.5, entity_type="Project",
        entity_path="acme/app")
