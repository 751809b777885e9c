"""The spec's own words run: the training loop that it prints, and the command
lines of the original Ganzo's experiment scripts that a user brings along.

The texts are read from ``../shared/spec`` (``ganzo-spec.md`` and
``original-experiments.md``), which CI lays out beside the clone. The copies
kept here and in the README let the tests run without it; where it is there,
they are checked to be the spec's, word for word."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, make_image_folder, make_lmdb, run_ganzo
from ganzo.discriminator import Discriminator
from ganzo.errors import GanzoError
from ganzo.generator import Generator
from ganzo.kind import run_kind
from ganzo.options import parse
from test_data import write_idx

SPEC = ROOT.parent / 'shared' / 'spec'
# The loop of the spec's "Architecture" section: a Python block with these lines.
LOOP_START, LOOP_END = 'data = Data.from_options(options)', '# save models'
# The command lines of ../shared/spec/original-experiments.md, as given there.
ORIGINAL_EXPERIMENTS = {
    '1-gan-mnist': '--experiment gan-mnist --dataset mnist --data-dir images/mnist --data-format single-image --image-size 28 --image-colors 1 --loss gan --generator fc --generator-layers 4 --generator-lr 0.0002 --discriminator fc --discriminator-layers 4 --discriminator-iterations 5 --discriminator-dropout 0.3 --discriminator-lr 0.0002 --soft-labels --noisy-labels --epochs 100 --sample-every 1 --sample-from-fixed-noise',  # noqa: E501
    '2-dcgan-mnist': '--experiment dcgan-mnist --dataset mnist --data-dir images/mnist --data-format single-image --image-size 64 --image-colors 1 --loss gan --generator conv --generator-layers 5 --generator-lr 0.0002 --discriminator conv --discriminator-layers 5 --discriminator-lr 0.0002 --beta1 0.5 --beta2 0.999 --soft-labels --noisy-labels --epochs 100 --sample-every 1 --sample-from-fixed-noise',  # noqa: E501
    '3-dcgan-bedrooms': '--experiment dcgan-bedrooms --dataset lsun --data-dir $LSUN_HOME --data-format single-image --image-class bedroom --image-size 64 --image-colors 3 --loss gan --generator conv --generator-layers 5 --generator-lr 0.0002 --discriminator conv --discriminator-layers 5 --discriminator-lr 0.0002 --beta1 0.5 --beta2 0.999 --soft-labels --noisy-labels --epochs 200 --max-batches-per-epoch 1000 --sample-every 1 --sample-from-fixed-noise',  # noqa: E501
    '4-wgan-gp-bedrooms': '--experiment wgan-gp-bedrooms --dataset lsun --data-dir $LSUN_HOME --data-format single-image --image-class bedroom --image-size 64 --image-colors 3 --loss wgan-gp --gradient-penalty 10 --generator good --generator-lr 1e-4 --generator-iterations 1 --discriminator good --discriminator-lr 1e-4 --discriminator-iterations 5 --beta1 0 --beta2 0.9 --epochs 200 --max-batches-per-epoch 1000 --sample-every 1 --sample-from-fixed-noise',  # noqa: E501
    '5-wgan-wc-bedrooms': '--experiment wgan-wc-bedrooms --dataset lsun --data-dir $LSUN_HOME --data-format single-image --image-class bedroom --image-size 64 --image-colors 3 --loss wgan-gp --generator good --generator-lr 1e-4 --generator-iterations 1 --discriminator good --discriminator-lr 1e-4 --discriminator-iterations 5 --discriminator-hook weight-clipper --clip-to 0.01 --beta1 0 --beta2 0.9 --epochs 200 --max-batches-per-epoch 1000 --sample-every 1 --sample-from-fixed-noise',  # noqa: E501
    '6-pix2pix-shoes': '--experiment pix2pix-shoes --game translate --dataset folder --data-dir $EDGES2SHOES --data-format pair-of-images --split horizontal --loss pix2pix --generator u-gen --generator-layers 4 --generator-channels 8 --generator-lr 0.0002 --discriminator patch-gan --discriminator-layers 4 --discriminator-channels 4 --discriminator-lr 0.0002 --soft-labels --noisy-labels --epochs 100 --max-batches-per-epoch 100 --sample-every 1 --snapshot-translate',  # noqa: E501
    '7-dcgan-fashion-mnist': '--experiment dcgan-fashion-mnist --dataset fashion-mnist --data-dir images/fashion-mnist --data-format single-image --image-size 64 --image-colors 1 --loss gan --generator conv --generator-layers 5 --generator-lr 0.0002 --discriminator conv --discriminator-layers 5 --discriminator-lr 0.0002 --beta1 0.5 --beta2 0.999 --soft-labels --noisy-labels --epochs 100 --sample-every 1 --sample-from-fixed-noise',  # noqa: E501
    '8-dcgan-emnist': '--experiment dcgan-emnist --dataset emnist --data-dir images/emnist --data-format single-image --image-class letters --image-size 64 --image-colors 1 --loss gan --generator conv --generator-layers 5 --generator-lr 0.0002 --discriminator conv --discriminator-layers 5 --discriminator-lr 0.0002 --beta1 0.5 --beta2 0.999 --soft-labels --noisy-labels --epochs 100 --sample-every 1 --sample-from-fixed-noise',  # noqa: E501
}


def spec(name: str) -> str:
    path = SPEC / name
    if not path.is_file():
        pytest.skip(f'{path} is absent (CI lays out ../shared beside the clone): the copy '
                    'here is not checked against it')
    return path.read_text(encoding='utf-8')


def loop_in(markdown: str) -> str:
    """The text of the Python block that holds the main loop."""
    [block] = [block for block in re.findall(r'```python\n(.*?)```', markdown, re.S)
               if block.startswith(LOOP_START)]
    return block


# The main loop

def test_the_readme_prints_the_spec_loop_word_for_word():
    assert loop_in((ROOT / 'README.md').read_text()) == loop_in(spec('ganzo-spec.md'))


def test_the_spec_loop_runs_as_written(image_folder, tmp_path):
    loop = loop_in((ROOT / 'README.md').read_text())
    assert loop.rstrip().endswith(LOOP_END)  # an if without a body: it needs one to run
    code = loop.replace(LOOP_END, f'save_models()  {LOOP_END}')
    options = parse(['--data-dir', str(image_folder), '--model-dir', str(tmp_path),
                     '--experiment', 'loop', '--device', 'cpu', '--image-size', '8',
                     '--batch-size', '4', '--max-batches-per-epoch', '2', '--state-size', '8',
                     '--generator-channels', '4', '--discriminator-channels', '4',
                     '--epochs', '3', '--log', 'file', '--seed', '1'])
    saved: list[dict] = []
    scope = {'options': options,
             'save_models': lambda: saved.append({name: tensor.clone() for name, tensor
                                                  in scope['generator'].state_dict().items()})}
    exec('from ganzo.data import Data\nfrom ganzo.discriminator import Discriminator\n'
         'from ganzo.evaluation import Evaluation\nfrom ganzo.game import Game\n'
         'from ganzo.generator import Generator\nfrom ganzo.loss import Loss\n'
         'from ganzo.noise import Noise\nfrom ganzo.snapshot import Snapshot\n'
         'from ganzo.statistics import Statistics\n' + code, scope)
    run = tmp_path / 'loop'
    lines = [json.loads(line) for line in (run / 'statistics.log').read_text().splitlines()]
    assert [line['epoch'] for line in lines] == [1, 2, 3]
    for line in lines:  # the game's count and time: 2 batches of 4 images
        assert line['images_per_second'] == pytest.approx(8 / line['seconds'])
        assert 0 < line['seconds'] < 60
    assert sorted(path.name for path in (run / 'samples').iterdir()) == [
        'epoch-0001.png', 'epoch-0002.png', 'epoch-0003.png']
    assert len(saved) == 3  # the default criterion, latest: every epoch
    assert not torch.equal(saved[0]['layers.0.weight'], saved[-1]['layers.0.weight'])


# The original Ganzo's experiment scripts

def test_the_original_command_lines_are_those_of_the_spec():
    text = spec('original-experiments.md')
    assert dict(re.findall(r'^- `([^`]+)`: `([^`]+)`$', text, re.M)) == ORIGINAL_EXPERIMENTS


def idx_digits(folder: Path, images: str, labels: str, count: int = 8, classes: int = 10,
               first_label: int = 0) -> None:
    """Stand-in MNIST-format files (idx-ubyte): ``count`` blobs of 28 x 28 ink."""
    rng = np.random.default_rng(0)
    pixels = np.zeros((count, 28, 28), np.uint8)
    for index in range(count):
        row, column = rng.integers(4, 16, 2)
        pixels[index, row:row + 8, column:column + 8] = 255
    write_idx(folder / images, pixels)
    write_idx(folder / labels, first_label + np.arange(count) % classes)


def stand_in(dataset: str, data_format: str, root: Path) -> Path:
    """A tiny folder of data laid out as ``--dataset`` reads it, with 8 images."""
    if dataset in ('mnist', 'fashion-mnist'):
        raw = root / {'mnist': 'MNIST', 'fashion-mnist': 'FashionMNIST'}[dataset] / 'raw'
        for split in ('train', 't10k'):
            idx_digits(raw, f'{split}-images-idx3-ubyte', f'{split}-labels-idx1-ubyte')
    elif dataset == 'emnist':  # the letters split, labels 1 (a) to 26 (z)
        idx_digits(root / 'EMNIST' / 'raw', 'emnist-letters-train-images-idx3-ubyte',
                   'emnist-letters-train-labels-idx1-ubyte', classes=26, first_label=1)
    elif dataset == 'lsun':  # --image-class bedroom reads bedroom_train_lmdb
        pytest.importorskip('lmdb', reason='--dataset lsun needs lmdb: pip install ganzo[lsun]')
        root.mkdir()
        make_lmdb(root / 'bedroom_train_lmdb')
    elif data_format == 'pair-of-images':  # edges | shoe, side by side
        root.mkdir()
        rng = np.random.default_rng(0)
        for index in range(8):
            pixels = rng.integers(0, 256, (16, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f'{index}.jpg')
    else:
        make_image_folder(root, classes=1)
    return root


def with_tiny_data(command: str, data_dir: Path) -> list[str]:
    """The command line made tiny: the stand-in data, the smallest image size
    from 16 up that its networks allow, one epoch of two batches of 4 images on
    the CPU, and networks 8 channels wide where the script leaves the width to
    the default (the original's DCGAN networks had that width; ours have 64).
    The values of the script's options are replaced, the others added."""
    arguments = shlex.split(command)
    tiny = {'--data-dir': data_dir, '--max-batches-per-epoch': 2, '--epochs': 1,
            '--batch-size': 4, '--device': 'cpu', '--generator-channels': 8,
            '--discriminator-channels': 8}
    for flag, value in tiny.items():
        if flag in arguments:
            if not flag.endswith('-channels'):
                arguments[arguments.index(flag) + 1] = str(value)
        else:
            arguments += [flag, str(value)]
    size = next(size for size in (16, 32, 48, 64) if networks_allow([
        *arguments, '--image-size', str(size)]))
    return [*arguments, '--image-size', str(size)]


def networks_allow(arguments: list[str]) -> bool:
    """Whether the networks of the command line can be built for its image size."""
    options = parse(arguments)
    options.kind = run_kind(options)
    try:
        Generator.from_options(options), Discriminator.from_options(options)
    except GanzoError:
        return False
    return True


@pytest.mark.parametrize('name', sorted(ORIGINAL_EXPERIMENTS))
def test_each_original_experiment_script_trains(name, tmp_path):
    command = ORIGINAL_EXPERIMENTS[name]
    given = parse(shlex.split(command))  # the options as the original scripts give them
    data_dir = stand_in(given.dataset, given.data_format, tmp_path / 'data')
    arguments = with_tiny_data(command, data_dir)
    result = run_ganzo(*arguments, '--model-dir', tmp_path / 'runs')
    assert result.returncode == 0, result.stderr
    run = tmp_path / 'runs' / given.experiment
    checkpoint = torch.load(run / 'checkpoint.pt', weights_only=True)
    assert checkpoint['epoch'] == 1
    assert (run / 'samples' / 'epoch-0001.png').is_file()
    saved = json.loads((run / 'options.json').read_text())
    assert saved['image_size'] in (16, 32, 48) and saved['max_batches_per_epoch'] == 2
    for option in ('loss', 'generator', 'discriminator', 'dataset', 'image_class',
                   'generator_layers', 'discriminator_layers', 'gradient_penalty_factor',
                   'clip_to', 'discriminator_iterations', 'beta1', 'soft_labels'):
        assert saved[option] == getattr(given, option)
    hooks = {name: len(hooks) for name, hooks in checkpoint['game']['hooks'].items()}
    assert hooks == {'generator': 0, 'discriminator': int(name == '5-wgan-wc-bedrooms')}


def test_the_new_spellings_of_the_original_commands_exist():
    """Each row of the README's table "Coming from the original Ganzo" names, in
    its second column, commands that are installed, modules that run, imports
    that work."""
    section = (ROOT / 'README.md').read_text().split('## Coming from the original Ganzo')[1]
    rows = re.findall(r'^\| `[^`]*(?:src/|registry)[^|]*\| (.*) \|$', section, re.M)
    scripts = dict(re.findall(r'^(\S+) = "(\S+):main"$', (ROOT / 'pyproject.toml').read_text(),
                              re.M))
    spellings = [code for row in rows for code in re.findall('`([^`]+)`', row)]
    assert len(spellings) == 6
    for spelling in spellings:
        words = [word for word in shlex.split(spelling) if '=' not in word]  # no variables
        if words[0] == 'from':
            exec(spelling, {})
        elif words[:2] == ['python', '-m']:  # a package with __main__, or a module
            assert importlib.util.find_spec(words[2]) is not None, spelling
        else:
            assert importlib.util.find_spec(scripts[words[0]]) is not None, spelling
