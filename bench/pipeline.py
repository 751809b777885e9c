"""Throughput of ganzo's data pipeline alone: batches of ``SingleImageData``
read and dropped, as fast as they come.

    python bench/pipeline.py --data-dir ../shared/data/cifar10-test --image-size 64 \\
        [--cache-images] [--loader-workers 2] [--batches 40] [--device cuda]

(without --loader-workers: ganzo's default for --device, with pinned memory on CUDA)

prints one JSON line: ``setup_seconds`` (building the data, decoding the cache
when there is one) and ``images_per_second`` after the first batch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import islice
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'src'))

from ganzo.data import SingleImageData  # noqa: E402
from ganzo.options import complete  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data-dir', required=True)
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--loader-workers', type=int, help="default: ganzo's for --device")
    parser.add_argument('--device', default='cpu', help='cuda: pinned batches, as in training')
    parser.add_argument('--cache-images', action='store_true')
    parser.add_argument('--batches', type=int, default=40, help='batches timed (at most an epoch)')
    arguments = parser.parse_args(argv)
    torch.manual_seed(0)
    started = time.perf_counter()
    data = SingleImageData(complete(
        data_dir=arguments.data_dir, image_size=arguments.image_size,
        batch_size=arguments.batch_size, loader_workers=arguments.loader_workers,
        cache_images=arguments.cache_images, device=arguments.device))
    setup = time.perf_counter() - started
    batches = iter(data)
    next(batches)  # start-up: workers starting, first images decoded
    started = time.perf_counter()
    images = sum(len(labels) for _, labels in islice(batches, arguments.batches))
    seconds = time.perf_counter() - started
    print(json.dumps({'images_per_second': images / seconds, 'images': images,
                      'seconds': seconds, 'setup_seconds': setup}))


if __name__ == '__main__':
    main()
