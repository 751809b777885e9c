"""The ``deh`` command: images from a trained experiment, with nothing but its directory.

    deh --model-dir runs --experiment dcgan-mnist --num-samples 10

Options come from the experiment's ``options.json``, overridden by the command
line; those that only matter for training are ignored. Three saved options
said where and how training ran, and are deh's own instead: ``--device`` (a
model trained on a GPU samples on the CPU), ``--seed`` (default: drawn at
random) and ``--output-dir``.

Each call writes into a new folder ``<output-dir>/<experiment>/deh-NNNN``
(``--output-dir`` as in training, default ``--model-dir``): samples, walks
between latent points (of each ``--class``, in a conditional experiment), or
translations of ``--input`` images (see ``ganzo.inference``); ``--export PATH``
writes the generator as TorchScript (and ONNX) instead (``ganzo.export``).
Weights: the best ones (``generator.pt``), or those of the last checkpoint with
``--checkpoint last``; for a generator trained with ``--ema-decay``, the moving
average of its weights, unless ``--raw-generator``. Unpaired translation
experiments (the ``cycle`` game) translate and export in the direction of
``--direction`` (by default the trained one, with G; the other, with F).
"""

from __future__ import annotations

import argparse
import random
import warnings

from torch import nn

from ganzo.data.translation import reverses
from ganzo.errors import GanzoError
from ganzo.experiment import OPTIONS, TrainedExperiment
from ganzo.export import export_generator
from ganzo.files import load_state
from ganzo.generator import Generator
from ganzo.inference import sample, translate
from ganzo.options import build_parser, explicit, number_type, parse
from ganzo.registry import with_option_parser
from ganzo.train import run

# Saved options about where and how training ran, not what it computed.
NOT_INHERITED = ('device', 'seed', 'output_dir')
MAX_IMAGES = 100_000  # in one call: each is a file
image_count = number_type(int, lambda x: 0 < x <= MAX_IMAGES,
                          f'a positive integer (at most {MAX_IMAGES:,})')
steps = number_type(int, lambda x: 2 <= x <= 1000, 'an integer from 2 to 1000')


@with_option_parser
def add_deh_options(parser: argparse.ArgumentParser, train: bool) -> None:
    if train:
        return
    group = parser.add_argument_group('deh')
    group.add_argument('--num-samples', type=image_count, metavar='N',
                       help='images to generate (of each class, in a conditional experiment), '
                       'or rows with --interpolate (default: as many as the training '
                       'snapshots: --snapshot-size, or their columns in a conditional one)')
    group.add_argument('--grid-size', type=image_count, metavar='N',
                       help='images that grid.png shows, the first ones (with --interpolate: '
                       'the first rows of at most N images, at least one row) (default: 64, '
                       'or --snapshot-size if larger)')
    group.add_argument('--interpolate', type=steps, metavar='K',
                       help='rows of K images along the great circle from each latent point '
                       'to the next (spherical interpolation)')
    group.add_argument('--input', metavar='PATH',
                       help='translation experiments: an image, or a folder of images, to '
                       'translate (unpaired experiments: in the direction of --direction, '
                       'a-to-b or b-to-a); the results keep their file names')
    group.add_argument('--export', metavar='PATH',
                       help='instead of images, write the generator as TorchScript to PATH, '
                       'and as ONNX beside it (suffix .onnx) if onnx is installed (unpaired '
                       'experiments: the generator of --direction)')


def resolve(argv: list[str]) -> tuple[argparse.Namespace, TrainedExperiment]:
    """The options (command line > the experiment's options.json > defaults) and the experiment."""
    with warnings.catch_warnings():  # the options' owners are known with options.json, below
        warnings.simplefilter('ignore')
        experiment = TrainedExperiment(parse(argv, train=False, prog='deh'))
    base = {key: value for key, value in experiment.saved_options.items()
            if key not in NOT_INHERITED}
    try:
        options = parse(argv, train=False, base=base, prog='deh')
    except GanzoError as error:  # the command line alone parsed: options.json is wrong
        raise GanzoError(f'{experiment.path / OPTIONS}: {error}') from None
    if options.seed is None:
        options.seed = random.SystemRandom().randrange(2**31)
    options.kind = experiment.run_kind(options)
    if options.kind.translates and options.input is None and options.export is None:
        raise GanzoError(f'{experiment.path} translates images: give them with --input '
                         '(an image or a folder of images)')
    if not options.kind.translates and options.input is not None:
        raise GanzoError(f'--input is for translation experiments; {experiment.path} '
                         'generates images from noise: leave out --input')
    if options.input is not None and options.interpolate is not None:
        raise GanzoError('--interpolate walks the latent space: leave it out with --input')
    if options.classes is not None and not options.kind.conditional:
        raise GanzoError(f'--class is for conditional experiments, and {experiment.path} was '
                         'trained without --conditional: leave out --class')
    if options.kind.conditional:
        options.classes = options.kind.labels(options.classes or list(options.kind.classes))
    if backward(options, experiment) and not options.kind.both_ways:
        raise GanzoError(f'--direction {options.direction}: {experiment.path} was trained '
                         f'{trained_direction(experiment)} and its generator translates that '
                         'way only; leave out --direction')
    if (options.sample_from_fixed_noise and options.num_samples and not options.kind.translates
            and options.export is None
            and 'sample_from_fixed_noise' not in explicit(build_parser(False, 'deh'), argv)
            and options.num_samples > len(experiment.fixed_noise(options.state_size))):
        options.sample_from_fixed_noise = False  # training's choice, but more images than it kept
    images = (options.num_samples or 0) * (options.interpolate or 1) * len(options.classes or [0])
    if images > MAX_IMAGES:
        raise GanzoError(f'--num-samples {options.num_samples} (rows of --interpolate '
                         f'{options.interpolate} images, of each class asked for) make more than '
                         f'{MAX_IMAGES:,} images: lower one of them')
    return options, experiment


def trained_direction(experiment: TrainedExperiment) -> str:
    return experiment.saved_options.get('direction', 'first-to-second')


def backward(options: argparse.Namespace, experiment: TrainedExperiment) -> bool:
    """Whether ``--direction`` goes the other way than the experiment was trained
    (in unpaired translation: with F, from B to A)."""
    return options.kind.translates and (reverses(options.direction)
                                        != reverses(trained_direction(experiment)))


def load_generator(options: argparse.Namespace, experiment: TrainedExperiment) -> nn.Module:
    """The generator of the options with the chosen weights, in evaluation mode;
    in unpaired translation, the one of ``--direction`` (G, or F if ``backward``)."""
    generator = Generator.from_options(options)
    state, path = experiment.generator_weights(options.checkpoint, options.raw_generator)
    load_state(generator, state, 'generator', path)
    if options.kind.both_ways:
        generator = generator.translator('b-to-a' if backward(options, experiment) else 'a-to-b')
    return generator.eval()


def deh(argv: list[str]) -> None:
    options, experiment = resolve(argv)
    generator = load_generator(options, experiment)
    if options.export is not None:
        message = export_generator(options, generator)
    elif options.input is not None:
        message = translate(options, generator)
    else:
        message = sample(options, experiment, generator)
    print(f'deh: {message}')


def main(argv: list[str] | None = None) -> None:
    run(deh, argv, prog='deh')


if __name__ == '__main__':
    main()
