"""Evaluation criteria: they decide when the models have improved, and so
which models are saved as the best ones (``generator.pt``, ``discriminator.pt``).

``latest`` and ``generator-loss`` look at the training; ``fid`` and ``kid``
measure samples of the generator (see ``ganzo.metrics``)."""

from __future__ import annotations

import argparse
import math

from torch import nn

from ganzo.metrics import Scorer
from ganzo.options import build, complete, component_option, positive_int
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
        group.add_argument('--evaluate-every', type=positive_int, default=1,
                           help='measure fid or kid every this many epochs, and after the '
                           'last one (default: %(default)s)')

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


class MetricCriterion(Lowest):
    """Improved when the metric ``key`` of ``--evaluation-samples`` images of the
    generator is the lowest so far. It is measured every ``--evaluate-every``
    epochs and after the last one (``--epochs``); the other epochs never count
    as improved. Options: those of ``ganzo.metrics.Scorer``."""

    def __init__(self, options: argparse.Namespace, generator: nn.Module | None = None,
                 noise=None) -> None:
        super().__init__(options, generator, noise)
        if generator is None or noise is None:
            raise TypeError(f'the {self.key} criterion needs the generator and the noise')
        options = complete(options)
        self.generator, self.noise = generator, noise
        self.every, self.last = options.evaluate_every, options.epochs
        self.scorer = Scorer(options, [self.key])

    def evaluate(self, epoch: int) -> dict[str, float]:
        if epoch % self.every and epoch != self.last:
            return {}
        return {self.key: self.scorer.score_generator(self.generator, self.noise)[self.key]}

    def has_improved(self, losses: dict[str, float]) -> bool:
        return self.key in losses and super().has_improved(losses)


@register('evaluation', 'fid')
class FID(MetricCriterion):
    """Improved when the Fréchet distance to the real images is the lowest so far."""

    key = 'fid'


@register('evaluation', 'kid')
class KID(MetricCriterion):
    """Improved when the kernel distance to the real images is the lowest so far."""

    key = 'kid'
