"""A secret value that never shows itself in logs, reprs or tracebacks."""

from __future__ import annotations

import hashlib


class Secret:
    """Holds a secret string; ``repr`` and ``str`` say only that it is there."""

    __slots__ = ("_digest", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._digest = hashlib.sha256(value.encode()).digest()

    def reveal(self) -> str:
        """The secret itself: only for sending it where it belongs, or when a user asks."""
        return self._value

    @property
    def digest(self) -> bytes:
        return self._digest

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._digest == self._digest

    def __hash__(self) -> int:
        return hash(self._digest)
