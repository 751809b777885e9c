"""Regularizers of the discriminator: penalties added to its loss, whatever the
loss (``--regularizers r1 r2``).

A regularizer is built as ``Regularizer(options, discriminator)`` and called
as ``regularizer(real_data, fake_data)`` at each discriminator step, with the
``B x C x H x W`` batches that the loss saw (and ``labels=`` their classes, if
it takes them); it returns the penalty to add (a scalar tensor), or None at the
steps it skips (``ganzo.contracts.Regularizer``). Like losses, regularizers
serve a conditional run only if they say so (``kinds``): they must give the
discriminator the labels, as ``r1`` and ``r2`` do.
Its ``state_dict`` keeps its count of steps, so that lazy regularization
continues exactly after a restore.
WGAN-GP's own gradient penalty stays in its loss (``--loss wgan-gp``), which
these gradient penalties would duplicate: the two are refused together.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from ganzo.contracts import call
from ganzo.errors import GanzoError
from ganzo.kind import DESCRIPTIONS, kind_of
from ganzo.options import Factory, complete, non_negative_float, owned_by, positive_int
from ganzo.registry import Registry, register


class Regularizer(Factory, namespace='regularizer'):
    """Builds the regularizers named by ``--regularizers``, and is their base:
    every ``--regularize-every`` discriminator steps (lazy regularization, Karras
    et al. 2020, https://arxiv.org/abs/1912.04958) it returns ``every`` times
    the ``penalty`` of the batches, so that the penalty keeps its weight on
    average; None at the other steps. Subclasses write ``penalty``."""

    double_backward = False  # whether the penalty differentiates the discriminator

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        if not train:
            return
        group = parser.add_argument_group('regularizer')
        names = Registry.names('regularizer')
        group.add_argument('--regularizers', nargs='*', default=[], metavar='NAME',
                           choices=names, help='penalties added to the discriminator\'s loss, '
                           f'among {", ".join(names)} (default: none)')
        owned_by(group.add_argument(
            '--r1-gamma', type=non_negative_float, default=10.0,
            help='r1: weight gamma of the gradient penalty on real images (default: '
            '%(default)s)'), 'regularizers', 'r1')
        owned_by(group.add_argument(
            '--r2-gamma', type=non_negative_float, default=10.0,
            help='r2: weight gamma of the gradient penalty on generated images (default: '
            '%(default)s)'), 'regularizers', 'r2')
        owned_by(group.add_argument(
            '--regularize-every', type=positive_int, default=1, metavar='STEPS',
            help='r1, r2: compute the penalty every this many discriminator steps, times '
            'STEPS (lazy regularization; default: %(default)s, every step)'),
            'regularizers', 'r1', 'r2')

    @classmethod
    def from_options(cls, options: argparse.Namespace, discriminator: nn.Module) -> list:
        """The regularizers of ``--regularizers``, in order."""
        options = complete(options)
        return [Registry.build('regularizer', name, options, discriminator)
                for name in options.regularizers]

    def __init__(self, options: argparse.Namespace, discriminator: nn.Module) -> None:
        self.discriminator = discriminator
        self.every = complete(options).regularize_every
        self.steps = 0

    def __call__(self, real_data: torch.Tensor, fake_data: torch.Tensor,
                 labels: torch.Tensor | None = None) -> torch.Tensor | None:
        due = self.steps % self.every == 0
        self.steps += 1
        return self.every * call(self.penalty, real_data, fake_data, labels=labels) if due \
            else None

    def penalty(self, real_data: torch.Tensor, fake_data: torch.Tensor) -> torch.Tensor:
        """The penalty (a scalar tensor) of the real and generated batches ``B x C x H x W``
        (a subclass may take ``labels=None`` too: their classes, in a conditional run)."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {'steps': self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.steps = state['steps']


class GradientPenalty(Regularizer):
    """``gamma / 2 x E[|grad_x D(x)|²]`` on the real images (``on_real``) or the
    generated ones, ``gamma`` the option named ``gamma_option``. Refused with a
    loss that penalizes the gradients itself (``penalizes_gradients``: ``wgan-gp``)."""

    double_backward = True  # torch.compile cannot differentiate twice
    kinds = frozenset(DESCRIPTIONS)  # gives the discriminator the labels of a conditional run
    gamma_option: str
    on_real: bool

    def __init__(self, options: argparse.Namespace, discriminator: nn.Module) -> None:
        options = complete(options)
        name = next((name for name in options.regularizers
                     if Registry.get('regularizer', name) is type(self)), type(self).__name__)
        if getattr(Registry.get('loss', options.loss), 'penalizes_gradients', False):
            raise GanzoError(f'--regularizers {name}: --loss {options.loss} already penalizes '
                             "the discriminator's gradients; use another loss (such as wgan or "
                             f'hinge) with {name}, or leave {name} out')
        super().__init__(options, discriminator)
        self.gamma = getattr(options, self.gamma_option)
        self.kind = kind_of(options)

    def penalty(self, real_data: torch.Tensor, fake_data: torch.Tensor,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        images = (real_data if self.on_real else fake_data).detach().requires_grad_(True)
        scores = self.discriminator(images, *self.kind.condition(labels))
        gradients, = torch.autograd.grad(scores.sum(), images, create_graph=True)
        return self.gamma / 2 * gradients.pow(2).flatten(1).sum(1).mean()


@register('regularizer', 'r1')
class R1(GradientPenalty):
    """R1 (Mescheder et al. 2018, https://arxiv.org/abs/1801.04406): the gradient
    penalty on real images, ``--r1-gamma / 2 x E[|grad_x D(x)|²]``."""

    gamma_option, on_real = 'r1_gamma', True


@register('regularizer', 'r2')
class R2(GradientPenalty):
    """R2 (Mescheder et al. 2018, https://arxiv.org/abs/1801.04406): the gradient
    penalty on generated images, ``--r2-gamma / 2 x E[|grad_x D(x)|²]``."""

    gamma_option, on_real = 'r2_gamma', False
