"""Games: how the generator and the discriminator take turns to train."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from itertools import islice

import torch
from torch import nn

from ganzo.acceleration import Acceleration
from ganzo.augment import Augment
from ganzo.contracts import Losses, Progress, call
from ganzo.distributed import unwrapped
from ganzo.errors import GanzoError
from ganzo.hook import Hook
from ganzo.kind import GENERATION, TRANSLATION, run_kind
from ganzo.options import (
    Factory,
    beta,
    complete,
    component_option,
    device,
    positive_float,
    positive_int,
)
from ganzo.registry import register
from ganzo.regularizer import Regularizer


class Game(Factory, namespace='game'):
    """Builds the game named by --game (see ``ganzo.contracts.Game``)."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        if not train:
            return
        group = parser.add_argument_group('game')
        component_option(group, 'game', 'the game played by generator and discriminator')
        group.add_argument('--conditional', action=argparse.BooleanOptionalAction, default=False,
                           help='a conditional GAN: the generator and the discriminator take the '
                           'class labels of the data (see --generator-conditioning, '
                           '--discriminator-conditioning) (default: off)')
        group.add_argument('--generator-iterations', type=positive_int, default=1,
                           help='generator steps in each turn (default: %(default)s)')
        group.add_argument('--discriminator-iterations', type=positive_int, default=1,
                           help='discriminator steps in each turn, each on a new batch '
                           '(default: %(default)s)')
        group.add_argument('--generator-lr', type=positive_float, default=2e-4,
                           help='learning rate of the generator (default: %(default)s)')
        group.add_argument('--discriminator-lr', type=positive_float, default=2e-4,
                           help='learning rate of the discriminator (default: %(default)s)')
        group.add_argument('--beta1', type=beta, default=0.5,
                           help='first beta of Adam (default: %(default)s)')
        group.add_argument('--beta2', type=beta, default=0.999,
                           help='second beta of Adam (default: %(default)s)')
        group.add_argument('--max-batches-per-epoch', type=positive_int,
                           help='end an epoch after this many batches (default: the whole data)')
        group.add_argument('--lr-decay-start', type=positive_int, metavar='EPOCH',
                           help='from this epoch on, the learning rates decay linearly, '
                           'reaching zero after --epochs (default: constant rates)')


