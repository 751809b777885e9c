"""Template of a regularizer of the discriminator (registry namespace
``regularizer``, chosen with ``--regularizers``).

A regularizer is built as ``Regularizer(options, discriminator)`` and called at
each discriminator step with the real and generated batches ``B x C x H x W``
that the loss saw; it returns a scalar penalty that is added to the
discriminator's loss, or None to skip the step (``ganzo.contracts.Regularizer``).
Subclassing ``ganzo.regularizer.Regularizer`` gives lazy regularization
(``--regularize-every``) and a checkpointed count of steps: write ``penalty``.
This one is the drift penalty of ProGAN (Karras et al. 2018,
https://arxiv.org/abs/1710.10196), ``epsilon E[D(real)²]``, which keeps the
scores of a Wasserstein critic near 0.
"""

import argparse

import torch

from ganzo.options import complete, positive_float
from ganzo.registry import register
from ganzo.regularizer import Regularizer


@register('regularizer', 'my-regularizer')
class MyRegularizer(Regularizer):
    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        """Its options, registered because the class defines ``add_options``
        (``ganzo.options.Factory``); only for training."""
        if train:
            parser.add_argument_group('my-regularizer').add_argument(
                '--my-regularizer-epsilon', type=positive_float, default=0.001,
                help='my-regularizer: weight of the drift penalty (default: %(default)s)')

    def __init__(self, options: argparse.Namespace, discriminator: torch.nn.Module) -> None:
        super().__init__(options, discriminator)
        self.epsilon = complete(options).my_regularizer_epsilon

    def penalty(self, real_data: torch.Tensor, fake_data: torch.Tensor) -> torch.Tensor:
        return self.epsilon * self.discriminator(real_data).pow(2).mean()
