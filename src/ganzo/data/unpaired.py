"""Unpaired data: images of two domains, A and B, with no pairs between them,
for unpaired image-to-image translation (the ``cycle`` game, ``ganzo.cycle``).

The images of each domain come from a folder (``--domains folders``: ``trainA/``
and ``trainB/`` of ``--data-dir``, the layout of the CycleGAN datasets, or
``--domain-a-dir`` and ``--domain-b-dir``), or from the two halves of pair images
(``--domains halves``: each image of ``--data-dir`` split as ``pair-of-images``
splits it, ``--split``; the first halves are A, the second B). Each epoch pairs
random images of A with random images of B, so that in the halves of pair
images the two sides are shuffled each on its own and the pairs are never
seen. ``--direction b-to-a`` (or ``second-to-first``) swaps the domains.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms

from ganzo import distributed
from ganzo.data.loaders import SingleImageData
from ganzo.data.sources import folder_dataset
from ganzo.data.transforms import ConvertMode, Transform, image_transform
from ganzo.data.translation import (
    check_splittable,
    image_files,
    reverses,
    split_image,
    translation_images,
)
from ganzo.errors import GanzoError
from ganzo.kind import UNPAIRED
from ganzo.options import complete, owned_by
from ganzo.registry import register, with_option_parser

GREY_MODES = {'1', 'L', 'LA', 'La', 'I', 'I;16', 'I;16B', 'I;16L', 'F'}


@with_option_parser
def add_unpaired_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
    group = parser.add_argument_group('unpaired data')
    for action in (
        group.add_argument(
            '--domains', choices=('folders', 'halves'), default='folders',
            help='unpaired: where the images of the domains A and B come from: folders '
            '(trainA/ and trainB/ of --data-dir, with testA/ and testB/ held out if there, as '
            'in the CycleGAN datasets; or --domain-a-dir and --domain-b-dir) or halves (each '
            'image of --data-dir split in two, --split: the first halves are A, the second B, '
            'each side shuffled on its own; held out: --test-data-dir or --test-fraction, '
            'whose pairs give the l1 and psnr criteria their ground truth) '
            '(default: %(default)s)'),
        group.add_argument('--domain-a-dir', metavar='FOLDER',
                           help='unpaired: the folder of the images of A (default: trainA/ of '
                           '--data-dir)'),
        group.add_argument('--domain-b-dir', metavar='FOLDER',
                           help='unpaired: the folder of the images of B (default: trainB/ of '
                           '--data-dir)')):
        owned_by(action, 'data_format', 'unpaired')


class Domain(Dataset):
    """Items ``(image C x H x W in [-1, 1], label)`` of one domain: the images of
    ``images`` (items ``(PIL image, label)``), or their ``half`` (0 the first, 1 the
    second, as ``split`` splits them), through ``transform``."""

    def __init__(self, images: Dataset, transform: Transform, split: str | None = None,
                 half: int | None = None) -> None:
        self.images, self.transform, self.split, self.half = images, transform, split, half

    def __len__(self) -> int:
        return len(self.images)  # type: ignore[arg-type]

    @property
    def samples(self) -> list[tuple[str, int]]:
        """The files of the images and their labels, when they come from a folder
        (for the cache of the metrics; ``half`` is in its ``key``)."""
        return [(path, 0) for path in image_files(self.images)]

    @property
    def key(self) -> str:
        """What, besides the files, says which images the domain holds."""
        return f'{self.split} half {self.half}' if self.half is not None else 'whole'

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.images[index]
        if self.half is not None:
            image = split_image(image, self.split or 'horizontal')[self.half]
        return self.transform(image), label


Images = tuple[Domain, Domain]  # of A, of B


class UnpairedImages(Dataset):
    """Items ``(a, b)``, both ``C x H x W``, at keys ``(index in A, index in B)``;
    its length is that of the larger domain."""

    def __init__(self, a: Dataset, b: Dataset) -> None:
        self.a, self.b = a, b

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))  # type: ignore[arg-type]

    def __getitem__(self, indices: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.a[indices[0]][0], self.b[indices[1]][0]


class GroundTruth(Dataset):
    """Items ``(a, b)`` of the same index of two domains: pairs, whose second image
    is the ground truth of the first's translation (``swapped``: ``(b, a)``)."""

    def __init__(self, a: Dataset, b: Dataset, swapped: bool = False) -> None:
        self.domains = (b, a) if swapped else (a, b)

    def __len__(self) -> int:
        return len(self.domains[0])  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.domains[0][index][0], self.domains[1][index][0]

    def swapped(self) -> GroundTruth:
        return GroundTruth(*self.domains, swapped=True)


