"""The real images that the metrics compare with, and what identifies them in the cache."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset

from ganzo.data import filter_class, folder_dataset, image_transform
from ganzo.errors import GanzoError
from ganzo.registry import Registry

SUBSET_SEED = 0
DEH_OPTIONS = 'deh.json'  # what deh writes beside its images


def labelled_dataset(options: argparse.Namespace) -> Dataset:
    """Every image of ``--dataset`` with its label, for training a classifier."""
    transform = image_transform(options.image_size, options.image_colors)
    dataset = Registry.build('dataset', options.dataset, options, transform)
    if len(getattr(dataset, 'classes', [])) < 2 or getattr(dataset, 'targets', None) is None:
        raise GanzoError(f'--feature-extractor classifier needs a --dataset with 2 classes or '
                         f'more (for a folder: one sub-folder per class), and {options.dataset} '
                         'has fewer: use --feature-extractor inception')
    return dataset


def image_folder(path: str, options: argparse.Namespace, option: str) -> Dataset:
    """The images in the folder ``path`` (given by ``option``), transformed as
    the training images are. In a folder that ``deh`` wrote (it holds
    ``deh.json``), its ``grid.png`` is not one of them."""
    transform = image_transform(options.image_size, options.image_colors)
    folder = Path(path).expanduser()
    ignored = {folder / DEH_OPTIONS, folder / 'grid.png'} if (folder / DEH_OPTIONS).is_file() \
        else set()
    return folder_dataset(argparse.Namespace(data_dir=path), transform, option, ignored)


def real_images(options: argparse.Namespace) -> tuple[Dataset, str]:
    """The real images (``--evaluation-data-dir``, else the training images of
    ``--dataset`` and ``--image-class``) and words that say where they come from."""
    if options.evaluation_data_dir is not None:
        return (image_folder(options.evaluation_data_dir, options, '--evaluation-data-dir'),
                f'--evaluation-data-dir {options.evaluation_data_dir}')
    transform = image_transform(options.image_size, options.image_colors)
    dataset = Registry.build('dataset', options.dataset, options, transform)
    return (filter_class(dataset, options.image_class, options.dataset),
            f'--dataset {options.dataset}')


def at_most(dataset: Dataset, count: int) -> Dataset:
    """``dataset``, or a fixed random subset of ``count`` of its items (the same
    every time, so that the cached features stay valid)."""
    if len(dataset) <= count:  # type: ignore[arg-type]
        return dataset
    generator = torch.Generator().manual_seed(SUBSET_SEED)
    indices = torch.randperm(len(dataset), generator=generator)[:count]  # type: ignore[arg-type]
    return Subset(dataset, indices.sort().values.tolist())


def _files(dataset: Dataset) -> list[tuple[str, int, int]]:
    """Path, size and modification time of the files behind a folder dataset."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    files = []
    for path, _ in getattr(dataset, 'samples', []):
        stat = os.stat(path)
        files.append((os.path.abspath(path), stat.st_size, stat.st_mtime_ns))
    return files


def dataset_identity(options: argparse.Namespace, dataset: Dataset, **extra) -> str:
    """12 hex digits that change when the images of ``dataset`` could: its
    options, its size and, for folders, its files (names, sizes, times)."""
    values = {'dataset': options.dataset, 'image_size': options.image_size,
              'image_colors': options.image_colors, 'length': len(dataset),  # type: ignore
              'data_dir': str(Path(options.data_dir).expanduser().absolute())
              if options.data_dir else None, 'files': _files(dataset), **extra}
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
