"""Files of a run: written atomically, read as data only.

Every file is written to a temporary file in the same folder, flushed to disk,
then moved in place with ``os.replace`` (``atomic_write``): a reader sees the
old file or the new one, and a write that fails or is killed leaves the old one
as it was. ``load`` reads checkpoints and weights with
``torch.load(..., weights_only=True)``: a checkpoint is data, never code.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

import ganzo
from ganzo.errors import GanzoError

# The temporary files of atomic_write, '.<name>.<8 characters of mkstemp>.ganzo-tmp':
# only these are removed as leftovers, never a user's '.checkpoint.pt.20241201'.
TEMPORARY_SUFFIX = '.ganzo-tmp'
TEMPORARY = re.compile(r'\.[^/]+\.[a-z0-9_]{8}' + re.escape(TEMPORARY_SUFFIX))


def temporary_file(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path`` (its descriptor and name), named as
    ``TEMPORARY`` says, with the permissions that the umask gives new files
    (mkstemp's are owner-only): teammates can read what a run writes."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.',
                                             suffix=TEMPORARY_SUFFIX)
    if hasattr(os, 'fchmod'):
        os.fchmod(descriptor, 0o666 & ~umask())
    return descriptor, temporary


def umask() -> int:
    """The umask of this process: read from /proc where Linux has it (without
    changing it), elsewhere set and set back at once."""
    try:
        for line in Path('/proc/self/status').read_text().splitlines():
            if line.startswith('Umask:'):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = 'wb') -> None:
    """Write ``path`` through ``write(file)`` into a temporary file in the same
    folder, then move it in place: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = temporary_file(path)
    try:
        with os.fdopen(descriptor, mode) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _sync_directory(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; elsewhere a no-op)."""
    if hasattr(os, 'O_DIRECTORY'):
        try:
            descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except OSError:
            pass


def write_or_stop(path: Path, write: Callable[[Any], None], mode: str = 'wb',
                  then: str = 'then run again with --restore') -> None:
    """``atomic_write``, where failing to write (no space, no permission) is a
    ``GanzoError`` saying that the previous file is intact, and what to do ``then``."""
    try:
        atomic_write(path, write, mode)
    except OSError as error:
        raise GanzoError(f'cannot write {path} ({error.strerror or error}): the previous '
                         f'{path.name}, if any, is intact; free some space or fix the '
                         f'permissions, {then}') from None


def write_or_warn(path: Path, write: Callable[[Any], None], mode: str = 'wb',
                  then: str = 'training goes on') -> None:
    """``atomic_write`` for files that a command can do without (samples, logs,
    caches): failing to write is a warning on stderr saying what happens ``then``."""
    try:
        atomic_write(path, write, mode)
    except OSError as error:
        warn(f'cannot write {path} ({error.strerror or error}); {then}')


def warn(message: str) -> None:
    print(f'ganzo: warning: {message}', file=sys.stderr, flush=True)


def serialized(state: Any) -> bytes:
    """``state`` as ``torch.save`` writes it. Saving into memory first makes a
    failing disk an ``OSError`` with its reason, not an obscure torch error."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def remove_temporaries(folder: Path) -> None:
    """Remove the temporary files that a killed ``atomic_write`` left in
    ``folder`` and its ``samples`` folder."""
    for directory in (folder, folder / 'samples'):
        if directory.is_dir():
            for entry in directory.iterdir():
                if TEMPORARY.fullmatch(entry.name) and entry.is_file():
                    entry.unlink(missing_ok=True)


def load(path: Path) -> dict[str, Any]:
    """A checkpoint or weights file, loaded as data only; a ``GanzoError``
    naming the file if it is missing, corrupt or not Ganzo's. Tensors are
    loaded on the CPU; ``load_state_dict`` moves them where the model is."""
    if os.path.exists(path) and not os.path.isfile(path):  # a folder, or a FIFO that would hang
        raise GanzoError(f'{path} is not a regular file: Ganzo reads checkpoints and weights '
                         'from files only; delete it or restore from a copy')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise GanzoError(f'{path} does not exist') from None
    except pickle.UnpicklingError:
        raise GanzoError(f'{path} is not a Ganzo checkpoint (it holds code or objects that '
                         'are not weights): refusing to load it') from None
    except (RuntimeError, EOFError, ValueError, OSError, struct.error) as error:
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise GanzoError(f'{path} is corrupt or truncated ({reason}): '
                         'delete it or restore from a copy') from None
    if not isinstance(state, dict):
        raise GanzoError(f'{path} is not a Ganzo checkpoint')
    check_version(state, path)
    return state


def check_version(values: dict[str, Any], path: Path) -> None:
    """A ``GanzoError`` if ``values`` were written by a newer Ganzo."""
    version = values.get('ganzo_version', '0')
    if _version(version) > _version(ganzo.__version__):
        raise GanzoError(f'{path} was written by ganzo {version}, newer than this ganzo '
                         f'{ganzo.__version__}: upgrade ganzo')


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in str(text).split('.') if part.isdigit())


def load_state(component: Any, state: dict, name: str, path: Path) -> None:
    """``component.load_state_dict(state)``, with a clear error if they do not match."""
    try:
        component.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as error:
        reason = ' '.join(' '.join(str(error).splitlines()[:2]).split())  # torch's first problem
        raise GanzoError(f'{path}: the saved {name} does not match the options ({reason}): '
                         'use the options the experiment was trained with') from None


def write_bytes(data: bytes, file: Any) -> None:
    """Write ``data`` to ``file`` (with ``functools.partial``, a writer for ``atomic_write``)."""
    file.write(data)
