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
            group.add_argument(f'--{model}-hooks', nargs='*', default=[], metavar='HOOK',
                               choices=Registry.names('hook'),
                               help=f'hooks applied after each {model} step, among '
                               f'{", ".join(Registry.names("hook"))} (default: none)')
        owned_by(group.add_argument('--clip-to', type=positive_float, default=0.01,
                                    help='weight-clipper: clamp weights to [-c, c] '
                                    '(default: %(default)s)'),
                 ('generator_hooks', 'discriminator_hooks'), 'weight-clipper')

    @classmethod
    def from_options(cls, options: argparse.Namespace, model: str) -> list:
        """The hooks of ``model`` ('generator' or 'discriminator')."""
        options = complete(options)
        return [Registry.build('hook', name, options)
                for name in getattr(options, f'{model}_hooks')]

    def __call__(self, model: nn.Module) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass



@register('hook', 'weight-clipper')
class WeightClipper(Hook):
    """Clamps every weight to ``[-clip_to, clip_to]`` (the WGAN of Arjovsky et al. 2017)."""

    def __init__(self, options: argparse.Namespace) -> None:
        self.clip_to = complete(options).clip_to

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> None:
        for parameter in model.parameters():
            parameter.clamp_(-self.clip_to, self.clip_to)
