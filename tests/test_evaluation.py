"""Tests of the evaluation criteria, above all fid and kid during training."""

from __future__ import annotations

import json
import math

import pytest
import torch

from conftest import assert_user_error, make_image_folder, run_ganzo, tiny_arguments
from ganzo.evaluation import Evaluation, GeneratorLoss, Latest
from ganzo.options import complete
from ganzo.train import main

METRIC_CRITERIA = ['fid', 'kid']


@pytest.fixture(scope='session')
def real_folder(tmp_path_factory):
    """80 tiny images in two classes: enough for FID with the classifier's 64 features."""
    return make_image_folder(tmp_path_factory.mktemp('real'), classes=2, per_class=40, size=8)


def metric_arguments(real_folder, tmp_path, **options):
    values = dict(feature_extractor='classifier', evaluation_samples=72, batch_size=8,
                  log='file', metrics_cache=tmp_path / 'cache')
    return tiny_arguments(real_folder, tmp_path, **{**values, **options})


def logged(run_dir):
    return [json.loads(line) for line in (run_dir / 'statistics.log').read_text().splitlines()]


def train(*arguments):
    try:
        main([str(argument) for argument in arguments])
    except SystemExit as exit:
        return exit.code
    return 0


def test_latest_always_improves():
    latest = Evaluation.from_options(complete(evaluation_criterion='latest'))
    assert isinstance(latest, Latest)
    assert latest.has_improved({'generator': 5.0}) and latest.has_improved({'generator': 9.0})


def test_generator_loss_improves_when_lower_and_keeps_its_best_across_restores():
    criterion = Evaluation.from_options(complete(evaluation_criterion='generator-loss'))
    assert isinstance(criterion, GeneratorLoss) and criterion.best == math.inf
    assert [criterion.has_improved({'generator': value}) for value in (3, 2, 2.5, 1)] == [
        True, True, False, True]
    restored = GeneratorLoss(complete())
    restored.load_state_dict(criterion.state_dict())
    assert not restored.has_improved({'generator': 1.5})
    assert restored.has_improved({'generator': 0.5})
    assert criterion.evaluate(1) == {}


@pytest.mark.parametrize('criterion', METRIC_CRITERIA)
def test_metric_criterion_logs_and_keeps_the_best_generator(criterion, real_folder, tmp_path):
    arguments = metric_arguments(real_folder, tmp_path, epochs=5, evaluate_every=2,
                                 evaluation_criterion=criterion)
    assert train(*arguments) == 0
    run_dir = tmp_path / 'tiny'
    lines = logged(run_dir)
    # Measured every 2 epochs and after the last one.
    assert [line['epoch'] for line in lines if criterion in line] == [2, 4, 5]
    values = {line['epoch']: line[criterion] for line in lines if criterion in line}
    best_epoch = min(values, key=values.get)
    assert torch.load(run_dir / 'checkpoint.pt', weights_only=True)['evaluation'] == {
        'best': values[best_epoch]}
    # generator.pt is the generator of the best epoch: scoring it gives its value again.
    result = run_ganzo('--model-dir', tmp_path, '--experiment', 'tiny', '--metrics', criterion,
                       module='ganzo.score')
    assert result.returncode == 0, result.stderr
    scores = json.loads((run_dir / 'metrics.json').read_text())['scores']
    assert scores[criterion] == pytest.approx(values[best_epoch], rel=1e-6)


def test_best_metric_survives_a_restore(real_folder, tmp_path):
    arguments = metric_arguments(real_folder, tmp_path, epochs=2, evaluation_criterion='fid')
    assert train(*arguments) == 0
    assert train(*arguments, '--restore', '--epochs', '4') == 0
    values = [line['fid'] for line in logged(tmp_path / 'tiny')]
    assert len(values) == 4
    state = torch.load(tmp_path / 'tiny' / 'checkpoint.pt', weights_only=True)
    assert state['evaluation']['best'] == min(values)


def test_metric_criterion_does_not_change_the_training(real_folder, tmp_path):
    def final_generator(name, **options):
        assert train(*metric_arguments(real_folder, tmp_path / name, epochs=2,
                                       **options)) == 0
        return torch.load(tmp_path / name / 'tiny' / 'checkpoint.pt',
                          weights_only=True)['generator']
    plain, measured = final_generator('plain'), final_generator('fid', evaluation_criterion='fid')
    assert all(torch.equal(plain[name], measured[name]) for name in plain)


@pytest.mark.parametrize('options, words', [
    ({'evaluation_samples': 10}, ['--evaluation-samples 10', 'fid', 'at least 65']),
    ({'evaluate_every': 0}, ['--evaluate-every']),
    ({'game': 'translate', 'data_format': 'colorization', 'generator': 'u-gen',
      'discriminator': 'patch-gan'}, ['--evaluation-criterion', 'l1', 'not fid']),
    ({'feature_extractor': 'inception', 'inception_weights': '/no/such.pth',
      'evaluation_criterion': 'kid'}, ['--inception-weights']),
])
def test_bad_metric_options_stop_before_any_work(real_folder, tmp_path, options, words):
    options = {'evaluation_criterion': 'fid', **options}
    result = run_ganzo(*metric_arguments(real_folder, tmp_path, **options))
    assert_user_error(result, *words)
    assert not (tmp_path / 'tiny').exists()
