"""Which destination a request belongs to, decided by its token in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from auditstream.receiver.config import DestinationConfig


class TokenVerifier:
    """Maps a presented token (and the request path) to the destination that holds it.

    The presented token is hashed and compared with every candidate's hash by
    ``hmac.compare_digest``, without stopping at the first match, so the time taken says
    nothing about how much of a token was right or which destination was tried.
    """

    def __init__(self, destinations: Sequence[DestinationConfig]) -> None:
        self._bound: dict[str, list[tuple[bytes, DestinationConfig]]] = {}
        self._unbound: list[tuple[bytes, DestinationConfig]] = []
        for destination in destinations:
            pairs = [(token.digest, destination) for token in destination.tokens]
            if destination.path is None:
                self._unbound.extend(pairs)
            else:
                self._bound.setdefault(normalise_path(destination.path), []).extend(pairs)

    def destination_for(self, path: str, token: str | None) -> DestinationConfig | None:
        """The destination holding ``token`` for ``path``, or None."""
        # Without path-bound destinations (the usual set-up) the path does not matter.
        candidates = (self._bound.get(normalise_path(path), self._unbound) if self._bound
                      else self._unbound)
        if token is None:
            return None
        presented = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found: DestinationConfig | None = None
        for digest, destination in candidates:
            if hmac.compare_digest(presented, digest):
                found = destination
        return found


def normalise_path(path: str) -> str:
    """``/acme/`` and ``/acme`` are the same binding."""
    stripped = path.rstrip("/")
    return stripped if stripped.startswith("/") else "/" + stripped
