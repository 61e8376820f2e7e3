"""A redirect's ``Location`` as it may appear in a reason or a log line.

A redirect is never followed (by the relay's sinks or by the GitLab client), but where it
pointed is what the operator needs to fix the URL; it is shown printable, short, and without
a user or password that the answering server may have put in it.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

_MAX_CHARS = 300


def describe_location(location: str | None) -> str:
    """The target of a redirect, fit for a log line; "no Location header" when absent."""
    if not location or not location.strip():
        return "no Location header"
    text = "".join(ch if ch.isprintable() else "?" for ch in location.strip()[:_MAX_CHARS])
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return repr(text)
    if (parts.username is None and parts.password is None) or host is None:
        return text
    host = f"[{host}]" if ":" in host else host
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
