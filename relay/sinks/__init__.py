"""Sinks: where the relay delivers batches. One module per kind."""
