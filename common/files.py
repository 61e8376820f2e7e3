"""Files written as if somebody else were on the machine: owner-only, never through a symlink.

A security review found that a symlink planted at a token file's or the config's temporary
file's name made the CLI overwrite (and chmod 0600) the link's target, and that under umask 000
the folders made for the journal, the archive and the config were 0777, while an existing
journal or archive at 0644 stayed so (and SQLite made its -wal and -shm to match). So:
folders we make are 0700; files we open are opened with O_NOFOLLOW and set to 0600; files we
replace are written to a fresh ``mkstemp`` name beside them and renamed.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def make_private_dirs(folder: Path) -> None:
    """``folder`` and its missing parents, each made 0700 (whatever the umask)."""
    missing: list[Path] = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        try:
            made.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # made by someone else meanwhile: theirs to keep as it is
        os.chmod(made, PRIVATE_DIR, follow_symlinks=False)


def open_private(path: Path, flags: int) -> int:
    """``os.open`` that never follows a symlink at ``path`` (OSError ELOOP) and leaves the
    file owner-only, even one that existed with a wider mode."""
    make_private_dirs(path.parent)
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # the mode given to open applies only to a file it makes
    except OSError:
        os.close(fd)
        raise
    return fd


def replace_privately(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a fresh owner-only file beside it
    (never a guessable name a symlink could sit on), flushed, then renamed over it."""
    make_private_dirs(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)  # readers see the old file or the new, never half
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def private_dir_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a folder only we may use (None when it is, or does not exist)."""
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return f"{folder} is not a folder (a symlink or a file)"
    if info.st_uid != os.geteuid():
        return f"{folder} belongs to another user (uid {info.st_uid})"
    if info.st_mode & 0o077:
        return (f"{folder} may be read or written by others (mode "
                f"{stat.S_IMODE(info.st_mode):o}); run: chmod 700 {folder}")
    return None
