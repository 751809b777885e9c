"""Losses of the generator and the discriminator.

They are coupled because the generator's loss needs the discriminator. A loss
holds the discriminator and exposes::

    for_generator(fake_data, labels=None) -> scalar tensor
    for_discriminator(real_data, fake_data, labels=None) -> scalar tensor

where the data are ``B x C x H x W`` batches and the discriminator returns logits
(of any shape: ``patch-gan`` scores patches). In the ``translate`` game the data
are (input, image) pairs stacked on the channels and the labels are the targets.
In a conditional run (``--conditional``) the labels ``B`` are the classes of
both the real and the generated data, and the losses give them to the
discriminator (``DiscriminatorLoss.scores``): every loss here serves every kind
of run but pix2pix (translation only). A discriminator with an auxiliary
classifier (``--discriminator-conditioning auxiliary``) gets its classification
loss added to any loss by ``AuxiliaryClassifierLoss`` (``Loss.from_options``).

A loss may ask for hooks with a class attribute ``hooks``, by model: ``wgan``
has ``{'discriminator': ('weight-clipper',)}``. The models get them unless
``--generator-hooks`` or ``--discriminator-hooks`` is given (see ``ganzo.hook``).
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganzo.distributed import unwrapped
from ganzo.kind import DESCRIPTIONS, kind_of
from ganzo.options import (
    Factory,
    complete,
    component_option,
    non_negative_float,
    owned_by,
    probability,
)
from ganzo.registry import register


class Loss(Factory, namespace='loss'):
    """Builds the loss named by --loss: it holds the discriminator and computes
    both players' losses (see ``ganzo.contracts.Loss``)."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        if not train:
            return
        group = parser.add_argument_group('loss')
        component_option(group, 'loss', 'loss function: gan (the non-saturating GAN loss), '
                         'wgan, wgan-gp, hinge, least-squares, relativistic, pix2pix')
        owned_by(group.add_argument(
            '--gradient-penalty-factor', '--gradient-penalty', type=non_negative_float,
            default=10.0,
            help='wgan-gp: weight λ of the gradient penalty (default: %(default)s)'),
            'loss', 'wgan-gp')
        for action in (
            group.add_argument('--soft-labels', action=argparse.BooleanOptionalAction,
                               default=False, help='gan: draw the real labels from [0.9, 1] '
                               'and the fake ones from [0, 0.1] (default: off)'),
            group.add_argument('--noisy-labels', action=argparse.BooleanOptionalAction,
                               default=False, help='gan: swap real and fake labels of some '
                               'samples for the discriminator (default: off)'),
            group.add_argument('--noisy-labels-frequency', type=probability, default=0.1,
                               help='gan: probability that a sample has its label swapped '
                               '(default: %(default)s)')):
            owned_by(action, 'loss', 'gan', 'pix2pix')
        owned_by(group.add_argument(
            '--relativistic-form', choices=('standard', 'hinge'), default='standard',
            help='relativistic: the logistic (RaSGAN) or the hinge (RaHingeGAN) form '
            '(default: %(default)s)'), 'loss', 'relativistic')
        owned_by(group.add_argument('--l1-weight', type=non_negative_float, default=100.0,
                                    help='pix2pix: weight of the L1 distance to the target '
                                    '(default: %(default)s)'), 'loss', 'pix2pix')

    @classmethod
    def from_options(cls, options: argparse.Namespace, discriminator: nn.Module) -> Any:
        """The loss of ``--loss``; with a discriminator that has an auxiliary
        classifier (``classifies``), wrapped in ``AuxiliaryClassifierLoss``."""
        loss = super().from_options(options, discriminator)
        if getattr(unwrapped(discriminator), 'classifies', False):
            loss = AuxiliaryClassifierLoss(loss, discriminator,
                                           complete(options).auxiliary_weight)
        return loss


