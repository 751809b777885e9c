"""Image-to-image translation: paired data, u-gen, patch-gan, pix2pix, the
translate game, its snapshots and held-out evaluation. Every registered
component marked ``translation = True`` is trained here with the translate game."""

from __future__ import annotations

import json
import runpy
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from conftest import ROOT, SHARED_DATA, assert_user_error, run_ganzo, tiny_arguments
from ganzo.data import Data, PairOfImagesData, input_colors
from ganzo.discriminator import PatchGAN
from ganzo.errors import GanzoError
from ganzo.evaluation import Evaluation, translation_metrics
from ganzo.game import Game, StandardGame, TranslateGame
from ganzo.generator import ConvGenerator, UGenerator
from ganzo.kind import TRANSLATION, kinds_served, run_kind
from ganzo.loss import GANLoss, Loss, Pix2PixLoss
from ganzo.options import complete
from ganzo.registry import Registry
from ganzo.snapshot import translation_grid
from ganzo.train import main

DATA_FORMATS = [name for name in Registry.names('data')
                if TRANSLATION in kinds_served(Registry.get('data', name), 'data')]
LOSSES = [name for name in Registry.names('loss')
          if TRANSLATION in kinds_served(Registry.get('loss', name), 'loss')]
RED, BLUE = (255, 0, 0), (0, 0, 255)


def options(**values) -> Namespace:
    return complete(**{'image_size': 8, 'batch_size': 2, 'generator_channels': 4,
                       'discriminator_channels': 4, 'device': 'cpu', **values})


