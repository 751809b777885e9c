"""Evaluation criteria: they decide when the models have improved, and so
which models are saved as the best ones (``generator.pt``, ``discriminator.pt``)."""

from __future__ import annotations

import argparse
import math

import torch
from torch import nn
from torch.utils.data import DataLoader

from ganzo.errors import GanzoError
from ganzo.options import build, complete, component_option
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


@torch.no_grad()
def translation_metrics(generator: nn.Module, pairs, batch_size: int) -> dict[str, float]:
    """Mean L1 distance and mean PSNR (dB) between the generator's images (in
    evaluation mode) and the targets of ``pairs`` (items ``(input, target)``),
    both on pixel values in [0, 1]; the PSNR of each image is capped at 100 dB."""
    from ganzo.snapshot import generate
    device = next(generator.parameters()).device
    l1, psnr = [], []
    for inputs, targets in DataLoader(pairs, batch_size=batch_size):
        outputs = generate(generator, inputs.to(device)).float().cpu()
        errors = (outputs - targets) / 2  # [-1, 1] -> [0, 1] scale
        l1.append(errors.abs().flatten(1).mean(1))
        mse = errors.pow(2).flatten(1).mean(1).clamp(min=1e-10)
        psnr.append(-10 * torch.log10(mse))
    return {'test_l1': torch.cat(l1).mean().item(), 'test_psnr': torch.cat(psnr).mean().item()}


class HeldOutTranslation(Evaluation):
    """Measures translation on the held-out pairs of the data (``--test-data-dir``
    or ``--test-fraction``): ``test_l1`` and ``test_psnr`` (see
    ``translation_metrics``), logged after each epoch."""

    translation = True

    def __init__(self, options: argparse.Namespace, generator: nn.Module | None = None,
                 noise=None) -> None:
        from ganzo.data import Data
        super().__init__(options, generator, noise)
        options = complete(options)
        criterion = options.evaluation_criterion
        with torch.random.fork_rng(devices=[]):  # the data draws a seed: keep training's RNG
            data = Data.from_options(options)
        if not getattr(data, 'translation', False):
            raise GanzoError(f'--evaluation-criterion {criterion} measures image-to-image '
                             'translation: use --data-format pair-of-images, colorization or '
                             'super-resolution')
        self.pairs = data.held_out()
        if self.pairs is None:
            raise GanzoError(f'--evaluation-criterion {criterion} needs held-out pairs: '
                             'give --test-data-dir or --test-fraction')
        self.generator, self.batch_size = generator, options.batch_size

    def evaluate(self, epoch: int) -> dict[str, float]:
        return translation_metrics(self.generator, self.pairs, self.batch_size)


@register('evaluation', 'l1')
class HeldOutL1(HeldOutTranslation, Lowest):
    """Improved when the mean L1 distance to the held-out targets is the lowest so far."""

    key = 'test_l1'


@register('evaluation', 'psnr')
class HeldOutPSNR(HeldOutTranslation):
    """Improved when the mean PSNR on the held-out pairs is the highest so far."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.best = -math.inf

    def has_improved(self, losses: dict[str, float]) -> bool:
        if losses['test_psnr'] > self.best:
            self.best = losses['test_psnr']
            return True
        return False
