"""Training steps per CPU-second on one thread, baseline against ganzo, in one
process: a measure that holds up when other processes share the CPUs (wall
time does not, and two OpenMP threads suffer most from it).

    python bench/cpu_time.py [--model dcgan] [--image-size 64] [--steps 4] [--reps 3]
                             [--threads 1] [--variants 'ganzo fp32' ...] [--emulated]

Interleaves the variants step by step (``ganzo auto`` is ``--precision auto``; those
in a type that this CPU emulates, such as bf16 without AVX512-BF16 or AMX, 3x to 20x
slower, only with ``--emulated``), ``--steps`` x ``--reps`` training steps (batch 64,
in-memory batches; a WGAN-GP or SNGAN step is a turn: 5 critic batches and a
generator step) each, after one step of warm-up, with the benchmark's
hyper-parameters (bench/run.py); prints as JSON the median images per CPU-second
of each variant and its ratio to the baseline's, the median images per
wall-clock second and the median of the step-by-step ratios to the baseline's
(with ``--threads 2``: how well each uses two threads, measured so that a slow
spell of the machine hits all variants alike), with the case of hardware they
hold on (``hardware``: the CPU, its features, whether bf16 is native;
ganzo.hardware).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'src'))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline  # noqa: E402
import recipes  # noqa: E402
from run import HYPER, training_arguments  # noqa: E402

from ganzo.acceleration import precision  # noqa: E402
from ganzo.discriminator import Discriminator  # noqa: E402
from ganzo.game import Game  # noqa: E402
from ganzo.generator import Generator  # noqa: E402
from ganzo.hardware import hardware  # noqa: E402
from ganzo.loss import Loss  # noqa: E402
from ganzo.noise import Noise  # noqa: E402
from ganzo.options import parse  # noqa: E402

VARIANTS = {'ganzo fp32': [], 'ganzo fp32 --no-channels-last': ['--no-channels-last'],
            'ganzo auto': ['--precision', 'auto'], 'ganzo bf16': ['--precision', 'bf16'],
            'ganzo bf16 --no-channels-last': ['--precision', 'bf16', '--no-channels-last'],
            **recipes.EXTRAS}  # SNGAN only: what EMA and DiffAugment cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', choices=HYPER, default='dcgan')
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument('--steps', type=int, default=4)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (default: %(default)s; with more, compare the wall '
                        'clock columns, interleaved step by step)')
    parser.add_argument('--variants', nargs='*', choices=list(VARIANTS),
                        help='ganzo variants to run (default: all)')
    parser.add_argument('--emulated', action='store_true',
                        help='also run the variants in a type that this CPU emulates (slow)')
    parser.add_argument('--profile', type=int, default=0, metavar='ROWS',
                        help='then profile one step of each variant (torch.profiler) and '
                        'print its ROWS costliest operators to stderr (default: no profile)')
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    size, model = arguments.image_size, arguments.model
    batch = [(torch.rand(64, 3, size, size) * 2 - 1, torch.zeros(64, dtype=torch.long))] * (
        5 if model in ('wgan-gp', 'sngan') else 1)
    opt = baseline.parse([*HYPER[model]['baseline'], '--dataroot', '.', '--image-size', str(size)])
    runners = {'baseline fp32': lambda model: model.step(iter(batch))}
    models = {'baseline fp32': baseline.MODELS[model](opt, torch.device('cpu'))}
    cpu = hardware('cpu')
    precisions = {'baseline fp32': 'fp32'}
    for name, extra in VARIANTS.items():
        if ((arguments.variants is not None and name not in arguments.variants)
                or (name in recipes.EXTRAS and model != 'sngan')):
            continue
        options = parse(training_arguments(model, size, len(batch), Path('.'))
                        + ['--device', 'cpu', *extra])
        options.precision = precision(options)
        if not (arguments.emulated or cpu.native(options.precision)):
            continue
        precisions[name] = options.precision
        generator = Generator.from_options(options)
        discriminator = Discriminator.from_options(options)
        models[name] = (Game.from_options(options, generator, discriminator,
                                          Loss.from_options(options, discriminator)),
                        Noise.from_options(options))
        runners[name] = lambda model: model[0].run_epoch(batch, model[1])
    speeds: dict[str, list[float]] = {name: [] for name in models}
    walls: dict[str, list[float]] = {name: [] for name in models}
    for name in models:
        runners[name](models[name])  # warm-up
    images = 64 * len(batch)
    for _ in range(arguments.reps):
        for _ in range(arguments.steps):  # variants interleaved step by step
            for name in models:
                wall, clock = time.perf_counter(), time.process_time()
                runners[name](models[name])
                speeds[name].append(images / (time.process_time() - clock))
                walls[name].append(images / (time.perf_counter() - wall))
    if arguments.profile:
        profile(runners, models, arguments.profile)
    base = statistics.median(speeds['baseline fp32'])

    def paired(values: list[float]) -> float:
        """The median of the step-by-step ratios to the baseline's wall clock."""
        return statistics.median(v / b for v, b in zip(values, walls['baseline fp32']))

    print(json.dumps({'model': model, 'image_size': size, 'threads': arguments.threads,
                      'hardware': cpu.describe(), 'bf16_native': cpu.bf16, 'variants': {
        name: {'images_per_cpu_second': round(statistics.median(values), 1),
               'ratio': round(statistics.median(values) / base, 3),
               'images_per_wall_second': round(statistics.median(walls[name]), 1),
               'wall_ratio': round(paired(walls[name]), 3),
               'precision': precisions[name], 'native': cpu.native(precisions[name]),
               'runs': [round(v, 1) for v in values]} for name, values in speeds.items()}}))


def profile(runners: dict, models: dict, rows: int) -> None:
    """The ``rows`` operators of most self CPU time in one step of each variant."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiler
    for name in models:
        with profiler(activities=[ProfilerActivity.CPU]) as recorded:
            runners[name](models[name])
        print(f'## {name}', file=sys.stderr)
        print(recorded.key_averages().table(sort_by='self_cpu_time_total', row_limit=rows),
              file=sys.stderr)


if __name__ == '__main__':
    main()
