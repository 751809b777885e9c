"""The ``ganzo-eval`` command: score a trained experiment, or a folder of images,
with FID, KID, Inception Score and precision/recall.

    ganzo-eval --model-dir runs --experiment NAME [--metrics fid kid]
    ganzo-eval --generated-dir FOLDER --evaluation-data-dir REAL_FOLDER

An experiment is scored on ``--evaluation-samples`` images of its best generator
(``generator.pt``; with ``--checkpoint last``, that of the last checkpoint), with
the options it was trained with (those given on the command line take
precedence), and the scores go to ``metrics.json`` in its directory. A
conditional experiment is scored on images of classes drawn uniformly, and for
each class of ``--class`` (default: all) on ``--samples-per-class`` images of
that class: the accuracy of the ``classifier`` extractor's head, and with
``--per-class`` the FID against the real images of the class
(``ganzo.metrics.classes``). For unpaired translation, the images are G's
translations of the held-out images of A (or the training ones), scored against
the images of B (unless ``--evaluation-data-dir``); paired translation is
measured on held-out pairs during training instead (``--evaluation-criterion
l1`` or ``psnr``). A folder is scored against the real images of
``--evaluation-data-dir``. Either way a small table is printed and ``--output``
names a JSON file to write.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import ganzo
from ganzo.data import Data
from ganzo.errors import GanzoError
from ganzo.experiment import TrainedExperiment
from ganzo.files import load_state, write_or_stop
from ganzo.generator import Generator
from ganzo.metrics import METRICS, Scorer
from ganzo.metrics.classes import class_scores, real_images_of
from ganzo.metrics.real import at_most, image_folder
from ganzo.noise import Noise
from ganzo.options import device, make_parser, path_is_writable, positive_int, to_arguments
from ganzo.train import run

METRICS_FILE = 'metrics.json'


def parser() -> argparse.ArgumentParser:
    result = make_parser(train=False, prog='ganzo-eval', description=__doc__.splitlines()[0])
    Scorer.add_options(result)
    group = result.add_argument_group('ganzo-eval')
    group.add_argument('--generated-dir', metavar='FOLDER',
                       help='score the images in this folder (against --evaluation-data-dir) '
                       'instead of a trained experiment')
    group.add_argument('--metrics', nargs='+', choices=list(METRICS), default=list(METRICS),
                       help='metrics to compute: fid, kid, is (Inception Score), pr '
                       '(precision and recall) (default: all)')
    group.add_argument('--output', metavar='FILE', help='write the scores as JSON here '
                       f'(default: {METRICS_FILE} in the experiment directory)')
    group.add_argument('--samples-per-class', type=positive_int, default=1000, metavar='N',
                       help='conditional experiments: images generated for each class of '
                       '--class, whose accuracy (and FID, with --per-class) is measured '
                       '(default: %(default)s)')
    group.add_argument('--per-class', action=argparse.BooleanOptionalAction, default=False,
                       help='conditional experiments: also the FID of each class against its '
                       'real images, and their mean, the intra-FID (default: off)')
    return result


def resolve(argv: list[str]) -> tuple[argparse.Namespace, TrainedExperiment | None]:
    """The options, and the experiment to score (None for --generated-dir)."""
    commands = parser()
    options = commands.parse_args(argv)
    if options.generated_dir is not None:
        if options.evaluation_data_dir is None:
            raise GanzoError('--generated-dir needs --evaluation-data-dir: the folder of the '
                             'real images to compare with')
        if options.data_dir is None:  # what --feature-extractor classifier learns from
            options.data_dir = options.evaluation_data_dir
        return options, None
    if options.experiment is None:
        raise GanzoError('give --experiment (and --model-dir) to score a trained experiment, '
                         'or --generated-dir and --evaluation-data-dir to score a folder')
    experiment = TrainedExperiment(options)
    saved = to_arguments(experiment.saved_options, commands, 'options.json', strict=False)
    options = commands.parse_args(saved + argv)
    options.kind = experiment.run_kind(options)
    if options.classes is not None or options.per_class:
        given = '--class' if options.classes is not None else '--per-class'
        if not options.kind.conditional:
            raise GanzoError(f'{given} is for conditional experiments, and {experiment.path} '
                             'was trained without --conditional: leave it out')
    if options.kind.conditional:
        options.classes = options.kind.labels(options.classes or list(options.kind.classes))
    return options, experiment


def score(argv: list[str]) -> None:
    options, experiment = resolve(argv)
    output = options.output or (experiment.path / METRICS_FILE if experiment else None)
    if output is not None and not path_is_writable(Path(output).parent):
        raise GanzoError(f'--output {output}: cannot write there; choose another file')
    if output is not None and Path(output).is_dir():
        raise GanzoError(f'--output {output} is a folder: name a file, such as '
                         f'{Path(output) / METRICS_FILE}')
    images, inputs, real = None, None, None
    if experiment is not None and options.kind.translates:
        if not options.kind.both_ways:
            raise GanzoError(f'{experiment.path} translates images with pairs to compare with: '
                             'measure it with --evaluation-criterion l1 or psnr in training')
        inputs, targets, words = Data.from_options(options).evaluation_domains()
        real = None if options.evaluation_data_dir else (targets, words)
    if experiment is None:
        images = at_most(image_folder(options.generated_dir, options, '--generated-dir'),
                         options.evaluation_samples)
    else:
        generator = Generator.from_options(options)
        weights, path = experiment.generator_weights(options.checkpoint, options.raw_generator)
        load_state(generator, weights, 'generator', path)
        generator.to(device(options))
    scorer = Scorer(options, options.metrics, images, real=real)
    conditional = experiment is not None and options.kind.conditional
    real_of_classes = real_images_of(options, scorer, options.classes,
                                     options.samples_per_class) \
        if conditional and options.per_class else None
    if experiment is None:
        scores = scorer.score_images()
        scored = {'generated_dir': options.generated_dir}
    else:
        noise = Noise.from_options(options)
        scores = (scorer.score_translations(generator, inputs) if inputs is not None
                  else scorer.score_generator(generator, noise))
        if conditional:
            scores.update(class_scores(options, scorer, generator, noise, options.classes,
                                       options.samples_per_class, real_of_classes))
        scored = {'experiment': options.experiment, 'model_dir': options.model_dir}
    print(table(scores))
    if output is not None:
        report = {'ganzo_version': ganzo.__version__, **scored, 'real': scorer.source,
                  'feature_extractor': options.feature_extractor,
                  'evaluation_samples': options.evaluation_samples,
                  'real_samples': len(scorer.real), 'scores': scores}
        if conditional:
            report.update(classes=[options.kind.classes[label] for label in options.classes],
                          samples_per_class=options.samples_per_class)
        text = json.dumps(report, indent=2) + '\n'
        write_or_stop(Path(output), lambda file: file.write(text), mode='w',
                      then='then run ganzo-eval again')
        print(f'ganzo-eval: wrote {output}', file=sys.stderr)


def table(scores: dict[str, float]) -> str:
    """One line per metric: its name, its value and its standard deviation if any."""
    width = max([10, *(len(name) for name in scores)])
    lines = [f'{"metric":<{width}} {"value":>12}']
    for name, value in scores.items():
        if name.endswith('_std'):
            continue
        spread = scores.get(f'{name}_std')
        lines.append(f'{name:<{width}} {value:>12.6g}' + (f' ± {spread:.3g}' if spread is not None
                                                          else ''))
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> None:
    run(score, argv, prog='ganzo-eval')


if __name__ == '__main__':
    main()
