"""One writer per run: an exclusive lock on the run directory.

``RunLock(folder)`` holds a POSIX record lock (``fcntl.lockf``) on the file
``<folder>/.lock``, which says who holds it: ``pid N on HOST since TIME``.

* The kernel releases such a lock when its process ends, however it ends
  (SIGKILL and out-of-memory kills included), and a forked child (a DataLoader
  worker) does not inherit it. So a lock file that is there but not locked was
  left by a process that ended without removing it: a stale lock, which the
  next run takes over, saying whose it was. (A file created with ``O_EXCL``
  would survive a SIGKILL and leave every later run guessing whether its pid
  still lives, on which machine.)
* On NFS, POSIX locks are shared between machines by the lock manager (NFSv4,
  or NFSv3 with lockd). Where the file system has no locks at all, a warning
  says so and the run goes on unlocked.
* Only ``ganzo`` takes the lock: ``deh`` and ``ganzo-eval`` read a run while it
  trains (every file is replaced atomically).
* A process holds at most one lock per file: a second ``RunLock`` of the same
  folder in the same process would share it (POSIX locks belong to the process).
"""

from __future__ import annotations

import errno
import os
import socket
import time
from contextlib import suppress
from pathlib import Path

from ganzo.errors import GanzoError
from ganzo.files import warn

try:
    import fcntl
except ImportError:  # Windows: no POSIX locks
    fcntl = None  # type: ignore[assignment]

LOCK = '.lock'
HELD = (errno.EACCES, errno.EAGAIN)


class RunLock:
    """The lock of the run directory ``folder``, which ``acquire`` creates if needed."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.path = folder, folder / LOCK
        self.descriptor: int | None = None

    def acquire(self) -> None:
        """Take the lock, or a ``GanzoError`` naming the process that holds it."""
        if fcntl is None:
            return
        while True:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as error:
                raise GanzoError(f'cannot write {self.path} ({error.strerror or error}): free '
                                 'some space, or choose another --model-dir') from None
            try:
                fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                owner = _owner(descriptor)
                os.close(descriptor)
                if error.errno in HELD:
                    raise GanzoError(f'{self.folder} is being trained by another ganzo '
                                     f'({owner or "starting"}): wait for it to end, or stop it; '
                                     'deh and ganzo-eval can read the run meanwhile') from None
                warn(f'cannot lock {self.path} ({error.strerror}): the file system has no '
                     'locks, so make sure that no other ganzo trains this run')
                return
            if _same_file(descriptor, self.path):
                break
            os.close(descriptor)  # released and removed meanwhile: lock the new file
        stale = _owner(descriptor)
        if stale:
            warn(f'{self.folder}: taking over the lock of {stale}, which ended without '
                 'releasing it (killed, or its machine stopped)')
        now = time.strftime('%Y-%m-%d %H:%M:%S')
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f'pid {os.getpid()} on {socket.gethostname()} since {now}\n'
                  .encode(), 0)
        self.descriptor = descriptor

    def release(self) -> None:
        """Remove the lock file and release the lock (closing its file does)."""
        if self.descriptor is None:
            return
        descriptor, self.descriptor = self.descriptor, None
        with suppress(OSError):
            os.unlink(self.path)
        os.close(descriptor)


def _owner(descriptor: int) -> str:
    """Who the lock file says holds the lock, on one short line ('' if it is empty)."""
    try:
        text = os.pread(descriptor, 200, 0).decode('utf-8', 'replace')
    except OSError:
        return ''
    return ' '.join(text.split())


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        status = os.stat(path)
    except OSError:
        return False
    opened = os.fstat(descriptor)
    return (status.st_dev, status.st_ino) == (opened.st_dev, opened.st_ino)
