"""Every registered component (plugins' too) is built in a run of a kind it
serves (and in a conditional run, if it serves one) and keeps its contract
(``ganzo.contracts``), and every game trains 2 batches on tiny images with
every generator / discriminator / loss combination that serves its kind of
run; in conditional runs, every conditioning mode of every generator with
every one of every discriminator, each with a loss (the losses in turn)."""

import itertools
import math

import pytest
import torch
from torch import nn

from conftest import kind_options, make_image_folder, network_variants
from ganzo import contracts
from ganzo.augment import Augment
from ganzo.data import Data
from ganzo.discriminator import Discriminator
from ganzo.evaluation import Evaluation
from ganzo.game import Game
from ganzo.generator import Generator
from ganzo.hook import Hook
from ganzo.kind import CONDITIONAL, GENERATION, kinds_served
from ganzo.loss import Loss
from ganzo.noise import Noise
from ganzo.options import complete, load_components
from ganzo.registry import Registry
from ganzo.regularizer import Regularizer
from ganzo.snapshot import Snapshot
from ganzo.statistics import Statistics

load_components()


@pytest.fixture(scope='module')
def options(tmp_path_factory):
    folder = make_image_folder(tmp_path_factory.mktemp('images'), classes=2, per_class=40)
    return complete(data_dir=str(folder), model_dir=str(tmp_path_factory.mktemp('runs')),
                    domain_a_dir=str(folder / 'class0'), domain_b_dir=str(folder / 'class1'),
                    experiment='components', device='cpu', image_size=8, batch_size=4,
                    state_size=8, generator_channels=4, discriminator_channels=4,
                    max_batches_per_epoch=2, discriminator_hooks=['weight-clipper'],
                    feature_extractor='classifier', evaluation_samples=72,
                    metrics_cache=str(tmp_path_factory.mktemp('metrics')))


BUILDERS = {
    'generator': lambda options: Generator.from_options(options),
    'discriminator': lambda options: Discriminator.from_options(options),
    'noise': lambda options: Noise.from_options(options),
    'hook': lambda options: Hook.from_options(options, 'discriminator')[0],
    'statistics': lambda options: Statistics.from_options(options),
    'snapshot': lambda options: Snapshot.from_options(options),
    'evaluation': lambda options: Evaluation.from_options(
        options, Generator.from_options(options), Noise.from_options(options),
        Data.from_options(options)),
    'data': lambda options: Data.from_options(options),
    'regularizer': lambda options: Regularizer.from_options(
        options, Discriminator.from_options(options))[0],
    'augmentation': lambda options: Augment.from_options(options).augmentations[0],
}
OPTION = {'statistics': 'log', 'snapshot': 'save_images_as', 'data': 'data_format',
          'evaluation': 'evaluation_criterion', 'hook': 'discriminator_hooks',
          'regularizer': 'regularizers', 'augmentation': 'augment'}
LISTS = {'hook', 'regularizer'}  # namespaces chosen by a list option
CONTRACTS = {'noise': contracts.Noise, 'hook': contracts.Hook, 'statistics': contracts.Statistics,
             'snapshot': contracts.Snapshot, 'evaluation': contracts.Evaluation,
             'data': contracts.Data, 'generator': nn.Module, 'discriminator': nn.Module,
             'regularizer': contracts.Regularizer, 'augmentation': contracts.Augmentation}
# built below, in test_data.py and in test_metrics.py
NOT_BUILT_HERE = {'dataset', 'loss', 'game', 'feature-extractor'}


def components() -> list[tuple[str, str, str | None]]:
    """Every registered component that ``BUILDERS`` build: (namespace, name,
    None) in the kind of run it serves first, and (namespace, name, conditional)
    for those that serve conditional runs too."""
    return [(namespace, name, kind) for namespace in Registry.namespaces()
            if namespace in BUILDERS for name in Registry.names(namespace)
            for kind in [None, *[CONDITIONAL] * (
                CONDITIONAL in kinds_served(Registry.get(namespace, name), namespace))]]