def pair_image(path: Path, first=RED, second=BLUE, size=(12, 6), split='horizontal',
               mode='RGB') -> Path:
    """An image whose first half (left or top) is ``first`` and second half ``second``."""
    width, height = size
    image = Image.new('RGB', size, second)
    box = (0, 0, width // 2, height) if split == 'horizontal' else (0, 0, width, height // 2)
    image.paste(first, box)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert(mode).save(path)
    return path


@pytest.fixture
def pairs_dir(tmp_path: Path) -> Path:
    """Eight pair images, red on the left and blue on the right: a
    non-square one (halves 9 x 4), one with halves of unequal size (odd width),
    and a grey one among colour ones."""
    root = tmp_path / 'pairs'
    for index in range(5):
        pair_image(root / f'{index}.png')
    pair_image(root / 'wide.png', size=(18, 4))
    pair_image(root / 'odd.png', size=(13, 6))
    pair_image(root / 'grey.png', first=(200, 200, 200), second=(50, 50, 50), mode='L')
    return root


def mean_colour(images: torch.Tensor) -> list[float]:
    return images.mean((0, 2, 3)).tolist()


# Data

@pytest.mark.parametrize('split', ['horizontal', 'vertical'])
@pytest.mark.parametrize('direction', ['first-to-second', 'second-to-first'])
def test_pair_of_images_splits_in_both_directions(tmp_path, split, direction):
    for index in range(4):
        size = (12, 6) if split == 'horizontal' else (6, 12)
        pair_image(tmp_path / f'{index}.png', size=size, split=split)
    data = PairOfImagesData(options(data_dir=tmp_path, split=split, direction=direction))
    inputs, targets = next(iter(data))
    assert inputs.shape == targets.shape == (2, 3, 8, 8)
    red, blue = [1.0, -1.0, -1.0], [-1.0, -1.0, 1.0]
    expected = (red, blue) if direction == 'first-to-second' else (blue, red)
    assert mean_colour(inputs) == pytest.approx(expected[0], abs=1e-5)
    assert mean_colour(targets) == pytest.approx(expected[1], abs=1e-5)


def test_odd_pair_images(pairs_dir):
    data = PairOfImagesData(options(data_dir=pairs_dir))
    pairs = {Path(path).name: data.dataset[index]
             for index, (path, _) in enumerate(data.dataset.images.samples)}
    for name, (source, target) in pairs.items():
        assert source.shape == target.shape == (3, 8, 8), name
    source, target = pairs['odd.png']  # 13 px wide: halves of 6 and 7 columns
    assert source[0].min() == 1 and target[2].min() == 1
    source, target = pairs['grey.png']  # a grey image in a colour dataset
    assert torch.allclose(source, source[:1].expand(3, -1, -1))
    assert source.mean() > target.mean()
    grey = PairOfImagesData(options(data_dir=pairs_dir, image_colors=1))
    assert next(iter(grey))[0].shape == (2, 1, 8, 8)


def test_jitter_crops_and_flips_both_halves_alike(tmp_path):
    gradient = np.tile(np.arange(0, 240, 20, dtype=np.uint8), (12, 1))  # 12 x 12, left to right
    pixels = np.concatenate([gradient, gradient], 1)
    for index in range(4):
        Image.fromarray(pixels).save(tmp_path / f'{index}.png')
    data = PairOfImagesData(options(data_dir=tmp_path, image_size=16, image_colors=1,
                                    jitter=True, batch_size=4))
    seen = set()
    for _ in range(8):
        inputs, targets = next(iter(data))
        assert torch.equal(inputs, targets)
        seen.update(bool(image[0, 0, 0] > image[0, 0, -1]) for image in inputs)
    assert seen == {True, False}  # some flipped, some not


def test_jittered_batches_do_not_depend_on_the_loader_workers(image_folder):
    """Each pair's crop and flip come with its index in the order of the epoch,
    not from the random generators of whichever process loads it."""
    def epochs(workers: int) -> list[torch.Tensor]:
        torch.manual_seed(0)
        data = Data.from_options(options(data_format='colorization', data_dir=image_folder,
                                         jitter=True, batch_size=4, loader_workers=workers))
        return [torch.cat([targets for _, targets in data]) for _ in range(2)]

    expected = epochs(0)
    for workers in (1, 2):
        assert all(torch.equal(a, b) for a, b in zip(epochs(workers), expected)), workers


def test_colorization_pairs(image_folder):
    data = Data.from_options(options(data_format='colorization', data_dir=image_folder))
    inputs, targets = next(iter(data))
    assert inputs.shape == (2, 1, 8, 8) and targets.shape == (2, 3, 8, 8)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    assert torch.allclose(inputs, (targets * luma).sum(1, keepdim=True), atol=0.02)
    assert input_colors(options(data_format='colorization')) == 1
    with pytest.raises(GanzoError, match='--image-colors 3'):
        Data.from_options(options(data_format='colorization', data_dir=image_folder,
                                  image_colors=1))


def test_super_resolution_pairs(tmp_path):
    pixels = np.indices((16, 16)).sum(0) % 2 * 255  # a checkerboard: lost when shrunk
    for index in range(2):
        Image.fromarray(pixels.astype(np.uint8)).convert('RGB').save(tmp_path / f'{index}.png')
    data = Data.from_options(options(data_format='super-resolution', data_dir=tmp_path,
                                     image_size=16, scale_factor=4))
    inputs, targets = next(iter(data))
    assert inputs.shape == targets.shape == (2, 3, 16, 16)
    assert targets.std() > 0.9 and inputs.std() < 0.5
    with pytest.raises(GanzoError, match='--scale-factor 16'):
        Data.from_options(options(data_format='super-resolution', data_dir=tmp_path,
                                  image_size=16, scale_factor=16))


def test_held_out_pairs(image_folder, tmp_path):
    data = Data.from_options(options(data_format='colorization', data_dir=image_folder,
                                     test_fraction=0.25))
    assert len(data.dataset) == 12 and len(data.held_out()) == 4
    again = Data.from_options(options(data_format='colorization', data_dir=image_folder,
                                      test_fraction=0.25, seed=9))
    assert data.held_out_images.indices == again.held_out_images.indices
    assert not set(data.held_out_images.indices) & set(data.dataset.images.indices)
    inputs, targets = data.fixed_pairs(3)
    assert inputs.shape == (3, 1, 8, 8) and targets.shape == (3, 3, 8, 8)
    assert torch.equal(targets[0], data.held_out()[0][1])
    with pytest.raises(GanzoError, match='--test-fraction'):
        Data.from_options(options(data_format='colorization', data_dir=image_folder,
                                  test_fraction=0.01))
    with pytest.raises(GanzoError, match='--test-data-dir .*no such folder'):
        Data.from_options(options(data_format='colorization', data_dir=image_folder,
                                  test_data_dir=tmp_path / 'missing'))
    without = Data.from_options(options(data_format='colorization', data_dir=image_folder))
    assert without.held_out() is None and len(without.fixed_pairs(3)[0]) == 3


# Networks and loss

def test_library_example_from_the_spec():
    options = Namespace()
    options.generator_layers = 5
    options.generator_channels = 3
    generator = UGenerator(options)
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    outputs = generator(images)
    assert outputs.shape == images.shape and outputs.abs().max() <= 1


@pytest.mark.parametrize('layers,size', [(1, 8), (2, 8), (3, 16), (4, 32), (5, 64), (None, 48)])
@pytest.mark.parametrize('data_format,colors', [('pair-of-images', 3), ('pair-of-images', 1),
                                                ('colorization', 3)])
def test_u_gen_shapes(layers, size, data_format, colors):
    generator = UGenerator(options(generator_layers=layers, image_size=size,
                                   image_colors=colors, data_format=data_format))
    inputs = torch.randn(2, 1 if data_format == 'colorization' else colors, size, size)
    assert generator(inputs).shape == (2, colors, size, size)
    assert generator.eval()(inputs[:1]).shape == (1, colors, size, size)


def test_u_gen_skip_connections_dropout_and_gradients():
    generator = UGenerator(options(generator_layers=5, image_size=32, generator_dropout=0.5,
                                   generator_channels=8))
    assert len(generator.encoder) == len(generator.decoder) == 5
    dropouts = [any(isinstance(m, nn.Dropout) for m in stage.modules())
                for stage in generator.decoder]
    assert dropouts == [True, True, True, False, False]  # the first three decoder stages
    assert all(m.p == 0.5 for m in generator.modules() if isinstance(m, nn.Dropout))
    assert not any(isinstance(m, nn.Dropout)
                   for m in UGenerator(options(image_size=32, generator_channels=8)).modules())
    outputs = generator(torch.randn(2, 3, 32, 32))
    (outputs * torch.randn_like(outputs)).sum().backward()
    for name, parameter in generator.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    # the outermost skip: the last stage sees the first encoder map
    assert generator.decoder[-1][1].in_channels == 2 * generator.encoder[0][0].out_channels


def test_u_gen_size_errors():
    with pytest.raises(GanzoError, match='--image-size 30 .*--generator-layers 3'):
        UGenerator(options(image_size=30, generator_layers=3))


@pytest.mark.parametrize('size,layers,patches', [(8, None, 2), (16, None, 2), (32, None, 2),
                                                 (64, None, 6), (64, 2, 14), (70, None, 6)])
def test_patch_gan_scores_patches(size, layers, patches):
    discriminator = PatchGAN(options(image_size=size, discriminator_layers=layers))
    logits = discriminator(torch.randn(2, 6, size, size))
    assert logits.shape == (2, 1, patches, patches)


def test_patch_gan_sees_input_and_output():
    discriminator = PatchGAN(options(data_format='colorization', image_size=16))
    assert discriminator.layers[0].in_channels == 4  # grey input + colour output
    assert discriminator(torch.randn(3, 4, 16, 16)).shape[0] == 3
    with pytest.raises(GanzoError, match='--image-size 8 .*--discriminator-layers 2'):
        PatchGAN(options(image_size=8, discriminator_layers=2))


def test_pix2pix_loss_adds_weighted_l1():
    discriminator = PatchGAN(options())
    inputs, outputs, targets = (torch.randn(2, 3, 8, 8) for _ in range(3))
    fake = torch.cat([inputs, outputs], 1)
    gan = GANLoss(options(), discriminator)
    loss = Pix2PixLoss(options(l1_weight=10.0), discriminator)
    expected = gan.for_generator(fake) + 10 * (outputs - targets).abs().mean()
    assert torch.allclose(loss.for_generator(fake, targets), expected)
    real = torch.cat([inputs, targets], 1)
    assert torch.allclose(loss.for_discriminator(real, fake, targets),
                          gan.for_discriminator(real, fake) / 2)


# The translate game, every translation component

class CountingData:
    """Batches ``(inputs, targets)``; counts how many are read."""

    def __init__(self, batches: int = 3, input_colors: int = 3) -> None:
        self.pairs = [(torch.rand(2, input_colors, 8, 8) * 2 - 1, torch.rand(2, 3, 8, 8) * 2 - 1)
                      for _ in range(batches)]
        self.read = 0

    def __iter__(self):
        for pair in self.pairs:
            self.read += 1
            yield pair

    def __len__(self) -> int:
        return len(self.pairs)


@pytest.mark.parametrize('loss', LOSSES)
def test_each_batch_is_read_once(loss):
    """(Every combination trains: test_components.py.)"""
    torch.manual_seed(0)
    values = options(game='translate', generator='u-gen', discriminator='patch-gan',
                     loss=loss, data_format='pair-of-images', generator_iterations=2)
    generator_model = Registry.build('generator', 'u-gen', values)
    discriminator_model = Registry.build('discriminator', 'patch-gan', values)
    loss_function = Loss.from_options(values, discriminator_model)
    game = Game.from_options(values, generator_model, discriminator_model, loss_function)
    data = CountingData()
    losses = game.run_epoch(data, None)
    assert data.read == 3  # each batch read once, though the generator steps twice
    assert all(np.isfinite(value) for value in losses.values())


def test_translate_game_feeds_inputs_and_pairs():
    values = options(game='translate', generator='u-gen', discriminator='patch-gan',
                     loss='pix2pix', data_format='colorization')
    generator, discriminator = UGenerator(values), PatchGAN(values)
    seen = {}

    class Spy(Pix2PixLoss):
        def for_discriminator(self, real_data, fake_data, labels=None):
            seen['real'], seen['fake'], seen['labels'] = real_data, fake_data, labels
            return super().for_discriminator(real_data, fake_data, labels)

    game = TranslateGame(values, generator, discriminator, Spy(values, discriminator))
    data = CountingData(batches=1, input_colors=1)
    game.run_epoch(data, None)
    inputs, targets = data.pairs[0]
    assert torch.equal(seen['real'], torch.cat([inputs, targets], 1))
    assert torch.equal(seen['fake'][:, :1], inputs) and seen['fake'].shape == (2, 4, 8, 8)
    assert torch.equal(seen['labels'], targets)


def test_games_refuse_components_of_the_other_kind():
    values = options()
    translate = options(game='translate', generator='u-gen', discriminator='patch-gan',
                        loss='pix2pix', data_format='pair-of-images')
    discriminator = PatchGAN(translate)
    with pytest.raises(GanzoError, match='--generator u-gen is for image-to-image .*--game '
                       'translate'):
        StandardGame(complete(values, generator='u-gen'), UGenerator(translate),
                     discriminator, GANLoss(values, discriminator))
    with pytest.raises(GanzoError, match='--game translate is for image-to-image translation '
                       r'and needs a --generator that serves it \(resnet-translator, u-gen\), '
                       'not conv'):
        TranslateGame(complete(translate, generator='conv'), ConvGenerator(options()),
                      discriminator, GANLoss(values, discriminator))


def test_translation_grid_shows_input_generated_target():
    generator = UGenerator(options(data_format='colorization'))
    inputs, targets = torch.zeros(4, 1, 8, 8), torch.ones(4, 3, 8, 8)
    picture = translation_grid(generator, inputs, targets)
    assert picture.shape == (3, 2 + 2 * 10, 2 + 6 * 10)  # 2 rows of 2 triptychs, 2 px padding
    assert picture[:, 2:10, 2:10].unique().tolist() == [0.5]  # input
    assert picture[:, 2:10, 22:30].unique().tolist() == [1.0]  # target


def test_translation_metrics():
    class Constant(nn.Module):
        def __init__(self, value):
            super().__init__()
            self.value = nn.Parameter(torch.tensor(value))

        def forward(self, inputs):
            return self.value.expand(inputs.shape[0], 3, 8, 8)

    pairs = [(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8)) for _ in range(5)]
    perfect = translation_metrics(Constant(0.0), pairs, batch_size=2)
    assert perfect == {'test_l1': 0.0, 'test_psnr': pytest.approx(100.0)}
    off = translation_metrics(Constant(0.2), pairs, batch_size=2)  # 0.1 on [0, 1] pixels
    assert off['test_l1'] == pytest.approx(0.1) and off['test_psnr'] == pytest.approx(20.0)


