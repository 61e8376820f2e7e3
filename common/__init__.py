"""auditstream.common: what receiver, relay and journal share (secrets, health answers)."""
