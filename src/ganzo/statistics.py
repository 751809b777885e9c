"""Statistics: losses, metrics and speed of training, on the console, in a
file, in TensorBoard, MLflow or Weights & Biases (``--log``, one or several).

A statistics object follows each epoch::

    statistics.start_epoch(epoch, batches)   # optional: a progress bar, the epoch's number
    statistics.update(images, read_losses)   # optional, after each batch (contracts.Progress)
    statistics.log(losses)                   # at the end: mean losses and metrics

``log`` alone is enough (the spec's loop): epochs are then numbered 1, 2...,
and the speed comes from the ``images`` and ``seconds`` of the game's
``Losses``. A plugin implements ``write(epoch, values)``, or ``log`` itself.

Whatever ``--log`` says, training also keeps the ``History`` of the run:
every epoch's values in ``history.json``, and their plots in ``plots.png``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, ClassVar

from ganzo.errors import GanzoError
from ganzo.experiment import run_directory
from ganzo.files import warn, write_or_warn
from ganzo.options import Factory, chosen, complete, component_option, owned_by
from ganzo.registry import Registry, register
from ganzo.trackers import MLflow, TensorBoard, Tracker, Wandb, close_trackers, shared

HISTORY, PLOTS = 'history.json', 'plots.png'


class Statistics(Factory, namespace='statistics', option='log'):
    """Builds the statistics named by --log, and is their base: subclasses
    ``write`` what ``log`` collects, the losses plus ``images_per_second`` and
    ``seconds`` (see ``ganzo.contracts.Statistics``)."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        if not train:
            return
        group = parser.add_argument_group('statistics')
        component_option(group, 'statistics', 'where to log statistics, one or several '
                         '(under torchrun, which takes --log for its own --log-dir, write '
                         '--statistics)', flag='log', aliases=('statistics',), several=True)
        owned_by(group.add_argument('--log-file', help='file of --log file (default: '
                                    '<output-dir>/<experiment>/statistics.log)'), 'log', 'file')
        trackers = ('log', 'save_images_as')
        owned_by(group.add_argument('--tracker-project', default='ganzo', metavar='NAME',
                                    help='the W&B project or MLflow experiment of the runs '
                                    '(default: %(default)s)'), trackers, 'mlflow', 'wandb')
        owned_by(group.add_argument('--mlflow-uri', metavar='URI',
                                    help='MLflow tracking URI: a folder, file:, http(s)://... '
                                    '(default: $MLFLOW_TRACKING_URI, else the file store '
                                    '<output-dir>/mlruns)'), trackers, 'mlflow')
        owned_by(group.add_argument('--wandb-mode', choices=('offline', 'online'),
                                    default='offline', help='W&B offline (no network, in '
                                    '<output-dir>/<experiment>/wandb; upload later with wandb '
                                    'sync) or online (default: %(default)s)'), trackers, 'wandb')

    @classmethod
    def from_options(cls, options: argparse.Namespace, *args: Any) -> Any:
        """The statistics that --log names; several are combined into one."""
        options = complete(options)
        parts = [Registry.build('statistics', name, options, *args) for name in chosen(options.log)]
        return parts[0] if len(parts) == 1 else CombinedStatistics(options, parts)

    @classmethod
    def for_training(cls, options: argparse.Namespace) -> Statistics:
        """The statistics of --log, and the run's ``History``, which training always keeps."""
        logged = cls.from_options(options)
        parts = logged.parts if isinstance(logged, CombinedStatistics) else [logged]
        return CombinedStatistics(options, [History(options), *parts])

    def __init__(self, options: argparse.Namespace) -> None:
        self.epoch, self.logged, self.batches, self.images = 0, 0, 0, 0
        self.started = time.perf_counter()

    def start_epoch(self, epoch: int, batches: int) -> None:
        self.epoch, self.batches, self.images, self.started = epoch, batches, 0, time.perf_counter()

    def update(self, images: int, read_losses: Callable[[], dict[str, float]]) -> None:
        self.images += images

    def log(self, losses: dict[str, float], epoch: int | None = None) -> None:
        """Record the losses of ``epoch`` (default: the epoch started, or the
        one after the last logged), with the images per second and the seconds
        since the epoch started; without ``start_epoch``, the seconds that the
        game's ``Losses`` say the epoch took (or those since the last ``log``)."""
        now = time.perf_counter()
        timed = self.epoch > self.logged  # start_epoch was called for this epoch
        epoch = epoch or (self.epoch if timed else self.logged + 1)
        seconds = (now - self.started if timed or not getattr(losses, 'seconds', 0)
                   else losses.seconds)
        images = self.images or getattr(losses, 'images', 0)
        self.write(epoch, {**losses, 'images_per_second': images / max(seconds, 1e-9),
                           'seconds': seconds})
        self.logged, self.images, self.started = epoch, 0, now

    def write(self, epoch: int, values: dict[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


class CombinedStatistics(Statistics):
    """Several statistics as one: each follows the epochs, and those that keep
    ``Statistics.log`` write the same values (the others, plugins with their
    own ``log``, are given the losses)."""

    def __init__(self, options: argparse.Namespace, parts: list) -> None:
        super().__init__(options)
        self.parts = parts
        self.writers = [part for part in parts if isinstance(part, Statistics)
                        and type(part).log is Statistics.log]

    def start_epoch(self, epoch: int, batches: int) -> None:
        super().start_epoch(epoch, batches)
        for part in self.parts:
            _call(part, 'start_epoch', epoch, batches)

    def update(self, images: int, read_losses: Callable[[], dict[str, float]]) -> None:
        super().update(images, read_losses)
        for part in self.parts:
            _call(part, 'update', images, read_losses)

    def log(self, losses: dict[str, float], epoch: int | None = None) -> None:
        super().log(losses, epoch)
        for part in self.parts:
            if part not in self.writers:
                takes_epoch = epoch is not None and _accepts(part.log, losses, epoch)
                part.log(losses, epoch) if takes_epoch else part.log(losses)

    def write(self, epoch: int, values: dict[str, float]) -> None:
        for part in self.writers:
            part.write(epoch, values)

    def close(self) -> None:
        for part in self.parts:
            _call(part, 'close')


def _call(part: Any, method: str, *arguments: Any) -> None:
    """``part.method(*arguments)``, if ``part`` has that method (plugins may not)."""
    if callable(getattr(part, method, None)):
        getattr(part, method)(*arguments)


def _accepts(method: Callable, *arguments: Any) -> bool:
    try:
        inspect.signature(method).bind(*arguments)
    except (TypeError, ValueError):
        return False
    return True


class History(Statistics):
    """What every training keeps of its statistics, whatever --log says: the
    values of each epoch in ``<output-dir>/<experiment>/history.json``, which
    ``ganzo-report`` reads, and their plots in ``plots.png`` (``ganzo.plots``),
    drawn at the end of training and at most once every ``plot_seconds``
    during it; at the end it also closes the run's trackers. Logging an epoch
    replaces the records of it and of the epochs after it (a restored run logs
    them again). A file that cannot be written is a warning: training goes on."""

    plot_seconds = 60.0

    def __init__(self, options: argparse.Namespace) -> None:
        super().__init__(options)
        self.directory = run_directory(complete(options))
        try:
            self.records = read_history(self.directory)
        except GanzoError as error:
            warn(f'{error}; it is started again')
            self.records = []
        self.drawn = time.monotonic()

    def write(self, epoch: int, values: dict[str, float]) -> None:
        self.records = [record for record in self.records if record['epoch'] < epoch]
        self.records.append({'epoch': epoch, **values})
        text = '{"epochs": [\n' + ',\n'.join(map(json.dumps, self.records)) + '\n]}\n'
        write_or_warn(self.directory / HISTORY, lambda file: file.write(text), mode='w')
        if time.monotonic() - self.drawn >= self.plot_seconds:
            self.draw()

    def draw(self) -> None:
        from ganzo.plots import draw
        self.drawn = time.monotonic()
        image = draw({self.directory.name: self.records})
        write_or_warn(self.directory / PLOTS, lambda file: file.write(image))

    def close(self) -> None:
        """Draw the plots, and close the trackers of the run."""
        if self.records:
            self.draw()
        close_trackers(self.directory)


def read_history(directory: Path) -> list[dict[str, float]]:
    """The records of each epoch of the run in ``directory``, in order: from
    ``history.json``, or else from a ``statistics.log`` of --log file (the last
    line of each epoch); none if it has neither."""
    path = directory / HISTORY
    try:
        if path.is_file():
            records = json.loads(path.read_text(encoding='utf-8'))['epochs']
        elif (directory / 'statistics.log').is_file():
            path = directory / 'statistics.log'
            lines = path.read_text(encoding='utf-8').splitlines()
            records = list({record['epoch']: record for record in map(json.loads, lines)}.values())
        else:
            return []
        return sorted((record for record in records if isinstance(record['epoch'], int)),
                      key=lambda record: record['epoch'])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GanzoError(f'{path} is not a statistics file of Ganzo ({error})') from None


@register('statistics', 'none')
class NoStatistics(Statistics):
    """Drops everything."""


@register('statistics', 'console', default=True)
class ConsoleStatistics(Statistics):
    """A progress bar per epoch (tqdm, on stderr) with the running losses and
    images per second, then one summary line per epoch."""

    refresh_seconds = 0.5

    def __init__(self, options: argparse.Namespace) -> None:
        super().__init__(options)
        self.bar = None

    def start_epoch(self, epoch: int, batches: int) -> None:
        from tqdm import tqdm
        super().start_epoch(epoch, batches)
        self.bar = tqdm(total=batches, desc=f'epoch {epoch}', unit='batch', leave=False,
                        dynamic_ncols=True, file=sys.stderr)
        self.refreshed = 0.0

    def update(self, images: int, read_losses: Callable[[], dict[str, float]]) -> None:
        super().update(images, read_losses)
        self.bar.update(1)
        now = time.perf_counter()
        if now - self.refreshed >= self.refresh_seconds:
            self.refreshed = now
            speed = self.images / max(now - self.started, 1e-9)
            self.bar.set_postfix({**_rounded(read_losses()), 'img/s': f'{speed:.0f}'})

    def write(self, epoch: int, values: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.close()
        summary = '  '.join(f'{key} {value:.4g}' for key, value in values.items())
        print(f'epoch {epoch}  {summary}', flush=True)


@register('statistics', 'file')
class FileStatistics(Statistics):
    """One JSON line per epoch appended to --log-file: the epoch, the mean
    losses, the metrics, images per second and seconds. A line that cannot be
    written (no space, no permission) is a warning: training goes on. A run
    continued with --restore logs again the epochs after its checkpoint."""

    def __init__(self, options: argparse.Namespace) -> None:
        super().__init__(options)
        options = complete(options)
        self.path = Path(options.log_file or run_directory(options) / 'statistics.log')

    def write(self, epoch: int, values: dict[str, float]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, 'a', encoding='utf-8') as file:
                file.write(json.dumps({'epoch': epoch, **values}) + '\n')
        except OSError as error:
            warn(f'cannot write {self.path} ({error.strerror or error}); training goes on')


class TrackerStatistics(Statistics):
    """Statistics logged to a tracker (``ganzo.trackers``), whose run is
    shared with the snapshots of the run that name the same tracker."""

    tracker: ClassVar[type[Tracker]]

    def __init__(self, options: argparse.Namespace) -> None:
        super().__init__(options)
        self.tracker_run = shared(self.tracker, options)

    def write(self, epoch: int, values: dict[str, float]) -> None:
        self.tracker_run.log_values(epoch, values)

    def close(self) -> None:
        self.tracker_run.close()


@register('statistics', 'tensorboard')
class TensorBoardStatistics(TrackerStatistics):
    """Scalars in TensorBoard (needs tensorboardX), in
    <output-dir>/<experiment>/tensorboard, one step per epoch."""

    tracker = TensorBoard


@register('statistics', 'mlflow')
class MLflowStatistics(TrackerStatistics):
    """Metrics in MLflow (needs mlflow-skinny), one step per epoch, and the
    options as parameters: ``ganzo.trackers.MLflow``."""

    tracker = MLflow


@register('statistics', 'wandb')
class WandbStatistics(TrackerStatistics):
    """Values in Weights & Biases (needs wandb), one step per epoch, and the
    options as the run's config: ``ganzo.trackers.Wandb``."""

    tracker = Wandb


def _rounded(values: dict[str, float]) -> dict[str, str]:
    return {key: f'{value:.3g}' for key, value in values.items()}
