"""Evaluation criteria: they decide when the models have improved, and so
which models are saved as the best ones (``generator.pt``, ``discriminator.pt``)."""

from __future__ import annotations

import argparse
import math

from torch import nn

from ganzo.options import build, component_option
from ganzo.registry import register, with_option_parser


class Evaluation:
    """Builds the criterion named by --evaluation-criterion.

    A criterion may measure the models after each epoch (``evaluate``, whose
    values are logged with the losses), then says whether they improved
    (``has_improved``); its ``state_dict`` keeps the best value across restores."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        if not train:
            return
        group = parser.add_argument_group('evaluation')
        component_option(group, 'evaluation', 'when the models count as improved',
                         flag='evaluation-criterion')

    @staticmethod
    def from_options(options: argparse.Namespace, generator: nn.Module | None = None,
                     noise=None):
        return build('evaluation', 'evaluation_criterion', options, generator, noise)

    def __init__(self, options: argparse.Namespace, generator: nn.Module | None = None,
                 noise=None) -> None:
        self.best = math.inf

    def evaluate(self, epoch: int) -> dict[str, float]:
        """Metrics of the models after ``epoch``, logged with the losses."""
        return {}

    def has_improved(self, losses: dict[str, float]) -> bool:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {'best': self.best}

    def load_state_dict(self, state: dict) -> None:
        self.best = state['best']


with_option_parser(Evaluation.add_options)


@register('evaluation', 'latest', default=True)
class Latest(Evaluation):
    """Always improved: the latest models are the ones saved."""

    def has_improved(self, losses: dict[str, float]) -> bool:
        return True


class Lowest(Evaluation):
    """Improved when the value named ``key`` is lower than ever before."""

    key: str

    def has_improved(self, losses: dict[str, float]) -> bool:
        value = losses[self.key]
        if value < self.best:
            self.best = value
            return True
        return False


@register('evaluation', 'generator-loss')
class GeneratorLoss(Lowest):
    """Improved when the epoch's mean generator loss is the lowest so far."""

    key = 'generator'
