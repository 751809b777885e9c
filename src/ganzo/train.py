"""The ``ganzo`` command: train a GAN as the options say.

Every component is built from the options before anything is written, so that
a mistake in the options stops the command without touching the disk
(``--dry-run`` stops there and says what would be trained). Then the loop of
the spec runs, and after each epoch the whole training state is checkpointed,
so that ``--restore`` continues exactly as if never stopped.
"""

from __future__ import annotations

import argparse
import random
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from ganzo.acceleration import precision
from ganzo.contracts import Losses, call
from ganzo.data import Data
from ganzo.discriminator import Discriminator
from ganzo.distributed import Processes, gpus, launch
from ganzo.errors import GanzoError, one_line, one_line_warnings
from ganzo.evaluation import Evaluation
from ganzo.experiment import Experiment, check_experiment_name, experiment_name
from ganzo.game import Game
from ganzo.generator import Generator
from ganzo.hardware import cache_hint, hardware, loader_workers
from ganzo.hook import Hook, moving_average
from ganzo.kind import run_kind, shown
from ganzo.loss import Loss
from ganzo.noise import Noise
from ganzo.options import parse, path_is_writable
from ganzo.safeguards import StopSignals, check_batch_norm, check_finite, enough_memory
from ganzo.snapshot import Snapshot
from ganzo.state import TrainingState, seed_everything
from ganzo.statistics import Statistics

CHOICES = {'r': 'restore', 'n': 'restore-new', 'd': 'delete', 'a': 'abort'}


def resolve(options: argparse.Namespace, argv: list[str], processes: Processes
            ) -> tuple[argparse.Namespace, Experiment, str]:
    """The options (with their kind of run), the experiment, and what to do
    with it: 'new', 'restore' (saved options, overridden by the command line),
    'restore-new' (the new options), 'delete' or 'dry-run'."""
    model_dir = options.model_dir
    options.experiment = experiment_name(options)
    check_experiment_name(options.experiment)
    experiment = processes.experiment(options)
    action = 'new'
    if experiment.exists:
        saved = experiment.check_is_a_run()
        action = ('delete' if options.delete else 'restore' if options.restore
                  else 'restore-new' if options.dry_run else ask(experiment))
        if action == 'restore':
            options = parse(argv, base=saved)
            options.experiment, options.model_dir = experiment.path.name, model_dir
    if not action.startswith('restore'):  # a restore checks it once it knows its checkpoint
        first_epoch(options, experiment, 0, processes)
    if options.dry_run:
        action = 'dry-run'
    if options.seed is None:
        options.seed = random.SystemRandom().randrange(2**31)
    options.kind = run_kind(options)
    options.precision = precision(options)  # auto: the type chosen is saved
    if not path_is_writable(experiment.path):
        raise GanzoError(f'--model-dir {options.model_dir} is not writable: choose another')
    return options, experiment, action


def ask(experiment: Experiment) -> str:
    """Ask on the terminal what to do with an existing experiment."""
    if not sys.stdin.isatty():
        raise GanzoError(f'experiment {experiment.path} already exists: pass --restore to '
                         'continue it or --delete to start it again')
    prompt = (f'Experiment {experiment.path} already exists. [r]estore it with its saved '
              'options, restore it with the [n]ew options, [d]elete it and start again, '
              'or [a]bort? ')
    try:
        while (answer := input(prompt).strip().lower()[:1]) not in CHOICES:
            pass
    except EOFError:  # Ctrl-D
        answer = 'a'
    if CHOICES[answer] == 'abort':
        raise SystemExit('ganzo: aborted')
    return CHOICES[answer]