class UnpairedOrder(distributed.EpochOrder):
    """The keys of an epoch: as many as the larger of the domains of ``sizes``,
    each ``(index in A, index in B)``, each side in a random order of its own
    (the smaller side's made of several random permutations), drawn from
    ``generator`` once per epoch (``shuffle()``, as ``EpochOrder`` draws); in a
    distributed run, this process's shard."""

    def __init__(self, sizes: tuple[int, int], generator: torch.Generator) -> None:
        super().__init__(max(sizes), generator, distributed.world_size(), distributed.rank())
        self.sizes = sizes

    def shuffle(self) -> None:
        total = self.size
        orders = [torch.cat([torch.randperm(size, generator=self.generator)
                             for _ in range(-(-total // size))])[:total] for size in self.sizes]
        shard = slice(self.rank, len(self) * self.replicas, self.replicas)
        self.order = list(zip(orders[0][shard].tolist(), orders[1][shard].tolist()))


@register('data', 'unpaired')
class UnpairedData(SingleImageData):
    """Shuffled batches ``(a, b)`` of images of the domains A and B, both float
    ``B x C x H x W`` in [-1, 1] (``C = --image-colors``, ``H = W = --image-size``),
    not pairs: each epoch takes as many images of each domain as the larger one
    holds, each side in a random order of its own (from ``self.generator``,
    checkpointed, as in ``SingleImageData``).

    Options: ``--domains``, ``--data-dir``, ``--domain-a-dir``, ``--domain-b-dir``,
    ``--split``, ``--direction``, ``--jitter`` (random crops of the images made
    1/8 larger and left-right flips, each image on its own), ``--test-data-dir``,
    ``--test-fraction``, and those of ``SingleImageData``. Held-out images (testA/
    and testB/, or the held-out pair images) serve the snapshots
    (``fixed_domains``), and held-out pairs the l1 and psnr criteria
    (``held_out``). A domain without images, a missing folder, or a domain whose
    images all have another number of channels than ``--image-colors`` is a
    ``GanzoError``. It serves unpaired translation (``kinds``)."""

    kinds = {UNPAIRED}

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        self.size, self.colors = options.image_size, options.image_colors
        self.held_out_domains: Images | None = None
        self.held_out_pairs: GroundTruth | None = None
        super().__init__(options)

    def build_dataset(self, options: argparse.Namespace) -> Dataset:
        train = image_transform(self.size, self.colors)
        transform = jittered_transform(self.size, self.colors) if options.jitter else train
        read = folder_domains if options.domains == 'folders' else half_domains
        domains, held_out = read(options, (transform, train))
        if reverses(options.direction):
            domains = domains[::-1]
            held_out = held_out and held_out[::-1]
        self.domains = domains
        self.held_out_domains = held_out
        if held_out is not None and options.domains == 'halves':
            self.held_out_pairs = GroundTruth(*held_out)
        return UnpairedImages(*domains)

    def epoch_order(self) -> distributed.EpochOrder:
        return UnpairedOrder((len(self.domains[0]), len(self.domains[1])), self.generator)

    def held_out(self) -> GroundTruth | None:
        """The held-out pairs ``(a, b)``, the ground truth of translations from A to
        B (``.swapped()``: from B to A); None without them (only pair images give them)."""
        return self.held_out_pairs

    def evaluation_domains(self) -> tuple[Domain, Domain, str]:
        """The held-out images of A and B (the training images if none are held
        out), not jittered, and words that say which images of B they are."""
        if self.held_out_domains is not None:
            a, b = self.held_out_domains
            return a, b, f'the held-out images of domain B ({b.key})'  # type: ignore
        transform = image_transform(self.size, self.colors)
        a, b = (Domain(domain.images, transform, domain.split, domain.half)
                for domain in self.domains)  # type: ignore[attr-defined]
        return a, b, f'the training images of domain B ({b.key})'

    def fixed_domains(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``count`` images of each domain of ``evaluation_domains``, as
        batches ``N x C x H x W`` of A and B (``N`` at most ``count``): what
        snapshots show."""
        domains = self.evaluation_domains()[:2]
        count = min(count, *(len(domain) for domain in domains))
        return tuple(torch.stack([domain[index][0] for index in range(count)])  # type: ignore
                     for domain in domains)


def jittered_transform(size: int, colors: int) -> Transform:
    """PIL image -> float tensor ``colors x size x size`` in [-1, 1]: converted,
    resized (shorter side) to 1/8 more than ``size``, cropped at random to
    ``size``, flipped left-right half of the time."""
    return transforms.Compose([
        ConvertMode('L' if colors == 1 else 'RGB'), transforms.Resize(size + size // 8),
        transforms.RandomCrop(size), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
        transforms.Normalize([0.5] * colors, [0.5] * colors)])


def folder_domains(options: argparse.Namespace, transforms: tuple[Transform, Transform]
                   ) -> tuple[Images, Images | None]:
    """The images of A and B from their folders, and the held-out ones of testA/
    and testB/ of --data-dir if both are there (None otherwise)."""
    if options.dataset != 'folder':
        raise GanzoError(f'--domains folders reads folders of images, not --dataset '
                         f'{options.dataset}: leave out --dataset, or use --domains halves')
    given = (options.domain_a_dir, options.domain_b_dir)
    if given.count(None) == 1:
        raise GanzoError('--domain-a-dir and --domain-b-dir go together: give both, or neither '
                         'to read trainA/ and trainB/ of --data-dir')
    if given[0] is not None:
        folders = [(Path(folder), f'--domain-{side}-dir') for folder, side in zip(given, 'ab')]
        held_out = None
    else:
        root = data_root(options)
        folders = [(root / name, '--data-dir') for name in ('trainA', 'trainB')]
        for folder, _ in folders:
            if not folder.is_dir():
                raise GanzoError(f'--data-format unpaired: --data-dir {root} has no '
                                 f'{folder.name}/ folder; put the images of domain A in '
                                 f'{root / "trainA"} and those of B in {root / "trainB"}, or '
                                 'give --domain-a-dir and --domain-b-dir (or --domains halves '
                                 'for pair images)')
        tests = [root / name for name in ('testA', 'testB')]
        if tests[0].is_dir() != tests[1].is_dir():
            there, missing = (tests[0], tests[1]) if tests[0].is_dir() else (tests[1], tests[0])
            raise GanzoError(f'--data-dir {root} has {there.name}/ but no {missing.name}/: '
                             'held-out images need both; add it, or move the other away')
        held_out = tests if tests[0].is_dir() else None
    domains = tuple(domain_folder(folder, option, options.image_colors, transforms[0])
                    for folder, option in folders)
    if held_out is None:
        return domains, None  # type: ignore[return-value]
    return domains, tuple(domain_folder(folder, '--data-dir', options.image_colors,  # type: ignore
                                        transforms[1]) for folder in held_out)


def data_root(options: argparse.Namespace) -> Path:
    if options.data_dir is None:
        raise GanzoError('--data-format unpaired needs --data-dir (a folder holding trainA/ '
                         'and trainB/), or --domain-a-dir and --domain-b-dir')
    root = Path(options.data_dir).expanduser()
    if not root.is_dir():
        raise GanzoError(f'--data-dir {root}: no such folder; point it at a folder holding '
                         'trainA/ and trainB/')
    return root


def domain_folder(folder: Path, option: str, colors: int, transform: Transform) -> Domain:
    """The images of ``folder`` (given by ``option``) as a domain, checked."""
    images = folder_dataset(argparse.Namespace(data_dir=str(folder)), None, option)
    check_colors(images, colors, f'{option} {folder}')
    return Domain(images, transform)


def half_domains(options: argparse.Namespace, transforms: tuple[Transform, Transform]
                 ) -> tuple[Images, Images | None]:
    """The first and second halves of the images of ``--dataset`` as A and B,
    and those of the held-out images (--test-data-dir, --test-fraction) if any."""
    images, held_out = translation_images(options)
    test = f'--test-data-dir {options.test_data_dir}' if options.test_data_dir else \
        f'--data-dir {options.data_dir}'
    for dataset, folder in ((images, f'--data-dir {options.data_dir}'), (held_out, test)):
        check_splittable(dataset, options.split)
        check_colors(dataset, options.image_colors, folder)
    domains = tuple(Domain(images, transforms[0], options.split, half) for half in (0, 1))
    if held_out is None:
        return domains, None  # type: ignore[return-value]
    return domains, tuple(Domain(held_out, transforms[1], options.split, half)  # type: ignore
                          for half in (0, 1))


def check_colors(images: Dataset | None, colors: int, what: str) -> None:
    """A ``GanzoError`` if every image of ``images`` (files of a folder) has
    another number of channels than ``colors``: grey images when colours are
    asked for, or the reverse. (A few grey images among colour ones, or the
    reverse, are converted, as in every data format.)"""
    files = image_files(images)
    grey = 0
    for path in files:
        with Image.open(path) as image:
            grey += image.mode in GREY_MODES
    if files and grey == (len(files) if colors == 3 else 0):
        found, other = ('grey', 1) if colors == 3 else ('colour', 3)
        raise GanzoError(f'{what} holds only {found} images and --image-colors is {colors}: both '
                         f'domains are translated in --image-colors channels; give '
                         f'--image-colors {other}, or convert the images')
