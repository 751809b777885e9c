"""Benchmark: what distributed training costs, on the CPU.

Trains the demo's networks (DCGAN, 32 px grey images, 32 channels, 64 images a
step) on random images in two ways, interleaved round after round so that both
see the same load on the machine:

* one process with 2 threads, ``--batch-size 64``;
* two processes with 1 thread each (torchrun, gloo over loopback),
  ``--batch-size 32`` each: the same 64 images a step.

For reference it also runs one process with 1 thread (``--batch-size 64``): on
a loaded machine, two threads that wait for each other can be slower than one.

Images/s come from the statistics log of each run, leaving out the first epoch
(warm-up); for the two processes it is rank 0's rate times two (their steps
are in lockstep). Prints each round, then the medians and their ratio; the
issue's target is a ratio of at least 0.8.

    python bench/distributed.py [--rounds 3] [--epochs 3] [--batches 16]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DEMO = {'image_size': 32, 'image_colors': 1, 'generator': 'conv', 'discriminator': 'conv',
        'generator_channels': 32, 'discriminator_channels': 32, 'state_size': 64,
        'loss': 'gan', 'seed': 1, 'device': 'cpu', 'log': 'file', 'save_images_as': 'folder',
        'sample_every': 1000}


def make_images(folder: Path, count: int) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(
            folder / f'{index}.png')
    return folder


def train(work: Path, name: str, processes: int, threads: int, images: Path,
          epochs: int, batches: int) -> float:
    """Images/s of one run, all processes together, after its first epoch."""
    settings = work / f'{name}.json'
    settings.write_text(json.dumps({
        **DEMO, 'data_dir': str(images), 'model_dir': str(work / 'runs'), 'experiment': name,
        'batch_size': 64 // processes, 'epochs': epochs, 'max_batches_per_epoch': batches}))
    ganzo = ['-m', 'ganzo', '--from-json', str(settings), '--delete']
    if processes > 1:
        ganzo = ['-m', 'torch.distributed.run', '--standalone', '--nproc-per-node',
                 str(processes), *ganzo]
    environment = {**os.environ, 'OMP_NUM_THREADS': str(threads), 'PYTHONPATH': os.pathsep.join(
        [str(ROOT / 'src'), os.environ.get('PYTHONPATH', '')])}
    subprocess.run([sys.executable, *ganzo], check=True, env=environment,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    log = [json.loads(line) for line in
           (work / 'runs' / name / 'statistics.log').read_text().splitlines()]
    return processes * statistics.mean(epoch['images_per_second'] for epoch in log[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--epochs', type=int, default=3, help='the first is left out')
    parser.add_argument('--batches', type=int, default=16, help='steps of 64 images an epoch')
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        images = make_images(work / 'images', 64 * arguments.batches)
        one, two, single = [], [], []
        for round_ in range(1, arguments.rounds + 1):
            one.append(train(work, 'one', 1, 2, images, arguments.epochs, arguments.batches))
            two.append(train(work, 'two', 2, 1, images, arguments.epochs, arguments.batches))
            single.append(train(work, 'single', 1, 1, images, arguments.epochs,
                                arguments.batches))
            print(f'round {round_}: ' + report(one[-1], two[-1], single[-1]), flush=True)
    print('median:  ' + report(*map(statistics.median, (one, two, single)))
          + ' (target: ratio >= 0.80)')


def report(one: float, two: float, single: float) -> str:
    return (f'1 process x 2 threads {one:.0f} images/s, 2 processes x 1 thread {two:.0f} '
            f'images/s, ratio {two / one:.2f}; 1 process x 1 thread {single:.0f} images/s')


if __name__ == '__main__':
    main()