@pytest.mark.parametrize('criterion', ['l1', 'psnr'])
def test_held_out_criteria(image_folder, criterion):
    values = options(data_format='colorization', data_dir=image_folder, test_fraction=0.25,
                     evaluation_criterion=criterion)
    generator = UGenerator(values)
    evaluation = Evaluation.from_options(values, generator, None, Data.from_options(values))
    metrics = evaluation.evaluate(1)
    assert set(metrics) == {'test_l1', 'test_psnr'}
    assert evaluation.has_improved(metrics)
    assert not evaluation.has_improved(metrics)
    better = {'test_l1': metrics['test_l1'] / 2, 'test_psnr': metrics['test_psnr'] + 1}
    assert evaluation.has_improved(better)
    without = complete(values, test_fraction=0.0)
    with pytest.raises(GanzoError, match=f'--evaluation-criterion {criterion} needs held-out'):
        Evaluation.from_options(without, generator, None, Data.from_options(without))
    with pytest.raises(GanzoError, match=f'--evaluation-criterion {criterion} is for '
                       'image-to-image translation: use --game translate'):
        run_kind(complete(values, game='standard', data_format='single-image', generator='conv',
                          discriminator='conv', loss='gan'))


# The ganzo command

def translate_arguments(data_dir: Path, model_dir: Path, **values) -> list[str]:
    return tiny_arguments(data_dir, model_dir, **{
        'data_format': 'pair-of-images', 'game': 'translate', 'generator': 'u-gen',
        'discriminator': 'patch-gan', 'loss': 'pix2pix', 'batch_size': 2, **values})


