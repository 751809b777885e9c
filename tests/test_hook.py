"""Hooks: weight clipping, and the moving average of the generator's weights."""

from argparse import Namespace

import pytest
import torch
from torch import nn

from conftest import tiny_arguments
from ganzo.errors import GanzoError
from ganzo.hook import Hook, MovingAverage, WeightClipper, moving_average
from ganzo.options import complete, parse


def test_weight_clipper_clamps_every_weight():
    model = nn.Linear(10, 10)
    with torch.no_grad():
        model.weight.mul_(100)
    WeightClipper(Namespace(clip_to=0.05))(model)
    for parameter in model.parameters():
        assert parameter.abs().max() <= 0.05


def test_hooks_are_selected_per_model():
    options = complete(discriminator_hooks=['weight-clipper'])
    assert [type(h) for h in Hook.from_options(options, 'discriminator')] == [WeightClipper]
    assert Hook.from_options(options, 'generator') == []


def hook_types(*arguments, model='discriminator'):
    return [type(hook) for hook in Hook.from_options(parse(list(arguments)), model)]


def test_wgan_clips_the_critic_unless_other_hooks_are_chosen():
    assert hook_types('--loss', 'wgan') == [WeightClipper]  # the WGAN of the paper
    assert hook_types('--loss', 'wgan', model='generator') == []
    assert hook_types('--loss', 'wgan', '--discriminator-hooks') == []  # turned off
    assert hook_types('--loss', 'wgan-gp') == []  # the penalty instead of clipping
    assert hook_types('--loss', 'gan') == []
    assert hook_types('--loss', 'wgan-gp', '--discriminator-hook', 'weight-clipper') == [
        WeightClipper]  # the original Ganzo's spelling


def test_the_clipping_of_wgan_trains_with_clip_to(image_folder, tmp_path):
    from ganzo.train import main
    main(tiny_arguments(image_folder, tmp_path, loss='wgan', clip_to=0.003))
    checkpoint = torch.load(tmp_path / 'tiny' / 'checkpoint.pt', weights_only=True)
    weights = torch.cat([tensor.flatten() for name, tensor in checkpoint['discriminator'].items()
                         if name.endswith(('weight', 'bias'))])  # not the batch statistics
    assert weights.abs().max() <= 0.003
    assert checkpoint['generator']['layers.0.weight'].abs().max() > 0.003
def linear():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))


def test_the_moving_average_after_3_steps_is_the_hand_computed_one():
    model = linear()
    average = MovingAverage(complete(ema_decay=0.9), model)
    expected = None
    for _ in range(3):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter))
        model(torch.randn(4, 3))  # the batch norm statistics change
        average(model)
        weights = [p.detach().clone() for p in model.parameters()]  # the first step: copied
        expected = weights if expected is None else [
            0.9 * e + 0.1 * w for e, w in zip(expected, weights)]
    for averaged, value in zip(average.model.parameters(), expected):
        assert torch.allclose(averaged, value, atol=1e-6)
    assert not any(torch.equal(a, p) for a, p in zip(average.model.parameters(),
                                                     model.parameters()))
    for averaged, buffer in zip(average.model.buffers(), model.buffers()):
        assert torch.equal(averaged, buffer)  # buffers are copied, not averaged
    assert not average.model.training
    assert not any(p.requires_grad for p in average.model.parameters())


def test_before_its_start_the_average_is_the_weights():
    model = linear()
    average = MovingAverage(complete(ema_decay=0.5, ema_start=2), model)
    for step in range(3):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(1)
        before = [p.clone() for p in average.model.parameters()]
        average(model)
        for averaged, previous, weights in zip(average.model.parameters(), before,
                                               model.parameters()):
            expected = weights if step < 2 else (previous + weights) / 2
            assert torch.allclose(averaged, expected)


def test_the_moving_average_state_round_trips():
    model = linear()
    average = MovingAverage(complete(ema_decay=0.9), model)
    with torch.no_grad():
        model[0].weight.add_(1)
    average(model)
    other = MovingAverage(complete(ema_decay=0.9), linear())
    other.load_state_dict(average.state_dict())
    assert other.steps == 1
    assert all(torch.equal(a, b) for a, b in zip(other.model.state_dict().values(),
                                                 average.model.state_dict().values()))


def test_the_moving_average_is_a_generator_hook_only_with_ema_decay():
    model = linear()
    assert Hook.from_options(complete(), 'generator', model) == []
    hooks = Hook.from_options(complete(ema_decay=0.99), 'generator', model)
    assert [type(hook) for hook in hooks] == [MovingAverage] and moving_average(hooks)
    assert Hook.from_options(complete(ema_decay=0.99), 'discriminator', model) == []


@pytest.mark.parametrize('value', ['0', '1', '1.5', '-0.1', 'nan'])
def test_ema_decay_must_be_in_the_open_unit_interval(value):
    with pytest.raises(GanzoError, match='--ema-decay'):
        parse(['--ema-decay', value])
