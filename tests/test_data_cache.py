"""Tests of --cache-images: the in-memory cache gives the very batches of the
uncached path, in the same order, epoch after epoch and across a restore."""

from __future__ import annotations

import pytest
import torch

from ganzo.data import Data, ImageCache, SingleImageData
from ganzo.errors import GanzoError
from ganzo.options import complete


def epochs(data, count: int = 2) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
    return [list(data) for _ in range(count)]


def build(image_folder, **values) -> SingleImageData:
    torch.manual_seed(5)
    return SingleImageData(complete(**{'data_dir': str(image_folder), 'image_size': 8,
                                       'batch_size': 4, **values}))


def assert_same_batches(first, second) -> None:
    assert len(first) == len(second)
    for epoch_first, epoch_second in zip(first, second):
        assert len(epoch_first) == len(epoch_second) > 0
        for (images, labels), (cached_images, cached_labels) in zip(epoch_first, epoch_second):
            assert cached_images.dtype == images.dtype == torch.float32
            assert torch.equal(images, cached_images)
            assert torch.equal(labels, cached_labels)


@pytest.mark.parametrize('values', [
    {}, {'image_colors': 1, 'image_size': 6}, {'image_class': 'class1', 'batch_size': 3},
    {'loader_workers': 1},
])
def test_cached_batches_equal_uncached_ones(image_folder, values):
    plain = build(image_folder, **values)
    cached = build(image_folder, cache_images=True, **values)
    assert isinstance(cached.dataset, ImageCache)
    assert len(cached) == len(plain)
    assert cached.dataset.images.dtype == torch.uint8
    assert_same_batches(epochs(plain), epochs(cached))


def test_cached_order_restores_like_the_uncached_one(image_folder):
    cached = build(image_folder, cache_images=True)
    list(cached)
    state = cached.state_dict()
    expected = epochs(cached)
    restored = build(image_folder, cache_images=True)
    restored.load_state_dict(state)
    assert_same_batches(expected, epochs(restored))


def test_cache_is_refused_for_translation_data(image_folder):
    with pytest.raises(GanzoError, match='--cache-images'):
        Data.from_options(complete(data_format='colorization', data_dir=str(image_folder),
                                   image_size=8, batch_size=4, cache_images=True))
