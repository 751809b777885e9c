"""Evaluation criteria: they decide when the models have improved, and so
which models are saved as the best ones (``generator.pt``, ``discriminator.pt``).

``latest`` and ``generator-loss`` look at the training; ``fid`` and ``kid``
measure samples of the generator (see ``ganzo.metrics``); ``l1`` and ``psnr``
measure translations of held-out pairs."""

from __future__ import annotations

import argparse
import math

import torch
from torch import nn
from torch.utils.data import DataLoader

from ganzo.contracts import call
from ganzo.errors import GanzoError
from ganzo.kind import CONDITIONAL, GENERATION, TRANSLATION, UNPAIRED, kind_of
from ganzo.metrics import Scorer
from ganzo.options import Factory, complete, component_option, owned_by, positive_int
from ganzo.registry import Registry, register


class Evaluation(Factory, namespace='evaluation', option='evaluation_criterion'):
    """Builds the criterion named by --evaluation-criterion, and is the base of
    criteria (see ``ganzo.contracts.Evaluation``).

    A criterion may measure the models after each epoch (``evaluate``, whose
    values are logged with the losses), then says whether they improved
    (``has_improved``); its ``state_dict`` keeps the best value across restores.
    It is built as ``Criterion(options, generator, noise, data)``; the criteria
    that measure something need those (the others ignore them)."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        if not train:
            return
        group = parser.add_argument_group('evaluation')
        component_option(group, 'evaluation', 'when the models count as improved',
                         flag='evaluation-criterion')
        owned_by(group.add_argument('--evaluate-every', type=positive_int, default=1,
                                    help='measure fid or kid every this many epochs, and after '
                                    'the last one (default: %(default)s)'),
                 'evaluation_criterion', 'fid', 'kid')

    @classmethod
    def from_options(cls, options: argparse.Namespace, generator: nn.Module | None = None,
                     noise=None, data=None) -> Evaluation:
        """The criterion of ``--evaluation-criterion``, given the generator, the
        noise and the data if its constructor takes them (a plugin's may take
        the options alone)."""
        options = complete(options)
        criterion = Registry.get(cls.namespace, getattr(options, cls.option))
        return call(criterion, options, generator=generator, noise=noise, data=data)

    def __init__(self, options: argparse.Namespace, generator: nn.Module | None = None,
                 noise=None, data=None) -> None:
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
    generator (of classes drawn uniformly, in a conditional run) is the lowest
    so far. It is measured every ``--evaluate-every`` epochs and after the last
    one (``--epochs``); the other epochs never count as improved. Options:
    those of ``ganzo.metrics.Scorer``. In unpaired translation, the images are
    G's translations of the images of A (the held-out ones, or the training
    ones: the data's ``evaluation_domains``), against the images of B (unless
    ``--evaluation-data-dir``)."""

    kinds = {GENERATION, CONDITIONAL, UNPAIRED}

    def __init__(self, options: argparse.Namespace, generator: nn.Module | None = None,
                 noise=None, data=None) -> None:
        super().__init__(options, generator, noise, data)
        if generator is None or noise is None or data is None and kind_of(options).both_ways:
            raise TypeError(f'the {self.key} criterion needs the generator, the noise and, in '
                            'unpaired translation, the data')
        options = complete(options)
        self.generator, self.noise = generator, noise
        self.every, self.last = options.evaluate_every, options.epochs
        self.inputs, real = None, None
        if kind_of(options).both_ways:
            self.inputs, targets, words = data.evaluation_domains()
            real = None if options.evaluation_data_dir else (targets, words)
        self.scorer = Scorer(options, [self.key], real=real)
        if self.inputs is not None:
            count = min(len(self.inputs), options.evaluation_samples)
            self.scorer.check(count, f'the {count} images of A to translate')

    def evaluate(self, epoch: int) -> dict[str, float]:
        if epoch % self.every and epoch != self.last:
            return {}
        scores = (self.scorer.score_translations(self.generator, self.inputs)
                  if self.inputs is not None
                  else self.scorer.score_generator(self.generator, self.noise))
        return {self.key: scores[self.key]}

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
    ``translation_metrics``), logged after each epoch. In unpaired translation
    (pairs that training never sees: ``--domains halves``), those of G (A to B),
    which decide the best model, and ``test_l1_b_to_a`` and ``test_psnr_b_to_a``
    of F (B to A)."""

    kinds = {TRANSLATION, UNPAIRED}

    def __init__(self, options: argparse.Namespace, generator: nn.Module | None = None,
                 noise=None, data=None) -> None:
        super().__init__(options, generator, noise, data)
        options = complete(options)
        criterion = options.evaluation_criterion
        if generator is None or data is None:
            raise TypeError(f'the {criterion} criterion needs the generator and the data')
        self.pairs = data.held_out()
        if self.pairs is None:
            unpaired = ' with --domains halves' if kind_of(options).both_ways else ''
            raise GanzoError(f'--evaluation-criterion {criterion} needs held-out pairs: '
                             f'give --test-data-dir or --test-fraction{unpaired}')
        self.generator, self.batch_size = generator, options.batch_size
        self.both_ways = kind_of(options).both_ways

    def evaluate(self, epoch: int) -> dict[str, float]:
        metrics = translation_metrics(self.generator, self.pairs, self.batch_size)
        if self.both_ways:
            backward = translation_metrics(self.generator.b_to_a, self.pairs.swapped(),
                                           self.batch_size)
            metrics.update({f'{name}_b_to_a': value for name, value in backward.items()})
        return metrics


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
