"""Every registered component is built, and every generator / discriminator /
loss combination of the standard game trains for 2 batches on tiny images.
Translation components (``translation = True``) are covered the same way with
the translate game in test_translation.py."""

import itertools
import math

import pytest
import torch

from conftest import make_image_folder
from ganzo.data import Data
from ganzo.discriminator import Discriminator
from ganzo.evaluation import Evaluation
from ganzo.game import Game
from ganzo.generator import Generator
from ganzo.hook import Hook
from ganzo.loss import Loss
from ganzo.noise import Noise
from ganzo.options import complete, load_components
from ganzo.registry import Registry
from ganzo.snapshot import Snapshot
from ganzo.statistics import Statistics

load_components()


def standard(namespace):
    """The names of ``namespace`` that serve the standard game."""
    return [name for name in Registry.names(namespace)
            if not getattr(Registry.get(namespace, name), 'translation', False)]


@pytest.fixture(scope='module')
def options(tmp_path_factory):
    folder = make_image_folder(tmp_path_factory.mktemp('images'), classes=2, per_class=4)
    return complete(data_dir=str(folder), model_dir=str(tmp_path_factory.mktemp('runs')),
                    experiment='components', device='cpu', image_size=8, batch_size=4,
                    state_size=8, generator_channels=4, discriminator_channels=4,
                    max_batches_per_epoch=2, discriminator_hooks=['weight-clipper'])


BUILDERS = {
    'generator': lambda options: Generator.from_options(options),
    'discriminator': lambda options: Discriminator.from_options(options),
    'noise': lambda options: Noise.from_options(options),
    'hook': lambda options: Hook.from_options(options, 'discriminator'),
    'statistics': lambda options: Statistics.from_options(options),
    'snapshot': lambda options: Snapshot.from_options(options),
    'evaluation': lambda options: Evaluation.from_options(options),
}
OPTION = {'statistics': 'log', 'snapshot': 'save_images_as',
          'evaluation': 'evaluation_criterion', 'hook': 'discriminator_hooks'}
NOT_BUILT_HERE = {'dataset', 'data', 'loss', 'game'}  # built below and in test_data.py


@pytest.mark.parametrize('namespace, name', [
    (namespace, name) for namespace in Registry.namespaces() if namespace in BUILDERS
    for name in standard(namespace)])
def test_every_registered_component_builds(options, namespace, name):
    value = [name] if namespace == 'hook' else name
    component = BUILDERS[namespace](complete(options, **{OPTION.get(namespace, namespace): value}))
    assert component is not None


def test_every_namespace_is_covered():
    assert set(Registry.namespaces()) - {'test-namespace', 'test-plugins'} <= (
        set(BUILDERS) | NOT_BUILT_HERE)


@pytest.mark.parametrize('generator, discriminator, loss', list(itertools.product(
    standard('generator'), standard('discriminator'), standard('loss'))))
def test_every_combination_trains(options, generator, discriminator, loss):
    torch.manual_seed(0)
    options = complete(options, generator=generator, discriminator=discriminator, loss=loss)
    data = Data.from_options(options)
    generator_model = Generator.from_options(options)
    discriminator_model = Discriminator.from_options(options)
    before = [p.detach().clone() for p in generator_model.parameters()]
    game = Game.from_options(options, generator_model, discriminator_model,
                             Loss.from_options(options, discriminator_model))
    losses = game.run_epoch(data, Noise.from_options(options))
    assert set(losses) == {'generator', 'discriminator'}
    assert all(math.isfinite(value) for value in losses.values())
    assert any(not torch.equal(b, p) for b, p in zip(before, generator_model.parameters()))
