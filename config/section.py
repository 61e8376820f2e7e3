"""A TOML table with typed getters whose errors name ``file: key`` (for ``config.app``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditstream.common.secrets import Secret
from auditstream.config.errors import ConfigError


class Section:
    """A TOML table with typed getters whose errors name ``file: key``."""

    def __init__(self, data: Mapping[str, Any], prefix: str, path: Path,
                 environ: Mapping[str, str], *, read_secrets: bool = True) -> None:
        self.data, self.prefix, self.path, self.environ = data, prefix, path, environ
        # False for a part the command does not run: secrets are checked for form only.
        self.read_secrets = read_secrets

    def where(self, key: str) -> str:
        return f"{self.path}: {self.prefix}{key}"

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where(key)}: {message}")

    def only(self, *known: str) -> None:
        for key in self.data:
            if key not in known:
                raise self.error(key, f"unknown key (known here: {', '.join(known)})")

    def table(self, key: str, read_secrets: bool | None = None) -> Section:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, "must be a table")
        return Section(value, f"{self.prefix}{key}.", self.path, self.environ,
                       read_secrets=self._inherit(read_secrets))

    def tables(self, key: str, read_secrets: bool | None = None) -> list[Section]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, "must be an array of tables ([[...]])")
        return [Section(v, f"{self.prefix}{key}[{i}].", self.path, self.environ,
                        read_secrets=self._inherit(read_secrets))
                for i, v in enumerate(value)]

    def _inherit(self, read_secrets: bool | None) -> bool:
        return self.read_secrets and (read_secrets is None or read_secrets)

    def string(self, key: str, default: str | None = None) -> str:
        value = self.optional_string(key)
        if value is None:
            if default is None:
                raise self.error(key, "is required")
            return default
        return value

    def optional_string(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.error(key, "must be a non-empty string")
        return value

    def number(self, key: str, default: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.error(key, f"must be a non-negative number, got {value!r}")
        return float(value)

    def positive_number(self, key: str, default: float) -> float:
        value = self.number(key, default)
        if value == 0:
            raise self.error(key, "must be more than 0")
        return value

    def optional_duration(self, key: str) -> float | None:
        """Seconds, from a number or a string such as ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"``;
        None when the key is absent."""
        value = self.data.get(key)
        if value is None:
            return None
        seconds = parse_duration(value)
        if seconds is None:
            raise self.error(key, 'must be a duration above 0: seconds, or a string such as '
                                  f'"90s", "30m", "2h", "1d"; got {value!r}')
        return seconds

    def whole_number(self, key: str, default: int, minimum: int = 1) -> int:
        """An integer of at least ``minimum`` (a float such as 1.5 is refused, not cut)."""
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(key, f"must be a whole number of at least {minimum}, got {value!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def _names(self, key: str) -> list[str]:
        value = self.data.get(key, [])
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise self.error(key, "must be a string or a list of strings")
        return names

    def secrets_from_env(self, key: str) -> list[Secret]:
        if not self.read_secrets:
            return [UNREAD_SECRET for _ in self._names(key)]
        return [secret_from_env(name, self.where(key), self.environ)
                for name in self._names(key)]

    def secrets_from_file(self, key: str) -> list[Secret]:
        if not self.read_secrets:
            return [UNREAD_SECRET for _ in self._names(key)]
        return [secret_from_file(self.path.parent / name, self.where(key))
                for name in self._names(key)]


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float | None:
    """A duration above 0 in seconds (a number, or a number and a unit: s, m, h, d), else
    None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip()[-1:] in _UNITS:
        text = value.strip()
        try:
            seconds = float(text[:-1]) * _UNITS[text[-1]]
        except ValueError:
            return None
    else:
        return None
    return seconds if 0 < seconds < float("inf") else None


# Stands in for a secret of a part the command does not run; that part's config is dropped
# before anyone could use it (``load_config(parts=...)``).
UNREAD_SECRET = Secret("\0unread")


def secret_from_env(name: str, where: str, environ: Mapping[str, str]) -> Secret:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{where}: environment variable {name} is not set or empty")
    return Secret(value)


def secret_from_file(path: Path, where: str) -> Secret:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read token file {path}: {exc}") from exc
    if not value:
        raise ConfigError(f"{where}: token file {path} is empty")
    return Secret(value)
