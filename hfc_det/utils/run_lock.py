"""One run per output folder at a time: a lock file in the folder, held for the whole run.

The lock is ``<folder>/run.lock``, a small JSON file naming the holder (host, PID, start
time, command). It is held with ``fcntl.flock`` on the open file, so the kernel releases it
when the holder dies, however it dies: a second run that finds the lock held refuses with a
one-line :class:`FolderInUseError` naming the live run; one that finds a lock file nobody
holds (a run killed with ``kill -9``, a power cut) takes it over and says so. The file is
removed when the run ends. On a file system shared by several hosts ``flock`` may not reach
the other host: a lock file written on another host is therefore refused unless the holder
is known dead (the message says to delete the file then).

stdlib only (layer 1); POSIX (``fcntl``).
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

__all__ = ["LOCK_FILE", "FolderInUseError", "acquire_run_lock", "release_run_lock", "run_lock", "waiting_lock"]

LOCK_FILE = "run.lock"


class FolderInUseError(ValueError):
    """Another live run holds the output folder (a one-line message naming it)."""


def _describe(holder: dict) -> str:
    return (f"PID {holder.get('pid', '?')} on host {holder.get('host', '?')}, "
            f"started {holder.get('started', '?')}")


def _read_holder(fd: int) -> Optional[dict]:
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    if not data.strip():
        return None
    try:
        holder = json.loads(data)
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _wait_for_holder(fd: int, seconds: float = 2.0) -> dict:
    """The live holder's record; a holder that has just taken the lock may not have written it
    yet (the file is empty, or still names the dead run it takes over), so wait for it a
    moment (``{}`` if it never comes: a full disk)."""
    deadline = time.monotonic() + seconds
    while True:
        holder = _read_holder(fd) or {}
        if _names_live_process(holder) or time.monotonic() > deadline:
            return holder
        time.sleep(0.02)


def _names_live_process(holder: dict) -> bool:
    """Whether ``holder`` names a process that may be running (another host's: cannot tell)."""
    if "pid" not in holder:
        return False
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError, TypeError, OverflowError):
        return True  # another user's process (EPERM), or a PID we cannot judge
    return True


def _open_locked(path: Path, on_busy: Callable[[int], None]) -> int:
    """Open ``path`` (creating it) and take its exclusive flock; returns the descriptor. When
    another process holds it, ``on_busy(fd)`` either raises (to refuse; the descriptor is
    closed) or returns, and then the lock is waited for."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                on_busy(fd)
            except BaseException:
                os.close(fd)
                raise
            fcntl.flock(fd, fcntl.LOCK_EX)
        # The holder we waited on may have removed the file between our open and our flock:
        # then our lock is on a file nobody else will ever open; start again on the new one.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def acquire_run_lock(folder: Union[str, "os.PathLike[str]"], what: str = "run") -> int:
    """Take ``folder``'s lock for this process (creating the folder); returns the open file
    descriptor to pass to :func:`release_run_lock`. Raises :class:`FolderInUseError` when a
    live run holds it; a lock left by a dead process on this host is taken over (a warning on
    stderr names it)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE

    def refuse(fd: int) -> None:
        raise FolderInUseError(
            f"{folder} is in use by another {what} ({_describe(_wait_for_holder(fd))}): wait for it to finish, "
            f"or choose another output folder")

    fd = _open_locked(path, refuse)
    try:
        holder = _read_holder(fd)
        if holder is not None:  # a file nobody holds: its run died without removing it
            # on this host a free flock means a dead holder; another host's process we cannot see
            if holder.get("host") not in (None, socket.gethostname()):
                raise FolderInUseError(
                    f"{folder} is locked by a {what} on another host ({_describe(holder)}): if that run is no "
                    f"longer running, delete {path}")
            print(f"warning: taking over {path}, left by a {what} that is no longer running ({_describe(holder)})",
                  file=sys.stderr)
        me = {"host": socket.gethostname(), "pid": os.getpid(),
              "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            os.write(fd, (json.dumps(me, indent=1) + "\n").encode())
            os.fsync(fd)
        except OSError:  # a full disk: the flock still holds the folder; the run's own first
            pass  # write then reports the full disk, naming its file
    except BaseException:
        os.close(fd)
        raise
    return fd


def release_run_lock(folder: Union[str, "os.PathLike[str]"], fd: int) -> None:
    """Remove the lock file and let go of it (unlink first, so a waiting run that opened the
    old file sees it replaced and starts again)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(Path(folder) / LOCK_FILE)
    os.close(fd)


@contextlib.contextmanager
def run_lock(folder: Union[str, "os.PathLike[str]"], what: str = "run") -> Iterator[Path]:
    """``with run_lock(output_dir):`` hold the folder's lock for the block (see the module doc)."""
    fd = acquire_run_lock(folder, what)
    try:
        yield Path(folder) / LOCK_FILE
    finally:
        release_run_lock(folder, fd)


@contextlib.contextmanager
def waiting_lock(path: Union[str, "os.PathLike[str]"], waiting_message: Optional[str] = None) -> Iterator[None]:
    """``with waiting_lock(file):`` hold an exclusive lock on ``file`` for the block, *waiting*
    for another holder instead of refusing (unlike :func:`run_lock`): for work two runs may both
    need but that should be done once, such as a cached model one of them is training. The
    waiter then finds the work done. ``waiting_message`` goes to stderr when it has to wait. The
    file is removed on release (as :func:`release_run_lock` does, a waiter that opened the old
    file starts again on the new one), so nothing is left behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    told = []

    def wait(fd: int) -> None:
        if waiting_message and not told:
            print(waiting_message, file=sys.stderr, flush=True)
            told.append(True)

    fd = _open_locked(path, wait)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)
