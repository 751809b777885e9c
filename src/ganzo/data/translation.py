"""Image-to-image translation data: datasets of (input, target) pairs, made from
the images of ``--dataset`` by the formats ``pair-of-images``, ``colorization``
and ``super-resolution``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from PIL import Image
from torch.utils.data import Dataset, Subset
from torchvision import transforms

from ganzo.data.loaders import SingleImageData
from ganzo.data.transforms import ConvertMode, filter_class, square
from ganzo.errors import GanzoError
from ganzo.options import beta, complete, owned_by, positive_int
from ganzo.registry import Registry, register, with_option_parser

FORMATS = ('pair-of-images', 'colorization', 'super-resolution')
# --direction: which side is the input. The first half of a pair image (left or
# top) is the domain A, the second B: a-to-b is first-to-second, b-to-a second-to-first.
REVERSED_DIRECTIONS = ('second-to-first', 'b-to-a')
DIRECTIONS = ('first-to-second', 'second-to-first', 'a-to-b', 'b-to-a')


def reverses(direction: str) -> bool:
    """Whether ``direction`` (a value of --direction) goes from the second half of
    a pair image, or the domain B, to the first, or A."""
    return direction in REVERSED_DIRECTIONS


@with_option_parser
def add_translation_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
    group = parser.add_argument_group('translation data (pair-of-images, colorization, '
                                      'super-resolution)')
    owned_by(group.add_argument(
        '--split', choices=('horizontal', 'vertical'), default='horizontal',
        help='pair-of-images, and unpaired with --domains halves: the two halves of each '
        'image lie side by side (horizontal) or one above the other (vertical) '
        '(default: %(default)s)'), 'data_format', 'pair-of-images', 'unpaired')
    owned_by(group.add_argument(
        '--direction', choices=DIRECTIONS, default='first-to-second',
        help='pair-of-images: translate the left (top) half into the right (bottom) one, or '
        'the other way round; unpaired: translate the domain A (trainA, --domain-a-dir or '
        'the first halves) into B, or B into A; a-to-b is first-to-second, b-to-a '
        'second-to-first. deh, for unpaired experiments: the direction to translate in, '
        'with the generator trained for it (default: %(default)s)'),
        'data_format', 'pair-of-images', 'unpaired')
    owned_by(group.add_argument(
        '--scale-factor', type=positive_int, default=4, help='super-resolution: the input is '
        'the image shrunk by this factor and scaled back up (bicubic) (default: %(default)s)'),
        'data_format', 'super-resolution')
    for action in (
        group.add_argument('--jitter', action=argparse.BooleanOptionalAction, default=False,
                           help='train on random crops of the pairs scaled up by 1/8, flipped '
                           'left-right half of the time, the same for input and target '
                           '(unpaired: each image on its own) (default: off)'),
        group.add_argument('--test-data-dir', help='folder of held-out pairs, laid out like '
                           '--data-dir, for the snapshots and the l1 and psnr criteria '
                           '(unpaired: pair images, with --domains halves) (default: none)'),
        group.add_argument('--test-fraction', type=beta, default=0.0,
                           help='without --test-data-dir, hold out this fraction of the data '
                           '(the same items for every seed) (default: no held-out pairs)')):
        owned_by(action, 'data_format', *FORMATS, 'unpaired')


Pair = tuple[torch.Tensor, torch.Tensor]


class TranslationData(SingleImageData):
    """Shuffled batches ``(inputs, targets)`` of image pairs for image-to-image
    translation: ``inputs`` float ``B x I x H x W`` and ``targets`` float
    ``B x C x H x W`` in [-1, 1] (``C = --image-colors``, ``I = input_colors(options)``:
    ``C``, or 1 for colorization; ``H = W = --image-size``).

    Each image of ``--dataset`` gives one pair through ``halves``; both are
    resized (shorter side) and center-cropped to ``--image-size``; with
    ``--jitter`` the training pairs get the same random crop and flip. Held-out
    pairs (``--test-data-dir`` or ``--test-fraction``) are left out of training
    and serve ``fixed_pairs`` (snapshots) and ``held_out`` (evaluation).
    It serves the ``translation`` kind of run (``translation = True``, see ``ganzo.kind``)."""

    translation = True

    @property
    def item_seeds(self) -> bool:  # type: ignore[override]
        """--jitter draws each pair's crop and flip from a seed that comes with
        the item: the same whichever process loads it."""
        return self.jitter

    @staticmethod
    def input_colors(options: argparse.Namespace) -> int:
        return options.image_colors

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        self.size = options.image_size
        self.colors = options.image_colors
        self.jitter = options.jitter
        self.check(options)
        super().__init__(options)

    def check(self, options: argparse.Namespace) -> None:
        """Raise a ``GanzoError`` for options this format cannot work with."""

    def build_dataset(self, options: argparse.Namespace) -> Dataset:
        images, self.held_out_images = translation_images(options)
        for dataset in (images, self.held_out_images):
            self.check_images(dataset)
        return Pairs(images, PairTransform(self, options.jitter))

    def check_images(self, images: Dataset | None) -> None:
        """Raise a ``GanzoError`` naming an image of ``images`` that gives no pair."""

    def halves(self, image: Image.Image, size: int) -> tuple[Image.Image, Image.Image]:
        """The input and the target made of ``image`` (in --image-colors), both
        ``size x size``."""
        raise NotImplementedError

    def held_out(self) -> Dataset | None:
        """The held-out pairs ``(input, target)``, not jittered; None if there are none."""
        if self.held_out_images is None:
            return None
        return Pairs(self.held_out_images, PairTransform(self, jitter=False))

    def fixed_pairs(self, count: int) -> Pair:
        """The first ``count`` held-out pairs (training pairs if none are held
        out), not jittered, as ``(inputs, targets)`` batches: what snapshots show."""
        pairs = self.held_out()
        if pairs is None:
            pairs = Pairs(self.dataset.images, PairTransform(self, jitter=False))
        inputs, targets = zip(*(pairs[index] for index in range(min(count, len(pairs)))))
        return torch.stack(inputs), torch.stack(targets)


def translation_images(options: argparse.Namespace) -> tuple[Dataset, Dataset | None]:
    """The images of ``--dataset`` (PIL images, labels) to train on, and the
    held-out ones of ``--test-data-dir`` or ``--test-fraction`` (None if neither)."""
    images = filter_class(Registry.build('dataset', options.dataset, options, None),
                          options.image_class, options.dataset)
    if options.test_data_dir is not None:
        test_options = argparse.Namespace(**{**vars(options), 'data_dir': options.test_data_dir})
        try:
            held_out = Registry.build('dataset', options.dataset, test_options, None)
        except GanzoError as error:  # the dataset names the folder --data-dir
            raise GanzoError(str(error).replace('--data-dir', '--test-data-dir')) from None
        return images, filter_class(held_out, options.image_class, options.dataset)
    if options.test_fraction == 0:
        return images, None
    count = round(len(images) * options.test_fraction)  # type: ignore[arg-type]
    if not 0 < count < len(images):  # type: ignore[arg-type]
        raise GanzoError(f'--test-fraction {options.test_fraction} holds out {count} of the '
                         f'{len(images)} images: choose a fraction that leaves some on '  # type: ignore[arg-type]
                         'both sides, or use --test-data-dir')
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0)).tolist()  # type: ignore[arg-type]
    return Subset(images, order[count:]), Subset(images, order[:count])


class Pairs(Dataset):
    """Items ``(input, target)``: the images of ``images`` (items ``(PIL image,
    label)``) through ``transform``. An item is asked for by its index, or by
    ``(index, seed)``: the seed of the transform's random choices."""

    def __init__(self, images: Dataset, transform: Callable[..., Pair]) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)  # type: ignore[arg-type]

    def __getitem__(self, item: int | tuple[int, int]) -> Pair:
        index, seed = item if isinstance(item, tuple) else (item, None)
        return self.transform(self.images[index][0], seed)


