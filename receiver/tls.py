"""TLS for the receiver: modern protocol versions only, the certificate loaded at start-up."""

from __future__ import annotations

import ssl
from pathlib import Path

# TLS 1.0 and 1.1 are deprecated (RFC 8996); GitLab's HTTP client speaks 1.2 and 1.3.
MINIMUM_TLS_VERSION = ssl.TLSVersion.TLSv1_2


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context with ``cert`` (a PEM chain, leaf first) and its private ``key``;
    ``OSError`` or ``ssl.SSLError`` when they cannot be read or do not belong together."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_TLS_VERSION
    context.load_cert_chain(certfile=cert, keyfile=key)
    return context
