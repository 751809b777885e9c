"""Unpaired image-to-image translation: CycleGAN (Zhu et al. 2017,
https://arxiv.org/abs/1703.10593).

Two domains of images, A and B, with no pairs between them. Two generators,
G: A to B and F: B to A, held as one ``GeneratorPair``, and two discriminators,
D_A for images of A and D_B for images of B, held as one ``DiscriminatorPair``:
``Generator.from_options`` and ``Discriminator.from_options`` build the pairs
in a run of the kind ``unpaired-translation`` (``ganzo.kind``), so that the
training state, the best-model files, the snapshots, ``deh`` and the export
hold them as one generator and one discriminator, whose ``forward`` goes the
default way (G, and D_B, which judges G's images).

The ``cycle`` game trains them on batches ``(a, b)`` of the ``unpaired`` data
(``ganzo.data.unpaired``): each discriminator learns to tell the real images of
its domain from generated ones (shown through an ``ImagePool``), and both
generators learn together to fool them, to come back to the input after a
round trip (the cycle-consistency loss, ``cycle_consistency``) and to leave
alone an image already of their output domain (the identity loss).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from itertools import islice

import torch
import torch.nn.functional as F
from torch import nn

from ganzo.contracts import Losses, Progress
from ganzo.errors import GanzoError
from ganzo.game import RunningMeans, StandardGame
from ganzo.kind import UNPAIRED
from ganzo.options import complete, non_negative_float, non_negative_int, owned_by
from ganzo.registry import register, with_option_parser
from ganzo.regularizer import Regularizer

DOMAINS = ('a', 'b')


class GeneratorPair(nn.Module):
    """The two generators of unpaired translation: ``a_to_b`` (G) and ``b_to_a``
    (F), each mapping images ``B x C x H x W`` to images ``B x C x H x W``.
    ``forward(images, direction='a-to-b')`` translates with the one of
    ``direction``; by default G, so that the pair samples and exports as one
    generator of the run's direction."""

    def __init__(self, a_to_b: nn.Module, b_to_a: nn.Module) -> None:
        super().__init__()
        self.a_to_b, self.b_to_a = a_to_b, b_to_a

    def translator(self, direction: str) -> nn.Module:
        """The generator of ``direction``, 'a-to-b' or 'b-to-a'."""
        return {'a-to-b': self.a_to_b, 'b-to-a': self.b_to_a}[direction]

    def forward(self, images: torch.Tensor, direction: str = 'a-to-b') -> torch.Tensor:
        return self.translator(direction)(images)


class DiscriminatorPair(nn.Module):
    """The two discriminators of unpaired translation: ``a`` (D_A) judges images of
    domain A, ``b`` (D_B) images of B. ``forward(images, domain='b')`` gives the
    logits of the discriminator of ``domain``."""

    def __init__(self, a: nn.Module, b: nn.Module) -> None:
        super().__init__()
        self.a, self.b = a, b

    def forward(self, images: torch.Tensor, domain: str = 'b') -> torch.Tensor:
        return {'a': self.a, 'b': self.b}[domain](images)


class DomainDiscriminator(nn.Module):
    """The discriminator of one domain of a ``DiscriminatorPair`` (or of its
    distributed wrapper), as a loss or a regularizer sees it: ``forward(images)``
    gives the logits of ``domain``'s discriminator. (The cycle game augments
    what the discriminators see, ``--augment``, before it gets here, as the
    standard game does.)"""

    def __init__(self, discriminator: nn.Module, domain: str) -> None:
        super().__init__()
        self.discriminator, self.domain = discriminator, domain

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.discriminator(images, domain=self.domain)


class ImagePool:
    """A history of generated images (Shrivastava et al. 2017,
    https://arxiv.org/abs/1612.07828, as CycleGAN uses it), so that a
    discriminator also sees images of earlier generators. Until it holds
    ``size`` images, each new image is kept and shown; then, for each new image,
    with probability 1/2 an image of the pool, chosen uniformly, is shown and
    replaced there by the new one, and otherwise the new one is shown. Draws
    come from torch's global generator (saved in checkpoints); the pool's
    images are in ``state_dict``. ``size`` 0: no pool, the new images are shown."""

    def __init__(self, size: int, device: torch.device | str = 'cpu') -> None:
        self.size, self.device = size, device
        self.images: torch.Tensor | None = None  # N x C x H x W, N <= size

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """What the discriminator sees in place of ``images`` (``B x C x H x W``)."""
        images = images.detach()
        if self.size == 0:
            return images
        shown = []
        for image in images:
            held = 0 if self.images is None else len(self.images)
            if held < self.size:
                self.images = image[None].clone() if self.images is None else \
                    torch.cat([self.images, image[None]])
                shown.append(image)
            elif torch.rand(()) < 0.5:
                index = int(torch.randint(held, ()))
                shown.append(self.images[index].clone())
                self.images[index] = image
            else:
                shown.append(image)
        return torch.stack(shown)

    def state_dict(self) -> dict:
        return {'images': self.images}

    def load_state_dict(self, state: dict) -> None:
        images = state['images']
        self.images = None if images is None else images.to(self.device)


