"""The unpaired data format: two domains of images, from folders or from the
halves of pair images, paired at random each epoch, held-out images and pairs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganzo.data import Data, UnpairedData
from ganzo.data.unpaired import UnpairedOrder
from ganzo.errors import GanzoError
from ganzo.options import complete, parse

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)


def solid_images(folder: Path, colour: tuple[int, int, int], count: int, mode: str = 'RGB',
                 size: tuple[int, int] = (10, 10)) -> Path:
    """``count`` images of one colour, whose pixel (0, 0) encodes their number."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        image = Image.new('RGB', size, colour)
        image.putpixel((0, 0), (index * 10, index * 10, index * 10))
        image.convert(mode).save(folder / f'{index}.png')
    return folder


def pair_images(folder: Path, count: int, first=RED, second=BLUE) -> Path:
    """Images ``first`` on the left half and ``second`` on the right."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        image = Image.new('RGB', (16, 8), second)
        image.paste(first, (0, 0, 8, 8))
        image.save(folder / f'{index}.png')
    return folder


@pytest.fixture
def domains(tmp_path) -> Path:
    """The CycleGAN layout: 7 red images in trainA, 3 blue ones in trainB, 2 of
    each held out in testA and testB (green and blue)."""
    solid_images(tmp_path / 'trainA', RED, 7)
    solid_images(tmp_path / 'trainB', BLUE, 3)
    solid_images(tmp_path / 'testA', GREEN, 2)
    solid_images(tmp_path / 'testB', BLUE, 2)
    return tmp_path


def options(**values):
    return complete(**{'game': 'cycle', 'data_format': 'unpaired', 'image_size': 8,
                       'batch_size': 2, 'device': 'cpu', **values})


def colour(images: torch.Tensor) -> list[int]:
    """The colour of the middle pixel of each image ``N x 3 x H x W``, as 0/1 per channel."""
    return [tuple(int(v > 0) for v in image[:, 4, 4].tolist()) for image in images]


def test_batches_pair_images_of_a_with_images_of_b(domains):
    data = Data.from_options(options(data_dir=domains))
    assert isinstance(data, UnpairedData)
    assert len(data) == 3  # 7 items an epoch, the larger domain's, in batches of 2
    for a, b in data:
        assert a.shape == b.shape == (2, 3, 8, 8)
        assert set(colour(a)) == {(1, 0, 0)} and set(colour(b)) == {(0, 0, 1)}


def test_each_epoch_takes_every_image_of_each_side_in_its_own_random_order():
    generator = torch.Generator().manual_seed(0)
    order = UnpairedOrder((7, 3), generator)
    assert len(order) == 7
    epochs = []
    for _ in range(3):
        order.shuffle()  # an epoch starts
        assert list(order) == list(order)  # drawn once: the loader may iterate twice
        epochs.append(list(order))
    for keys in epochs:
        a, b = zip(*keys)
        assert sorted(a) == list(range(7))  # the larger side: each image once
        assert set(Counter(b).values()) <= {2, 3} and set(b) == {0, 1, 2}  # the smaller: evenly
    assert epochs[0] != epochs[1] != epochs[2]
    halves = UnpairedOrder((50, 50), torch.Generator().manual_seed(1))
    halves.shuffle()
    assert sum(a == b for a, b in halves) < 10  # the sides of a pair image rarely meet


def test_the_order_is_restored_from_the_data_state(domains):
    data = Data.from_options(options(data_dir=domains))
    list(data)
    state = data.state_dict()
    expected = [torch.cat(batch) for batch in data]
    torch.manual_seed(123)
    again = Data.from_options(options(data_dir=domains))
    again.load_state_dict(state)
    assert all(torch.equal(x, torch.cat(y)) for x, y in zip(expected, again))


def test_direction_b_to_a_swaps_the_domains(domains):
    a, b = next(iter(Data.from_options(options(data_dir=domains, direction='b-to-a'))))
    assert set(colour(a)) == {(0, 0, 1)} and set(colour(b)) == {(1, 0, 0)}


def test_held_out_folders_serve_the_snapshots_and_no_ground_truth(domains):
    data = Data.from_options(options(data_dir=domains))
    a, b = data.fixed_domains(5)
    assert a.shape == b.shape == (2, 3, 8, 8)  # testA and testB hold 2 each
    assert set(colour(a)) == {(0, 1, 0)}
    assert data.held_out() is None
    for name in ('testA', 'testB'):
        for path in (domains / name).iterdir():
            path.unlink()
        (domains / name).rmdir()
    a, b = Data.from_options(options(data_dir=domains)).fixed_domains(5)
    assert a.shape[0] == 3 and set(colour(a)) == {(1, 0, 0)}  # the first training images


def test_two_folders_given_by_options(tmp_path):
    a_dir, b_dir = solid_images(tmp_path / 'x', RED, 4), solid_images(tmp_path / 'y', BLUE, 5)
    data = Data.from_options(options(domain_a_dir=a_dir, domain_b_dir=b_dir))
    a, b = next(iter(data))
    assert set(colour(a)) == {(1, 0, 0)} and set(colour(b)) == {(0, 0, 1)}
    assert len(data) == 2


def test_halves_of_pair_images_with_held_out_ground_truth(tmp_path):
    pair_images(tmp_path / 'train', 6)
    pair_images(tmp_path / 'test', 3, first=GREEN)
    data = Data.from_options(options(domains='halves', data_dir=tmp_path / 'train',
                                     test_data_dir=tmp_path / 'test', direction='b-to-a'))
    a, b = next(iter(data))
    assert set(colour(a)) == {(0, 0, 1)} and set(colour(b)) == {(1, 0, 0)}  # swapped
    pairs = data.held_out()
    assert len(pairs) == 3
    source, target = pairs[0]
    assert colour(source[None]) == [(0, 0, 1)] and colour(target[None]) == [(0, 1, 0)]
    source, target = pairs.swapped()[0]
    assert colour(source[None]) == [(0, 1, 0)] and colour(target[None]) == [(0, 0, 1)]
    fraction = Data.from_options(options(domains='halves', data_dir=tmp_path / 'train',
                                         test_fraction=0.5))
    assert len(fraction.held_out()) == 3 and len(fraction) == 1


def test_jitter_crops_and_flips_each_image_on_its_own(tmp_path):
    folder = tmp_path / 'stripes'
    folder.mkdir()
    for side in ('A', 'B'):
        for index in range(4):
            pixels = np.zeros((16, 16, 3), dtype=np.uint8)
            pixels[:, :8] = 255  # white left half
            Image.fromarray(pixels).save(folder / f'{side}{index}.png')
    data = Data.from_options(options(domain_a_dir=folder, domain_b_dir=folder, jitter=True,
                                     image_size=16, batch_size=8))
    torch.manual_seed(0)
    a, b = next(iter(data))
    left = a[:, 0, 8, :8].mean(1)
    assert (left > 0).any() and (left < 0).any()  # some flipped, some not
    plain = data.fixed_domains(1)[0]
    assert torch.equal(plain[0, 0, 8, :8], torch.ones(8))  # snapshots are not jittered


def test_grey_images_are_converted_unless_a_whole_domain_is_grey(tmp_path):
    a_dir = solid_images(tmp_path / 'a', RED, 3)
    Image.new('L', (10, 10), 128).save(a_dir / 'grey.png')  # one grey image: converted
    b_dir = solid_images(tmp_path / 'b', BLUE, 3)
    a = Data.from_options(options(domain_a_dir=a_dir, domain_b_dir=b_dir)).domains[0]
    assert len(a) == 4 and a[3][0].shape == (3, 8, 8)
    grey = solid_images(tmp_path / 'grey', RED, 3, mode='L')
    with pytest.raises(GanzoError, match=f'--domain-b-dir {grey} holds only grey images and '
                       '--image-colors is 3'):
        Data.from_options(options(domain_a_dir=a_dir, domain_b_dir=grey))
    with pytest.raises(GanzoError, match=f'--domain-b-dir {b_dir} holds only colour images '
                       'and --image-colors is 1'):
        Data.from_options(options(domain_a_dir=grey, domain_b_dir=b_dir, image_colors=1))


def test_the_options_of_unpaired_data_are_its_own(recwarn):
    parse(['--game', 'cycle', '--domains', 'halves', '--split', 'vertical', '--direction',
           'b-to-a', '--jitter', '--test-data-dir', 'x', '--test-fraction', '0.5',
           '--domain-a-dir', 'a', '--domain-b-dir', 'b'])
    assert not recwarn.list
    with pytest.warns(UserWarning, match='--domains is an option of --data-format unpaired'):
        parse(['--domains', 'halves'])
