from argparse import Namespace

import torch
from torch import nn

from conftest import tiny_arguments
from ganzo.hook import Hook, WeightClipper
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