def cycle_consistency(generator: nn.Module, a: torch.Tensor, b: torch.Tensor,
                      fake_a: torch.Tensor, fake_b: torch.Tensor) -> torch.Tensor:
    """The cycle-consistency loss of CycleGAN: the mean L1 distance of
    ``F(G(a))`` to ``a`` plus that of ``G(F(b))`` to ``b``, all ``B x C x H x W``,
    where ``fake_b = G(a)`` and ``fake_a = F(b)`` and ``generator`` is a
    ``GeneratorPair`` (or its distributed wrapper)."""
    return (F.l1_loss(generator(fake_b, direction='b-to-a'), a)
            + F.l1_loss(generator(fake_a, direction='a-to-b'), b))


@with_option_parser
def add_cycle_options(parser: argparse.ArgumentParser, train: bool) -> None:
    if not train:
        return
    group = parser.add_argument_group('cycle game')
    for action in (
        group.add_argument('--cycle-weight', type=non_negative_float, default=10.0,
                           help='cycle: weight of the cycle-consistency loss, the mean L1 '
                           'distance of F(G(a)) to a plus that of G(F(b)) to b '
                           '(default: %(default)s)'),
        group.add_argument('--identity-weight', type=non_negative_float, default=0.5,
                           help='cycle: weight of the identity loss, the mean L1 distance of '
                           'G(b) to b plus that of F(a) to a, as a fraction of --cycle-weight '
                           '(default: %(default)s; 0 for none)'),
        group.add_argument('--pool-size', type=non_negative_int, default=50,
                           help='cycle: generated images kept for each discriminator, which '
                           'sees one of them in place of a new one half of the time once the '
                           'pool is full (default: %(default)s; 0 for no pool)')):
        owned_by(action, 'game', 'cycle')


