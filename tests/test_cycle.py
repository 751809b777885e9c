"""Unpaired translation (CycleGAN): the pairs of networks, the image pool, the
cycle-consistency loss, the cycle game, its defaults, runs of ganzo (restore
included), snapshots, evaluation and deh in both directions."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from conftest import assert_user_error, make_image_folder, run_ganzo, tiny_arguments
from ganzo.cycle import (
    CycleGame,
    DiscriminatorPair,
    GeneratorPair,
    ImagePool,
    cycle_consistency,
)
from ganzo.data import Data, image_transform
from ganzo.discriminator import Discriminator
from ganzo.errors import GanzoError
from ganzo.evaluation import Evaluation
from ganzo.game import Game
from ganzo.generator import Generator, ResNetTranslator
from ganzo.loss import Loss
from ganzo.noise import Noise
from ganzo.options import complete, parse
from ganzo.snapshot import Snapshot, cycle_grid, generate


class Scale(nn.Module):
    """``x`` times a learned factor."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = nn.Parameter(torch.tensor(factor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def options(tmp_path: Path, **values):
    folder = make_image_folder(tmp_path / 'pairs', classes=1, per_class=8, size=12)
    return complete(**{'game': 'cycle', 'domains': 'halves', 'data_dir': str(folder),
                       'image_size': 8, 'batch_size': 2, 'generator_channels': 4,
                       'discriminator_channels': 4, 'device': 'cpu', 'pool_size': 3, **values})


def built(values):
    """Data, generator, discriminator and game of ``values``."""
    data = Data.from_options(values)
    generator, discriminator = Generator.from_options(values), Discriminator.from_options(values)
    game = Game.from_options(values, generator, discriminator,
                             Loss.from_options(values, discriminator))
    return data, generator, discriminator, game


# The image pool

def test_the_pool_shows_new_images_until_full_then_past_ones_half_of_the_time():
    pool = ImagePool(50)
    first = torch.arange(50.0).view(50, 1, 1, 1)
    assert torch.equal(pool(first), first)  # not full yet: the new images
    torch.manual_seed(0)
    past, queries = 0, 2000
    for index in range(queries):
        new = torch.full((1, 1, 1, 1), 1000.0 + index)
        held = set(pool.images.flatten().tolist())
        shown = pool(new).item()
        if shown != new.item():
            past += 1
            assert shown in held  # a past image, taken out of the pool for the new one
            assert shown not in pool.images.flatten().tolist()
            assert new.item() in pool.images.flatten().tolist()
        assert len(pool.images) == 50
    assert abs(past / queries - 0.5) < 0.04  # 2000 draws: the standard error is 0.011
    assert torch.equal(ImagePool(0)(first), first)  # no pool


def test_the_pool_is_saved_and_restored():
    pool = ImagePool(4)
    pool(torch.randn(3, 2, 4, 4))
    again = ImagePool(4)
    again.load_state_dict(copy.deepcopy(pool.state_dict()))
    torch.manual_seed(1)
    images = torch.randn(5, 2, 4, 4)
    expected = pool(images)
    torch.manual_seed(1)
    torch.randn(5, 2, 4, 4)
    assert torch.equal(again(images), expected)
    assert torch.equal(again.images, pool.images)
    empty = ImagePool(4)
    empty.load_state_dict(ImagePool(4).state_dict())
    assert empty.images is None


# Networks and losses

def test_pairs_go_the_default_way_and_each_way_on_request():
    generator = GeneratorPair(Scale(2.0), Scale(3.0))
    x = torch.ones(1, 3, 4, 4)
    assert generator(x).mean() == 2 and generator(x, direction='b-to-a').mean() == 3
    assert generator.translator('b-to-a') is generator.b_to_a
    discriminator = DiscriminatorPair(Scale(5.0), Scale(7.0))
    assert discriminator(x).mean() == 7 and discriminator(x, domain='a').mean() == 5