class DiscriminatorLoss:
    """Base of the losses here: holds the discriminator, and ``scores(data,
    labels)`` calls it, with the labels in a conditional run. Serves every kind
    of run (``kinds``): a loss that calls the discriminator itself, without
    ``scores``, must not say so (it would not give it the labels)."""

    kinds = frozenset(DESCRIPTIONS)

    def __init__(self, options: argparse.Namespace, discriminator: nn.Module) -> None:
        self.discriminator = discriminator
        self.kind = kind_of(options)

    def scores(self, data: torch.Tensor, labels: Any = None) -> torch.Tensor:
        """The discriminator's logits for ``data``, of the classes ``labels`` in a
        conditional run."""
        return self.discriminator(data, *self.kind.condition(labels))


class AuxiliaryClassifierLoss:
    """ACGAN (Odena et al. 2017, https://arxiv.org/abs/1610.09585) on top of
    any loss: for a discriminator with an auxiliary classifier (``classify(images)``,
    class logits ``B x K``), ``weight`` (``--auxiliary-weight``) times the
    cross-entropy of the class of the real images is added to the
    discriminator's loss, and of the class of the generated images to the
    generator's, so that the generator makes images of the requested classes.
    (The discriminator learns to classify the real images only, as in most
    implementations since; the classifier runs in a second pass of the
    discriminator.) The other attributes are those of the wrapped ``loss``."""

    def __init__(self, loss: Any, discriminator: nn.Module, weight: float) -> None:
        self.loss, self.discriminator, self.weight = loss, discriminator, weight

    def __getattr__(self, name: str) -> Any:  # hooks, double_backward... of the loss
        return getattr(self.__dict__['loss'], name)

    def classification(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = unwrapped(self.discriminator).classify(images)
        return self.weight * F.cross_entropy(logits.float(), labels)

    def for_generator(self, fake_data: torch.Tensor, labels=None) -> torch.Tensor:
        return (self.loss.for_generator(fake_data, labels)
                + self.classification(fake_data, labels))

    def for_discriminator(self, real_data: torch.Tensor, fake_data: torch.Tensor,
                          labels=None) -> torch.Tensor:
        return (self.loss.for_discriminator(real_data, fake_data, labels)
                + self.classification(real_data, labels))


@register('loss', 'gan', default=True)
class GANLoss(DiscriminatorLoss):
    """The loss of Goodfellow et al. 2014 (https://arxiv.org/abs/1406.2661):
    binary cross-entropy on the discriminator's logits, with the
    non-saturating generator loss ``-log D(G(z))``. Optionally soft labels
    (real in [0.9, 1], fake in [0, 0.1]) and noisy labels (a fraction of the
    discriminator's labels swapped)."""

    def __init__(self, options: argparse.Namespace, discriminator: nn.Module) -> None:
        super().__init__(options, discriminator)
        options = complete(options)
        self.soft_labels = options.soft_labels
        self.noisy_labels = options.noisy_labels
        self.noisy_labels_frequency = options.noisy_labels_frequency

    def for_generator(self, fake_data: torch.Tensor, labels=None) -> torch.Tensor:
        logits = self.scores(fake_data, labels)
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))

    def for_discriminator(self, real_data: torch.Tensor, fake_data: torch.Tensor,
                          labels=None) -> torch.Tensor:
        real_logits = self.scores(real_data, labels)
        fake_logits = self.scores(fake_data, labels)
        real_targets, fake_targets = self._targets(real_logits), 1 - self._targets(fake_logits)
        if self.noisy_labels:
            swap = torch.rand_like(real_targets) < self.noisy_labels_frequency
            real_targets, fake_targets = (torch.where(swap, fake_targets, real_targets),
                                          torch.where(swap, real_targets, fake_targets))
        return (F.binary_cross_entropy_with_logits(real_logits, real_targets)
                + F.binary_cross_entropy_with_logits(fake_logits, fake_targets))

    def _targets(self, logits: torch.Tensor) -> torch.Tensor:
        """Labels of real samples: 1, or uniform in [0.9, 1] with soft labels."""
        if self.soft_labels:
            return 1 - 0.1 * torch.rand_like(logits)
        return torch.ones_like(logits)