@register('game', 'cycle')
class CycleGame(StandardGame):
    """The game of CycleGAN (Zhu et al. 2017, https://arxiv.org/abs/1703.10593) on
    batches ``(a, b)`` of images of the domains A and B, both ``B x C x H x W``,
    with a ``GeneratorPair`` (G: A to B, F: B to A) and a ``DiscriminatorPair``
    (D_A, D_B).

    For each batch, ``G(a)`` and ``F(b)`` are generated; then one discriminator
    step: each discriminator's loss (``--loss``, built once per domain) on the
    real images of its domain and the generated ones shown by its
    ``ImagePool`` (``--pool-size``), plus the regularizers of
    ``--regularizers``, both summed; then one generator step, the discriminators
    frozen: each generator's adversarial loss on the same generated images, plus
    ``--cycle-weight`` times the cycle-consistency loss (``cycle_consistency``),
    plus ``--identity-weight`` times ``--cycle-weight`` times the identity loss,
    the mean L1 distance of ``G(b)`` to ``b`` plus that of ``F(a)`` to ``a``.
    One Adam optimizer trains both generators and one both discriminators, as
    in CycleGAN, their rates decayed as ``--lr-decay-start`` says (CycleGAN
    decays them from its epoch 101 of 200). With ``--augment``, both
    discriminators see the real and the generated images (after the pool)
    through the augmentations, in both players' steps; the cycle and identity
    losses take the images themselves. With ``--ema-decay``, the moving average
    is of the ``GeneratorPair``: both generators are averaged. Reported losses:
    ``discriminator`` and ``generator`` (the sums that are minimised), and the
    unweighted ``cycle`` and ``identity``.

    Its defaults for the options not given are CycleGAN's (``defaults``):
    ``--data-format unpaired``, ``--generator resnet-translator``,
    ``--discriminator patch-gan`` with instance normalization, and
    ``--loss least-squares``, whose generator loss is half the paper's
    (``E[(D(G(a)) - 1)²] / 2``): with Adam, which does not depend on the scale of
    the loss, ``--cycle-weight 5`` weighs the terms as the paper's 10 does.
    """

    kind = UNPAIRED
    defaults = {'data_format': 'unpaired', 'generator': 'resnet-translator',
                'discriminator': 'patch-gan', 'discriminator_normalization': 'instance',
                'loss': 'least-squares'}

    def __init__(self, options: argparse.Namespace, generator: nn.Module,
                 discriminator: nn.Module, loss, hooks: dict[str, list] | None = None) -> None:
        options = complete(options)
        for option in ('generator_iterations', 'discriminator_iterations'):
            if getattr(options, option) != 1:
                raise GanzoError(f'--{option.replace("_", "-")} {getattr(options, option)}: '
                                 'the cycle game plays one discriminator step and one generator '
                                 'step per batch, as CycleGAN does: leave it out')
        super().__init__(options, generator, discriminator, loss, hooks)
        judges = {domain: DomainDiscriminator(discriminator, domain) for domain in DOMAINS}
        self.losses = {domain: type(loss)(options, judge) for domain, judge in judges.items()}
        self.domain_regularizers = {domain: Regularizer.from_options(options, judge)
                                    for domain, judge in judges.items()}
        self.regularizers = [regularizer for domain in DOMAINS
                             for regularizer in self.domain_regularizers[domain]]
        self.pools = {domain: ImagePool(options.pool_size, self.device) for domain in DOMAINS}
        self.cycle_weight = options.cycle_weight
        self.identity_weight = options.cycle_weight * options.identity_weight

    def run_epoch(self, data: Iterable, noise=None, progress: Progress | None = None) -> Losses:
        """Train on one epoch of ``data`` (batches ``(a, b)``); the mean of each
        loss over the epoch. ``noise`` is not used."""
        losses, images, started = RunningMeans(), 0, time.perf_counter()
        self.schedule.begin_epoch()
        for batch in islice(data, self.batches(data)):
            a, b = (self.acceleration.to_device(part) for part in batch)
            with self.acceleration.autocast():
                fake_b, fake_a = self.generator(a), self.generator(b, direction='b-to-a')
            fake_a, fake_b = fake_a.float(), fake_b.float()
            losses.add('discriminator', self.train_discriminators(a, b, fake_a, fake_b))
            for name, value in self.train_generators(a, b, fake_a, fake_b).items():
                losses.add(name, value)
            images += a.shape[0]
            if progress is not None:
                progress(a.shape[0], losses)
        return Losses(losses.read(), images, time.perf_counter() - started)

    def train_discriminators(self, a: torch.Tensor, b: torch.Tensor, fake_a: torch.Tensor,
                             fake_b: torch.Tensor) -> torch.Tensor:
        """One step of both discriminators; their summed loss."""
        with self.acceleration.autocast():
            loss = torch.zeros((), device=a.device)
            for domain, real, fake in (('a', a, fake_a), ('b', b, fake_b)):
                real, shown = self.augment(real), self.augment(self.pools[domain](fake))
                loss = loss + self.losses[domain].for_discriminator(real, shown)
                penalties = (regularizer(real, shown)
                             for regularizer in self.domain_regularizers[domain])
                loss = loss + sum(penalty for penalty in penalties if penalty is not None)
        self._step(loss, self.discriminator_optimizer, self.discriminator, 'discriminator')
        return loss.detach().float()

    def train_generators(self, a: torch.Tensor, b: torch.Tensor, fake_a: torch.Tensor,
                         fake_b: torch.Tensor) -> dict[str, torch.Tensor]:
        """One step of both generators, the discriminators frozen; the losses."""
        self.discriminator.requires_grad_(False)
        try:
            with self.acceleration.autocast():
                cycle = cycle_consistency(self.generator, a, b, fake_a, fake_b)
                loss = (self.losses['b'].for_generator(self.augment(fake_b))
                        + self.losses['a'].for_generator(self.augment(fake_a))
                        + self.cycle_weight * cycle)
                values = {'cycle': cycle}
                if self.identity_weight:
                    identity = (F.l1_loss(self.generator(b, direction='a-to-b'), b)
                                + F.l1_loss(self.generator(a, direction='b-to-a'), a))
                    loss = loss + self.identity_weight * identity
                    values['identity'] = identity
            self._step(loss, self.generator_optimizer, self.generator, 'generator')
        finally:
            self.discriminator.requires_grad_(True)
        return {name: value.detach().float()
                for name, value in {'generator': loss, **values}.items()}

    def state_dict(self) -> dict:
        return {**super().state_dict(),
                'pools': {domain: pool.state_dict() for domain, pool in self.pools.items()}}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        for domain, pool in self.pools.items():
            pool.load_state_dict(state['pools'][domain])
