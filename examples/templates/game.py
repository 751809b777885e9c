"""Template of a game (registry namespace ``game``, ``--game``).

Built as ``Game(options, generator, discriminator, loss, hooks)``, it trains
both models for an epoch: ``run_epoch(data, noise, progress=None)`` returns the
mean losses (``ganzo.contracts.Game``); ``state_dict()`` keeps its optimizers.
Its class attribute ``kind`` names the kind of run it plays (``ganzo.kind``).
Subclassing ``ganzo.game.StandardGame`` gives the turns, Adam, hooks, mixed
precision and checkpoints; override what differs. This one adds instance noise
(Sønderby et al. 2016, https://arxiv.org/abs/1610.04490) to the images the
discriminator sees, fading to nothing over ``--my-game-fade`` discriminator steps.
"""

import argparse

import torch

from ganzo.game import StandardGame
from ganzo.options import complete, positive_int
from ganzo.registry import register, with_option_parser


@with_option_parser
def add_my_game_options(parser: argparse.ArgumentParser, train: bool) -> None:
    if train:
        group = parser.add_argument_group('my-game')
        group.add_argument('--my-game-fade', type=positive_int, default=1000,
                           help='my-game: discriminator steps until the instance noise is '
                           'gone (default: %(default)s)')


@register('game', 'my-game')
class MyGame(StandardGame):
    def __init__(self, options: argparse.Namespace, *models) -> None:
        super().__init__(options, *models)
        self.fade, self.steps = complete(options).my_game_fade, 0

    def train_discriminator(self, real: torch.Tensor, fake: torch.Tensor,
                            labels: torch.Tensor) -> torch.Tensor:
        scale = max(0.0, 1 - self.steps / self.fade)
        self.steps += 1
        return super().train_discriminator(real + scale * torch.randn_like(real),
                                           fake + scale * torch.randn_like(fake), labels)

    def state_dict(self) -> dict:
        return {**super().state_dict(), 'steps': self.steps}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.steps = state['steps']