def test_the_cycle_loss_is_the_l1_of_both_round_trips():
    generator = GeneratorPair(Scale(0.5), Scale(3.0))
    a, b = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    fake_b, fake_a = generator(a), generator(b, direction='b-to-a')
    loss = cycle_consistency(generator, a, b, fake_a, fake_b)
    expected = (1.5 * a - a).abs().mean() + (1.5 * b - b).abs().mean()
    assert torch.allclose(loss, expected)
    loss.backward()
    assert generator.a_to_b.factor.grad != 0 and generator.b_to_a.factor.grad != 0


def test_unpaired_networks_are_pairs_of_independent_networks(tmp_path):
    values = options(tmp_path)
    generator, discriminator = Generator.from_options(values), Discriminator.from_options(values)
    assert isinstance(generator, GeneratorPair) and isinstance(discriminator, DiscriminatorPair)
    assert isinstance(generator.a_to_b, ResNetTranslator)
    forward, backward = generator.a_to_b.state_dict(), generator.b_to_a.state_dict()
    assert not all(torch.equal(forward[key], backward[key]) for key in forward)
    assert discriminator.a.layers[0].in_channels == 3  # images of a domain, not pairs
    assert any(isinstance(m, nn.InstanceNorm2d) for m in discriminator.modules())


# The game

def test_the_game_trains_the_four_networks_and_reports_the_cycle_and_identity_losses(tmp_path):
    torch.manual_seed(0)
    values = options(tmp_path, max_batches_per_epoch=1)
    data, generator, discriminator, game = built(values)
    assert isinstance(game, CycleGame)
    a, b = next(iter(data))
    before = copy.deepcopy(generator)
    with torch.no_grad():
        fake_b, fake_a = before(a), before(b, direction='b-to-a')
        cycle = cycle_consistency(before, a, b, fake_a, fake_b).item()
        identity = (F.l1_loss(before(b), b) + F.l1_loss(before(a, direction='b-to-a'), a)).item()
    networks = {name: copy.deepcopy(module.state_dict()) for name, module in (
        ('G', generator.a_to_b), ('F', generator.b_to_a), ('D_A', discriminator.a),
        ('D_B', discriminator.b))}
    torch.manual_seed(0)
    losses = game.run_epoch(Data.from_options(values), None)  # the same batch again
    assert set(losses) == {'generator', 'discriminator', 'cycle', 'identity'}
    assert losses['cycle'] == pytest.approx(cycle, rel=1e-5)
    assert losses['identity'] == pytest.approx(identity, rel=1e-5)
    assert losses['generator'] > 10 * cycle + 5 * identity  # plus the adversarial losses
    for name, module in (('G', generator.a_to_b), ('F', generator.b_to_a),
                         ('D_A', discriminator.a), ('D_B', discriminator.b)):
        assert any(not torch.equal(value, module.state_dict()[key])
                   for key, value in networks[name].items()), name
    assert all(parameter.requires_grad for parameter in discriminator.parameters())
    assert len(game.pools['a'].images) == len(game.pools['b'].images) == 2
    without = built(options(tmp_path, identity_weight=0.0, max_batches_per_epoch=1))
    assert 'identity' not in without[3].run_epoch(without[0], None)


def test_both_discriminators_see_augmented_images_and_all_rates_decay(tmp_path):
    torch.manual_seed(0)
    values = options(tmp_path, augment='cutout', epochs=2, lr_decay_start=1,
                     max_batches_per_epoch=1)
    data, generator, discriminator, game = built(values)
    seen = {'a': [], 'b': []}
    for domain in seen:
        getattr(discriminator, domain).register_forward_hook(
            lambda module, inputs, output, domain=domain: seen[domain].append(inputs[0]))
    game.run_epoch(data, None)
    for domain, batches in seen.items():
        assert len(batches) == 3  # real and pooled in D's step, generated in G's
        for images in batches:  # the data has no exact zero: a cut in every image
            assert ((images == 0).flatten(1).sum(1) > 0).all(), domain
    rates = [group['lr'] for optimizer in (game.generator_optimizer,
                                           game.discriminator_optimizer)
             for group in optimizer.param_groups]
    game.run_epoch(data, None)
    assert [group['lr'] for optimizer in (game.generator_optimizer,
                                          game.discriminator_optimizer)
            for group in optimizer.param_groups] == pytest.approx([r / 2 for r in rates])


