"""Template of a dataset (registry namespace ``dataset``, chosen with ``--dataset``).

A function ``(options, transform) -> torch.utils.data.Dataset`` whose items
are ``(image, label)``: ``transform`` (when it is not None) applied to a PIL
image. It has ``targets`` (the label of each item) and ``classes`` (the class
names, by label), so that ``--image-class`` can filter it. Errors the user can
fix are a ``ganzo.errors.GanzoError`` naming the option. This one draws
``--my-dataset-size`` images of random stripes, two classes: horizontal and vertical.
"""

import argparse

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from ganzo.options import complete, positive_int
from ganzo.registry import register, with_option_parser


@with_option_parser
def add_my_dataset_options(parser: argparse.ArgumentParser, train: bool) -> None:
    group = parser.add_argument_group('my-dataset')
    group.add_argument('--my-dataset-size', type=positive_int, default=64,
                       help='my-dataset: number of images (default: %(default)s)')


class Stripes(Dataset):
    classes = ['horizontal', 'vertical']

    def __init__(self, size: int, transform) -> None:
        rng = np.random.default_rng(0)
        self.targets = [index % 2 for index in range(size)]
        self.stripes = rng.integers(0, 256, (size, 32), dtype=np.uint8)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        pixels = np.repeat(self.stripes[index][:, None], 32, axis=1)
        image = Image.fromarray(pixels if self.targets[index] else pixels.T).convert('RGB')
        return (self.transform(image) if self.transform else image), self.targets[index]


@register('dataset', 'my-dataset')
def my_dataset(options: argparse.Namespace, transform) -> Dataset:
    return Stripes(complete(options).my_dataset_size, transform)
