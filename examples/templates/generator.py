"""Template of a generator (registry namespace ``generator``, ``--generator``).

An ``nn.Module`` built from the options, mapping noise ``B x Z`` (``Z =
--state-size``) to images ``B x C x H x W`` (``C = --image-colors``, ``H = W =
--image-size``) in [-1, 1]. The options ``--generator-layers``,
``--generator-channels`` and ``--generator-dropout`` are there for every
generator. A generator that translates images instead declares
``translation = True`` and takes ``B x I x H x W`` images
(``ganzo.kind.kind_of(options).input_colors``). One that serves conditional
runs (``--conditional``) too declares ``kinds = {'generation', 'conditional'}``
and takes the labels ``B`` after the noise, ``forward(noise, labels)`` (their
number: ``len(kind_of(options).classes)``; ``ganzo.conditional`` has the
layers to reuse). This one is a small MLP.
"""

import argparse

import torch
from torch import nn

from ganzo.options import complete
from ganzo.registry import register


@register('generator', 'my-generator')
class MyGenerator(nn.Module):
    """Two Linear layers with a ReLU between them, then tanh."""

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        super().__init__()
        self.shape = (options.image_colors, options.image_size, options.image_size)
        width = 8 * options.generator_channels
        self.layers = nn.Sequential(
            nn.Linear(options.state_size, width), nn.ReLU(),
            nn.Linear(width, options.image_colors * options.image_size ** 2), nn.Tanh())

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.layers(noise).view(-1, *self.shape)
