"""The plugin templates of ``examples/templates``: one per kind of component,
each loaded through ``GANZO_LOAD_MODULES`` and used in a run that trains,
restores and keeps every contract."""

import json

import torch

from conftest import ROOT, run_ganzo, tiny_arguments
from ganzo import contracts
from ganzo.kind import run_kind
from ganzo.options import complete
from ganzo.registry import Registry, load_modules

TEMPLATES = sorted(path.stem for path in (ROOT / 'examples' / 'templates').glob('*.py')
                   if path.stem != '__init__')
CHOSEN = dict(data_format='my-data', dataset='my-dataset', generator='my-generator',
              discriminator='my-discriminator', loss='my-loss', noise='my-noise',
              game='my-game', evaluation_criterion='my-criterion', log='my-statistics',
              save_images_as='my-snapshot', generator_hooks='my-hook',
              feature_extractor='my-extractor', regularizers='my-regularizer',
              augment='my-augmentation')


def load_templates(monkeypatch) -> None:
    monkeypatch.setenv('GANZO_LOAD_MODULES', ','.join(f'templates.{name}' for name in TEMPLATES))
    load_modules()


def test_every_kind_of_component_has_a_template():
    kinds = {name.replace('_', '-') for name in TEMPLATES}
    assert kinds == {namespace for namespace in Registry.namespaces()
                     if not namespace.startswith('test-')}


def test_a_run_made_of_templates_trains_and_restores(plugins, monkeypatch, tmp_path, capsys):
    load_templates(monkeypatch)
    arguments = tiny_arguments(tmp_path / 'unused', tmp_path / 'runs', epochs=2, **CHOSEN,
                               image_size=8, my_dataset_size=16)
    result = run_ganzo(*arguments)
    assert result.returncode == 0, result.stderr
    run = tmp_path / 'runs' / 'tiny'
    assert sorted(path.name for path in run.glob('grid-*.npy')) == [
        'grid-0001.npy', 'grid-0002.npy']
    assert [line.split('\t')[0] for line in result.stdout.splitlines()] == ['1', '2']
    restored = run_ganzo(*arguments, '--restore', '--epochs', '3')
    assert restored.returncode == 0, restored.stderr
    checkpoint = torch.load(run / 'checkpoint.pt', weights_only=True)
    assert checkpoint['epoch'] == 3 and checkpoint['game']['steps'] == 6
    assert checkpoint['game']['hooks']['generator'] == [{'steps': 6}]
    assert checkpoint['game']['regularizers'] == [{'steps': 6}]
    assert json.loads((run / 'options.json').read_text())['loss'] == 'my-loss'


def test_the_templates_keep_the_contracts(plugins, monkeypatch, tmp_path):
    load_templates(monkeypatch)
    options = complete(**{**CHOSEN, 'generator_hooks': ['my-hook'],
                          'regularizers': ['my-regularizer']}, device='cpu',
                       image_size=8, state_size=8, batch_size=4, model_dir=str(tmp_path))
    options.kind = run_kind(options)
    generator = Registry.build('generator', 'my-generator', options)
    discriminator = Registry.build('discriminator', 'my-discriminator', options)
    built = {
        contracts.Data: Registry.build('data', 'my-data', options),
        contracts.Noise: Registry.build('noise', 'my-noise', options),
        contracts.Loss: Registry.build('loss', 'my-loss', options, discriminator),
        contracts.Hook: Registry.build('hook', 'my-hook', options),
        contracts.Regularizer: Registry.build('regularizer', 'my-regularizer', options,
                                              discriminator),
        contracts.Augmentation: Registry.build('augmentation', 'my-augmentation', options),
        contracts.Statistics: Registry.build('statistics', 'my-statistics', options),
        contracts.Snapshot: Registry.build('snapshot', 'my-snapshot', options),
        contracts.Evaluation: Registry.build('evaluation', 'my-criterion', options),
    }
    built[contracts.Game] = Registry.build('game', 'my-game', options, generator, discriminator,
                                           built[contracts.Loss])
    for contract, component in built.items():
        assert isinstance(component, contract), (contract, component)
    extractor = Registry.build('feature-extractor', 'my-extractor', options)
    features, logits = extractor(generator(built[contracts.Noise].sample(3)))
    assert features.shape == (3, extractor.dim) and logits is None
