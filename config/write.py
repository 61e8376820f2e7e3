"""Writing GitLab's destinations into the receiver's config file, so no token is copied by hand.

tomlkit edits the file in place, keeping the user's comments and layout. Tokens go to files of
their own (owner-only) that the config names with ``token_file``; never inline.

What GitLab says is not trusted as a path: a destination's id must be a destination's global
id, and its token file is named from the id's number (and a slug of the name), resolved, and
required to sit in ``tokens/`` beside the config; only such files are ever deleted. Names are
checked with the receiver's own rules before anything is written, so the CLI never leaves a
config the receiver refuses.
"""

from __future__ import annotations

import errno
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

from auditstream.client.ids import BadId, destination_number
from auditstream.client.models import Destination
from auditstream.common.files import open_private, private_dir_problem, replace_privately
from auditstream.config.app import destination_names
from auditstream.config.errors import ConfigError
from auditstream.config.section import Section
from auditstream.journal.config import DEFAULT_JOURNAL_PATH

TOKENS_DIR = "tokens"
GITLAB_TOKEN_ENV = "GITLAB_TOKEN"  # noqa: S105 (the variable's name, not a token)
DEFAULT_LISTEN_PORT = 8080
DEFAULT_JOURNAL_FILE = str(DEFAULT_JOURNAL_PATH)
_NEW_FILE = """\
# auditstream receiver configuration. Destinations below were written by
# 'auditstream destinations create --write-config' or 'destinations sync'.
"""


_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]


def receiver_path(url: str) -> str | None:
    """The URL path a destination is bound to on the receiver, if any."""
    path = urlsplit(url).path.rstrip("/")
    return path or None


def serves(receiver_url: str, destination_url: str) -> bool:
    """Whether GitLab sends ``destination_url``'s events to the receiver at ``receiver_url``:
    the same scheme, host and port exactly, and the receiver's path as whole leading segments
    (``/acme`` serves ``/acme`` and ``/acme/x``, never ``/acme-other``)."""
    origin, segments = check_receiver_url(receiver_url)
    theirs = _origin_and_segments(destination_url)
    if theirs is None:
        return False
    their_origin, their_segments = theirs
    return origin == their_origin and their_segments[:len(segments)] == segments


def check_receiver_url(url: str) -> tuple[tuple[str, str, int], list[str]]:
    """A receiver URL's origin (scheme, host, port) and path segments, or ``ConfigError``."""
    parsed = _origin_and_segments(url)
    if parsed is None:
        raise ConfigError(f"--receiver-url: {url!r} is not an http(s) URL with a host")
    return parsed


def write_destination(config_path: Path, destination: Destination, instance: str,
                      gitlab_url: str | None = None) -> Path:
    """Add (or refresh) ``destination`` in the file; the token file's path. With
    ``gitlab_url``, also what reconcile needs (``reconcile_values``)."""
    document = _load(config_path)
    if not config_path.exists():
        _start_new_file(document, [destination])
    entries = _destinations(document)
    token = _write_entry(config_path, entries, destination, instance, gitlab_url)
    _save(config_path, document, [token])
    return token[0]


def remove_destination(config_path: Path, destination_id: str) -> bool:
    """Remove the entry written for ``destination_id``; False if there was none."""
    document = _load(config_path)
    entries = _destinations(document)
    removed = _remove_where(config_path, entries, lambda e: e.get("gitlab_destination_id")
                            == destination_id)
    if removed:
        _save(config_path, document, [])
    return bool(removed)


def sync_destinations(config_path: Path, destinations: Sequence[Destination], scope: str,
                      instance: str, gitlab_url: str | None = None) -> SyncReport:
    """Make the file's entries for ``scope`` exactly ``destinations``: add, refresh, remove."""
    document = _load(config_path)
    if not config_path.exists():
        _start_new_file(document, destinations)
    entries = _destinations(document)
    known = {str(e.get("gitlab_destination_id")): e for e in entries}
    added: list[str] = []
    updated: list[str] = []
    tokens = []
    for destination in destinations:
        (updated if destination.id in known else added).append(destination.name)
        tokens.append(_write_entry(config_path, entries, destination, instance, gitlab_url))
    wanted = {d.id for d in destinations}
    removed = _remove_where(config_path, entries, lambda e: e.get("gitlab_scope") == scope
                            and e.get("gitlab_destination_id") not in wanted)
    _save(config_path, document, tokens)
    return SyncReport(tuple(added), tuple(updated), tuple(removed))


