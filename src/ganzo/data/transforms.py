"""Transforms of the images of the datasets, class filtering and image decoding.

``image_transform(size, colors)`` maps a PIL image to a float tensor
``C x H x W`` in [-1, 1] (``C = colors``, ``H = W = size``), as every data
format gives its images; ``decoding_transform`` to the uint8 tensor before scaling.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from PIL import Image
from torch.utils.data import Dataset, Subset
from torchvision import transforms

from ganzo.errors import GanzoError

Transform = Callable[[Image.Image], torch.Tensor]


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
    """The items of ``dataset`` labelled ``image_class`` (a class name or a label
    index); all of them if the dataset chose its files by ``image_class`` itself
    (its ``image_class_applied``: an LSUN category, an EMNIST split)."""
    if image_class is None or getattr(dataset, 'image_class_applied', False):
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


# Decoding

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


def square(image: Image.Image, size: int) -> Image.Image:
    """``image`` resized (shorter side) and center-cropped to ``size x size``."""
    return transforms.CenterCrop(size)(transforms.Resize(size)(image))
