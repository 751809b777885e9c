"""Tests of ganzo.acceleration through StandardGame: each speed-up option trains a
few steps of tiny models and gives finite losses. No timings: speed is measured
by `make bench`."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import assert_user_error, run_ganzo, tiny_arguments
from ganzo.acceleration import PRECISIONS, Acceleration
from ganzo.discriminator import Discriminator
from ganzo.game import Game
from ganzo.generator import Generator
from ganzo.loss import Loss
from ganzo.noise import Noise
from ganzo.options import complete

NETWORKS = [('conv', 'gan'), ('good', 'wgan-gp')]
# bf16 and fp16 are emulated on many CPUs: their warning is tested in test_hardware.py.
pytestmark = pytest.mark.filterwarnings('ignore:--precision .* is emulated')


def tiny_options(**values):
    return complete(**{'image_size': 8, 'generator_channels': 4, 'discriminator_channels': 4,
                       'state_size': 8, 'batch_size': 4, 'device': 'cpu', 'seed': 0, **values})


def tiny_game(**values):
    options = tiny_options(**values)
    torch.manual_seed(0)
    generator, discriminator = Generator.from_options(options), Discriminator.from_options(options)
    game = Game.from_options(options, generator, discriminator,
                             Loss.from_options(options, discriminator))
    return game, Noise.from_options(options)


def real_batches(count: int = 3, colors: int = 3):
    torch.manual_seed(1)
    return [(torch.rand(4, colors, 8, 8) * 2 - 1, torch.zeros(4, dtype=torch.long))
            for _ in range(count)]


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


@pytest.mark.parametrize('network, loss', NETWORKS)
@pytest.mark.parametrize('precision', list(PRECISIONS))
def test_each_precision_trains_with_finite_losses_and_fp32_weights(precision, network, loss):
    game, noise = tiny_game(precision=precision, generator=network, discriminator=network,
                            loss=loss, discriminator_iterations=1)
    before = snapshot(game.generator)
    losses = game.run_epoch(real_batches(), noise)
    assert set(losses) == {'generator', 'discriminator'}
    assert all(torch.isfinite(torch.tensor(value)) for value in losses.values()), losses
    for model in (game.generator, game.discriminator):
        assert all(p.dtype == torch.float32 and torch.isfinite(p).all()
                   for p in model.parameters())
    assert any(not torch.equal(before[name], tensor)
               for name, tensor in game.generator.state_dict().items())


def test_bf16_losses_stay_close_to_fp32():
    """Same weights, same data, same noise: bf16 autocast changes the losses by
    rounding only."""
    results = {}
    for precision in ('fp32', 'bf16'):
        game, noise = tiny_game(precision=precision)
        torch.manual_seed(2)
        results[precision] = game.run_epoch(real_batches(1), noise)
    for name, value in results['fp32'].items():
        assert results['bf16'][name] == pytest.approx(value, abs=0.05)


@pytest.mark.parametrize('network, loss', NETWORKS)
def test_channels_last_gives_the_same_training(network, loss):
    results = {}
    for channels_last in (False, True):
        game, noise = tiny_game(channels_last=channels_last, generator=network,
                                discriminator=network, loss=loss)
        torch.manual_seed(2)
        results[channels_last] = game.run_epoch(real_batches(), noise), game
    (plain, _), (last, last_game) = results[False], results[True]
    assert last == pytest.approx(plain, rel=1e-4, abs=1e-5)
    convolutions = [p for p in last_game.discriminator.parameters() if p.dim() == 4]
    assert convolutions and all(p.is_contiguous(memory_format=torch.channels_last)
                                for p in convolutions)


def test_fp16_uses_a_gradient_scaler_that_is_checkpointed():
    game, noise = tiny_game(precision='fp16')
    assert all(scaler.is_enabled() for scaler in game.scalers.values())
    game.run_epoch(real_batches(), noise)
    state = game.state_dict()
    assert state['scalers']['generator']['scale'] > 0
    state['scalers']['generator']['scale'] = 1024.0
    restored, _ = tiny_game(precision='fp16')
    restored.load_state_dict(state)
    assert restored.scalers['generator'].get_scale() == 1024.0
    fp32, _ = tiny_game()
    assert not any(scaler.is_enabled() for scaler in fp32.scalers.values())
    fp32.load_state_dict(state)  # a run may continue in another precision


def test_compile_trains_and_leaves_a_twice_differentiated_critic_alone():
    """torch.compile cannot differentiate twice, which the WGAN-GP penalty needs:
    the generator is compiled, the critic runs eagerly."""
    game, noise = tiny_game(compile=True, generator='fc', discriminator='fc', loss='wgan-gp',
                            precision='bf16')
    keys = set(game.generator.state_dict())
    losses = game.run_epoch(real_batches(2), noise)
    assert all(torch.isfinite(torch.tensor(value)) for value in losses.values()), losses
    assert game.generator._compiled_call_impl is not None
    assert game.discriminator._compiled_call_impl is None
    assert set(game.generator.state_dict()) == keys  # checkpoints keep their names


def test_batches_move_to_the_device_in_the_memory_format():
    acceleration = Acceleration(tiny_options())
    images = acceleration.to_device(torch.zeros(2, 3, 4, 4))
    assert images.is_contiguous(memory_format=torch.channels_last)
    assert acceleration.to_device(torch.zeros(2)).shape == (2,)
    assert not Acceleration(tiny_options(channels_last=False)).to_device(
        torch.zeros(2, 3, 4, 4)).is_contiguous(memory_format=torch.channels_last)


def test_ganzo_command_with_every_speed_up(image_folder, tmp_path):
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path, precision='bf16',
                                       cache_images=True, loader_workers=1, log='file'))
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / 'tiny' / 'statistics.log').read_text().splitlines()
    losses = [json.loads(line) for line in lines]
    assert len(losses) == 2
    assert all(torch.isfinite(torch.tensor(entry[name])) for entry in losses
               for name in ('generator', 'discriminator'))
    options = json.loads((tmp_path / 'tiny' / 'options.json').read_text())
    assert options['precision'] == 'bf16' and options['cache_images'] is True


def test_unknown_precision_is_a_user_error(image_folder, tmp_path):
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path), '--precision', 'fp8')
    assert_user_error(result, '--precision', 'fp8')
    assert not (tmp_path / 'tiny').exists()
