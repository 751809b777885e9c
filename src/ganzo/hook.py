"""Hooks: applied to a model after each of its optimizer steps."""

from __future__ import annotations

import argparse

import torch
from torch import nn

from ganzo.options import Factory, complete, owned_by, positive_float
from ganzo.registry import Registry, register


class Hook(Factory, namespace='hook'):
    """A hook is called as ``hook(model)`` after each optimizer step of the
    model it is attached to. Hooks with state (an EMA of the weights, say)
    keep it in ``state_dict()``, so that it is checkpointed."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        if not train:
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

    @classmethod
    def from_options(cls, options: argparse.Namespace, model: str) -> list:
        """The hooks of ``model`` ('generator' or 'discriminator'): those of
        ``--<model>-hooks``, or, when it is not given, those that the loss asks
        for (its class attribute ``hooks``: the critic of ``wgan`` is clipped)."""
        options = complete(options)
        names = getattr(options, f'{model}_hooks')
        if names is None:
            names = hooks_of_loss(options.loss, model)
        return [Registry.build('hook', name, options) for name in names]

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