def listen_for(destinations: Sequence[Destination]) -> str:
    """Where a new receiver listens: every interface (GitLab, or the proxy in front, must
    reach it), on the first destination URL's explicit port, else 8080 (behind a proxy)."""
    for destination in destinations:
        try:
            port = urlsplit(destination.url).port
        except ValueError:
            port = None
        if port is not None:
            return f"0.0.0.0:{port}"
    return f"0.0.0.0:{DEFAULT_LISTEN_PORT}"


def _start_new_file(document: tomlkit.TOMLDocument,
                    destinations: Sequence[Destination]) -> None:
    """A new file gets the receiver's address and the journal, so it runs as it is: without
    them the receiver would listen on 127.0.0.1:8080, where GitLab cannot reach it."""
    receiver = tomlkit.table()
    receiver.add(tomlkit.comment("GitLab (or the TLS proxy in front) must reach this: every "
                                 "interface, on the URL's port"))
    receiver.add(tomlkit.comment(f"({DEFAULT_LISTEN_PORT} when the destination URL names "
                                 "none). 127.0.0.1 would take only local connections."))
    receiver.add("listen", listen_for(destinations))
    receiver.add(tomlkit.nl())
    document.add("receiver", receiver)
    journal = tomlkit.table()
    journal.add(tomlkit.comment("Every event received is kept here (relative to this file) "
                                "until each sink has it."))
    journal.add("path", DEFAULT_JOURNAL_FILE)
    document.add("journal", journal)


def _write_entry(config_path: Path, entries: AoT, destination: Destination,
                 instance: str, gitlab_url: str | None) -> tuple[Path, str]:
    """Add or refresh the entry; the token file to write (once the whole file is checked)."""
    for entry in entries:
        other = entry.get("gitlab_destination_id")
        if entry.get("name") == destination.name and other != destination.id:
            by = f"for GitLab's {other}" if other else "by hand"
            raise ConfigError(f"{config_path}: a destination named {destination.name!r} is "
                              f"already configured {by}; rename one of them")
    token_file, token_path = _token_file(config_path, destination)
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
            return token_path, destination.verification_token
    if path is not None:
        values["path"] = path
    table = tomlkit.table()
    table.update(values)
    entries.append(table)
    return token_path, destination.verification_token


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
            owned = _in_tokens_dir(config_path, token_file) if isinstance(token_file, str) \
                else None
            if owned is not None:  # one we wrote: anything else is the user's to remove
                owned.unlink(missing_ok=True)
            del entries[index]
    return removed


def _token_file(config_path: Path, destination: Destination) -> tuple[str, Path]:
    """The token file's name for the config (``tokens/<slug>-<number>.token``) and path."""
    try:
        number = destination_number(destination.id)
    except BadId as exc:
        raise ConfigError(f"{config_path}: not written: GitLab answered {exc}") from exc
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", destination.name).strip("-")[:40] or "destination"
    name = f"{TOKENS_DIR}/{slug}-{number}.token"
    path = _in_tokens_dir(config_path, name)
    if path is None:  # a slug holds no "/": cannot happen; the check holds if that changes
        raise ConfigError(f"{config_path}: not written: token file {name!r} would not be "
                          f"in {TOKENS_DIR}/")
    return name, path


def _in_tokens_dir(config_path: Path, token_file: str) -> Path | None:
    """``token_file`` (relative to the config) resolved, if it is a file in ``tokens/``."""
    tokens = (config_path.parent / TOKENS_DIR).resolve()
    path = (config_path.parent / token_file).resolve()
    return path if path.parent == tokens else None


def _origin_and_segments(url: str) -> tuple[tuple[str, str, int], list[str]] | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    origin = (scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme])
    return origin, [segment for segment in parts.path.split("/") if segment]


def _write_secret(path: Path, value: str) -> None:
    try:
        fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    except OSError as exc:
        reason = "it is a symlink" if exc.errno == errno.ELOOP else (exc.strerror or str(exc))
        raise ConfigError(f"refusing to write the token file {path}: {reason}") from exc
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


def _save(config_path: Path, document: tomlkit.TOMLDocument,
          tokens: Sequence[tuple[Path, str]]) -> None:
    """Check the whole file by the receiver's rules, then write the tokens, then the file."""
    text = tomlkit.dumps(document)
    # Never leave a file the receiver cannot read, nor names it would refuse.
    destination_names(Section(tomllib.loads(text), "", config_path, {}).table("receiver"))
    if tokens:
        folder = config_path.parent / TOKENS_DIR  # as named, not resolved: a link is refused
        problem = private_dir_problem(folder)
        if problem is not None:
            raise ConfigError(f"refusing to write a token into {folder}: {problem}")
    for path, token in tokens:
        _write_secret(path, token)
    replace_privately(config_path, text)
