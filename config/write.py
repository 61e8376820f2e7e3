"""Writing GitLab's destinations into the receiver's config file, so no token is copied by hand.

tomlkit edits the file in place, keeping the user's comments and layout. Tokens go to files of
their own (owner-only) that the config names with ``token_file``; never inline.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomlkit
from tomlkit.items import AoT, Array, Table

from auditstream.client.ids import short_id
from auditstream.client.models import Destination
from auditstream.config.errors import ConfigError

TOKENS_DIR = "tokens"
GITLAB_TOKEN_ENV = "GITLAB_TOKEN"  # noqa: S105 (the variable's name, not a token)
_NEW_FILE = """\
# auditstream receiver configuration. Destinations below were written by
# 'auditstream destinations create --write-config' or 'destinations sync'.
"""


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]


def receiver_path(url: str) -> str | None:
    """The URL path a destination is bound to on the receiver, if any."""
    path = urlsplit(url).path.rstrip("/")
    return path or None


def write_destination(config_path: Path, destination: Destination, instance: str,
                      gitlab_url: str | None = None) -> Path:
    """Add (or refresh) ``destination`` in the file; the token file's path."""
    document = _load(config_path)
    entries = _destinations(document)
    _write_entry(config_path, entries, destination, instance, gitlab_url)
    _save(config_path, document)
    return config_path.parent / _token_file_name(destination)


def remove_destination(config_path: Path, destination_id: str) -> bool:
    """Remove the entry written for ``destination_id``; False if there was none."""
    document = _load(config_path)
    entries = _destinations(document)
    removed = _remove_where(config_path, entries, lambda e: e.get("gitlab_destination_id")
                            == destination_id)
    if removed:
        _save(config_path, document)
    return bool(removed)


def sync_destinations(config_path: Path, destinations: Sequence[Destination], scope: str,
                      instance: str, gitlab_url: str | None = None) -> SyncReport:
    """Make the file's entries for ``scope`` exactly ``destinations``: add, refresh, remove."""
    document = _load(config_path)
    entries = _destinations(document)
    known = {str(e.get("gitlab_destination_id")): e for e in entries}
    added: list[str] = []
    updated: list[str] = []
    for destination in destinations:
        (updated if destination.id in known else added).append(destination.name)
        _write_entry(config_path, entries, destination, instance, gitlab_url)
    wanted = {d.id for d in destinations}
    removed = _remove_where(config_path, entries, lambda e: e.get("gitlab_scope") == scope
                            and e.get("gitlab_destination_id") not in wanted)
    _save(config_path, document)
    return SyncReport(tuple(added), tuple(updated), tuple(removed))


def _write_entry(config_path: Path, entries: AoT, destination: Destination,
                 instance: str, gitlab_url: str | None) -> None:
    for entry in entries:
        if entry.get("name") == destination.name and \
                entry.get("gitlab_destination_id") != destination.id:
            raise ConfigError(f"{config_path}: a destination named {destination.name!r} is "
                              "already configured by hand; rename one of them")
    token_file = _token_file_name(destination)
    _write_secret(config_path.parent / token_file, destination.verification_token)
    values: dict[str, Any] = {"name": destination.name, "instance": instance,
                              "token_file": token_file,
                              "gitlab_destination_id": destination.id,
                              "gitlab_scope": destination.scope}
    if gitlab_url is not None:
        values.update(reconcile_values(destination.scope, gitlab_url))
    path = receiver_path(destination.url)
    for entry in entries:
        if entry.get("gitlab_destination_id") == destination.id:
            if "gitlab_token_file" in entry:  # the user's choice of token stays
                values.pop("gitlab_token_env", None)
            entry.update(values)
            if path is None:
                entry.pop("path", None)
            else:
                entry["path"] = path
            return
    if path is not None:
        values["path"] = path
    table = tomlkit.table()
    table.update(values)
    entries.append(table)


def reconcile_values(scope: str, gitlab_url: str) -> dict[str, Any]:
    """What reconcile needs: GitLab's URL, what the destination streams, and where the GitLab
    token comes from (the variable the CLI itself reads; a name, never the token)."""
    values: dict[str, Any] = {"gitlab_url": gitlab_url, "gitlab_token_env": GITLAB_TOKEN_ENV}
    if scope == "instance":
        values["instance_events"] = True
    elif scope.startswith("group:"):
        values["group"] = scope.partition(":")[2]
    return values


def _remove_where(config_path: Path, entries: AoT, doomed: Any) -> list[str]:
    removed = []
    for index in reversed(range(len(entries))):
        entry = entries[index]
        if doomed(entry):
            removed.append(str(entry.get("name")))
            token_file = entry.get("token_file")
            if isinstance(token_file, str) and token_file.startswith(TOKENS_DIR + "/"):
                (config_path.parent / token_file).unlink(missing_ok=True)
            del entries[index]
    return removed


def _token_file_name(destination: Destination) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", destination.name).strip("-")[:40] or "destination"
    return f"{TOKENS_DIR}/{slug}-{short_id(destination.id)}.token"


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode given to open applies only to a file it creates
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")


def _load(config_path: Path) -> tomlkit.TOMLDocument:
    if not config_path.exists():
        return tomlkit.parse(_NEW_FILE)
    try:
        return tomlkit.parse(config_path.read_text(encoding="utf-8"))
    except (OSError, tomlkit.exceptions.ParseError) as exc:
        raise ConfigError(f"cannot read config file {config_path}: {exc}") from exc


def _destinations(document: tomlkit.TOMLDocument) -> AoT:
    receiver = document.get("receiver")
    if receiver is None:
        receiver = tomlkit.table()
        document["receiver"] = receiver
    if not isinstance(receiver, Table):
        raise ConfigError("receiver: must be a table")
    entries = receiver.get("destinations")
    if entries is None or (isinstance(entries, Array) and len(entries) == 0):
        # tomlkit writes an emptied array of tables as "destinations = []"
        entries = tomlkit.aot()
        receiver["destinations"] = entries
    if not isinstance(entries, AoT):
        raise ConfigError("receiver.destinations: must be an array of tables ([[...]])")
    return entries


def _save(config_path: Path, document: tomlkit.TOMLDocument) -> None:
    text = tomlkit.dumps(document)
    tomllib.loads(text)  # never leave a file the receiver cannot read
    config_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = config_path.with_name(config_path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a temporary file left by a crash keeps its mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, config_path)  # readers see the old file or the new, never half
