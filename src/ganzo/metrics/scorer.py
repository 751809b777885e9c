"""The scorer: features of generated and real images, and the metrics between them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

import ganzo
from ganzo.errors import GanzoError
from ganzo.files import load, write_or_warn
from ganzo.hardware import loader_workers
from ganzo.kind import kind_of
from ganzo.metrics import scores
from ganzo.metrics.extractors import FeatureExtractor
from ganzo.metrics.real import at_most, dataset_identity, real_images
from ganzo.noise import generator_inputs
from ganzo.options import complete, component_option, device, owned_by, positive_int
from ganzo.registry import Registry, with_option_parser

CACHE_DIR = '~/.cache/ganzo/metrics'
NOISE_SEED = 0


class Scorer:
    """Scores generated images against real ones with ``metrics`` (names of
    ``scores.METRICS``: fid, kid, is, pr), in the feature space of ``--feature-extractor``.

    Options: ``--feature-extractor``, ``--evaluation-samples`` (the generated
    images scored, and at most as many real ones), ``--evaluation-data-dir``
    (the real images; default: the training data), ``--metrics-cache``,
    ``--batch-size``, ``--device``; ``real``, the real images (items ``(image,
    label)``) and words saying where they come from, replaces the options'
    (unpaired translation: the images of B). Everything is checked when it is built; the
    features of the real images are computed when first needed, then cached in
    ``--metrics-cache`` per real images, image size, sample count and extractor."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        group = parser.add_argument_group('metrics')
        component_option(group, 'feature-extractor',
                         'network whose features the metrics (fid, kid...) compare')
        group.add_argument('--evaluation-samples', type=positive_int, default=5000,
                           help='generated images that the metrics score, and at most as many '
                           'real images to compare with (default: %(default)s)')
        group.add_argument('--evaluation-data-dir', metavar='FOLDER',
                           help='folder of the real images that the metrics compare with '
                           '(default: the training images)')
        group.add_argument('--metrics-cache', metavar='FOLDER', default=CACHE_DIR,
                           help='folder that keeps the features of real images and the trained '
                           'classifiers (default: %(default)s)')
        FeatureExtractor.add_options(parser, train)

    def __init__(self, options: argparse.Namespace, metrics: Iterable[str],
                 generated: Dataset | None = None,
                 extractor: FeatureExtractor | None = None,
                 real: tuple[Dataset, str] | None = None) -> None:
        scores.require_torch_fidelity()
        options = complete(options)
        self.metrics = list(metrics)
        self.device = device(options)
        self.samples, self.batch_size = options.evaluation_samples, options.batch_size
        self.options = options
        # What the extractor gives is known from its class: check before building it.
        self.kind: type[FeatureExtractor] = Registry.get('feature-extractor',
                                                          options.feature_extractor)
        if 'is' in self.metrics and not self.kind.has_logits:
            raise GanzoError(f'--feature-extractor {options.feature_extractor} has no class '
                             'logits for the Inception Score (is): choose another')
        dataset, self.source = real or real_images(options)
        self.real = at_most(dataset, self.samples)
        self.check(self.samples, f'--evaluation-samples {self.samples}')
        self.check(len(self.real), f'the {len(self.real)} real images of {self.source}')
        self.generated = generated
        if generated is not None:
            self.check(len(generated), f'the {len(generated)} images to score')
        if extractor is None:
            with torch.random.fork_rng(devices=[]):  # building networks draws random weights
                extractor = FeatureExtractor.from_options(options)
        self.extractor: FeatureExtractor = extractor.to(self.device).eval()
        identity = dataset_identity(options, dataset, source=self.source, count=len(self.real),
                                    image_class=options.image_class,
                                    evaluation_data_dir=options.evaluation_data_dir and str(
                                        Path(options.evaluation_data_dir).absolute()))
        self.cache = (Path(options.metrics_cache).expanduser() / f'real-{options.image_size}px-'
                      f'{len(self.real)}-{self.extractor.key}-{identity}.pt')
        self._real_features: torch.Tensor | None = None

    def check(self, count: int, what: str) -> None:
        """A ``GanzoError`` naming ``what`` if ``count`` images are too few for a metric."""
        for metric in self.metrics:
            needed = scores.minimum_samples(metric, self.kind.dim)
            if count < needed:
                raise GanzoError(
                    f'{what} are too few for {metric} with --feature-extractor '
                    f'{self.options.feature_extractor} ({self.kind.dim} features): '
                    f'it needs at least {needed}')

    def real_features(self) -> torch.Tensor:
        """Features ``N x D`` of the real images, from the cache if it has them."""
        if self._real_features is None:
            try:
                self._real_features = load(self.cache)['features'] if self.cache.is_file() else None
            except (GanzoError, KeyError):
                self._real_features = None  # a damaged cache file: computed again
            if self._real_features is None:
                batches = (images for images, _ in self.batches_of(self.real))
                self._real_features, _ = self.extract(batches, len(self.real), 'real images')
                state = {'ganzo_version': ganzo.__version__, 'features': self._real_features}
                write_or_warn(self.cache, partial(torch.save, state),
                              then='the features will be computed again')
        return self._real_features

    def batches_of(self, dataset: Dataset) -> DataLoader:
        """Batches of ``dataset`` in order; its own generator leaves the global random state be."""
        return DataLoader(dataset, batch_size=self.batch_size, generator=torch.Generator(),
                          num_workers=loader_workers(self.options))

    @torch.no_grad()
    def extract(self, batches: Iterable[torch.Tensor], total: int, what: str,
                extractor: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features ``N x D`` and logits ``N x K`` (or None) of batches of images
        ``B x C x H x W`` in [-1, 1], on the CPU, by ``extractor`` (default: the
        scorer's)."""
        extractor = extractor or self.extractor
        features, logits = [], []
        with tqdm(total=total, desc=f'features of {what}', unit='image', leave=False,
                  disable=None, file=sys.stderr) as bar:
            for images in batches:
                batch_features, batch_logits = extractor(images.to(self.device))
                features.append(batch_features.float().cpu())
                if batch_logits is not None:
                    logits.append(batch_logits.float().cpu())
                bar.update(images.shape[0])
        return torch.cat(features), torch.cat(logits) if logits else None

    def score_generator(self, generator: nn.Module, noise) -> dict[str, float]:
        """The metrics of ``--evaluation-samples`` images of ``generator`` (in
        evaluation mode; of classes drawn uniformly in a conditional run), from
        the same noise every time; the global random state is left as it was."""
        real = self.real_features()
        features, logits = self.generated_features(generator, noise, self.samples)
        return scores.score(self.metrics, features, logits, real)

    def generated_features(self, generator: nn.Module, noise, count: int,
                           label: int | None = None, extractor: nn.Module | None = None
                           ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features and logits (``extract``, by ``extractor`` or the scorer's) of
        ``count`` images of ``generator`` in evaluation mode (of the class
        ``label``, or of classes drawn uniformly, in a conditional run), from the
        same noise every time; the global random state is left as it was."""
        from ganzo.snapshot import generate
        kind = kind_of(self.options)
        what = 'generated images' + (f' of {kind.classes[label]}' if label is not None else '')
        with torch.random.fork_rng(devices=[self.device] if self.device.type == 'cuda' else []):
            torch.manual_seed(NOISE_SEED)
            batches = (generate(generator, *generator_inputs(noise, size, kind, label))
                       for size in batch_sizes(count, self.batch_size))
            return self.extract(batches, count, what, extractor)

    def score_translations(self, generator: nn.Module, inputs: Dataset) -> dict[str, float]:
        """The metrics of the translations by ``generator`` (in evaluation mode) of
        the first ``--evaluation-samples`` images of ``inputs`` (items ``(image, label)``)."""
        from ganzo.snapshot import generate
        real = self.real_features()
        inputs = Subset(inputs, range(min(self.samples, len(inputs))))  # type: ignore[arg-type]
        batches = (generate(generator, images.to(self.device))
                   for images, _ in self.batches_of(inputs))
        features, logits = self.extract(batches, len(inputs), 'translated images')
        return scores.score(self.metrics, features, logits, real)

    def score_images(self) -> dict[str, float]:
        """The metrics of the images of ``generated`` (items ``(image, label)``)."""
        assert self.generated is not None, 'build the Scorer with the images to score'
        real = self.real_features()
        batches = (images for images, _ in self.batches_of(self.generated))
        features, logits = self.extract(batches, len(self.generated), 'generated images')
        return scores.score(self.metrics, features, logits, real)


@with_option_parser
def add_training_options(parser: argparse.ArgumentParser, train: bool) -> None:
    """The metrics options of ``ganzo``, for its fid and kid criteria
    (``ganzo-eval`` adds them itself, ``deh`` has none)."""
    if train:
        known = len(parser._actions)
        Scorer.add_options(parser)
        for action in parser._actions[known:]:
            owned_by(action, 'evaluation_criterion', 'fid', 'kid')


def batch_sizes(total: int, batch_size: int) -> Iterator[int]:
    """Sizes of the batches that make ``total`` items, all ``batch_size`` but the last."""
    for start in range(0, total, batch_size):
        yield min(batch_size, total - start)
