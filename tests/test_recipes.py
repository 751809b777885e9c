"""The recipes of experiments/ and experiments/budget.py, the runner of the
equal-CPU-time table."""

import json
import os
import sys

import pytest

from conftest import ROOT, run_ganzo
from ganzo.options import parse

sys.path.insert(0, str(ROOT / 'experiments'))
import budget  # noqa: E402

RECIPES = ['dcgan', 'lsgan', 'wgan-gp', 'sngan', 'sngan-diffaugment-ema']


@pytest.mark.parametrize('name', RECIPES)
def test_every_recipe_builds_as_it_stands(name, image_folder, tmp_path):
    path = ROOT / 'experiments' / f'{name}.json'
    recipe = json.loads(path.read_text())
    assert recipe['data_dir'] == '../shared/data/cifar10-test' and recipe['image_size'] == 32
    result = run_ganzo('--from-json', path, '--data-dir', image_folder, '--model-dir', tmp_path,
                       '--batch-size', '4', '--snapshot-size', '4', '--dry-run')
    assert result.returncode == 0, result.stderr
    assert result.stderr == ''  # no option of a component that is not chosen


def test_the_sngan_recipe_is_the_papers():
    options = parse(['--from-json', str(ROOT / 'experiments' / 'sngan.json')])
    assert (options.generator, options.discriminator, options.loss) == ('resnet', 'resnet', 'hinge')
    assert options.discriminator_spectral_norm and not options.generator_spectral_norm
    assert (options.discriminator_iterations, options.generator_lr, options.beta1,
            options.beta2) == (5, 2e-4, 0.0, 0.9)
    assert (options.generator_channels, options.discriminator_channels) == (256, 128)
    augmented = parse(['--from-json', str(ROOT / 'experiments' / 'sngan-diffaugment-ema.json')])
    assert augmented.augment == 'color,translation,cutout' and augmented.ema_decay == 0.9999


def test_cpu_seconds_counts_this_process():
    before = budget.cpu_seconds(os.getpid())
    sum(i * i for i in range(2_000_000))
    assert budget.cpu_seconds(os.getpid()) > before > 0


@pytest.mark.slow
def test_a_run_past_its_cpu_budget_gets_sigterm():
    result = budget.train([sys.executable, '-c', 'while True: pass'], budget=1.0, poll=0.1)
    assert result['stopped_by_budget'] and result['status'] == -15
    assert 1.0 <= result['cpu_seconds'] < 5