@dataclass
class Components:
    """Everything a run is made of, built from the options."""

    data: Any
    generator: nn.Module
    discriminator: nn.Module
    noise: Any
    statistics: Statistics
    snapshot: Snapshot
    evaluation: Evaluation
    loss: Any
    game: Any
    state: TrainingState

    @staticmethod
    def build(options: argparse.Namespace, processes: Processes) -> Components:
        """The components of ``options``, in the order of the spec's loop. The
        game trains the models through their distributed wrappers, if any; the
        training state holds the models themselves. With ``--ema-decay`` the
        moving average of the generator, a hook of the game, is what snapshots,
        evaluation and ``generator.pt`` see."""
        with processes.main_first(), enough_memory():
            processes.check_device(options)
            seed_everything(options.seed)
            data = Data.from_options(options)
            generator = Generator.from_options(options)
            discriminator = Discriminator.from_options(options)
            check_batch_norm(options, generator, discriminator)
            hooks = {'generator': Hook.from_options(options, 'generator', generator),
                     'discriminator': Hook.from_options(options, 'discriminator')}
            average = moving_average(hooks['generator'])
            sampling = generator if average is None else average.model
            noise = Noise.from_options(options)
            statistics = processes.main_only(Statistics.for_training(options))
            snapshot = processes.main_only(Snapshot.from_options(options))
            evaluation = Evaluation.from_options(options, sampling, noise, data)
        with enough_memory():
            trained_generator, trained_discriminator = processes.prepare(options, generator,
                                                                         discriminator)
            loss = Loss.from_options(options, trained_discriminator)
            game = Game.from_options(options, trained_generator, trained_discriminator, loss,
                                     hooks)
        state = TrainingState(options.kind, None if average is None else average.model,
                              generator=generator, discriminator=discriminator, game=game,
                              snapshot=snapshot, evaluation=evaluation, data=data)
        return Components(data, generator, discriminator, noise, statistics, snapshot,
                          evaluation, loss, game, state)

    def describe(self, options: argparse.Namespace, experiment: Experiment) -> str:
        """What would be trained, in a few lines (``--dry-run``)."""
        batches, kind = self.game.batches(self.data), options.kind
        classes = f'; {len(kind.classes)} classes: {shown(kind.classes)}' if kind.conditional \
            else ''
        rows = [('run', f'{experiment.path} (nothing written: --dry-run)'),
                ('kind', f'{kind.name}: {kind.description}, {kind.batch}{classes}'),
                ('data', f'{options.data_format} ({type(self.data).__name__}) of --dataset '
                         f'{options.dataset}: {batches} batches of {options.batch_size} '
                         f'{options.image_size} x {options.image_size} images per epoch '
                         f'({batches * options.batch_size} images), '
                         f'{loader_workers(options)} loader workers'),
                ('generator', network(options.generator, self.generator)),
                ('discriminator', network(options.discriminator, self.discriminator)),
                *((name, f'{getattr(options, option)} ({type(getattr(self, name)).__name__})')
                  for name, option in (('loss', 'loss'), ('noise', 'noise'), ('game', 'game'),
                                       ('evaluation', 'evaluation_criterion'))),
                ('epochs', f'{options.start_epoch or 1} to {options.epochs}, on '
                           f'{self.game.device} in {options.precision}'),
                ('hardware', hardware(self.game.device).describe())]
        return '\n'.join(f'{name:<14} {text}' for name, text in rows)


def network(name: str, model: nn.Module) -> str:
    count = sum(parameter.numel() for parameter in model.parameters())
    mode = getattr(getattr(model, 'conditioner', None), 'mode', None)
    conditioning = f', {mode} conditioning' if mode else ''
    return f'{name} ({type(model).__name__}{conditioning}): {count:,} parameters'


def train(options: argparse.Namespace, experiment: Experiment, action: str,
          processes: Processes) -> None:
    """Build the components, restore or start the run, and train it: the spec's
    loop. Components get the epoch and a progress callback where their methods
    take them (``contracts.call``): plugins may implement the spec's signatures."""
    run = Components.build(options, processes)
    hint = cache_hint(options, len(getattr(run.data, 'dataset', ())))
    if hint and processes.is_main:
        warnings.warn(hint, stacklevel=1)
    if action == 'dry-run':
        print(run.describe(options, experiment))
        return
    with experiment.writing(new=action == 'new'):  # one ganzo per run
        last = experiment.restore(run.state) if action.startswith('restore') else 0
        first = first_epoch(options, experiment, last, processes)
        if first > options.epochs:
            if processes.is_main:
                print(f'ganzo: {experiment.path} has trained {last} epochs and --epochs is '
                      f'{options.epochs}: nothing to train (a larger --epochs trains it '
                      'further)', file=sys.stderr)
            return
        if action == 'delete':
            experiment.delete()
        experiment.write_options(options, new=action in ('new', 'delete'))
        if last and processes.is_main:
            print(f'ganzo: restored {experiment.path} after epoch {last}', file=sys.stderr)
        loop(options, run, experiment, processes, first, last)