def train(*arguments) -> int:
    try:
        main(list(arguments))
    except SystemExit as exit:
        return exit.code
    return 0


@pytest.mark.parametrize('data_format', DATA_FORMATS)
def test_ganzo_trains_each_translation_format(pairs_dir, image_folder, tmp_path, data_format):
    data_dir = pairs_dir if data_format == 'pair-of-images' else image_folder
    arguments = translate_arguments(data_dir, tmp_path, data_format=data_format,
                                    test_fraction=0.375, evaluation_criterion='l1',
                                    log='file', jitter=True, scale_factor=2,
                                    snapshot_size=3)  # more than --batch-size: pairs are data
    assert train(*arguments) == 0
    run_dir = tmp_path / 'tiny'
    lines = [json.loads(line) for line in (run_dir / 'statistics.log').read_text().splitlines()]
    assert [line['epoch'] for line in lines] == [1, 2]
    assert all(0 <= line['test_l1'] <= 1 and line['test_psnr'] > 0 for line in lines)
    assert (run_dir / 'generator.pt').exists()
    with Image.open(run_dir / 'samples' / 'epoch-0002.png') as picture:
        assert picture.size == (2 + 3 * 10, 2 + 3 * 10)  # 3 triptychs of 8 px images


def test_restored_translation_run_ends_like_an_uninterrupted_one(pairs_dir, tmp_path):
    def run(model_dir, epochs, *extra):
        arguments = translate_arguments(pairs_dir, model_dir, epochs=epochs, jitter=True,
                                        generator_dropout=0.5, test_fraction=0.25,
                                        evaluation_criterion='psnr')
        assert train(*arguments, *extra) == 0
        return torch.load(model_dir / 'tiny' / 'checkpoint.pt', weights_only=True)

    whole = run(tmp_path / 'whole', 3)
    run(tmp_path / 'split', 2)
    split = run(tmp_path / 'split', 3, '--restore')
    for model in ('generator', 'discriminator'):
        for name, tensor in whole[model].items():
            assert torch.equal(tensor, split[model][name]), (model, name)
    assert whole['evaluation'] == split['evaluation']


