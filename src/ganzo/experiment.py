"""The run directory of an experiment, and its checkpoints.

``<model-dir>/<experiment>/`` holds:

* ``options.json``: every resolved option and the Ganzo version, written before epoch 1;
* ``checkpoint.pt``: the whole training state after the last completed epoch;
* ``generator.pt``, ``discriminator.pt``: the weights of the best models.

Every file is written atomically (a temporary file, then ``os.replace``): a
write that fails or is killed leaves the previous file as it was. Checkpoints
are loaded with ``torch.load(..., weights_only=True)``: a checkpoint is data,
never code.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import random
import re
import shutil
import struct
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

import ganzo
from ganzo.errors import GanzoError

CHECKPOINT = 'checkpoint.pt'
OPTIONS = 'options.json'
# The temporary files of atomic_write: '.<name>.' and 8 characters from mkstemp.
TEMPORARY = re.compile(r'\.[^/]+\.(pt|json|png)\.[a-z0-9_]{8}')


def run_directory(options: argparse.Namespace, root: str = 'output_dir') -> Path:
    """``<root>/<experiment>``, where root is ``--output-dir`` (falling back
    to ``--model-dir``) or ``--model-dir``."""
    from ganzo.options import experiment_name
    base = getattr(options, root, None) or options.model_dir
    return Path(base) / experiment_name(options)


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = 'wb') -> None:
    """Write ``path`` through ``write(file)`` into a temporary file in the same
    folder, then move it in place: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.')
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


def write_or_stop(path: Path, write: Callable[[Any], None], mode: str = 'wb') -> None:
    """``atomic_write``, where failing to write (no space, no permission) is a
    ``GanzoError`` saying that the previous file is intact."""
    try:
        atomic_write(path, write, mode)
    except OSError as error:
        raise GanzoError(f'cannot write {path} ({error.strerror or error}): the previous '
                         f'{path.name}, if any, is intact; free some space or fix the '
                         'permissions, then run again with --restore') from None


def write_or_warn(path: Path, write: Callable[[Any], None], mode: str = 'wb') -> None:
    """``atomic_write`` for files that training can do without (samples, logs):
    failing to write is a warning on stderr, and training goes on."""
    try:
        atomic_write(path, write, mode)
    except OSError as error:
        warn(f'cannot write {path} ({error.strerror or error}); training goes on')


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


def rng_state() -> dict[str, Any]:
    """The state of every random number generator: torch (CPU and CUDA), numpy, python."""
    numpy_state = np.random.get_state()
    return {'torch': torch.get_rng_state(),
            'cuda': torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            'numpy': [numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)),
                      *numpy_state[2:]],
            'python': random.getstate()}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state['torch'])
    if state['cuda'] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])
    name, keys, *rest = state['numpy']
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def load(path: Path) -> dict[str, Any]:
    """A checkpoint or weights file, loaded as data only; a ``GanzoError``
    naming the file if it is missing, corrupt or not Ganzo's. Tensors are
    loaded on the CPU; ``load_state_dict`` moves them where the model is."""
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


class Experiment:
    """The run directory ``<model-dir>/<experiment>`` of one experiment."""

    def __init__(self, options: argparse.Namespace) -> None:
        self.path = run_directory(options, root='model_dir')

    @property
    def exists(self) -> bool:
        """Whether the run directory holds a run (its ``options.json``); a
        ``GanzoError`` if it is something else, which Ganzo must not write into."""
        if (self.path / OPTIONS).is_file():
            return True
        if self.path.is_dir() and all(TEMPORARY.fullmatch(entry.name)
                                      for entry in self.path.iterdir()):
            return False
        if os.path.lexists(self.path):
            raise GanzoError(f'{self.path} exists and is not a Ganzo run (it has no {OPTIONS}): '
                             'choose another --experiment or --model-dir')
        return False

    def read_options(self) -> dict[str, Any]:
        from ganzo.options import read_json
        values = read_json(self.path / OPTIONS)
        check_version(values, self.path / OPTIONS)
        return values

    def write_options(self, options: argparse.Namespace) -> None:
        """Write ``options.json``, first removing what a killed run left behind."""
        from ganzo.options import saved
        remove_temporaries(self.path)
        text = json.dumps(saved(options), indent=2, sort_keys=True) + '\n'
        write_or_stop(self.path / OPTIONS, lambda file: file.write(text), mode='w')

    def delete(self) -> None:
        """Delete the run directory, which must look like a Ganzo run: a real
        folder whose ``options.json`` was written by Ganzo."""
        try:
            looks_like_a_run = 'ganzo_version' in self.read_options()
        except GanzoError:
            looks_like_a_run = False
        if not looks_like_a_run or self.path.is_symlink():
            raise GanzoError(f'{self.path} does not look like a Ganzo run (a folder whose '
                             f'{OPTIONS} Ganzo wrote), so --delete leaves it alone: delete it '
                             'yourself if you mean to')
        # options.json goes last: a deletion cut short still looks like a run, to delete again.
        for entry in self.path.iterdir():
            if entry.name != OPTIONS:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        (self.path / OPTIONS).unlink()
        self.path.rmdir()

    def save_checkpoint(self, epoch: int, components: dict[str, Any]) -> None:
        """The whole training state after ``epoch``: each component's
        ``state_dict()`` and every random number generator."""
        state = {'ganzo_version': ganzo.__version__, 'epoch': epoch, 'rng': rng_state(),
                 **{name: component.state_dict() for name, component in components.items()}}
        data = serialized(state)
        write_or_stop(self.path / CHECKPOINT, partial(_write_bytes, data))

    def restore(self, components: dict[str, Any]) -> int:
        """Load the last checkpoint into ``components``; the epoch it ended
        (0 without a checkpoint: the run stopped before its first epoch ended)."""
        state = self.read_checkpoint()
        if state is None:
            return 0
        path = self.path / CHECKPOINT
        for name in ('epoch', 'rng', *components):
            if name not in state:
                raise GanzoError(f'{path} has no saved {name}: it does not match the options')
        for name, component in components.items():
            load_state(component, state[name], name, path)
        load_state(_RandomGenerators, state['rng'], 'rng', path)
        return int(state['epoch'])

    def read_checkpoint(self) -> dict[str, Any] | None:
        """The last checkpoint, None if there is none yet."""
        path = self.path / CHECKPOINT
        return load(path) if os.path.lexists(path) else None

    def save_models(self, **models: torch.nn.Module) -> None:
        """``<name>.pt`` with the weights of each model (the best ones so far)."""
        for name, model in models.items():
            data = serialized({'ganzo_version': ganzo.__version__,
                               'state_dict': model.state_dict()})
            write_or_stop(self.path / f'{name}.pt', partial(_write_bytes, data))


def _write_bytes(data: bytes, file: Any) -> None:
    file.write(data)


class _RandomGenerators:
    """The random number generators, as a component with ``load_state_dict``."""

    load_state_dict = staticmethod(set_rng_state)
