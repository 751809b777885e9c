"""Feature extractors: the networks in whose feature space the metrics compare
images. They live in the registry namespace ``feature-extractor``:

* ``inception`` (the default): the FID Inception-v3 of torch-fidelity, with the
  TensorFlow weights that published FIDs use; downloaded once into the torch hub
  cache, or read from the file that ``--inception-weights`` names;
* ``classifier``: a small CNN that Ganzo trains on the labelled training data
  (``--dataset``) and saves (``--classifier-weights``); it needs no download.

Scores from different extractors are not comparable with each other, and only
``inception`` scores are comparable with published ones.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from functools import partial
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

import ganzo
from ganzo.errors import GanzoError
from ganzo.files import load, load_state, write_or_stop
from ganzo.hardware import loader_workers
from ganzo.options import complete, device
from ganzo.registry import Registry, register

INCEPTION_FILE = 'weights-inception-2015-12-05-6726825d.pth'
CLASSIFIER_EPOCHS = 5


class FeatureExtractor(nn.Module):
    """Maps images ``B x C x H x W`` in [-1, 1] (``C = --image-colors``,
    ``H = W = --image-size``) to ``(features B x dim, logits B x K)``, where the
    logits are class scores for the Inception Score, or None if it has none.

    The class attributes ``dim`` and ``has_logits`` say what it gives before it
    is built; ``key`` names the network and its weights in the cache's file names."""

    dim: int
    has_logits: bool
    key: str

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        group = parser.add_argument_group('feature extractors')
        group.add_argument('--inception-weights', metavar='FILE',
                           help=f'weights of --feature-extractor inception: torch-fidelity\'s '
                           f'{INCEPTION_FILE} (default: downloaded once into the torch hub cache)')
        group.add_argument('--classifier-weights', metavar='FILE',
                           help='weights of --feature-extractor classifier, trained on the '
                           'labelled --dataset and saved there if the file is missing '
                           '(default: in --metrics-cache, one per dataset and image size)')

    @staticmethod
    def from_options(options: argparse.Namespace) -> FeatureExtractor:
        return Registry.build('feature-extractor', complete(options).feature_extractor, options)


