"""The training state: everything a checkpoint holds, so that a restored run
continues exactly as if it had never stopped.

``checkpoint.pt`` holds a dict, in the layout of ``FORMAT``:

* ``format``: the version of this layout; ``ganzo_version``;
* ``epoch``: the last completed epoch; ``kind``: the kind of run (``RunKind.to_dict()``);
* ``rng``: the state of every random number generator (torch, CUDA, numpy, python);
* one entry per component, its ``state_dict()``: ``generator`` and
  ``discriminator`` (weights), ``game`` (optimizers, gradient scalers, hooks,
  regularizers, learning-rate schedule; with ``--ema-decay`` the hooks of the
  generator hold the moving average of its weights, ``moving_average``),
  ``snapshot`` (the fixed noise, and its labels in a conditional run),
  ``evaluation`` (the best value), ``data``
  (the order of the data).

``generator.pt`` and ``discriminator.pt``, the best models, hold ``format``,
``ganzo_version``, ``kind`` and ``state_dict``; with ``--ema-decay``, the
generator's ``state_dict`` is the moving average of its weights, and
``raw_state_dict`` the weights themselves.

``TrainingState`` writes and restores it; ``Checkpoint`` and ``SavedModel``
read the files back with named accessors (``deh`` and ``ganzo-eval`` use them).
A file of another format is a clear error.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import ganzo
from ganzo.errors import GanzoError
from ganzo.files import load, load_state
from ganzo.kind import RunKind

FORMAT = 1
COMPONENTS = ('generator', 'discriminator', 'game', 'snapshot', 'evaluation', 'data')


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


class _RandomGenerators:
    """The random number generators, as a component with ``load_state_dict``."""

    load_state_dict = staticmethod(set_rng_state)


def check_format(values: dict[str, Any], path: Path) -> None:
    """A ``GanzoError`` if ``values`` (a checkpoint or model file; files of
    ganzo 0.1.0 have no ``format``: theirs is 1) are not in the layout of ``FORMAT``."""
    saved = values.get('format', 1)
    if saved != FORMAT:
        newer = not isinstance(saved, int) or saved > FORMAT
        raise GanzoError(f'{path} is in the checkpoint format {saved!r}, and this ganzo '
                         f'{ganzo.__version__} reads format {FORMAT}: '
                         + ('upgrade ganzo' if newer else 'train it again, or use the ganzo '
                            'that wrote it'))


class TrainingState:
    """The parts of a run that a checkpoint holds: its components, by name
    (those of ``COMPONENTS`` in a run of ``ganzo``), each with ``state_dict``
    and ``load_state_dict`` (the models themselves, not their distributed
    wrappers); the kind of run; and the random number generators. The moving
    average of the generator (``averaged_generator``), if any, is checkpointed
    by the hook that keeps it, among the game's."""

    def __init__(self, kind: RunKind, averaged_generator: nn.Module | None = None,
                 **components: Any) -> None:
        self.kind, self.components = kind, components
        self.averaged_generator = averaged_generator

    @property
    def generator(self) -> nn.Module:
        return self.components['generator']

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator that makes the samples and is saved as the best: the
        moving average of the weights (``--ema-decay``), or the generator."""
        return self.generator if self.averaged_generator is None else self.averaged_generator

    @property
    def discriminator(self) -> nn.Module:
        return self.components['discriminator']

    def state_dict(self, epoch: int) -> dict[str, Any]:
        """The whole state after ``epoch``, in the layout of ``FORMAT``."""
        return {'format': FORMAT, 'ganzo_version': ganzo.__version__, 'epoch': epoch,
                'kind': self.kind.to_dict(), 'rng': rng_state(),
                **{name: component.state_dict() for name, component in self.components.items()}}

    def restore(self, checkpoint: Checkpoint) -> int:
        """Load ``checkpoint`` into the components and the random number
        generators; the epoch it ended. A ``GanzoError`` if it was trained on
        other classes than the data's."""
        saved = checkpoint.kind
        if saved is not None and saved.classes != self.kind.classes:
            raise GanzoError(f'{checkpoint.path} was trained on the classes '
                             f'{", ".join(saved.classes) or "(none)"}, and the data now has '
                             f'{", ".join(self.kind.classes) or "none"}: restore it with its data')
        for name, component in self.components.items():
            load_state(component, checkpoint.part(name), name, checkpoint.path)
        load_state(_RandomGenerators, checkpoint.part('rng'), 'rng', checkpoint.path)
        return checkpoint.epoch