def test_the_moving_average_averages_both_generators(tmp_path):
    from ganzo.hook import moving_average
    torch.manual_seed(0)
    data, generator, _, game = built(options(tmp_path, ema_decay=0.5, max_batches_per_epoch=2))
    average = moving_average(game.hooks['generator']).model
    assert isinstance(average, GeneratorPair)
    history = []
    game.hooks['generator'].insert(0, lambda model: history.append(copy.deepcopy(
        model.state_dict())))
    game.run_epoch(data, None)
    first, second = history
    for name, value in average.state_dict().items():
        if value.is_floating_point() and 'running' not in name:
            assert torch.allclose(value, (first[name] + second[name]) / 2), name
    assert any(name.startswith('b_to_a') and not torch.equal(value, second[name])
               for name, value in average.state_dict().items())


def test_the_game_plays_one_step_of_each_per_batch(tmp_path):
    values = options(tmp_path, discriminator_iterations=2)
    with pytest.raises(GanzoError, match='--discriminator-iterations 2: the cycle game plays '
                       'one discriminator step and one generator step per batch'):
        built(values)


def test_the_cycle_game_defaults_are_cyclegan_s(tmp_path):
    parsed = parse(['--game', 'cycle'])
    assert (parsed.loss, parsed.generator, parsed.discriminator, parsed.data_format,
            parsed.discriminator_normalization) == ('least-squares', 'resnet-translator',
                                                    'patch-gan', 'unpaired', 'instance')
    assert parse(['--game', 'cycle', '--loss', 'hinge']).loss == 'hinge'
    (tmp_path / 'run.json').write_text(json.dumps({'game': 'cycle', 'loss': 'gan'}))
    assert parse(['--from-json', str(tmp_path / 'run.json')]).loss == 'gan'
    assert parse(['--game', 'translate']).loss == 'gan'
    assert complete(game='cycle').loss == 'least-squares'
    assert complete(game='cycle', loss='wgan').loss == 'wgan'


# Runs of ganzo

def cycle_arguments(data_dir: Path, model_dir: Path, **values) -> list[str]:
    return tiny_arguments(data_dir, model_dir, **{
        'game': 'cycle', 'domains': 'halves', 'batch_size': 2, 'test_fraction': 0.25,
        'pool_size': 3, **values})


@pytest.fixture(scope='module')
def trained(tmp_path_factory) -> Path:
    """A cycle run of 2 epochs on the halves of 8 pair images in 2 classes (2
    held out), with the l1 criterion."""
    root = tmp_path_factory.mktemp('cycle')
    pairs = make_image_folder(root / 'pairs', classes=2, per_class=4, size=12)
    result = run_ganzo(*cycle_arguments(pairs, root / 'runs', evaluation_criterion='l1',
                                        log='file', snapshot_size=3, direction='b-to-a'))
    assert result.returncode == 0, result.stderr
    return root / 'runs' / 'tiny'


def test_a_run_saves_both_generators_both_discriminators_optimizers_and_pools(trained):
    checkpoint = torch.load(trained / 'checkpoint.pt', weights_only=True)
    assert {key.split('.')[0] for key in checkpoint['generator']} == {'a_to_b', 'b_to_a'}
    assert {key.split('.')[0] for key in checkpoint['discriminator']} == {'a', 'b'}
    game = checkpoint['game']
    assert game['generator_optimizer']['state'] and game['discriminator_optimizer']['state']
    assert all(game['pools'][domain]['images'].shape == (3, 3, 8, 8) for domain in 'ab')
    saved = torch.load(trained / 'generator.pt', weights_only=True)
    assert saved['kind']['name'] == 'unpaired-translation'
    lines = [json.loads(line) for line in (trained / 'statistics.log').read_text().splitlines()]
    assert {'cycle', 'identity', 'test_l1', 'test_psnr', 'test_l1_b_to_a',
            'test_psnr_b_to_a'} <= set(lines[-1])
    assert all(0 <= line['test_l1'] <= 1 and 0 <= line['test_l1_b_to_a'] <= 1 for line in lines)
    assert json.loads((trained / 'options.json').read_text())['loss'] == 'least-squares'


