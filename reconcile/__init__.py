"""reconcile: close the stream's gaps with GitLab's stored audit events (issue 16).

``backfill.backfill`` lists a destination's stored events over REST (``client.audit_events``),
keeps what GitLab would have streamed to it (``select``), converts each to the streamed shape
(``convert``) and appends it through the journal under the same dedup key as a streamed event,
marked ``origin = backfill``. What cannot come back (stream-only event types) is reported.
"""
