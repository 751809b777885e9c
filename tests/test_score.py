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


def test_a_conditional_experiment_is_scored_class_by_class(tmp_path):
    images = make_image_folder(tmp_path / 'images', classes=2, per_class=70, size=8)
    ganzo(tiny_arguments(images, tmp_path, batch_size=8, conditional=True))
    arguments = ['--model-dir', tmp_path, '--experiment', 'tiny', '--metrics', 'fid',
                 *metric_options(tmp_path), '--samples-per-class', 66]
    result = ganzo_eval(*arguments)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / 'tiny' / 'metrics.json').read_text())
    assert set(report['scores']) == {'fid', 'accuracy/class0', 'accuracy/class1', 'accuracy'}
    assert report['classes'] == ['class0', 'class1'] and report['samples_per_class'] == 66
    assert all(0 <= report['scores'][name] <= 1 for name in report['scores'] if 'acc' in name)
    assert 'accuracy/class1' in result.stdout
    result = ganzo_eval(*arguments, '--class', 'class1', '--per-class')
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / 'tiny' / 'metrics.json').read_text())['scores']
    assert set(scores) == {'fid', 'accuracy/class1', 'accuracy', 'fid/class1', 'intra_fid'}
    assert scores['accuracy/class1'] == report['scores']['accuracy/class1']
    assert scores['intra_fid'] == scores['fid/class1']
    assert_user_error(ganzo_eval(*arguments, '--class', 'class7'), '--class class7',
                      'class0, class1')
    assert_user_error(ganzo_eval(*arguments, '--per-class', '--samples-per-class', 10),
                      '--samples-per-class 10')


def test_class_options_on_an_unconditional_experiment(real_folder, tmp_path):
    ganzo(tiny_arguments(real_folder, tmp_path, batch_size=8, epochs=1))
    for option in (['--class', '1'], ['--per-class']):
        assert_user_error(ganzo_eval('--model-dir', tmp_path, '--experiment', 'tiny', *option,
                                     *metric_options(tmp_path)),
                          option[0], 'for conditional experiments')


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