class SavedFile:
    """A file of the training state read back (as data only) and checked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values = load(path)
        check_format(self.values, path)

    def weights_of(self, key: str, what: str) -> dict[str, torch.Tensor]:
        """The state dict saved under ``key``; a ``GanzoError`` naming ``what`` if none."""
        weights = self.values.get(key)
        if not isinstance(weights, dict):
            raise GanzoError(f'{self.path} holds no {what}')
        return weights

    @property
    def kind(self) -> RunKind | None:
        """The saved kind of run; None in files of ganzo 0.1.0, which had none."""
        kind = self.values.get('kind')
        if kind is None:
            return None
        try:
            return RunKind.from_dict(kind)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise GanzoError(f'{self.path} holds a damaged kind of run ({kind!r}): delete it '
                             'or restore from a copy') from None


class Checkpoint(SavedFile):
    """A ``checkpoint.pt`` read back, its parts by name."""

    def part(self, name: str) -> Any:
        """The saved state of ``name`` (a component, or ``rng``)."""
        if name not in self.values:
            raise GanzoError(f'{self.path} has no saved {name}: it does not match the options')
        return self.values[name]

    @property
    def epoch(self) -> int:
        epoch = self.part('epoch')
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise GanzoError(f'{self.path} holds the epoch {epoch!r}, not a number of epochs: '
                             'it is damaged; delete it or restore from a copy')
        return epoch

    @property
    def generator_weights(self) -> dict[str, torch.Tensor]:
        return self.weights_of('generator', 'generator weights')

    @property
    def averaged_generator_weights(self) -> dict[str, torch.Tensor] | None:
        """The moving average of the generator's weights (``--ema-decay``),
        kept by a hook of the generator; None without one."""
        hooks = ((self.values.get('game') or {}).get('hooks') or {}).get('generator') or []
        return next((hook['moving_average'] for hook in hooks
                     if isinstance(hook, dict) and 'moving_average' in hook), None)

    @property
    def fixed_noise(self) -> torch.Tensor | None:
        """The snapshots' fixed noise ``N x Z``, None if training drew new noise."""
        noise = (self.values.get('snapshot') or {}).get('fixed_noise')
        return noise if isinstance(noise, torch.Tensor) else None

    @property
    def fixed_labels(self) -> torch.Tensor | None:
        """The labels ``N`` of the fixed noise, in a conditional run (else None)."""
        labels = (self.values.get('snapshot') or {}).get('fixed_labels')
        return labels if isinstance(labels, torch.Tensor) else None


class SavedModel(SavedFile):
    """A best-model file (``generator.pt``, ``discriminator.pt``) read back."""

    @staticmethod
    def state(model: nn.Module, kind: RunKind, raw: nn.Module | None = None) -> dict[str, Any]:
        """What the file of ``model`` holds; ``raw``: the trained generator of
        which ``model`` is the moving average."""
        values = {'format': FORMAT, 'ganzo_version': ganzo.__version__,
                  'kind': kind.to_dict(), 'state_dict': model.state_dict()}
        if raw is not None:
            values['raw_state_dict'] = raw.state_dict()
        return values

    @property
    def weights(self) -> dict[str, torch.Tensor]:
        return self.weights_of('state_dict', 'weights (no state_dict)')

    @property
    def raw_weights(self) -> dict[str, torch.Tensor]:
        """The trained weights of a generator saved with their moving average
        (``--ema-decay``); ``weights`` for the others."""
        if 'raw_state_dict' in self.values:
            return self.weights_of('raw_state_dict', 'raw weights')
        return self.weights

def noise_problem(noise: Any, state_size: int) -> str | None:
    """What is wrong with saved fixed noise for latent points of ``state_size``
    numbers (it must be a float tensor ``N x state_size``), or None."""
    if not isinstance(noise, torch.Tensor) or not noise.is_floating_point() or noise.dim() != 2 \
            or noise.shape[1] != state_size or len(noise) == 0:
        shape = tuple(noise.shape) if isinstance(noise, torch.Tensor) else type(noise).__name__
        return (f'the fixed noise is {shape}, not N x {state_size} numbers (--state-size '
                f'{state_size})')
    return None
