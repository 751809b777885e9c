"""The run directory of an experiment: what ``ganzo`` writes and ``deh`` and
``ganzo-eval`` read.

``<model-dir>/<experiment>/`` holds:

* ``options.json``: every resolved option and the Ganzo version, written before epoch 1;
* ``checkpoint.pt``: the whole training state after the last completed epoch
  (its layout: ``ganzo.state``);
* ``generator.pt``, ``discriminator.pt``: the weights of the best models;
* ``.lock``, while ``ganzo`` trains it (``ganzo.lock``).

Its name is ``--experiment``, or a hash of the options that shape the results
(``experiment_name``; ``RUN_OPTIONS`` do not). Every file is written atomically
and checkpoints are loaded as data only (``ganzo.files``). ``Experiment`` is
the directory as training sees it; ``TrainedExperiment`` finds a trained one
and reads each of its files once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import torch

import ganzo
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
from ganzo.lock import LOCK, RunLock
from ganzo.options import complete, read_json
from ganzo.state import Checkpoint, SavedModel, TrainingState, noise_problem

# Options that say how and where a run happens, not what it computes: they
# are left out of the experiment's default name, and the first five out of
# options.json (``kind`` is not an option: the run's kind, see ganzo.kind).
RUN_OPTIONS = ('restore', 'delete', 'from_json', 'dry_run', 'kind', 'experiment', 'model_dir',
               'output_dir', 'device', 'epochs', 'start_epoch', 'loader_workers', 'parallel', 'log',
               'log_file', 'save_images_as', 'sample_every', 'metrics_cache', 'channels_last',
               'compile', 'cache_images', 'tracker_project', 'mlflow_uri', 'wandb_mode')
NOT_SAVED = RUN_OPTIONS[:5]
EXPERIMENT_NAME = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.+=-]*')
MAX_NAME = 255  # the longest folder name of common file systems


def saved(options: argparse.Namespace) -> dict[str, Any]:
    """What ``options.json`` holds: the resolved options and the Ganzo version."""
    values = {key: value for key, value in sorted(vars(options).items())
              if key not in NOT_SAVED}
    return {'ganzo_version': ganzo.__version__, **values}


def experiment_name(options: argparse.Namespace) -> str:
    """``--experiment``, or a stable hash of the options that shape the results."""
    if options.experiment is not None:
        return options.experiment
    values = {key: value for key, value in sorted(vars(options).items())
              if key not in RUN_OPTIONS}
    digest = hashlib.sha1(json.dumps(values, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:12]


def check_experiment_name(name: str) -> None:
    if not EXPERIMENT_NAME.fullmatch(name) or name in ('.', '..'):
        raise GanzoError(f'--experiment {name!r}: use letters, digits and . _ - + = only, '
                         'without path separators')
    if len(name) > MAX_NAME:
        raise GanzoError(f'--experiment {name[:20]}...: the name has {len(name)} characters, '
                         f'more than the {MAX_NAME} that a folder name can hold: shorten it')

CHECKPOINT = 'checkpoint.pt'
OPTIONS = 'options.json'


def run_directory(options: argparse.Namespace, root: str = 'output_dir') -> Path:
    """``<root>/<experiment>``, where root is ``--output-dir`` (falling back
    to ``--model-dir``) or ``--model-dir``."""
    base = getattr(options, root, None) or options.model_dir
    return Path(base) / experiment_name(options)


class Experiment:
    """The run directory ``<model-dir>/<experiment>`` of one experiment, as
    training writes it: one ``ganzo`` at a time (``writing``)."""

    def __init__(self, options: argparse.Namespace) -> None:
        self.path = run_directory(options, root='model_dir')
        self.run_lock = RunLock(self.path)
        self.created = self.removable = False

    @property
    def exists(self) -> bool:
        """Whether the run directory holds a run (its ``options.json``); a
        ``GanzoError`` if it is something else, which Ganzo must not write into:
        a folder of other files, or a symbolic link (which could lead out of
        ``--model-dir``)."""
        if self.path.is_symlink():
            raise GanzoError(f'{self.path} is a symbolic link, which does not look like a Ganzo '
                             'run (a real folder whose options.json Ganzo wrote): Ganzo does not '
                             'follow it; point --model-dir at the folder it leads to')
        if (self.path / OPTIONS).is_file():
            return True
        if self.path.is_dir() and all(TEMPORARY.fullmatch(entry.name) or entry.name == LOCK
                                      for entry in self.path.iterdir()):
            return False
        if os.path.lexists(self.path):
            raise GanzoError(f'{self.path} exists and is not a Ganzo run (it has no {OPTIONS}): '
                             'choose another --experiment or --model-dir')
        return False

    def check_is_a_run(self) -> dict[str, Any]:
        """The saved options of an existing run; a ``GanzoError`` unless its
        ``options.json`` was written by Ganzo, so that ``--restore`` and ``--delete``
        never write into, or remove, a folder of someone else's."""
        ours = not self.path.is_symlink() and (self.path / OPTIONS).is_file()
        values = self.read_options() if ours else {}
        if 'ganzo_version' not in values:
            raise GanzoError(f'{self.path} does not look like a Ganzo run (a folder whose '
                             f'{OPTIONS} Ganzo wrote), so Ganzo leaves it alone: choose another '
                             '--experiment, or delete it yourself if you mean to')
        return values

    def read_options(self) -> dict[str, Any]:
        values = read_json(self.path / OPTIONS)
        check_version(values, self.path / OPTIONS)
        return values

    def write_options(self, options: argparse.Namespace, new: bool = False) -> None:
        """Write ``options.json``, first removing what a killed run left behind.
        A ``new`` run is removed again if it stops before its first checkpoint."""
        remove_temporaries(self.path)
        text = json.dumps(saved(options), indent=2, sort_keys=True) + '\n'
        write_or_stop(self.path / OPTIONS, lambda file: file.write(text), mode='w')
        self.removable = new

    def delete(self) -> None:
        """Delete the run directory, which must look like a Ganzo run: a real
        folder whose ``options.json`` was written by Ganzo. Its lock, if this
        process holds it, stays."""
        self.check_is_a_run()
        self._remove()

    def _remove(self) -> None:
        # options.json goes last: a deletion cut short still looks like a run, to delete again.
        for entry in self.path.iterdir():
            if entry.name not in (OPTIONS, LOCK):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        (self.path / OPTIONS).unlink(missing_ok=True)
        with suppress(OSError):  # not empty: the lock of this run, or of the next one
            self.path.rmdir()

    @contextmanager
    def writing(self, new: bool = False) -> Iterator[None]:
        """Hold the run's lock (``ganzo.lock``) while the block writes the run
        (``new``: a run that must not exist yet). If the block fails in a new run
        before its first checkpoint (an error, an interrupt), the run is removed:
        nothing is left that would need ``--delete``."""
        self.lock(new)
        try:
            yield
        except BaseException:
            self.unlock(failed=True)
            raise
        self.unlock(failed=False)

    def lock(self, new: bool = False) -> None:
        self.created = not self.path.exists()
        self.run_lock.acquire()
        try:
            if new and self.exists:  # another ganzo started it meanwhile
                raise GanzoError(f'{self.path} was started by another ganzo meanwhile: pass '
                                 '--restore to continue it, or --delete to start it again')
        except BaseException:
            self.run_lock.release()
            raise

    def unlock(self, failed: bool) -> None:
        if failed and self.removable:
            with suppress(OSError):  # what could not be removed is a run still
                self._remove()
        self.run_lock.release()
        if self.created:
            with suppress(OSError):  # only if empty: the lock was all it held
                self.path.rmdir()

    def save_checkpoint(self, state: TrainingState, epoch: int) -> None:
        """The whole training state after ``epoch``."""
        data = serialized(state.state_dict(epoch))
        write_or_stop(self.path / CHECKPOINT, partial(write_bytes, data))
        self.removable = False

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
        if options.experiment is not None:
            check_experiment_name(options.experiment)
        root = Path(options.model_dir)
        if not root.is_dir():
            raise GanzoError(f'--model-dir {root}: no such folder; point it at the folder '
                             'that holds the experiments')
        found = sorted(p.name for p in root.iterdir() if (p / OPTIONS).is_file())
        listed = ', '.join(found[:10]) + (', ...' if len(found) > 10 else '') or 'none'
        if options.experiment is None:
            raise GanzoError(f'name the experiment with --experiment (experiments in {root}: '
                             f'{listed})')
        super().__init__(options)
        if not self.path.is_dir():
            raise GanzoError(f'--experiment {options.experiment}: no such experiment in '
                             f'--model-dir {root} (experiments there: {listed})')
        if not (self.path / OPTIONS).is_file():
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

    def fixed_noise(self, state_size: int) -> torch.Tensor:
        """The training snapshots' fixed noise ``N x state_size``, kept in the
        checkpoint; in a conditional run, the noise points of the snapshots'
        columns (each of their rows repeats them for a class)."""
        if not (self.path / CHECKPOINT).exists():
            raise GanzoError(f'--sample-from-fixed-noise: {self.path} has no {CHECKPOINT}, which '
                             'keeps the fixed noise; pass --no-sample-from-fixed-noise')
        noise = self.checkpoint.fixed_noise
        if noise is None:
            raise GanzoError('--sample-from-fixed-noise: the experiment was trained without '
                             'fixed noise; pass --no-sample-from-fixed-noise')
        problem = noise_problem(noise, state_size)
        if problem:
            raise GanzoError(f'{self.checkpoint.path}: {problem}: it is damaged; pass '
                             '--no-sample-from-fixed-noise, or restore it from a copy')
        labels = self.checkpoint.fixed_labels
        return noise if labels is None else noise[labels == labels[0]]
