"""Template of a differentiable augmentation (registry namespace
``augmentation``, chosen with ``--augment``, names separated by commas).

An augmentation is built as ``Augmentation(options)`` and called on a batch of
images ``B x C x H x W`` in [-1, 1] (in translation, (input, image) pairs
stacked on the channels); it returns a batch of the same shape
(``ganzo.contracts.Augmentation``). The games apply it to real and generated
images before the discriminator sees them, so it must be differentiable (the
generator learns through it) and draw its randomness per image from torch's
generator (checkpoints keep its state). This one flips each image left-right
with probability ``--my-augmentation-probability``.
"""

import argparse

import torch

from ganzo.options import complete, probability
from ganzo.registry import register, with_option_parser


@with_option_parser
def add_my_augmentation_options(parser: argparse.ArgumentParser, train: bool) -> None:
    if train:
        parser.add_argument_group('my-augmentation').add_argument(
            '--my-augmentation-probability', type=probability, default=0.5,
            help='my-augmentation: probability of flipping an image (default: %(default)s)')


@register('augmentation', 'my-augmentation')
class MyAugmentation:
    def __init__(self, options: argparse.Namespace) -> None:
        self.probability = complete(options).my_augmentation_probability

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        flip = torch.rand(images.shape[0], 1, 1, 1, device=images.device) < self.probability
        return torch.where(flip, images.flip(3), images)
