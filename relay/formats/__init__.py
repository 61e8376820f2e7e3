"""Formats: pure functions from a stored event to what a sink receives, chosen per sink.

- ``raw``: the event as GitLab sent it (in a HEC envelope: ``relay.envelope``), the default;
- ``ocsf``: one OCSF 1.7.0 event per GitLab event (``relay.formats.ocsf``), the original kept in
  ``raw_data`` unless a sink turns it off;
- CIM fields: Splunk Common Information Model names as indexed fields (``relay.formats.cim``),
  opt-in per HEC sink, with either format.
"""

from __future__ import annotations

RAW = "raw"
OCSF = "ocsf"
FORMATS = (RAW, OCSF)
