from argparse import Namespace

import torch
from torch import nn

from ganzo.hook import Hook, WeightClipper
from ganzo.options import complete


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
