"""A trained run as the report sees it: its options, the records of its
epochs, its sample grids, its best epoch and the ``deh`` command to sample it."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ganzo.errors import GanzoError
from ganzo.experiment import OPTIONS
from ganzo.files import check_version
from ganzo.kind import TRANSLATION
from ganzo.options import load_components, read_json
from ganzo.registry import Registry
from ganzo.statistics import HISTORY, read_history

SAMPLE = re.compile(r'epoch-(\d+)\.png')


def registered(namespace: str, name: Any) -> Any:
    """The component registered as ``name``, None if there is none (a plugin not loaded)."""
    load_components()
    try:
        return Registry.get(namespace, name)
    except (GanzoError, TypeError):
        return None


@dataclass
class Run:
    """The run in ``path`` (``<model-dir>/<experiment>``, which holds ``options.json``)."""

    path: Path
    options: dict[str, Any]
    records: list[dict[str, float]]
    outputs: Path  # where its samples and statistics are: --output-dir, or path

    @staticmethod
    def read(path: Path) -> Run:
        """The run in ``path``; a ``GanzoError`` if it is not a Ganzo run or
        has no statistics yet."""
        if not (path / OPTIONS).is_file():
            raise GanzoError(f'{path} is not a Ganzo run (it has no {OPTIONS}): give the folder '
                             'of an experiment, <model-dir>/<experiment>')
        options = read_json(path / OPTIONS)
        check_version(options, path / OPTIONS)
        outputs = path
        if options.get('output_dir') and (Path(options['output_dir']) / path.name).is_dir():
            outputs = Path(options['output_dir']) / path.name
        records = read_history(outputs) or read_history(path)
        if not records:
            raise GanzoError(f'{path} has no statistics yet (no {HISTORY}): train it for an '
                             'epoch first')
        return Run(path, options, records, outputs)

    @property
    def name(self) -> str:
        return self.path.name

    @cached_property
    def samples(self) -> dict[int, Path]:
        """The sample grid of each epoch that has one."""
        found = {}
        for file in (self.outputs / 'samples').glob('epoch-*.png'):
            match = SAMPLE.fullmatch(file.name)
            if match:
                found[int(match.group(1))] = file
        return dict(sorted(found.items()))

    @property
    def translates(self) -> bool:
        game = registered('game', self.options.get('game'))
        return getattr(game, 'kind', None) == TRANSLATION

    @property
    def last(self) -> dict[str, float]:
        return self.records[-1]

    @cached_property
    def best(self) -> tuple[dict[str, float], str]:
        """The record of the epoch whose models ``generator.pt`` holds, and why:
        the lowest value of the criterion's key, or the last epoch."""
        criterion = self.options.get('evaluation_criterion', 'latest')
        key = getattr(registered('evaluation', criterion), 'key', None)
        scored = [record for record in self.records
                  if isinstance(record.get(key), (int, float))] if key else []
        if scored:
            return (min(scored, key=lambda record: record[key]),
                    f'the lowest {key} (--evaluation-criterion {criterion})')
        if criterion == 'latest':
            return self.last, 'the last epoch (--evaluation-criterion latest)'
        return self.last, f'the last epoch (--evaluation-criterion {criterion}: not recorded)'

    @property
    def seconds(self) -> float:
        return sum(record.get('seconds', 0.0) for record in self.records)

    def deh_command(self) -> str:
        """The ``deh`` command that samples (or translates with) the run."""
        words = ['deh', '--model-dir', str(self.path.parent), '--experiment', self.name]
        if not (self.path / 'generator.pt').exists() and (self.path / 'checkpoint.pt').exists():
            words += ['--checkpoint', 'last']
        command = shlex.join(words + ([] if self.translates else ['--num-samples', '16']))
        return command + (' --input IMAGES' if self.translates else '')


def labels(runs: list[Run]) -> list[str]:
    """A name for each run: its experiment's, or its path where two share one."""
    names = [run.name for run in runs]
    return [name if names.count(name) == 1 else str(run.path) for name, run in zip(names, runs)]


def find_runs(paths: list[str], model_dir: str | None, pattern: str) -> list[Run]:
    """The runs named by ``paths``, and those of ``model_dir`` whose names
    match ``pattern`` (a glob), each once."""
    found = [Path(path) for path in paths]
    if model_dir is not None:
        root = Path(model_dir)
        if not root.is_dir():
            raise GanzoError(f'--model-dir {root}: no such folder')
        matching = sorted(path for path in root.glob(pattern) if (path / OPTIONS).is_file())
        if not matching:
            raise GanzoError(f'--model-dir {root}: no experiment matches --experiment {pattern!r}')
        found += matching
    if not found:
        raise GanzoError('give the run directories to report on (<model-dir>/<experiment>), '
                         'or --model-dir (see --help)')
    unique = list(dict.fromkeys(path.resolve() for path in found))
    return [Run.read(next(path for path in found if path.resolve() == real)) for real in unique]