class PairTransform:
    """PIL image -> ``(input, target)`` tensors in [-1, 1] by ``data.halves``;
    with ``jitter``, the halves are made 1/8 larger, then the same random
    ``size x size`` crop and left-right flip are applied to both, drawn from
    ``seed`` if given (otherwise from the global torch RNG)."""

    def __init__(self, data: TranslationData, jitter: bool) -> None:
        self.data, self.jitter = data, jitter
        self.convert = ConvertMode('L' if data.colors == 1 else 'RGB')

    def __call__(self, image: Image.Image, seed: int | None = None) -> Pair:
        size = self.data.size
        source, target = self.data.halves(self.convert(image), size + size // 8 * self.jitter)
        source, target = (transforms.functional.to_tensor(half) * 2 - 1
                          for half in (source, target))
        if self.jitter:
            generator = None if seed is None else torch.Generator().manual_seed(seed)
            top, left = (int(torch.randint(extent - size + 1, (), generator=generator))
                         for extent in source.shape[-2:])
            both = torch.cat([source, target])[:, top:top + size, left:left + size]
            if torch.rand((), generator=generator) < 0.5:
                both = both.flip(-1)
            source, target = both[:len(source)], both[len(source):]
        return source, target


@register('data', 'pair-of-images')
class PairOfImagesData(TranslationData):
    """Pairs from images that each hold an input and a target side by side
    (``--split horizontal``) or one above the other (``--split vertical``), as in
    the pix2pix datasets. ``--direction first-to-second`` (or ``a-to-b``)
    translates the left (top) half into the right (bottom) one; ``second-to-first``
    (or ``b-to-a``) the other way round. An image of odd width gives the extra
    column to the second half."""

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        self.split, self.direction = options.split, options.direction
        super().__init__(options)

    def check_images(self, images: Dataset | None) -> None:
        check_splittable(images, self.split)

    def halves(self, image: Image.Image, size: int) -> tuple[Image.Image, Image.Image]:
        first, second = (square(half, size) for half in split_image(image, self.split))
        return (second, first) if reverses(self.direction) else (first, second)


def image_files(images: Dataset | None) -> list[str]:
    """The files of the images of ``images``, when they come from a folder."""
    while isinstance(images, Subset):
        images = images.dataset
    return [path for path, _ in getattr(images, 'samples', [])]


def check_splittable(images: Dataset | None, split: str) -> None:
    """A ``GanzoError`` naming an image of ``images`` too small to be split into two
    halves (--split ``split``)."""
    for path in image_files(images):
        with Image.open(path) as image:
            width, height = image.size
        if (width if split == 'horizontal' else height) < 2:
            raise GanzoError(
                f'{path} is {width}x{height} pixels: it cannot be split into two halves '
                f'{"side by side" if split == "horizontal" else "one above the other"} '
                f'(--split {split}); remove it or change --split')


def split_image(image: Image.Image, split: str) -> tuple[Image.Image, Image.Image]:
    """The two halves of ``image``: left and right (``split`` 'horizontal') or top
    and bottom ('vertical'); an odd width (height) gives the extra pixels to the second."""
    width, height = image.size
    if split == 'horizontal':
        boxes = (0, 0, width // 2, height), (width // 2, 0, width, height)
    else:
        boxes = (0, 0, width, height // 2), (0, height // 2, width, height)
    if min(boxes[0][2] - boxes[0][0], boxes[0][3] - boxes[0][1]) == 0:
        raise GanzoError(f'an image of {width}x{height} pixels cannot be split into two '
                         f'halves (--split {split}): remove it or change --split')
    first, second = (image.crop(box) for box in boxes)
    return first, second


@register('data', 'colorization')
class ColorizationData(TranslationData):
    """Pairs (grey image, colour image) from the images of ``--dataset``:
    inputs ``B x 1 x H x W``, targets ``B x 3 x H x W`` (needs ``--image-colors 3``)."""

    @staticmethod
    def input_colors(options: argparse.Namespace) -> int:
        return 1

    def check(self, options: argparse.Namespace) -> None:
        if options.image_colors != 3:
            raise GanzoError('--data-format colorization makes colour targets: '
                             'use --image-colors 3')

    def halves(self, image: Image.Image, size: int) -> tuple[Image.Image, Image.Image]:
        target = square(image, size)
        return target.convert('L'), target


@register('data', 'super-resolution')
class SuperResolutionData(TranslationData):
    """Pairs (blurred image, image) from the images of ``--dataset``: the input
    is the ``--image-size`` image shrunk by ``--scale-factor`` and scaled back up
    (bicubic), so that input and target are both ``B x C x H x W``."""

    def check(self, options: argparse.Namespace) -> None:
        self.factor = options.scale_factor
        if options.scale_factor > options.image_size // 2:
            raise GanzoError(f'--scale-factor {options.scale_factor} shrinks --image-size '
                             f'{options.image_size} to less than 2 pixels: lower it')

    def halves(self, image: Image.Image, size: int) -> tuple[Image.Image, Image.Image]:
        target = square(image, size)
        small = target.resize((size // self.factor,) * 2, Image.Resampling.BICUBIC)
        return small.resize((size, size), Image.Resampling.BICUBIC), target
