"""Data: datasets of images, and the loaders that batch and shuffle them.

``Data.from_options(options)`` builds the data format named by ``--data-format``.
``single-image`` (the default) gives batches ``(images, labels)`` where
``images`` is a float tensor ``B x C x H x W`` in [-1, 1] (``C`` is 1 for grey
and 3 for colour, ``H = W = --image-size``) and ``labels`` an int64 tensor ``B``.
The translation formats ``pair-of-images``, ``colorization`` and
``super-resolution`` (``TranslationData``) give batches ``(inputs, targets)``,
and ``unpaired`` (``UnpairedData``) batches ``(a, b)`` of two domains.

The package's modules:

* ``sources``: the datasets (registry namespace ``dataset``: ``folder``,
  ``mnist``..., ``lsun``, ``mnist-5k``), items ``(image, label)``;
* ``transforms``: image transforms, class filtering, image decoding;
* ``loaders``: ``SingleImageData`` (shuffled batches) and ``ImageCache``;
* ``translation``: the formats of (input, target) pairs;
* ``unpaired``: ``UnpairedData``, images of two domains without pairs (CycleGAN).
"""

from __future__ import annotations

import argparse
from typing import Any

from ganzo.data.loaders import ImageCache, SingleImageData
from ganzo.data.sources import (
    CACHE_DIR,
    ImageFolder,
    Mnist5k,
    folder_dataset,
    lsun_dataset,
    mnist_5k_dataset,
    mnist_5k_path,
)
from ganzo.data.transforms import (
    ConvertMode,
    LabelSubset,
    Transform,
    decoding_transform,
    filter_class,
    image_transform,
    load_image,
    readable_image,
    square,
)
from ganzo.data.translation import (
    ColorizationData,
    PairOfImagesData,
    Pairs,
    PairTransform,
    SuperResolutionData,
    TranslationData,
    translation_images,
)
from ganzo.data.unpaired import UnpairedData
from ganzo.kind import kind_of, run_kind
from ganzo.options import Factory, complete, component_option, non_negative_int, positive_int

__all__ = [
    'CACHE_DIR', 'ColorizationData', 'ConvertMode', 'Data', 'ImageCache', 'ImageFolder',
    'LabelSubset', 'Mnist5k', 'PairOfImagesData', 'PairTransform', 'Pairs', 'SingleImageData',
    'SuperResolutionData', 'Transform', 'TranslationData', 'UnpairedData', 'decoding_transform',
    'filter_class', 'folder_dataset', 'image_transform', 'input_colors', 'load_image',
    'lsun_dataset', 'mnist_5k_dataset', 'mnist_5k_path', 'readable_image', 'square',
    'translation_images',
]


class Data(Factory, namespace='data', option='data_format'):
    """Builds the data named by ``--data-format``: an iterable of batches with
    ``len`` (batches per epoch), ``state_dict`` and ``load_state_dict`` (the
    order of the data; see ``ganzo.contracts.Data``), and in a conditional run
    ``classes``, the class names of the labels."""

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> Any:
        """The data of ``--data-format``. In a conditional run (``--conditional``)
        it completes the kind of run, ``options.kind``, with the data's classes,
        which the networks built after it read (``ganzo.kind``)."""
        data = super().from_options(options)
        if getattr(options, 'conditional', False):
            options.kind = run_kind(complete(options), getattr(data, 'classes', ()), check=False)
        return data

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        group = parser.add_argument_group('data')
        component_option(group, 'data', 'format of the dataset', flag='data-format')
        group.add_argument('--data-dir', help='folder of the images, or of the files of '
                           f'--dataset (default: none; {CACHE_DIR} for downloadable datasets)')
        component_option(group, 'dataset', 'where the images come from')
        group.add_argument('--image-class', help='keep only the images with this label: a '
                           'class name (a sub-folder of a folder dataset) or a label index; '
                           'for lsun the database (bedroom: bedroom_train), for emnist a split '
                           '(letters, digits...) or a label of the balanced split '
                           '(default: all images; bedroom for lsun)')
        group.add_argument('--image-size', type=positive_int, default=64,
                           help='images are resized (shorter side) and center-cropped to this '
                           'square size (default: %(default)s)')
        group.add_argument('--image-colors', type=int, choices=(1, 3), default=3,
                           help='1 for grey, 3 for colour images, converting as needed '
                           '(default: %(default)s)')
        group.add_argument('--batch-size', type=positive_int, default=64,
                           help='images in each batch (default: %(default)s)')
        group.add_argument('--loader-workers', type=non_negative_int,
                           help='processes that load the images in the background, 0 to load '
                           'them in the training process (default: on a CUDA GPU one per CPU '
                           'core left to each training process, at most 8; elsewhere 0)')
        group.add_argument('--cache-images', action=argparse.BooleanOptionalAction,
                           default=False, help='single-image: decode and resize every image '
                           'once, keep them in memory (1 byte per pixel and colour) and serve '
                           'the batches from there (default: off)')


def input_colors(options: argparse.Namespace) -> int:
    """Channels of the generator's inputs in translation (see ``ganzo.kind``)."""
    return kind_of(options).input_colors