def test_bad_translation_input_is_one_line_and_status_2(pairs_dir, image_folder, tmp_path):
    (tmp_path / 'empty').mkdir()
    result = run_ganzo(*translate_arguments(tmp_path / 'empty', tmp_path / 'runs'))
    assert_user_error(result, '--data-dir', 'no images')
    narrow = tmp_path / 'narrow'
    for index in range(3):
        pair_image(narrow / f'{index}.png')
    Image.new('RGB', (1, 6)).save(narrow / 'thin.png')
    result = run_ganzo(*translate_arguments(narrow, tmp_path / 'runs'))
    assert_user_error(result, 'thin.png', '1x6', '--split')
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path / 'runs', generator='u-gen'))
    assert_user_error(result, '--generator u-gen', '--game translate')
    result = run_ganzo(*translate_arguments(pairs_dir, tmp_path / 'runs', discriminator='conv'))
    assert_user_error(result, '--game translate', 'patch-gan')
    result = run_ganzo(*translate_arguments(pairs_dir, tmp_path / 'runs',
                                            evaluation_criterion='l1'))
    assert_user_error(result, '--evaluation-criterion l1', '--test-data-dir')
    assert not (tmp_path / 'runs').exists()


@pytest.mark.skipif(not (SHARED_DATA / 'facades').is_dir(),
                    reason='needs ../shared/data/facades (the CMP facades in pix2pix layout)')