def test_snapshots_show_both_round_trips(trained):
    with Image.open(trained / 'samples' / 'epoch-0002.png') as picture:
        assert picture.size == (2 + 6 * 10, 2 + 2 * 10)  # 2 held-out images, 6 columns


def test_the_cycle_grid_shows_each_image_and_its_round_trip():
    generator = GeneratorPair(Scale(0.5), Scale(-1.0))
    a, b = torch.full((1, 3, 8, 8), 0.8), torch.full((1, 3, 8, 8), -0.4)
    picture = cycle_grid(generator, a, b)
    assert picture.shape == (3, 2 + 10, 2 + 6 * 10)
    values = [picture[0, 5, 2 + 10 * column + 3].item() for column in range(6)]
    expected = [0.8, 0.4, -0.4, -0.4, 0.4, 0.2]  # a, G(a), F(G(a)), b, F(b), G(F(b))
    assert values == pytest.approx([(value + 1) / 2 for value in expected], abs=0.01)


def test_the_snapshot_picks_the_cycle_grid_by_the_kind_of_run(tmp_path):
    values = options(tmp_path, model_dir=str(tmp_path / 'runs'), experiment='x',
                     snapshot_size=2)
    data = Data.from_options(values)
    generator = Generator.from_options(values)
    picture = Snapshot.from_options(values).picture(data, None, generator)
    assert torch.allclose(picture, cycle_grid(generator, *data.fixed_domains(2)))


def checkpoint_tensors(run_dir: Path) -> dict[str, object]:
    """Every tensor and number of a checkpoint, but the random generators, by path."""
    found = {}

    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f'{path}/{key}')
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(item, f'{path}/{index}')
        else:
            found[path] = value
    walk(torch.load(run_dir / 'checkpoint.pt', weights_only=True), '')
    return found


def test_a_restored_cycle_run_ends_exactly_like_an_uninterrupted_one(tmp_path):
    pairs = make_image_folder(tmp_path / 'pairs', classes=1, per_class=8, size=12)

    def run(model_dir, epochs, *extra):
        arguments = cycle_arguments(pairs, model_dir, epochs=epochs, jitter=True,
                                    evaluation_criterion='psnr', generator_dropout=0.5,
                                    ema_decay=0.9, augment='color,translation,cutout',
                                    lr_decay_start=2)
        result = run_ganzo(*arguments, *extra)
        assert result.returncode == 0, result.stderr
        return checkpoint_tensors(model_dir / 'tiny')

    whole = run(tmp_path / 'whole', 3)
    run(tmp_path / 'split', 2)
    split = run(tmp_path / 'split', 3, '--restore')
    assert whole.keys() == split.keys()
    assert any('pools' in key for key in whole)
    for key, value in whole.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, split[key]), key
        elif key != '/ganzo_version':
            assert value == split[key] or (isinstance(value, float) and math.isnan(value)), key


# Evaluation

def test_kid_of_g_of_a_against_b(tmp_path):
    root = tmp_path / 'data'
    for name, seed in (('trainA', 1), ('trainB', 2), ('testA', 3), ('testB', 4)):
        make_image_folder(root / name, classes=1, per_class=6, seed=seed)
    values = options(tmp_path, domains='folders', data_dir=str(root), evaluation_criterion='kid',
                     feature_extractor='classifier', evaluation_samples=4,
                     metrics_cache=str(tmp_path / 'metrics'), epochs=1)
    generator = Generator.from_options(values)
    criterion = Evaluation.from_options(values, generator, Noise.from_options(values),
                                        Data.from_options(values))
    assert len(criterion.inputs) == 6  # the held-out images of A
    assert 'held-out images of domain B' in criterion.scorer.source
    kid = criterion.evaluate(1)['kid']
    assert math.isfinite(kid) and criterion.has_improved({'kid': kid})


def test_ganzo_eval_scores_g_of_a_against_b(trained, tmp_path):
    result = run_ganzo('--model-dir', trained.parent, '--experiment', trained.name,
                       '--metrics', 'kid', '--feature-extractor', 'classifier',
                       '--metrics-cache', tmp_path, '--output', tmp_path / 'scores.json',
                       '--device', 'cpu', module='ganzo.score')
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / 'scores.json').read_text())
    assert report['real'].startswith('the held-out images of domain B')
    assert report['real_samples'] == 2 and math.isfinite(report['scores']['kid'])


