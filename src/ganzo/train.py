"""The ``ganzo`` command: train a GAN as the options say.

Every component is built from the options before anything is written, so that
a mistake in the options stops the command without touching the disk. Then
the loop of the spec runs, and after each epoch the whole training state is
checkpointed, so that ``--restore`` continues exactly as if never stopped.
"""

from __future__ import annotations

import argparse
import random
import sys
from typing import Callable

from ganzo import distributed
from ganzo.data import Data
from ganzo.discriminator import Discriminator
from ganzo.distributed import SharedExperiment
from ganzo.errors import GanzoError, one_line, one_line_warnings
from ganzo.evaluation import Evaluation
from ganzo.experiment import Experiment, seed_everything
from ganzo.game import Game
from ganzo.generator import Generator
from ganzo.loss import Loss
from ganzo.noise import Noise
from ganzo.options import check_experiment_name, experiment_name, parse, path_is_writable
from ganzo.safeguards import StopSignals, check_finite
from ganzo.snapshot import Snapshot
from ganzo.statistics import Statistics

CHOICES = {'r': 'restore', 'n': 'restore-new', 'd': 'delete', 'a': 'abort'}


def resolve(argv: list[str]) -> tuple[argparse.Namespace, Experiment, str]:
    """The options, the experiment, and what to do with it: 'new', 'restore'
    (saved options, overridden by the command line), 'restore-new' (the new
    options) or 'delete'."""
    options = parse(argv)
    model_dir = options.model_dir
    options.experiment = experiment_name(options)
    check_experiment_name(options.experiment)
    experiment = SharedExperiment(options)
    action = 'new'
    if experiment.exists:
        action = 'delete' if options.delete else 'restore' if options.restore else ask(experiment)
        if action == 'restore':
            options = parse(argv, base=experiment.read_options())
            options.experiment, options.model_dir = experiment.path.name, model_dir
    if options.seed is None:
        options.seed = random.SystemRandom().randrange(2**31)
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
    while (answer := input(prompt).strip().lower()[:1]) not in CHOICES:
        pass
    if CHOICES[answer] == 'abort':
        raise SystemExit('ganzo: aborted')
    return CHOICES[answer]


def train(argv: list[str]) -> None:
    options, experiment, action = distributed.from_rank_0(resolve, argv)
    with distributed.rank_0_first():
        distributed.check_device(options)
        seed_everything(options.seed)
        data = Data.from_options(options)
        generator = Generator.from_options(options)
        discriminator = Discriminator.from_options(options)
        noise = Noise.from_options(options)
        statistics = distributed.rank_0_only(Statistics.from_options(options))
        snapshot = distributed.rank_0_only(Snapshot.from_options(options))
        evaluation = Evaluation.from_options(options, generator, noise)
    # The game trains the models through their distributed wrappers, if any.
    trained_generator, trained_discriminator = distributed.prepare(options, generator,
                                                                   discriminator)
    loss = Loss.from_options(options, trained_discriminator)
    game = Game.from_options(options, trained_generator, trained_discriminator, loss)
    checkpointed = dict(generator=generator, discriminator=discriminator, game=game,
                        snapshot=snapshot, evaluation=evaluation, data=data)

    last = experiment.restore(checkpointed) if action.startswith('restore') else 0
    if action == 'delete':
        experiment.delete()
    experiment.write_options(options)
    if last and distributed.is_main():
        print(f'ganzo: restored {experiment.path} after epoch {last}', file=sys.stderr)

    with StopSignals(last) as stop:  # SIGINT, SIGTERM: stop at the end of a batch
        for epoch in range((options.start_epoch or last + 1), options.epochs + 1):
            distributed.seed_epoch(options.seed, epoch)
            statistics.start_epoch(epoch, game.batches(data))
            losses = distributed.mean(
                game.run_epoch(data, noise, stop.checking(statistics.update)))
            check_finite(epoch, losses, checkpointed)
            losses.update(evaluation.evaluate(epoch))
            statistics.log(losses)
            snapshot.save(epoch, data, noise, generator)
            if evaluation.has_improved(losses):
                experiment.save_models(generator=generator, discriminator=discriminator)
            experiment.save_checkpoint(epoch, checkpointed)
            stop.saved(epoch)
    statistics.close()


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
    run(distributed.command(train), argv)


if __name__ == '__main__':
    main()