def test_facades_label_maps_are_the_right_halves():
    data = PairOfImagesData(options(data_dir=SHARED_DATA / 'facades' / 'test',
                                    direction='second-to-first', image_size=32))
    inputs, targets = data.fixed_pairs(8)
    # label maps are flat colours (mostly the blue of the wall), photos are not
    assert inputs[:, 2].mean() > targets[:, 2].mean()
    assert len(data.dataset) == 106


@pytest.mark.parametrize('data', [{'data_format': 'pair-of-images'},
                                  {'game': 'cycle', 'domains': 'halves'}])
def test_baselines_script(tmp_path, monkeypatch, capsys, data):
    for index in range(8):
        pair_image(tmp_path / 'pairs' / f'{index}.png')
    options = tmp_path / 'options.json'
    options.write_text(json.dumps({**data, 'data_dir': str(tmp_path / 'pairs'),
                                   'test_fraction': 0.25, 'image_size': 8, 'batch_size': 2}))
    monkeypatch.setattr(sys, 'argv', ['translation_baselines.py', str(options)])
    runpy.run_path(str(ROOT / 'experiments' / 'translation_baselines.py'), run_name='__main__')
    numbers = json.loads(capsys.readouterr().out)
    # red inputs, blue targets: the mean target is exact, the input is off by 2/3 of the range
    assert numbers['mean']['test_l1'] < 1e-6
    assert numbers['input']['test_l1'] == pytest.approx(2 / 3, abs=0.05)
