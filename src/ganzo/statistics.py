"""Statistics: losses, metrics and speed of training, on the console, in a file
or in TensorBoard.

A statistics object follows each epoch::

    statistics.start_epoch(epoch, batches)   # optional: a progress bar, the epoch's number
    statistics.update(images, read_losses)   # optional, after each batch (contracts.Progress)
    statistics.log(losses)                   # at the end: mean losses and metrics

``log`` alone is enough (the spec's loop): epochs are then numbered 1, 2...,
and the speed comes from the ``images`` and ``seconds`` of the game's
``Losses``. A plugin implements ``write(epoch, values)``, or ``log`` itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable

from ganzo.errors import GanzoError
from ganzo.experiment import run_directory
from ganzo.files import warn
from ganzo.options import Factory, complete, component_option, owned_by
from ganzo.registry import register


class Statistics(Factory, namespace='statistics', option='log'):
    """Builds the statistics named by --log, and is their base: subclasses
    ``write`` what ``log`` collects, the losses plus ``images_per_second`` and
    ``seconds`` (see ``ganzo.contracts.Statistics``)."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        if not train:
            return
        group = parser.add_argument_group('statistics')
        component_option(group, 'statistics', 'where to log statistics (under torchrun, '
                         'which takes --log for its own --log-dir, write --statistics)',
                         flag='log', aliases=('statistics',))
        owned_by(group.add_argument('--log-file', help='file of --log file (default: '
                                    '<output-dir>/<experiment>/statistics.log)'), 'log', 'file')

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


@register('statistics', 'tensorboard')
class TensorBoardStatistics(Statistics):
    """Scalars in TensorBoard (needs tensorboardX), in
    <output-dir>/<experiment>/tensorboard, one step per epoch."""

    def __init__(self, options: argparse.Namespace) -> None:
        super().__init__(options)
        self.writer = TensorBoardWriter(complete(options))

    def write(self, epoch: int, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.writer.get().add_scalar(key, value, epoch)
        self.writer.get().flush()

    def close(self) -> None:
        self.writer.close()


class TensorBoardWriter:
    """A tensorboardX writer into <output-dir>/<experiment>/tensorboard, made
    on first use; building one without tensorboardX is a clear error."""

    def __init__(self, options: argparse.Namespace) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise GanzoError('TensorBoard needs tensorboardX: '
                             'pip install "ganzo[tensorboard]"') from None
        self.make = lambda: SummaryWriter(str(run_directory(options) / 'tensorboard'))
        self.writer = None

    def get(self):
        if self.writer is None:
            self.writer = self.make()
        return self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _rounded(values: dict[str, float]) -> dict[str, str]:
    return {key: f'{value:.3g}' for key, value in values.items()}
