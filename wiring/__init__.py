"""auditstream.wiring: starts the parts (journal, receiver, relay) for every command."""
