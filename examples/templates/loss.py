"""Template of a loss (registry namespace ``loss``, chosen with ``--loss``).

A loss holds the discriminator and gives both players' losses as scalar
tensors (``ganzo.contracts.Loss``). The data are batches ``B x C x H x W`` (in
translation, (input, image) pairs stacked on the channels); ``labels`` are the
batch's labels (in translation, the targets). This one is the least-squares
loss of LSGAN; change the two methods.
"""

import argparse

import torch

from ganzo.options import complete, positive_float
from ganzo.registry import register, with_option_parser


@with_option_parser
def add_my_loss_options(parser: argparse.ArgumentParser, train: bool) -> None:
    """Options of the loss (only for training: ``deh`` has no loss)."""
    if train:
        group = parser.add_argument_group('my-loss')
        group.add_argument('--my-loss-target', type=positive_float, default=1.0,
                           help='my-loss: the score of real images (default: %(default)s)')


@register('loss', 'my-loss')
class MyLoss:
    """Least squares: the discriminator pulls real scores to ``--my-loss-target``
    and fake ones to 0, the generator pulls fake scores to the target."""

    def __init__(self, options: argparse.Namespace, discriminator: torch.nn.Module) -> None:
        self.discriminator = discriminator
        self.target = complete(options).my_loss_target  # complete: library users may omit it

    def for_generator(self, fake_data: torch.Tensor, labels=None) -> torch.Tensor:
        return ((self.discriminator(fake_data) - self.target) ** 2).mean()

    def for_discriminator(self, real_data: torch.Tensor, fake_data: torch.Tensor,
                          labels=None) -> torch.Tensor:
        return (((self.discriminator(real_data) - self.target) ** 2).mean()
                + (self.discriminator(fake_data) ** 2).mean())