def test_l1_and_psnr_need_ground_truth_pairs(tmp_path):
    root = tmp_path / 'data'
    for name in ('trainA', 'trainB'):
        make_image_folder(root / name, classes=1, per_class=4)
    values = options(tmp_path, domains='folders', data_dir=str(root), evaluation_criterion='l1')
    with pytest.raises(GanzoError, match='needs held-out pairs: give --test-data-dir or '
                       '--test-fraction with --domains halves'):
        Evaluation.from_options(values, Generator.from_options(values), None,
                                Data.from_options(values))


# deh

def translated(folder: Path) -> torch.Tensor:
    return torch.from_numpy(np.asarray(Image.open(folder / '0.png'), dtype=np.float32))


def best_generator(run_dir: Path) -> GeneratorPair:
    """The generators of ``generator.pt``."""
    values = json.loads((run_dir / 'options.json').read_text())
    generator = Generator.from_options(complete(**{**values, 'device': 'cpu'}))
    generator.load_state_dict(torch.load(run_dir / 'generator.pt', weights_only=True)
                              ['state_dict'])
    return generator


def expected_translation(run_dir: Path, image: Path, direction: str) -> torch.Tensor:
    """What the generator of ``direction`` makes of ``image``, as deh writes it (0-255)."""
    inputs = image_transform(8, 3)(Image.open(image))[None]
    output = generate(best_generator(run_dir).translator(direction), inputs)[0]
    return (output.clamp(-1, 1).add(1).div(2).mul(255).add(0.5).clamp(0, 255).floor()
            .permute(1, 2, 0))


@pytest.mark.filterwarnings('ignore:`torch.jit')
def test_deh_translates_in_both_directions_and_exports_either(trained, tmp_path, monkeypatch):
    inputs = make_image_folder(tmp_path / 'inputs', classes=1, per_class=1, size=12) / 'class0'
    arguments = ['--model-dir', trained.parent, '--experiment', trained.name, '--input', inputs]
    outputs = {}
    for direction in ('b-to-a', 'a-to-b', 'first-to-second', None):
        result = run_ganzo(*arguments, *(['--direction', direction] if direction else []),
                           module='ganzo.deh')
        assert result.returncode == 0 and 'warning' not in result.stderr, result.stderr
        outputs[direction] = translated(Path(result.stdout.strip().rsplit(' to ', 1)[1]))
    # trained b-to-a: G translates the data's B into A; a-to-b asks for F
    assert torch.equal(outputs[None], outputs['b-to-a'])
    assert torch.equal(outputs['a-to-b'], outputs['first-to-second'])
    assert not torch.equal(outputs['a-to-b'], outputs['b-to-a'])
    assert torch.equal(outputs['b-to-a'],
                       expected_translation(trained, inputs / '0.png', 'a-to-b'))
    assert torch.equal(outputs['a-to-b'],
                       expected_translation(trained, inputs / '0.png', 'b-to-a'))
    export = tmp_path / 'f.pt'
    monkeypatch.setattr('ganzo.export.onnx_available', lambda: False)  # ONNX: test_deh.py
    result = run_ganzo('--model-dir', trained.parent, '--experiment', trained.name, '--export',
                       export, '--direction', 'a-to-b', module='ganzo.deh')
    assert result.returncode == 0, result.stderr
    model = torch.jit.load(str(export))
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    assert torch.allclose(model(x), generate(best_generator(trained).b_to_a, x), atol=1e-6)


def test_deh_refuses_an_unknown_direction_and_writes_nothing(trained, tmp_path):
    before = sorted(path.name for path in trained.iterdir())
    result = run_ganzo('--model-dir', trained.parent, '--experiment', trained.name, '--input',
                       tmp_path, '--direction', 'sideways', module='ganzo.deh')
    assert_user_error(result, '--direction', 'sideways', 'a-to-b')
    assert sorted(path.name for path in trained.iterdir()) == before
