"""Loaders: shuffled batches of a dataset, and the in-memory image cache."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset

from ganzo import distributed
from ganzo.data.transforms import decoding_transform, filter_class, image_transform
from ganzo.errors import GanzoError
from ganzo.hardware import loader_workers
from ganzo.kind import CONDITIONAL, GENERATION
from ganzo.options import complete, device
from ganzo.registry import Registry, register


@register('data', 'single-image', default=True)
class SingleImageData:
    """Shuffled batches ``(images, labels)`` of the dataset named by ``--dataset``:
    ``images`` float ``B x C x H x W`` in [-1, 1] on the CPU, ``labels`` int64 ``B``.

    ``classes`` are the class names of the dataset, label ``i`` being
    ``classes[i]`` (all of them, also with ``--image-class``; empty for a dataset
    without labels): a conditional run takes them (``Data.from_options``).

    Options: ``--dataset``, ``--data-dir``, ``--image-class``, ``--image-size``,
    ``--image-colors``, ``--batch-size``, ``--loader-workers``, ``--cache-images``.
    An epoch is ``len(self)`` full batches (the last partial batch is dropped).
    With ``--cache-images`` the images are decoded once (``--loader-workers``
    processes help) into an ``ImageCache``, which gives the same batches.

    The order of the images comes from ``self.generator``, seeded from the global
    torch RNG at construction and consumed only by the shuffle: one permutation
    drawn when an epoch starts (``iter(data)``), whatever the loader workers and
    their prefetching do, so that the batches are the same with any
    ``--loader-workers``, cached or not. Restoring ``state_dict()`` saved at the
    end of an epoch into a freshly built object gives the same batches from the
    next epoch on. In a distributed run every process draws the same order and
    reads its own shard of it (``distributed.EpochOrder``).
    """

    kinds = {GENERATION, CONDITIONAL}
    item_seeds = False  # whether each item gets a seed of its own (see EpochOrder)

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        self.dataset: Dataset = self.build_dataset(options)
        labelled = getattr(self.dataset, 'targets', None) is not None
        self.classes = tuple(map(str, getattr(self.dataset, 'classes', []))) if labelled else ()
        seed = int(torch.randint(2**62, ()))
        self.generator = torch.Generator().manual_seed(seed)
        self.order = self.epoch_order()
        if len(self.order) < options.batch_size:
            shard = 'of the dataset' if distributed.world_size() == 1 else 'that each process reads'
            raise GanzoError(f'--batch-size {options.batch_size} is larger than the '
                             f'{len(self.order)} images {shard}: lower --batch-size')
        # The loader draws a seed for its workers from its own generator, once per
        # iterator (once in all with persistent workers): keeping that apart makes
        # the order depend on self.generator alone.
        workers = loader_workers(options)
        batching: dict[str, Any] = dict(batch_size=options.batch_size, drop_last=True,
                                        sampler=self.order)
        if isinstance(self.dataset, ImageCache):  # whole batches from memory, in this process
            batching = dict(batch_size=None, sampler=BatchSampler(self.order, options.batch_size,
                                                                   drop_last=True))
            workers = 0
        elif options.cache_images:
            raise GanzoError(f'--cache-images is for --data-format single-image, not '
                             f'{options.data_format}: leave it out')
        self.loader = DataLoader(
            self.dataset, **batching, generator=torch.Generator().manual_seed(seed + 1),
            num_workers=workers, persistent_workers=workers > 0, worker_init_fn=quiet_worker,
            pin_memory=device(options).type == 'cuda')

    def build_dataset(self, options: argparse.Namespace) -> Dataset:
        """The items of the batches: ``(image, label)``, or an ``ImageCache``."""
        cache = options.cache_images
        transform = (decoding_transform if cache else image_transform)(
            options.image_size, options.image_colors)
        dataset = Registry.build('dataset', options.dataset, options, transform)
        dataset = filter_class(dataset, options.image_class, options.dataset)
        return ImageCache(dataset, loader_workers(options)) if cache else dataset

    def epoch_order(self) -> distributed.EpochOrder:
        """The order of the items, drawn from ``self.generator`` once per epoch
        (``shuffle()``): a random permutation of the dataset (this process's
        shard of it)."""
        return distributed.epoch_order(len(self.dataset), self.generator,  # type: ignore[arg-type]
                                       self.item_seeds)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of a new epoch, in an order drawn now."""
        self.order.shuffle()
        return iter(self.loader)

    def __len__(self) -> int:
        return len(self.loader)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The state of the RNG that orders the data."""
        return {'generator': self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.generator.set_state(state['generator'])


def quiet_worker(worker: int) -> None:
    """In a loader worker, a broken connection means that the training process
    is gone (killed, say, while the worker handed it a batch): the worker is
    about to end, without a traceback from the thread that was handing it over
    (multiprocessing's resource sharer reports through ``sys.excepthook``)."""
    hook = sys.excepthook

    def quiet(kind: type[BaseException], error: BaseException, trace: Any) -> None:
        if not issubclass(kind, (ConnectionError, EOFError)):
            hook(kind, error, trace)

    sys.excepthook = quiet


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
                            generator=torch.Generator(), worker_init_fn=quiet_worker)
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
