"""The recipes of issue 14 in `make bench`: the SNGAN case (resnet networks,
spectral norm, hinge loss, 5 critic steps, Adam 2e-4 (0, 0.9), rates decaying
linearly) against bench/baseline_sngan.py, which trains the same networks the
way Mimicry does, and what the moving average of the generator (``--ema-decay``)
and DiffAugment (``--augment``) cost per step.

bench/run.py adds ``CASE``, ``HYPER`` and ``variants`` to its own; report.py
adds ``costs_table`` to its tables.
"""

from __future__ import annotations

# name, model, image size, batches per epoch (full, quick): a turn is 5 critic
# batches and a generator step. 64-channel networks (the paper's 256 and 128 make
# a turn take minutes on two CPU cores), batch 64, latent 128.
CASE = ('sngan-32', 'sngan', 32, 5, 5)
HYPER = {'sngan': {
    'ganzo': ['--generator', 'resnet', '--discriminator', 'resnet',
              '--discriminator-spectral-norm', '--loss', 'hinge',
              '--generator-channels', '64', '--discriminator-channels', '64',
              '--state-size', '128', '--discriminator-iterations', '5',
              '--generator-lr', '2e-4', '--discriminator-lr', '2e-4',
              '--beta1', '0', '--beta2', '0.9', '--lr-decay-start', '1'],
    'baseline': ['--model', 'sngan', '--ngf', '64', '--ndf', '64', '--nz', '128',
                 '--lr', '2e-4', '--beta1', '0', '--critic-iters', '5']}}
# What the generator's moving average and DiffAugment add to ganzo fp32.
EXTRAS = {'ganzo fp32 ema': ['--ema-decay', '0.999'],
          'ganzo fp32 diffaugment': ['--augment', 'color,translation,cutout']}
TARGET = 1.0  # ganzo fp32 against the baseline's fp32


def variants(model: str) -> dict[str, list[str]]:
    """The variants of ``model`` beyond run.py's own."""
    return dict(EXTRAS) if model == 'sngan' else {}


def target(case: str, variant: str, ratio: float) -> str:
    """The target of ganzo fp32 on the SNGAN case, met or missed."""
    if case != CASE[0] or variant != 'ganzo fp32':
        return ''
    if ratio >= TARGET:
        return f'>= {TARGET} met'
    return f'>= {TARGET} missed by {100 * (1 - ratio / TARGET):.0f}%'


def costs_table(results: dict) -> list[str]:
    """What EMA and DiffAugment cost per step: their images/s against ganzo
    fp32's in the same repetitions (median of the paired ratios)."""
    entry = results['training'].get(CASE[0])
    if not entry or 'ganzo fp32' not in entry['variants']:
        return []
    plain = entry['runs']['ganzo fp32']
    lines = ['', f'### What the recipes\' options cost ({CASE[0]}, ganzo fp32)', '',
             '| option | images/s (median) | x ganzo fp32 (median of paired ratios) | '
             'time per step |', '|---|---|---|---|']
    for variant in EXTRAS:
        runs = entry['runs'].get(variant)
        if not runs:
            continue
        ratios = sorted(run['images_per_second'] / base['images_per_second']
                        for run, base in zip(runs, plain))
        ratio = ratios[len(ratios) // 2]
        speed = sorted(run['images_per_second'] for run in runs)[len(runs) // 2]
        lines.append(f'| `{" ".join(EXTRAS[variant])}` | {speed:.1f} | {ratio:.2f} '
                     f'({ratios[0]:.2f}-{ratios[-1]:.2f}) | {100 * (1 / ratio - 1):+.0f}% |')
    return lines
