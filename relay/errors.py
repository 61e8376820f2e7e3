"""Errors of the relay.

    RelayError                  base
    ├── SinkUnavailable         the sink could not be reached or did not answer in time
    │                           (connection refused or reset, timeout); retrying can help
    ├── SinkWriteFailed         a local sink (file) could not write; retrying can help once
    │                           the disk is fixed, and nothing is lost meanwhile
    └── MappingTableError       the OCSF mapping table is unusable (a packaging bug, found when
                                it is loaded at start-up); retrying cannot help
"""

from __future__ import annotations


class RelayError(Exception):
    """Base of every relay error."""


class SinkUnavailable(RelayError):
    """The sink was not reached or did not answer; the batch is retried as it is."""


class SinkWriteFailed(RelayError):
    """A local sink could not write; the batch is retried as it is."""


class MappingTableError(RelayError):
    """The OCSF mapping table shipped with the package is not what the mapper needs (a class,
    activity or severity it names is unknown). A packaging bug: retrying cannot help."""