@pytest.mark.parametrize('namespace, name, kind', components())
def test_every_registered_component_builds_and_keeps_its_contract(options, namespace, name,
                                                                  kind):
    value = [name] if namespace in LISTS else name
    fitting = kind_options(namespace, name, kind, **{OPTION.get(namespace, namespace): value})
    values = complete(options, **{key: getattr(fitting, key) for key in (
        'game', 'data_format', 'generator', 'discriminator', 'loss', 'conditional',
        OPTION.get(namespace, namespace))})
    if fitting.game == 'translate':
        values = complete(values, test_fraction=0.25)
    if fitting.game == 'cycle':  # held-out pairs come from pair images: the halves of each
        values = complete(values, domains='halves', test_fraction=0.25)
    if kind == CONDITIONAL:
        Data.from_options(values)  # completes the kind of run with the classes of the data
    component = BUILDERS[namespace](values)
    assert type(component) is Registry.get(namespace, name)
    assert isinstance(component, CONTRACTS[namespace])


def test_every_namespace_is_covered():
    assert set(Registry.namespaces()) - {'test-namespace', 'test-plugins'} <= (
        set(BUILDERS) | NOT_BUILT_HERE)


def combinations() -> list[tuple[str, str, str, str]]:
    """Every game with every generator, discriminator and loss that serve its kind of run."""
    found = []
    for game in Registry.names('game'):
        kind = getattr(Registry.get('game', game), 'kind', GENERATION)
        serving = [[name for name in Registry.names(namespace)
                    if kind in kinds_served(Registry.get(namespace, name), namespace)]
                   for namespace in ('generator', 'discriminator', 'loss')]
        found += [(game, *chosen) for chosen in itertools.product(*serving)]
    return found


def trains(options, **chosen) -> None:
    """2 batches of the game with the ``chosen`` components train: finite losses,
    and the generator moves."""
    torch.manual_seed(0)
    options = complete(options, **chosen)
    fitting = kind_options('game', options.game)
    options = complete(options, data_format=fitting.data_format)
    data = Data.from_options(options)
    generator_model = Generator.from_options(options)
    discriminator_model = Discriminator.from_options(options)
    before = [p.detach().clone() for p in generator_model.parameters()]
    trained = Game.from_options(options, generator_model, discriminator_model,
                                Loss.from_options(options, discriminator_model))
    losses = trained.run_epoch(data, Noise.from_options(options))
    assert {'generator', 'discriminator'} <= set(losses)
    assert all(math.isfinite(value) for value in losses.values())
    assert any(not torch.equal(b, p) for b, p in zip(before, generator_model.parameters()))


@pytest.mark.parametrize('game, generator, discriminator, loss', combinations())
def test_every_combination_trains(options, game, generator, discriminator, loss):
    trains(options, game=game, generator=generator, discriminator=discriminator, loss=loss)


def conditionings() -> list[tuple[str, str, str, str, str]]:
    """Every conditioning mode of every generator with every one of every
    discriminator, in a conditional run, each with a loss that serves it: the
    losses in turn, so that each meets every kind of discriminator conditioning."""
    def serving(namespace: str) -> list:
        return [name for name in Registry.names(namespace)
                if CONDITIONAL in kinds_served(Registry.get(namespace, name), namespace)]

    losses = serving('loss')
    generators = [(name, mode) for name, mode in network_variants('generator') if mode]
    discriminators = [(name, mode) for name, mode in network_variants('discriminator') if mode]
    return [(*generator, *discriminator, losses[(g + d) % len(losses)])
            for g, generator in enumerate(generators)
            for d, discriminator in enumerate(discriminators)]


@pytest.mark.parametrize('generator, generator_conditioning, discriminator, '
                         'discriminator_conditioning, loss', conditionings())
def test_every_conditioning_trains(options, generator, generator_conditioning, discriminator,
                                   discriminator_conditioning, loss):
    trains(options, game='standard', conditional=True, generator=generator,
           generator_conditioning=generator_conditioning, discriminator=discriminator,
           discriminator_conditioning=discriminator_conditioning, loss=loss)


@pytest.mark.parametrize('regularizer', Registry.names('regularizer'))
@pytest.mark.parametrize('conditional', [False, True])
def test_every_regularizer_trains(options, regularizer, conditional):
    trains(options, game='standard', generator='conv', discriminator='conv', loss='gan',
           regularizers=[regularizer], conditional=conditional)


@pytest.mark.parametrize('augmentation', Registry.names('augmentation'))
@pytest.mark.parametrize('game, conditional', [
    *((game, False) for game in Registry.names('game')), ('standard', True)])
def test_every_augmentation_trains_in_every_game(options, augmentation, game, conditional):
    fitting = kind_options('game', game)
    trains(options, game=game, generator=fitting.generator,
           discriminator=fitting.discriminator, loss=fitting.loss, augment=augmentation,
           conditional=conditional)