def loop(options: argparse.Namespace, run: Components, experiment: Experiment,
         processes: Processes, first: int, last: int) -> None:
    """The spec's loop, from epoch ``first`` to ``--epochs``; ``last`` is the
    epoch of the checkpoint it started from (0 for none)."""
    data, generator, noise, game = run.data, run.state.sampling_generator, run.noise, run.game
    statistics, snapshot, evaluation = run.statistics, run.snapshot, run.evaluation
    with StopSignals(last) as stop:  # SIGINT, SIGTERM: stop at the end of a batch
        for epoch in range(first, options.epochs + 1):
            processes.seed_epoch(options.seed, epoch)
            statistics.start_epoch(epoch, game.batches(data))
            losses: Losses = processes.mean(
                call(game.run_epoch, data, noise, progress=stop.checking(statistics.update)))
            check_finite(epoch, losses, run.state.components)
            losses.update(processes.from_main(evaluation.evaluate, epoch))  # fid: once, shared
            call(statistics.log, losses, epoch=epoch)
            call(snapshot.save, data, noise, generator, epoch=epoch)
            if evaluation.has_improved(losses):
                experiment.save_models(run.state)
            experiment.save_checkpoint(run.state, epoch)
            stop.saved(epoch)
    statistics.close()


def first_epoch(options: argparse.Namespace, experiment: Experiment, last: int,
                processes: Processes) -> int:
    """The first epoch to train: the one after the checkpoint's (``last``), or in
    a run without a checkpoint yet, ``--start-epoch`` (default 1). ``--start-epoch``
    numbers the first epoch of a run, and stays so in its ``options.json``: a
    restored run never repeats or skips epochs, whatever the command line says."""
    if not last:
        if (options.start_epoch or 1) > options.epochs:
            raise GanzoError(f'--start-epoch {options.start_epoch} is after --epochs '
                             f'{options.epochs}: nothing would be trained; raise --epochs')
        return options.start_epoch or 1
    started = processes.from_main(experiment.read_options).get('start_epoch')
    if options.start_epoch not in (None, started) and processes.is_main:
        warnings.warn(f'--start-epoch {options.start_epoch} is ignored: it numbers the first '
                      f'epoch of a run, and {experiment.path} continues after its checkpoint, '
                      f'from epoch {last + 1}', stacklevel=2)
    options.start_epoch = started
    return last + 1


def ganzo(argv: list[str]) -> None:
    """Train as the command line says: in this process, in the process group
    that torchrun set up, or, with ``--parallel``, in one process per GPU."""
    with Processes.join() as processes:
        options = processes.from_main(parse, argv)
        if options.parallel and not processes.distributed:
            return launch(argv, gpus(options))
        train(*processes.from_main(resolve, options, argv, processes), processes)


def run(command: Callable[[list[str]], None], argv: list[str] | None = None,
        prog: str = 'ganzo') -> None:
    """Run ``command``: user mistakes end it with one line on stderr and status
    2; interruptions with one line and 128 + the signal number."""
    try:
        with one_line_warnings(prog):
            command(sys.argv[1:] if argv is None else argv)
    except GanzoError as error:
        print(f'{prog}: error: {one_line(error)}', file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as interrupt:
        print(f'\n{prog}: {str(interrupt) or "interrupted"}', file=sys.stderr)
        sys.exit(getattr(interrupt, 'status', 130))


def main(argv: list[str] | None = None) -> None:
    run(ganzo, argv)


if __name__ == '__main__':
    main()
