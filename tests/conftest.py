"""Shared fixtures: tiny image folders and tiny training runs on the CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / 'shared' / 'data'

torch.set_num_threads(1)


def make_image_folder(path: Path, classes: int = 2, per_class: int = 8, size: int = 12,
                      seed: int = 0) -> Path:
    """Sub-folders ``class0``... of random RGB PNG images."""
    rng = np.random.default_rng(seed)
    for label in range(classes):
        folder = path / f'class{label}'
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f'{index}.png')
    return path


@pytest.fixture(scope='session')
def image_folder(tmp_path_factory) -> Path:
    return make_image_folder(tmp_path_factory.mktemp('images'))


def tiny_arguments(image_folder: Path, model_dir: Path, **options) -> list[str]:
    """Command line arguments of a tiny CPU run: 8 px images, tiny models, 2 batches."""
    values = dict(data_dir=image_folder, model_dir=model_dir, experiment='tiny', device='cpu',
                  image_size=8, image_colors=3, batch_size=4, state_size=8,
                  generator_channels=4, discriminator_channels=4, epochs=2,
                  max_batches_per_epoch=2, seed=3, log='none')
    values.update(options)
    arguments = []
    for key, value in values.items():
        flag = '--' + key.replace('_', '-')
        if value is True:
            arguments.append(flag)
        elif value is not False and value is not None:
            arguments.append(f'{flag}={value}')
    return arguments


def run_ganzo(*arguments: str, module: str = 'ganzo', env: dict | None = None,
              stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """Run a Ganzo command in a subprocess, as a user would."""
    environment = {**os.environ, 'PYTHONPATH': os.pathsep.join(
        [str(ROOT / 'src'), str(ROOT / 'examples'), os.environ.get('PYTHONPATH', '')]),
        'OMP_NUM_THREADS': '1', **(env or {})}
    return subprocess.run([sys.executable, '-m', module, *map(str, arguments)],
                          capture_output=True, text=True, env=environment, stdin=stdin,
                          timeout=300)


def assert_user_error(result: subprocess.CompletedProcess, *words: str) -> None:
    """Exit status 2, one line on stderr naming the problem, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert 'Traceback' not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
