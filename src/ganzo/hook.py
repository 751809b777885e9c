"""Hooks: applied to a model after each of its optimizer steps.

Registered hooks are chosen by name (``--generator-hooks``,
``--discriminator-hooks``); the moving average of the generator's weights
(``MovingAverage``) is one too, switched on by ``--ema-decay``.
"""

from __future__ import annotations

import argparse
import copy

import torch
from torch import nn

from ganzo.options import (
    Factory,
    complete,
    non_negative_int,
    number_type,
    owned_by,
    positive_float,
)
from ganzo.registry import Registry, register

decay = number_type(float, lambda x: 0 < x < 1, 'a number between 0 and 1, both excluded')


class Hook(Factory, namespace='hook'):
    """A hook is called as ``hook(model)`` after each optimizer step of the
    model it is attached to. Hooks with state (an EMA of the weights, say)
    keep it in ``state_dict()``, so that it is checkpointed."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        if not train:  # deh and ganzo-eval
            parser.add_argument_group('moving average').add_argument(
                '--raw-generator', action=argparse.BooleanOptionalAction, default=False,
                help='use the trained weights of the generator, not their moving average '
                '(--ema-decay) (default: off)')
            return
        group = parser.add_argument_group('hook')
        for model in ('generator', 'discriminator'):
            group.add_argument(f'--{model}-hooks', f'--{model}-hook', nargs='*', metavar='HOOK',
                               choices=Registry.names('hook'),
                               help=f'hooks applied after each {model} step, among '
                               f'{", ".join(Registry.names("hook"))}; the option alone, '
                               'without hooks, for none (default: those the loss asks for: '
                               f'{needs(model) or "none"})')
        clip_to = owned_by(group.add_argument('--clip-to', type=positive_float, default=0.01,
                                              help='weight-clipper: clamp weights to [-c, c] '
                                              '(default: %(default)s)'),
                           ('generator_hooks', 'discriminator_hooks'), 'weight-clipper')
        clipping = [loss for loss in Registry.names('loss')
                    if 'weight-clipper' in hooks_of_loss(loss, 'discriminator')]
        if clipping:
            owned_by(clip_to, 'loss', *clipping)
        group.add_argument('--ema-decay', type=decay, metavar='DECAY',
                           help='keep a moving average of the generator\'s weights with this '
                           'decay per generator step, e.g. 0.999; snapshots, evaluation, '
                           'generator.pt and deh use it (default: off)')
        group.add_argument('--ema-start', type=non_negative_int, default=0, metavar='STEPS',
                           help='with --ema-decay: the average equals the weights for this many '
                           'generator steps (at least one), then starts averaging (default: '
                           '%(default)s)')

    @classmethod
    def from_options(cls, options: argparse.Namespace, model: str,
                     network: nn.Module | None = None) -> list:
        """The hooks of ``model`` ('generator' or 'discriminator'): those of
        ``--<model>-hooks``, or, when it is not given, those that the loss asks
        for (its class attribute ``hooks``: the critic of ``wgan`` is clipped);
        then, for the generator ``network`` with ``--ema-decay``, its
        ``MovingAverage``."""
        options = complete(options)
        names = getattr(options, f'{model}_hooks')
        if names is None:
            names = hooks_of_loss(options.loss, model)
        hooks = [Registry.build('hook', name, options) for name in names]
        if model == 'generator' and network is not None and options.ema_decay is not None:
            hooks.append(MovingAverage(options, network))
        return hooks

    def __call__(self, model: nn.Module) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass



def hooks_of_loss(loss: str, model: str) -> tuple[str, ...]:
    """The hooks that the loss registered as ``loss`` asks for on ``model`` by default."""
    return tuple(getattr(Registry.get('loss', loss), 'hooks', {}).get(model, ()))


def needs(model: str) -> str:
    """Which losses ask for which hooks on ``model``, in words (for ``--help``)."""
    return ', '.join(f'{", ".join(hooks_of_loss(loss, model))} for {loss}'
                     for loss in Registry.names('loss') if hooks_of_loss(loss, model))


@register('hook', 'weight-clipper')
class WeightClipper(Hook):
    """Clamps every weight to ``[-clip_to, clip_to]`` (the WGAN of Arjovsky et al. 2017)."""

    def __init__(self, options: argparse.Namespace) -> None:
        self.clip_to = complete(options).clip_to

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> None:
        for parameter in model.parameters():
            parameter.clamp_(-self.clip_to, self.clip_to)


class MovingAverage(Hook):
    """An exponential moving average of the generator's weights (Yazici et al.
    2019, https://arxiv.org/abs/1806.04498; Karras et al. 2018, ProGAN): after
    each generator step, ``average = decay x average + (1 - decay) x weights``
    for every parameter, and the buffers (batch norm statistics, spectral norm
    vectors) copied, as StyleGAN2 does. After the first step, and the first
    ``--ema-start`` steps, the average is the weights (so that it never holds
    the weights of before training, nor of before a restore). ``model`` is the
    averaged copy of the generator ``network`` (in evaluation mode, without
    gradients), which snapshots, evaluation and ``generator.pt`` use; its state
    and the count of steps are checkpointed (``moving_average``, ``steps``)."""

    def __init__(self, options: argparse.Namespace, network: nn.Module) -> None:
        options = complete(options)
        self.decay, self.start = options.ema_decay, options.ema_start
        self.model = copy.deepcopy(network).eval().requires_grad_(False)
        self.steps = 0

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> None:
        self.steps += 1
        pairs = zip(self.model.parameters(), model.parameters())
        for average, weights in pairs:
            if self.steps > max(self.start, 1):
                average.lerp_(weights, 1 - self.decay)
            else:
                average.copy_(weights)
        for average, buffer in zip(self.model.buffers(), model.buffers()):
            average.copy_(buffer)

    def state_dict(self) -> dict:
        return {'steps': self.steps, 'moving_average': self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.steps = state['steps']
        self.model.load_state_dict(state['moving_average'])


def moving_average(hooks: list) -> MovingAverage | None:
    """The ``MovingAverage`` among ``hooks``, if any."""
    return next((hook for hook in hooks if isinstance(hook, MovingAverage)), None)
