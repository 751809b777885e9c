"""The run directory of an experiment, and its checkpoints.

``<model-dir>/<experiment>/`` holds:

* ``options.json``: every resolved option and the Ganzo version, written before epoch 1;
* ``checkpoint.pt``: the whole training state after the last completed epoch;
* ``generator.pt``, ``discriminator.pt``: the weights of the best models.

Every file is written atomically (a temporary file, then ``os.replace``) and
checkpoints are loaded with ``torch.load(..., weights_only=True)``: a
checkpoint is data, never code.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import shutil
import struct
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
        raise GanzoError(f'{path} is corrupt or truncated ({str(error).splitlines()[0]}): '
                         'delete it or restore from a copy') from None
    if not isinstance(state, dict):
        raise GanzoError(f'{path} is not a Ganzo checkpoint')
    version = state.get('ganzo_version', '0')
    if _version(version) > _version(ganzo.__version__):
        raise GanzoError(f'{path} was written by ganzo {version}, newer than this ganzo '
                         f'{ganzo.__version__}: upgrade ganzo')
    return state


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in str(text).split('.') if part.isdigit())


def load_state(component: Any, state: dict, name: str, path: Path) -> None:
    """``component.load_state_dict(state)``, with a clear error if they do not match."""
    try:
        component.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        raise GanzoError(f'{path}: the saved {name} does not match the options '
                         f'({str(error).splitlines()[0].strip()}): '
                         'use the options the experiment was trained with') from None


class Experiment:
    """The run directory ``<model-dir>/<experiment>`` of one experiment."""

    def __init__(self, options: argparse.Namespace) -> None:
        self.path = run_directory(options, root='model_dir')

    @property
    def exists(self) -> bool:
        return (self.path / OPTIONS).is_file()

    def read_options(self) -> dict[str, Any]:
        from ganzo.options import read_json
        return read_json(self.path / OPTIONS)

    def write_options(self, options: argparse.Namespace) -> None:
        from ganzo.options import saved
        text = json.dumps(saved(options), indent=2, sort_keys=True) + '\n'
        atomic_write(self.path / OPTIONS, lambda file: file.write(text), mode='w')

    def delete(self) -> None:
        """Delete the run directory, which must look like a Ganzo run."""
        if not self.exists:
            raise GanzoError(f'{self.path} has no {OPTIONS}: it does not look like a Ganzo '
                             'run, so --delete leaves it alone')
        shutil.rmtree(self.path)

    def save_checkpoint(self, epoch: int, components: dict[str, Any]) -> None:
        """The whole training state after ``epoch``: each component's
        ``state_dict()`` and every random number generator."""
        state = {'ganzo_version': ganzo.__version__, 'epoch': epoch, 'rng': rng_state(),
                 **{name: component.state_dict() for name, component in components.items()}}
        atomic_write(self.path / CHECKPOINT, partial(torch.save, state))

    def restore(self, components: dict[str, Any]) -> int:
        """Load the last checkpoint into ``components``; the epoch it ended
        (0 without a checkpoint: the run stopped before its first epoch ended)."""
        path = self.path / CHECKPOINT
        if not path.exists():
            return 0
        state = load(path)
        for name, component in components.items():
            if name not in state:
                raise GanzoError(f'{path} has no saved {name}: it does not match the options')
            load_state(component, state[name], name, path)
        set_rng_state(state['rng'])
        return int(state['epoch'])

    def save_models(self, **models: torch.nn.Module) -> None:
        """``<name>.pt`` with the weights of each model (the best ones so far)."""
        for name, model in models.items():
            weights = {'ganzo_version': ganzo.__version__, 'state_dict': model.state_dict()}
            atomic_write(self.path / f'{name}.pt', partial(torch.save, weights))
