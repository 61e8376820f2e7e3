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
            raise self.refuse(key, value, "a table")
        return Section(value, f"{self.prefix}{key}.", self.path, self.environ,
                       read_secrets=self._inherit(read_secrets))

    def tables(self, key: str, read_secrets: bool | None = None) -> list[Section]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.refuse(key, value, "an array of tables ([[...]])")
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
            raise self.refuse(key, value, "a non-empty string")
        return value

    def refuse(self, key: str, value: object, allowed: str) -> ConfigError:
        """The one wording of a bad value: the file, the key, what was given, what is allowed."""
        return self.error(key, f"must be {allowed}, got {value!r}")

    def number(self, key: str, default: float, minimum: float = 0.0) -> float:
        """A number (int or float) of at least ``minimum``."""
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum \
                or value != value:
            allowed = "a non-negative number" if minimum == 0 else \
                f"a number of at least {minimum:g}"
            raise self.refuse(key, value, allowed)
        return float(value)

    def positive_number(self, key: str, default: float) -> float:
        """A number above 0 (seconds to wait, minutes between runs)."""
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise self.refuse(key, value, "a number more than 0")
        return float(value)

    def optional_duration(self, key: str) -> float | None:
        """Seconds, from a number or a string such as ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"``;
        None when the key is absent."""
        value = self.data.get(key)
        if value is None:
            return None
        seconds = parse_duration(value)
        if seconds is None:
            raise self.refuse(key, value, 'a duration above 0: seconds, or a string such as '
                                          '"90s", "30m", "2h", "1d"')
        return seconds

    def duration(self, key: str, default: float) -> float:
        """As ``optional_duration``, with ``default`` (seconds) when the key is absent."""
        seconds = self.optional_duration(key)
        return default if seconds is None else seconds

    def whole_number(self, key: str, default: int, minimum: int = 1,
                     maximum: int | None = None) -> int:
        """An integer from ``minimum`` to ``maximum`` (a float such as 1.5 is refused, not cut;
        0 below ``minimum`` is refused, not raised to it)."""
        value = self.optional_whole_number(key, minimum, maximum)
        return default if value is None else value

    def optional_whole_number(self, key: str, minimum: int = 1,
                              maximum: int | None = None) -> int | None:
        """As ``whole_number``; None when the key is absent."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum \
                or (maximum is not None and value > maximum):
            allowed = (f"a whole number of at least {minimum}" if maximum is None
                       else f"a whole number from {minimum} to {maximum}")
            raise self.refuse(key, value, allowed)
        return value

    def choice(self, key: str, default: str, known: tuple[str, ...]) -> str:
        """One of ``known`` (a string)."""
        value = self.string(key, default)
        if value not in known:
            raise self.refuse(key, value, f"one of {', '.join(known)}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.refuse(key, value, "true or false")
        return value

    def strings(self, key: str, example: str = '["a", "b"]') -> list[str]:
        """A list of strings (absent: empty)."""
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.refuse(key, value, f"a list of strings such as {example}")
        return value

    def _names(self, key: str) -> list[str]:
        value = self.data.get(key, [])
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise self.refuse(key, value, "a string or a list of strings")
        return names

    def secrets(self, env_key: str, file_key: str, *, fewest: int, most: int,
                what: str) -> list[Secret]:
        """Secrets named by ``env_key`` (environment variables) and ``file_key`` (files beside
        the config), ``fewest`` to ``most`` of them in all; ``what`` says whose they are."""
        found = [*self.secrets_from_env(env_key), *self.secrets_from_file(file_key)]
        check_count(len(found), fewest, most, f"{what} needs {env_key} or {file_key}",
                    self.where(env_key))
        return found

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


def check_count(given: int, fewest: int, most: int, what: str, where: str) -> None:
    """Refuse ``given`` secrets outside ``fewest``..``most``: one check for the file's keys
    and the command line's options (a destination takes two while its token rotates)."""
    if fewest <= given <= most:
        return
    words = {0: "none", 1: "one", 2: "two"}
    allowed = (f"exactly {words.get(most, most)}" if fewest == most
               else f"{words.get(fewest, fewest)} or {words.get(most, most)}"
               if most == fewest + 1 else f"{words.get(fewest, fewest)} to {words.get(most, most)}")
    raise ConfigError(f"{where}: {what}: {allowed} in all, got {given}")


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
