"""Template of a hook (registry namespace ``hook``, ``--generator-hooks`` and
``--discriminator-hooks``).

A hook is called with the model after each of its optimizer steps
(``ganzo.contracts.Hook``). One with state keeps it in ``state_dict()``, which
checkpoints hold. Subclass ``ganzo.hook.Hook`` for the empty state. This one
counts the steps and rescales the weights whose norm grows too large.
"""

import argparse

import torch
from torch import nn

from ganzo.hook import Hook
from ganzo.registry import register


@register('hook', 'my-hook')
class MyHook(Hook):
    def __init__(self, options: argparse.Namespace) -> None:
        self.steps = 0

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> None:
        self.steps += 1
        for parameter in model.parameters():
            norm = parameter.norm()
            if norm > 100:
                parameter.mul_(100 / norm)

    def state_dict(self) -> dict:
        return {'steps': self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.steps = state['steps']
