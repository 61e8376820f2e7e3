"""What can be checked before anything is created: the receiver's address, the journal's place.

A port in use used to be found only after the journal and the file sink's output existed,
with ``[Errno 98]`` as the whole explanation. Here the receiver's socket is bound first (and
handed to the receiver, so nobody can take the port in between) and the journal's folder is
checked for writing; each failure names the setting that fixes it.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from auditstream.journal import JournalConfig
from auditstream.receiver.config import ReceiverConfig
from auditstream.receiver.connections import bind
from auditstream.wiring.errors import StartupError

LISTEN_SETTING = "--listen (or [receiver] listen in the config file)"
JOURNAL_SETTING = "--journal (or [journal] path in the config file)"

_LISTEN_ADVICE = {
    errno.EADDRINUSE: "another process is listening there: stop it, or choose another port with",
    errno.EACCES: "this user may not listen there (ports below 1024 need privileges): choose a "
                  "port above 1024, behind your proxy, with",
    errno.EADDRNOTAVAIL: "this machine has no such address: choose one of its own with",
}


def bind_listener(config: ReceiverConfig) -> socket.socket:
    """The receiver's listening socket, bound now (or the inherited one ``listen = "fd:N"``
    names), or ``StartupError`` naming ``--listen``."""
    if config.listen_fd is not None:
        return inherited_listener(config.listen_fd)
    where = f"{config.host}:{config.port}"
    try:
        return bind(config.host, config.port)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {where}: the host does not resolve "
                           f"({exc.strerror}); give an address with {LISTEN_SETTING}") from exc
    except OSError as exc:
        advice = _LISTEN_ADVICE.get(exc.errno or 0, "choose another address with")
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise StartupError(f"cannot listen on {where}: {reason}; {advice} "
                           f"{LISTEN_SETTING}") from exc


def inherited_listener(fd: int) -> socket.socket:
    """The TCP socket this process inherited as file descriptor ``fd``, bound to an address
    (listening already, as systemd passes it, or not yet), or ``StartupError``.

    With a socket held by whoever started the process (systemd's socket activation), GitLab's
    connections wait in its queue while the receiver restarts instead of being refused, and
    GitLab never sends a refused event again."""
    where = f"fd:{fd}"
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise StartupError(f"cannot listen on {where}: {reason}; start auditstream with a "
                           f"bound TCP socket as that file descriptor (systemd's socket "
                           f"activation passes fd:3), or give HOST:PORT with "
                           f"{LISTEN_SETTING}") from exc
    problem = None
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or \
            sock.type != socket.SOCK_STREAM:
        problem = "it is not a TCP socket"
    elif sock.getsockname()[1] == 0:
        problem = "it is not bound to an address"
    if problem is not None:
        sock.detach()  # not ours to close: whoever passed it may still use it
        raise StartupError(f"cannot listen on {where}: {problem}; pass a bound TCP socket, or "
                           f"give HOST:PORT with {LISTEN_SETTING}")
    return sock


def check_journal_place(config: JournalConfig) -> None:
    """An SQLite journal's file (or the folder it will be made in) must be writable."""
    if config.backend != "sqlite":
        return  # Redis: its own connection check says what is wrong
    path = config.path
    if path.is_dir():
        raise StartupError(f"the journal {path} is a folder; give a file with {JOURNAL_SETTING}")
    folder = _nearest_existing(path.parent)
    for place in (path, folder) if path.exists() else (folder,):
        if not os.access(place, os.W_OK):
            raise StartupError(f"cannot write the journal at {path}: {_why_not_writable(place)}"
                               f"; choose a writable place with {JOURNAL_SETTING}")


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _why_not_writable(place: Path) -> str:
    try:
        if os.statvfs(place).f_flag & os.ST_RDONLY:
            return f"{place} is on a read-only file system"
    except OSError:
        pass
    return f"this user may not write to {place}"