@register('loss', 'wgan')
class WGANLoss(DiscriminatorLoss):
    """The Wasserstein loss of Arjovsky et al. 2017 (https://arxiv.org/abs/1701.07875):
    the critic maximises ``D(real) - D(fake)``, the generator ``D(fake)``. The
    critic is kept Lipschitz by weight clipping (``weight-clipper``, ``--clip-to``),
    unless ``--discriminator-hooks`` chooses other hooks (given alone: none)."""

    hooks = {'discriminator': ('weight-clipper',)}

    def for_generator(self, fake_data: torch.Tensor, labels=None) -> torch.Tensor:
        return -self.scores(fake_data, labels).mean()

    def for_discriminator(self, real_data: torch.Tensor, fake_data: torch.Tensor,
                          labels=None) -> torch.Tensor:
        return self.scores(fake_data, labels).mean() - self.scores(real_data, labels).mean()


@register('loss', 'wgan-gp')
class WGANGPLoss(WGANLoss):
    """WGAN with the gradient penalty of Gulrajani et al. 2017
    (https://arxiv.org/abs/1704.00028) instead of weight clipping:
    ``λ E[(|∇D(x̂)| - 1)²]`` on random interpolates ``x̂`` of real and fake data
    (of the same classes, in a conditional run)."""

    double_backward = True  # the penalty is differentiated: torch.compile cannot do it
    penalizes_gradients = True  # the regularizers r1 and r2 would do it twice
    hooks: dict = {}  # the penalty replaces weight clipping

    def __init__(self, options: argparse.Namespace, discriminator: nn.Module) -> None:
        super().__init__(options, discriminator)
        self.gradient_penalty_factor = complete(options).gradient_penalty_factor

    def for_discriminator(self, real_data: torch.Tensor, fake_data: torch.Tensor,
                          labels=None) -> torch.Tensor:
        return (super().for_discriminator(real_data, fake_data, labels)
                + self.gradient_penalty_factor
                * self.gradient_penalty(real_data, fake_data, labels))

    def gradient_penalty(self, real_data: torch.Tensor, fake_data: torch.Tensor,
                         labels=None) -> torch.Tensor:
        weight = torch.rand(real_data.shape[0], *[1] * (real_data.dim() - 1),
                            device=real_data.device, dtype=real_data.dtype)
        interpolates = torch.lerp(fake_data.detach(), real_data.detach(), weight)
        interpolates.requires_grad_(True)
        scores = self.scores(interpolates, labels)
        gradients, = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
        return ((gradients.flatten(1).norm(dim=1) - 1) ** 2).mean()


@register('loss', 'hinge')
class HingeLoss(WGANLoss):
    """The hinge loss (Lim & Ye 2017, https://arxiv.org/abs/1705.02894; Miyato et
    al. 2018, https://arxiv.org/abs/1802.05957, SNGAN): the discriminator
    minimises ``E[max(0, 1 - D(real))] + E[max(0, 1 + D(fake))]``, the generator
    ``-E[D(fake)]`` (as in WGAN)."""

    hooks: dict = {}  # no weight clipping: the loss's margin bounds the critic

    def for_discriminator(self, real_data: torch.Tensor, fake_data: torch.Tensor,
                          labels=None) -> torch.Tensor:
        return (F.relu(1 - self.scores(real_data, labels)).mean()
                + F.relu(1 + self.scores(fake_data, labels)).mean())


@register('loss', 'least-squares')
class LeastSquaresLoss(DiscriminatorLoss):
    """The loss of LSGAN (Mao et al. 2017, https://arxiv.org/abs/1611.04076),
    with the labels 0 (fake) and 1 (real): the discriminator minimises
    ``(E[(D(real) - 1)²] + E[D(fake)²]) / 2``, the generator ``E[(D(fake) - 1)²] / 2``."""

    def for_generator(self, fake_data: torch.Tensor, labels=None) -> torch.Tensor:
        return (self.scores(fake_data, labels) - 1).pow(2).mean() / 2

    def for_discriminator(self, real_data: torch.Tensor, fake_data: torch.Tensor,
                          labels=None) -> torch.Tensor:
        return ((self.scores(real_data, labels) - 1).pow(2).mean()
                + self.scores(fake_data, labels).pow(2).mean()) / 2


