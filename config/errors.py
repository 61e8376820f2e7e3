"""Errors of the client package (CLI and configuration).

    ClientError                 base
    └── ConfigError             the config file or options are wrong; the message names the
                                key and the file. Retrying cannot help until they are fixed.
"""

from __future__ import annotations


class ClientError(Exception):
    """Base of the client package's errors."""


class ConfigError(ClientError):
    """A configuration problem, naming the key and where it came from."""
