"""DiffAugment: each augmentation does what DiffAugment's does, per image, and
lets gradients through; --augment picks them in order and checks their names."""

import pytest
import torch

from ganzo.augment import Augment, Color, Cutout, Translation
from ganzo.errors import GanzoError
from ganzo.options import complete, parse


def images(batch=6, channels=3, size=16):
    torch.manual_seed(0)
    return torch.rand(batch, channels, size, size) * 2 - 1


def shifted(image, rows, columns):
    """``image`` (C x H x W) moved down by ``rows`` and right by ``columns``, zeros
    coming in."""
    out = torch.zeros_like(image)
    height, width = image.shape[1:]
    out[:, max(rows, 0):height + min(rows, 0), max(columns, 0):width + min(columns, 0)] = \
        image[:, max(-rows, 0):height - max(rows, 0), max(-columns, 0):width - max(columns, 0)]
    return out


def test_translation_shifts_each_image_by_at_most_an_eighth():
    x = images()
    y = Translation(None)(x)
    shifts = set()
    for before, after in zip(x, y):
        found = [(r, c) for r in range(-2, 3) for c in range(-2, 3)
                 if torch.equal(after, shifted(before, r, c))]
        assert len(found) == 1
        shifts.add(found[0])
    assert len(shifts) > 1  # drawn per image


def test_cutout_zeroes_a_rectangle_of_half_the_size_cut_at_the_borders():
    x = images(batch=20) + 5  # no zero pixel of its own
    y = Cutout(None)(x)
    sizes = set()
    for after in y:
        rows = (after == 0).all(0).any(1).nonzero().view(-1)
        columns = (after == 0).all(0).any(0).nonzero().view(-1)
        assert 1 <= len(rows) <= 8 and 1 <= len(columns) <= 8
        assert (after[:, rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1] == 0).all()
        assert (after != 0).sum() == 3 * (256 - len(rows) * len(columns))
        sizes.add((len(rows), len(columns)))
    assert (8, 8) in sizes and len(sizes) > 1


def test_color_changes_brightness_saturation_and_contrast_per_image():
    x = images()
    torch.manual_seed(1)
    y = Color(None)(x)
    torch.manual_seed(1)
    brightness = torch.rand(6, 1, 1, 1) - 0.5
    saturation = torch.rand(6, 1, 1, 1) * 2
    contrast = torch.rand(6, 1, 1, 1) + 0.5
    expected = x + brightness
    grey = expected.mean(1, keepdim=True)
    expected = (expected - grey) * saturation + grey
    mean = expected.mean((1, 2, 3), keepdim=True)
    assert torch.allclose(y, (expected - mean) * contrast + mean)


@pytest.mark.parametrize('augmentation', [Color(None), Translation(None), Cutout(None)])
def test_gradients_flow_through_each_augmentation(augmentation):
    x = images().requires_grad_(True)
    weights = torch.randn_like(x)
    torch.manual_seed(3)
    y = augmentation(x)
    gradient, = torch.autograd.grad((y * weights).sum(), x)
    assert gradient.abs().sum() > 0
    if not isinstance(augmentation, Color):  # linear in the images: the gradient is its adjoint
        assert torch.allclose((y * weights).sum(), (x * gradient).sum())
        assert (gradient != 0).sum() < x.numel()  # what is shifted out or cut has none


def test_augment_applies_the_named_ones_in_order():
    augment = Augment(complete(augment='translation,cutout'))
    assert [type(a) for a in augment.augmentations] == [Translation, Cutout] and augment
    torch.manual_seed(5)
    y = augment(images())
    torch.manual_seed(5)
    assert torch.equal(y, Cutout(None)(Translation(None)(images())))
    assert not Augment(complete())
    assert torch.equal(Augment(complete())(images()), images())


def test_unknown_augmentation_is_one_error_line_that_lists_them():
    with pytest.raises(GanzoError) as error:
        parse(['--augment', 'color,flip'])
    message = str(error.value)
    assert '--augment' in message and "'flip'" in message and 'translation' in message
    assert parse(['--augment', 'color, cutout']).augment == 'color,cutout'