def file_digest(path: Path) -> str:
    """The first 12 hex digits of the SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def to_uint8_rgb(images: torch.Tensor) -> torch.Tensor:
    """``B x C x H x W`` in [-1, 1] (C = 1 or 3) as uint8 RGB ``B x 3 x H x W``."""
    pixels = ((images.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return pixels.expand(-1, 3, -1, -1) if pixels.shape[1] == 1 else pixels


@register('feature-extractor', 'inception', default=True)
class InceptionExtractor(FeatureExtractor):
    """torch-fidelity's FID Inception-v3 (images resized to 299 x 299, grey
    images repeated on 3 channels): 2048 pool features and 1008 logits.

    Options: ``--inception-weights``. Without it, the weights are downloaded
    once from torch-fidelity's release into the torch hub cache; offline, that
    is an error that names the option."""

    dim, has_logits = 2048, True

    def __init__(self, options: argparse.Namespace) -> None:
        super().__init__()
        from ganzo.metrics.scores import require_torch_fidelity
        require_torch_fidelity()
        from torch_fidelity.feature_extractor_inceptionv3 import (
            URL_INCEPTION_V3,
            FeatureExtractorInceptionV3,
        )
        path = inception_weights(complete(options).inception_weights, URL_INCEPTION_V3)
        load(path)  # refuses files that hold code; torch-fidelity then reads the weights
        try:
            self.network = FeatureExtractorInceptionV3(
                'inception-v3-compat', ['2048', 'logits_unbiased'],
                feature_extractor_weights_path=str(path))
        except RuntimeError as error:
            raise GanzoError(f'--inception-weights {path}: not the FID Inception weights '
                             f'({str(error).splitlines()[0]})') from None
        self.key = f'inception-{file_digest(path)}'

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, logits = self.network(to_uint8_rgb(images))
        return features, logits


def inception_weights(path: str | None, url: str) -> Path:
    """The weights file: ``path``, or the copy in the torch hub cache,
    downloaded there first if missing."""
    if path is not None:
        if not Path(path).expanduser().is_file():
            raise GanzoError(f'--inception-weights {path}: no such file')
        return Path(path).expanduser()
    cached = Path(torch.hub.get_dir()) / 'checkpoints' / os.path.basename(url)
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, str(cached), progress=sys.stderr.isatty())
        except Exception as error:  # noqa: BLE001 (URLError, HTTP errors, timeouts...)
            reason = ' '.join(str(error).split())
            raise GanzoError(
                f'--feature-extractor inception: cannot download its weights ({reason}); '
                f'download {url} where there is internet and pass the file with '
                '--inception-weights FILE, or use --feature-extractor classifier') from None
    return cached


class Classifier(nn.Module):
    """A small CNN: ``B x colors x H x W`` -> three convolutions -> a 4 x 4 map
    (adaptive average pooling, so any image size works) -> 64 features -> ``classes`` logits."""

    def __init__(self, colors: int, classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(colors, 16, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(64 * 16, 64), nn.LeakyReLU(0.2))
        self.head = nn.Linear(64, classes)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(images)
        return features, self.head(features)


@register('feature-extractor', 'classifier')
class ClassifierExtractor(FeatureExtractor):
    """A ``Classifier`` of the classes of the training data (``--dataset``, all of
    its classes, at ``--image-size`` and ``--image-colors``): its 64 features and
    its class logits (``classes`` names them). Needs no download.

    Options: ``--classifier-weights``. If that file (by default one in
    ``--metrics-cache`` per dataset, image size and colours) is missing, the
    classifier is trained first (a few epochs, 10% of the images held out to
    report its accuracy) and saved there."""

    dim, has_logits = 64, True

    def __init__(self, options: argparse.Namespace) -> None:
        super().__init__()
        from ganzo.metrics.real import dataset_identity, labelled_dataset
        options = complete(options)
        dataset = labelled_dataset(options)
        self.classes = tuple(map(str, dataset.classes))  # type: ignore[attr-defined]
        classes = len(self.classes)
        path = options.classifier_weights
        if path is None:
            identity = dataset_identity(options, dataset)
            path = (Path(options.metrics_cache).expanduser() / f'classifier-{options.dataset}-'
                    f'{options.image_size}px-{options.image_colors}c-{identity}.pt')
        path = Path(path).expanduser()
        self.network = Classifier(options.image_colors, classes)
        if not path.exists():
            train_classifier(self.network, dataset, options, path)
        state = load(path)
        load_state(self.network, state.get('state_dict', {}), 'classifier', path)
        self.network.requires_grad_(False).eval()
        self.key = f'classifier-{file_digest(path)}'

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.network(images)


def train_classifier(network: Classifier, dataset, options: argparse.Namespace,
                     path: Path) -> None:
    """Train ``network`` on ``dataset`` (items ``(image, label)``) and save it to
    ``path``; the global random state is left as it was."""
    where = device(options)
    with torch.random.fork_rng(devices=[where] if where.type == 'cuda' else []):
        torch.manual_seed(0)
        order = torch.randperm(len(dataset)).tolist()
        held_out = len(order) // 10
        loader = DataLoader(Subset(dataset, order[held_out:]), batch_size=options.batch_size,
                            shuffle=True, num_workers=loader_workers(options))
        network.to(where).train()
        optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
        for epoch in range(1, CLASSIFIER_EPOCHS + 1):
            for images, labels in tqdm(loader, desc=f'classifier epoch {epoch}', leave=False,
                                       disable=None, file=sys.stderr):
                _, logits = network(images.to(where))
                loss = nn.functional.cross_entropy(logits, labels.to(where))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        network.eval()
        correct = 0
        with torch.no_grad():
            for images, labels in DataLoader(Subset(dataset, order[:held_out]),
                                             batch_size=options.batch_size):
                correct += int((network(images.to(where))[1].argmax(1).cpu() == labels).sum())
    network.cpu()
    weights = {'ganzo_version': ganzo.__version__, 'state_dict': network.state_dict()}
    write_or_stop(path, partial(torch.save, weights), then='then run again')
    accuracy = f'{correct / held_out:.1%} accuracy on {held_out}' if held_out else 'no'
    print(f'ganzo: trained the classifier feature extractor on --dataset {options.dataset} '
          f'({accuracy} held-out images), saved in {path}', file=sys.stderr)
