"""The ganzo-eval command, on a trained experiment and on two folders of images."""

from __future__ import annotations

import errno
import json
import os

import pytest
import torch

from conftest import assert_user_error, make_image_folder, run_ganzo, tiny_arguments
from ganzo import files
from ganzo.train import main as ganzo

ALL_SCORES = {'fid', 'kid', 'kid_std', 'is', 'is_std', 'precision', 'recall'}


@pytest.fixture(scope='session')
def real_folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp('real'), classes=2, per_class=40, size=8)


def metric_options(tmp_path, **values):
    options = {'feature-extractor': 'classifier', 'evaluation-samples': 72, 'image-size': 8,
               'batch-size': 8, 'device': 'cpu', 'metrics-cache': tmp_path / 'cache', **values}
    return [f'--{key}={value}' for key, value in options.items()]


def ganzo_eval(*arguments):
    return run_ganzo(*arguments, module='ganzo.score')


def test_scores_a_trained_experiment(real_folder, tmp_path):
    ganzo(tiny_arguments(real_folder, tmp_path, batch_size=8))
    result = ganzo_eval('--model-dir', tmp_path, '--experiment', 'tiny',
                        *metric_options(tmp_path))
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == ['metric', 'fid', 'kid', 'is', 'precision', 'recall']
    report = json.loads((tmp_path / 'tiny' / 'metrics.json').read_text())
    assert set(report['scores']) == ALL_SCORES
    assert report['experiment'] == 'tiny' and report['evaluation_samples'] == 72
    assert report['real_samples'] == 72 and report['feature_extractor'] == 'classifier'
    again = ganzo_eval('--model-dir', tmp_path, '--experiment', 'tiny', '--metrics', 'fid',
                       *metric_options(tmp_path))
    assert json.loads((tmp_path / 'tiny' / 'metrics.json').read_text())['scores'] == {
        'fid': report['scores']['fid']}, again.stderr


def test_scores_two_folders(real_folder, tmp_path):
    generated = make_image_folder(tmp_path / 'generated', classes=1, per_class=72, size=8,
                                  seed=7)
    output = tmp_path / 'scores.json'
    result = ganzo_eval('--generated-dir', generated, '--evaluation-data-dir', real_folder,
                        '--output', output, *metric_options(tmp_path))
    assert result.returncode == 0, result.stderr
    assert 'fid' in result.stdout
    report = json.loads(output.read_text())
    assert set(report['scores']) == ALL_SCORES
    assert report['generated_dir'] == str(generated)


def test_errors(real_folder, tmp_path):
    (tmp_path / 'empty').mkdir()
    assert_user_error(ganzo_eval(*metric_options(tmp_path)), '--experiment', '--generated-dir')
    assert_user_error(ganzo_eval('--generated-dir', real_folder), '--evaluation-data-dir')
    assert_user_error(ganzo_eval('--model-dir', tmp_path, '--experiment', 'nothing'),
                      '--experiment nothing', 'no such experiment')
    (tmp_path / 'not-a-run').mkdir()
    assert_user_error(ganzo_eval('--model-dir', tmp_path, '--experiment', 'not-a-run'),
                      'options.json', 'is missing')
    assert_user_error(ganzo_eval('--generated-dir', tmp_path / 'empty', '--evaluation-data-dir',
                                 real_folder, *metric_options(tmp_path)),
                      '--generated-dir', 'no images')
    assert_user_error(ganzo_eval('--generated-dir', real_folder, '--evaluation-data-dir',
                                 tmp_path / 'empty', *metric_options(tmp_path)),
                      '--evaluation-data-dir', 'no images')
    assert_user_error(ganzo_eval('--generated-dir', real_folder, '--evaluation-data-dir',
                                 real_folder, '--metrics', 'fid',
                                 *metric_options(tmp_path, **{'evaluation-samples': 50})),
                      '--evaluation-samples 50', 'at least 65')
    assert_user_error(ganzo_eval('--generated-dir', real_folder, '--evaluation-data-dir',
                                 real_folder, '--metrics', 'kid', *metric_options(
                                     tmp_path, **{'feature-extractor': 'inception',
                                                  'inception-weights': '/no/such.pth'})),
                      '--inception-weights')
    assert not (tmp_path / 'cache').exists()


def test_write_failures_and_refusals_are_one_line(real_folder, tmp_path, monkeypatch):
    folders = ['--generated-dir', real_folder, '--evaluation-data-dir', real_folder,
               '--metrics', 'fid', *metric_options(tmp_path)]
    (tmp_path / 'folder').mkdir()
    assert_user_error(ganzo_eval(*folders, '--output', tmp_path / 'folder'),
                      '--output', 'is a folder')
    assert_user_error(ganzo_eval('--model-dir', tmp_path / 'nope', '--experiment', '../x'),
                      "--experiment '../x'")

    def full_disk(path, *arguments, **options):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    assert ganzo_eval(*folders, '--output', tmp_path / 'first.json').returncode == 0  # cached
    monkeypatch.setattr(files, 'atomic_write', full_disk)
    assert_user_error(ganzo_eval(*folders, '--output', tmp_path / 'scores.json'),
                      'cannot write', 'scores.json', 'No space left on device')
    assert not (tmp_path / 'scores.json').exists()


def test_a_generator_without_its_weights_is_one_line_as_in_deh(real_folder, tmp_path):
    ganzo(tiny_arguments(real_folder, tmp_path, epochs=1, batch_size=8))
    torch.save({'ganzo_version': '0.1.0', 'weights': {}}, tmp_path / 'tiny' / 'generator.pt')
    arguments = ['--model-dir', tmp_path, '--experiment', 'tiny']
    deh = run_ganzo(*arguments, module='ganzo.deh')
    assert_user_error(deh, 'generator.pt', 'no state_dict')
    scored = ganzo_eval(*arguments, *metric_options(tmp_path))
    assert_user_error(scored, 'generator.pt', 'no state_dict')
    assert scored.stderr.split(': error: ')[1] == deh.stderr.split(': error: ')[1]
    (tmp_path / 'tiny' / 'generator.pt').unlink()
    assert_user_error(ganzo_eval(*arguments, *metric_options(tmp_path)), 'generator.pt',
                      '--checkpoint last')
    result = ganzo_eval(*arguments, '--checkpoint', 'last', '--metrics', 'fid',
                        *metric_options(tmp_path))
    assert result.returncode == 0, result.stderr
