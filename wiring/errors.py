"""Errors of the wiring.

    WiringError          base
    └── StartupError     a part cannot start (the address is taken, the journal's place is
                         not writable, ...); the message names the setting and the fix.
                         Nothing was created. Retrying cannot help until it is fixed.
"""

from __future__ import annotations


class WiringError(Exception):
    """Base of the wiring's errors."""


class StartupError(WiringError):
    """A part cannot start; the message names the setting to change."""
