"""The run directory of an experiment: what ``ganzo`` writes and ``deh`` and
``ganzo-eval`` read.

``<model-dir>/<experiment>/`` holds:

* ``options.json``: every resolved option and the Ganzo version, written before epoch 1;
* ``checkpoint.pt``: the whole training state after the last completed epoch
  (its layout: ``ganzo.state``);
* ``generator.pt``, ``discriminator.pt``: the weights of the best models.

Every file is written atomically and checkpoints are loaded as data only
(``ganzo.files``). ``Experiment`` is the directory as training sees it;
``TrainedExperiment`` finds a trained one and reads each of its files once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import torch

from ganzo.errors import GanzoError
from ganzo.files import (
    TEMPORARY,
    check_version,
    remove_temporaries,
    serialized,
    write_bytes,
    write_or_stop,
)
from ganzo.kind import RunKind, run_kind
from ganzo.options import check_experiment_name, complete, experiment_name, read_json, saved
from ganzo.state import Checkpoint, SavedModel, TrainingState

CHECKPOINT = 'checkpoint.pt'
OPTIONS = 'options.json'


def run_directory(options: argparse.Namespace, root: str = 'output_dir') -> Path:
    """``<root>/<experiment>``, where root is ``--output-dir`` (falling back
    to ``--model-dir``) or ``--model-dir``."""
    base = getattr(options, root, None) or options.model_dir
    return Path(base) / experiment_name(options)


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
        values = read_json(self.path / OPTIONS)
        check_version(values, self.path / OPTIONS)
        return values

    def write_options(self, options: argparse.Namespace) -> None:
        """Write ``options.json``, first removing what a killed run left behind."""
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

    def save_checkpoint(self, state: TrainingState, epoch: int) -> None:
        """The whole training state after ``epoch``."""
        data = serialized(state.state_dict(epoch))
        write_or_stop(self.path / CHECKPOINT, partial(write_bytes, data))

    def restore(self, state: TrainingState) -> int:
        """Load the last checkpoint into ``state``; the epoch it ended (0
        without a checkpoint: the run stopped before its first epoch ended)."""
        checkpoint = self.read_checkpoint()
        return 0 if checkpoint is None else state.restore(checkpoint)

    def read_checkpoint(self) -> Checkpoint | None:
        """The last checkpoint, None if there is none yet."""
        path = self.path / CHECKPOINT
        return Checkpoint(path) if os.path.lexists(path) else None

    def save_models(self, state: TrainingState) -> None:
        """``generator.pt`` and ``discriminator.pt``: the weights of the models
        of ``state`` (the best ones so far); the generator's moving average if
        there is one, with the trained weights beside it."""
        trained = None if state.averaged_generator is None else state.generator
        for name, model, raw in (('generator', state.sampling_generator, trained),
                                 ('discriminator', state.discriminator, None)):
            data = serialized(SavedModel.state(model, state.kind, raw))
            write_or_stop(self.path / f'{name}.pt', partial(write_bytes, data))


class TrainedExperiment(Experiment):
    """An experiment directory found from ``--model-dir`` and ``--experiment``
    (for ``deh`` and ``ganzo-eval``), whose files are each read once."""

    def __init__(self, options: argparse.Namespace) -> None:
        root = Path(options.model_dir)
        if not root.is_dir():
            raise GanzoError(f'--model-dir {root}: no such folder; point it at the folder '
                             'that holds the experiments')
        found = sorted(p.name for p in root.iterdir() if (p / OPTIONS).is_file())
        listed = ', '.join(found[:10]) + (', ...' if len(found) > 10 else '') or 'none'
        if options.experiment is None:
            raise GanzoError(f'name the experiment with --experiment (experiments in {root}: '
                             f'{listed})')
        check_experiment_name(options.experiment)
        super().__init__(options)
        if not self.path.is_dir():
            raise GanzoError(f'--experiment {options.experiment}: no such experiment in '
                             f'--model-dir {root} (experiments there: {listed})')
        if not self.exists:
            raise GanzoError(f'{self.path / OPTIONS} is missing: {self.path} is not a Ganzo '
                             'experiment, or its training never started')

    @cached_property
    def saved_options(self) -> dict[str, Any]:
        return self.read_options()

    def run_kind(self, options: argparse.Namespace) -> RunKind:
        """The kind of the run, as its saved options, overridden by ``options``,
        say; the classes of a conditional run come from its saved models, so
        that its data is not needed."""
        saved = {key: value for key, value in self.saved_options.items() if key != 'kind'}
        options = complete(argparse.Namespace(**{**saved, **vars(options)}))
        kind = run_kind(options, check=False)
        if not kind.conditional:
            return kind
        models = [self.path / 'generator.pt', self.path / CHECKPOINT]
        path = next((path for path in models if path.exists()), None)
        if path is None:
            raise GanzoError(f'{self.path} has no saved model yet (generator.pt or {CHECKPOINT}): '
                             'train it for an epoch first')
        saved_kind = (self.checkpoint if path.name == CHECKPOINT else SavedModel(path)).kind
        if saved_kind is None or len(saved_kind.classes) < 2:
            raise GanzoError(f'{path} holds no classes, and {self.path} is a conditional run: '
                             'the file is damaged; train the experiment again')
        return run_kind(options, saved_kind.classes, check=False)

    @cached_property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.path / CHECKPOINT)

    def generator_weights(self, which: str, raw: bool = False
                          ) -> tuple[dict[str, torch.Tensor], Path]:
        """The generator's state dict, ``best`` (``generator.pt``) or ``last``
        (the checkpoint's), and the file it comes from: the moving average of
        its weights if it was trained with one (``--ema-decay``), unless ``raw``."""
        if which == 'last':
            averaged = None if raw else self.checkpoint.averaged_generator_weights
            return averaged or self.checkpoint.generator_weights, self.checkpoint.path
        path = self.path / 'generator.pt'
        if not path.exists():
            instead = ('use --checkpoint last' if (self.path / CHECKPOINT).exists()
                       else 'train it for an epoch first')
            raise GanzoError(f'{path} does not exist: the experiment has no best model; '
                             f'{instead}')
        saved = SavedModel(path)
        return saved.raw_weights if raw else saved.weights, path

    def fixed_noise(self) -> torch.Tensor:
        """The training snapshots' fixed noise, kept in the checkpoint; in a
        conditional run, the noise points of the snapshots' columns (each of
        their rows repeats them for a class)."""
        if not (self.path / CHECKPOINT).exists():
            raise GanzoError(f'--sample-from-fixed-noise: {self.path} has no {CHECKPOINT}, which '
                             'keeps the fixed noise; pass --no-sample-from-fixed-noise')
        noise = self.checkpoint.fixed_noise
        if noise is None:
            raise GanzoError('--sample-from-fixed-noise: the experiment was trained without '
                             'fixed noise; pass --no-sample-from-fixed-noise')
        labels = self.checkpoint.fixed_labels
        return noise if labels is None else noise[labels == labels[0]]
