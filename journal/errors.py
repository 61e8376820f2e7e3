"""Errors of the journal.

    JournalError                 base: something about the journal went wrong
    ├── JournalUnavailable       the journal cannot take writes right now (disk full, locked,
    │                            read-only, I/O error); retrying later can help
    ├── JournalClosed            the journal was closed; retrying cannot help
    └── JournalCorrupt           the file is not a journal, or is of an unknown schema version;
                                 retrying cannot help, a person must look
"""

from __future__ import annotations


class JournalError(Exception):
    """Base of every journal error."""


class JournalUnavailable(JournalError):
    """The journal cannot take writes right now; retrying later can help."""


class JournalClosed(JournalError):
    """The journal was closed; no further calls are possible."""


class JournalCorrupt(JournalError):
    """The file is not an auditstream journal, or its schema is unknown."""