@register('loss', 'relativistic')
class RelativisticLoss(DiscriminatorLoss):
    """The relativistic average loss (Jolicoeur-Martineau 2018,
    https://arxiv.org/abs/1807.00734): the discriminator judges how much more
    real a real image is than the average fake one, ``D(real) - E[D(fake)]``, and
    the reverse for fakes, ``D(fake) - E[D(real)]``; the generator plays the
    same game with the roles swapped. ``--relativistic-form standard`` (RaSGAN)
    puts these through the logistic loss, ``hinge`` (RaHingeGAN) through the hinge.

    The generator's loss needs real images too: it uses those of the last
    ``for_discriminator`` call (the batch of the discriminator step that the
    game's generator step follows, with its labels), scored by the current
    discriminator."""

    def __init__(self, options: argparse.Namespace, discriminator: nn.Module) -> None:
        super().__init__(options, discriminator)
        self.form = complete(options).relativistic_form
        self.real_data: torch.Tensor | None = None
        self.real_labels: Any = None

    def for_generator(self, fake_data: torch.Tensor, labels=None) -> torch.Tensor:
        if self.real_data is None:
            raise RuntimeError('the relativistic loss compares with real images: call '
                               'for_discriminator before for_generator')
        real_logits = self.scores(self.real_data, self.real_labels)
        return self._loss(self.scores(fake_data, labels), real_logits)

    def for_discriminator(self, real_data: torch.Tensor, fake_data: torch.Tensor,
                          labels=None) -> torch.Tensor:
        self.real_data, self.real_labels = real_data.detach(), labels
        return self._loss(self.scores(real_data, labels), self.scores(fake_data, labels))

    def _loss(self, winning: torch.Tensor, losing: torch.Tensor) -> torch.Tensor:
        """The loss of the player who wants ``winning`` logits to look more real
        than the average ``losing`` one, and ``losing`` ones less real than the
        average ``winning`` one."""
        ahead, behind = winning - losing.mean(), losing - winning.mean()
        if self.form == 'hinge':
            return F.relu(1 - ahead).mean() + F.relu(1 + behind).mean()
        return (F.binary_cross_entropy_with_logits(ahead, torch.ones_like(ahead))
                + F.binary_cross_entropy_with_logits(behind, torch.zeros_like(behind)))


@register('loss', 'pix2pix')
class Pix2PixLoss(GANLoss):
    """The loss of pix2pix (Isola et al. 2017, https://arxiv.org/abs/1611.07004)
    for the ``translate`` game, where the data are (input, image) pairs stacked
    on the channels, ``B x (I + C) x H x W``, and the labels are the targets
    ``B x C x H x W``: the GAN loss (``gan``, with its options), halved for the
    discriminator as in the paper, plus for the generator ``--l1-weight`` times
    the mean L1 distance between its images (the last ``C`` channels of
    ``fake_data``) and the targets. Marked ``translation = True``."""

    translation = True

    def __init__(self, options: argparse.Namespace, discriminator: nn.Module) -> None:
        super().__init__(options, discriminator)
        self.l1_weight = complete(options).l1_weight

    def for_generator(self, fake_data: torch.Tensor, labels=None,
                      generated: torch.Tensor | None = None) -> torch.Tensor:
        """``generated``: the pairs before the augmentation of what the
        discriminator sees (``--augment``), whose images the L1 distance takes
        (default: ``fake_data``)."""
        images = (fake_data if generated is None else generated)[:, -labels.shape[1]:]
        return super().for_generator(fake_data) + self.l1_weight * F.l1_loss(images, labels)

    def for_discriminator(self, real_data: torch.Tensor, fake_data: torch.Tensor,
                          labels=None) -> torch.Tensor:
        return super().for_discriminator(real_data, fake_data, labels) / 2
