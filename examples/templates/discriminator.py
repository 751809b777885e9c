"""Template of a discriminator (registry namespace ``discriminator``, ``--discriminator``).

An ``nn.Module`` built from the options, mapping images ``B x C x H x W`` to
logits ``B`` (no sigmoid: the losses apply what they need). The options
``--discriminator-layers``, ``-channels`` and ``-dropout`` are there for every
discriminator. This one is a small MLP.

To serve conditional runs (``--conditional``) too, declare ``kinds =
{'generation', 'conditional'}`` and take the labels ``B`` after the images,
``forward(images, labels)``; ``ganzo.conditional`` has the layers of the
concatenation, projection and auxiliary classifier to reuse.
"""

import argparse

import torch
from torch import nn

from ganzo.options import complete
from ganzo.registry import register


@register('discriminator', 'my-discriminator')
class MyDiscriminator(nn.Module):
    """Flatten, a Linear layer, LeakyReLU, a Linear layer to one logit."""

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        super().__init__()
        width = 8 * options.discriminator_channels
        self.layers = nn.Sequential(
            nn.Flatten(), nn.Linear(options.image_colors * options.image_size ** 2, width),
            nn.LeakyReLU(0.2), nn.Linear(width, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images).view(-1)