class LinearDecay:
    """The learning-rate schedule of ``--lr-decay-start`` (as pix2pix, CycleGAN
    and many GAN recipes): the rates of the options until epoch ``S``, then in
    epoch ``e >= S`` the rates times ``(E + 1 - e) / (E + 1 - S)``, ``E`` =
    ``--epochs``, so that they would reach zero in the epoch after the last
    (a run restored with more ``--epochs`` stretches the decay). It counts the
    epochs that the game trains (its state, checkpointed; the first is
    ``--start-epoch``, 1 by default) and sets the rates of
    ``optimizers`` when each begins, from the rates they had when it was built."""

    def __init__(self, options: argparse.Namespace, *optimizers: torch.optim.Optimizer) -> None:
        # the epoch before the first trained, --start-epoch numbering it
        self.start, self.end = options.lr_decay_start, options.epochs
        self.epoch = (options.start_epoch or 1) - 1
        if self.start is not None and self.start > self.end:
            raise GanzoError(f'--lr-decay-start {self.start} is after the last epoch (--epochs '
                             f'{self.end}): the rates would never decay; lower it')
        self.optimizers = optimizers
        self.rates = [[group['lr'] for group in optimizer.param_groups]
                      for optimizer in optimizers]

    def factor(self, epoch: int) -> float:
        """What multiplies the rates in ``epoch`` (counted from 1)."""
        if self.start is None or epoch < self.start:
            return 1.0
        return (self.end + 1 - epoch) / (self.end + 1 - self.start)

    def begin_epoch(self) -> None:
        self.epoch += 1
        for optimizer, rates in zip(self.optimizers, self.rates):
            for group, rate in zip(optimizer.param_groups, rates):
                group['lr'] = rate * self.factor(self.epoch)

    def state_dict(self) -> dict:
        return {'epoch': self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = state['epoch']


class RunningMeans:
    """Sums of losses kept on the device, read once when asked."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, name: str, value: torch.Tensor) -> None:
        self.sums[name] = self.sums[name] + value if name in self.sums else value.clone()
        self.counts[name] = self.counts.get(name, 0) + 1

    def read(self) -> dict[str, float]:
        return {name: (total / self.counts[name]).item() for name, total in self.sums.items()}

    __call__ = read


@register('game', 'standard', default=True)
class StandardGame:
    """The usual GAN game: the generator maps noise to images, the
    discriminator learns to tell real images from generated ones.

    Each turn is ``--discriminator-iterations`` discriminator steps, each on a
    new batch of real data, then ``--generator-iterations`` generator steps.
    The samples generated for the last discriminator step of a turn serve the
    first generator step too, as in the DCGAN reference code. During generator
    steps the discriminator computes no gradients for its own weights. The
    regularizers of ``--regularizers`` (``ganzo.regularizer``) add their
    penalties to the discriminator's loss. The discriminator sees real and
    generated images through the augmentations of ``--augment``
    (``ganzo.augment``), in the generator's steps too. Optimizers are Adam with
    ``--*-lr``, ``--beta1``, ``--beta2``, their rates decayed as
    ``--lr-decay-start`` says (``LinearDecay``). Hooks run after each step of
    their model (``hooks``: lists by model name; by default those of the
    options, with the moving average of the generator for ``--ema-decay``). The
    models run on ``--device`` as ``--precision``, ``--channels-last`` and
    ``--compile`` say (``ganzo.acceleration``); the discriminator is not compiled
    when the loss or a regularizer differentiates it twice (``double_backward``).

    With ``--conditional`` (``conditional = True``: it plays conditional runs),
    the generator makes images of the classes of the batch's labels
    (``generator(noise, labels)``), and the losses and regularizers get the
    labels, which they pass to the discriminator (the augmentations change the
    images only)."""

    kind = GENERATION
    conditional = True

    def __init__(self, options: argparse.Namespace, generator: nn.Module,
                 discriminator: nn.Module, loss, hooks: dict[str, list] | None = None) -> None:
        options = complete(options)
        self.kind = run_kind(options)  # refuses components that do not serve this kind of run
        self.generator, self.discriminator, self.loss = generator, discriminator, loss
        self.device = device(options)
        self.regularizers = Regularizer.from_options(options, discriminator)
        self.acceleration = Acceleration.from_options(options)
        self.acceleration.prepare(generator)
        self.acceleration.prepare(discriminator, compile=not any(
            getattr(differentiates, 'double_backward', False)
            for differentiates in (loss, *self.regularizers)))
        self.scalers = {'generator': self.acceleration.scaler(),
                        'discriminator': self.acceleration.scaler()}
        self.generator_iterations = options.generator_iterations
        self.discriminator_iterations = options.discriminator_iterations
        self.max_batches_per_epoch = options.max_batches_per_epoch
        betas = (options.beta1, options.beta2)
        self.generator_optimizer = torch.optim.Adam(
            generator.parameters(), lr=options.generator_lr, betas=betas)
        self.discriminator_optimizer = torch.optim.Adam(
            discriminator.parameters(), lr=options.discriminator_lr, betas=betas)
        self.schedule = LinearDecay(options, self.generator_optimizer,
                                    self.discriminator_optimizer)
        self.augment = Augment.from_options(options)
        self.hooks = hooks if hooks is not None else {
            'generator': Hook.from_options(options, 'generator', unwrapped(generator)),
            'discriminator': Hook.from_options(options, 'discriminator')}

    def batches(self, data: Iterable) -> int:
        """Batches in one epoch of ``data``."""
        return min(len(data), self.max_batches_per_epoch or len(data))

    def run_epoch(self, data: Iterable, noise, progress: Progress | None = None) -> Losses:
        """Train on one epoch of ``data`` (batches of ``(images, labels)``);
        returns the mean of each loss over the epoch. ``progress`` is called
        after each batch."""
        losses, images, started = RunningMeans(), 0, time.perf_counter()
        self.schedule.begin_epoch()
        for step, batch in enumerate(islice(data, self.batches(data)), start=1):
            batch = [self.acceleration.to_device(part) for part in batch]
            generator_turn = step % self.discriminator_iterations == 0
            with torch.set_grad_enabled(generator_turn):
                real, fake, labels = self.generate(batch, noise)
            losses.add('discriminator', self.train_discriminator(real, fake.detach(), labels))
            if generator_turn:
                for iteration in range(self.generator_iterations):
                    if iteration > 0:
                        fake = self.generate(batch, noise)[1]
                    losses.add('generator', self.train_generator(fake, labels))
            images += real.shape[0]
            if progress is not None:
                progress(real.shape[0], losses)
        return Losses(losses.read(), images, time.perf_counter() - started)

    def samples(self, batch: list[torch.Tensor], noise
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Real data, generated data and labels for the losses, from a batch
        ``(images, labels)``: the generator's images from new noise (of the
        batch's classes, in a conditional run)."""
        real, labels = batch
        fake = self.generator(noise.sample(real.shape[0]), *self.kind.condition(labels))
        return real, fake, labels

    def generate(self, batch: list[torch.Tensor], noise
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``samples`` in ``--precision``, the generated data returned in fp32
        like the real data, so that losses can mix them freely."""
        with self.acceleration.autocast():
            real, fake, labels = self.samples(batch, noise)
        return real, fake.float(), labels

    def train_discriminator(self, real: torch.Tensor, fake: torch.Tensor,
                            labels: torch.Tensor) -> torch.Tensor:
        with self.acceleration.autocast():
            real, fake = self.augment(real), self.augment(fake)
            loss = self.loss.for_discriminator(real, fake, labels)
            for regularizer in self.regularizers:
                penalty = call(regularizer, real, fake, labels=labels)
                if penalty is not None:
                    loss = loss + penalty
        self._step(loss, self.discriminator_optimizer, self.discriminator, 'discriminator')
        return loss.detach().float()

    def train_generator(self, fake: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.discriminator.requires_grad_(False)
        try:
            with self.acceleration.autocast():
                loss = self.generator_loss(fake, labels)
            self._step(loss, self.generator_optimizer, self.generator, 'generator')
        finally:
            self.discriminator.requires_grad_(True)
        return loss.detach().float()

    def generator_loss(self, fake: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The generator's loss on ``fake``, which the discriminator sees augmented."""
        return self.loss.for_generator(self.augment(fake), labels)

    def _step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, model: nn.Module,
              name: str) -> None:
        self.acceleration.step(loss, optimizer, self.scalers[name])
        for hook in self.hooks[name]:
            hook(model)

    def state_dict(self) -> dict:
        return {'generator_optimizer': self.generator_optimizer.state_dict(),
                'discriminator_optimizer': self.discriminator_optimizer.state_dict(),
                'hooks': {name: [hook.state_dict() for hook in hooks]
                          for name, hooks in self.hooks.items()},
                'regularizers': [regularizer.state_dict() for regularizer in self.regularizers],
                'schedule': self.schedule.state_dict(),
                'scalers': {name: scaler.state_dict() for name, scaler in self.scalers.items()}}

    def load_state_dict(self, state: dict) -> None:
        """The saved state, with the learning rates and betas of the options:
        ``--restore --generator-lr 1e-5`` trains on with the new rate."""
        for name in ('generator_optimizer', 'discriminator_optimizer'):
            optimizer = getattr(self, name)
            settings = [{key: group[key] for key in ('lr', 'betas')}
                        for group in optimizer.param_groups]
            optimizer.load_state_dict(state[name])
            for group, setting in zip(optimizer.param_groups, settings):
                group.update(setting)
        for name, hooks in self.hooks.items():
            for hook, hook_state in zip(hooks, state['hooks'][name]):
                hook.load_state_dict(hook_state)
        for regularizer, regularizer_state in zip(self.regularizers,
                                                  state.get('regularizers', [])):
            regularizer.load_state_dict(regularizer_state)
        if 'schedule' in state:
            self.schedule.load_state_dict(state['schedule'])
        for name, scaler in self.scalers.items():
            scaler_state = state.get('scalers', {}).get(name)
            if scaler.is_enabled() and scaler_state:  # empty when saved without fp16
                scaler.load_state_dict(scaler_state)


@register('game', 'translate')
class TranslateGame(StandardGame):
    """Image-to-image translation (pix2pix, Isola et al. 2017,
    https://arxiv.org/abs/1611.07004): the generator maps the real inputs of a
    batch ``(inputs, targets)`` to images, and the discriminator learns to tell
    (input, target) from (input, generated image), each pair stacked on the
    channels ``B x (I + C) x H x W``. The losses get those pairs, and the
    targets ``B x C x H x W`` as labels (``pix2pix`` adds their L1 distance to
    the generated images). Noise is not used. Turns, optimizers and hooks are
    those of ``standard``: each batch is read once, its generated images serve
    the discriminator step and the first generator step. With ``--augment`` the
    discriminator sees each pair augmented as one image (the same shift, cut and
    colour change for the input and the image), and pix2pix's L1 distance is
    taken on the generated images themselves."""

    kind = TRANSLATION
    conditional = False

    def samples(self, batch: list[torch.Tensor], noise
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        inputs, targets = batch
        return (torch.cat([inputs, targets], 1), torch.cat([inputs, self.generator(inputs)], 1),
                targets)

    def generator_loss(self, fake: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if getattr(self.loss, 'translation', False):  # pix2pix: L1 on the unaugmented images
            return self.loss.for_generator(self.augment(fake), labels, generated=fake)
        return super().generator_loss(fake, labels)
