"""The ``deh`` command: images from a trained experiment, with nothing but its directory.

    deh --model-dir runs --experiment dcgan-mnist --num-samples 10

Options come from the experiment's ``options.json``, overridden by the command
line; those that only matter for training are ignored. Three saved options
said where and how training ran, and are deh's own instead: ``--device`` (a
model trained on a GPU samples on the CPU), ``--seed`` (default: drawn at
random) and ``--output-dir``.

Each call writes into a new folder ``<output-dir>/<experiment>/deh-NNNN``, where
``--output-dir`` has the meaning it has for training (the root of the images,
default ``--model-dir``): by default a new folder inside the experiment's
directory, so nothing is ever overwritten. The folder gets ``deh.json``, the
options used (the seed included), and:

* samples (default): ``--num-samples`` images ``0001.png``... from noise (the
  fixed noise of the training snapshots with ``--sample-from-fixed-noise``) and
  ``grid.png``, laid out as the snapshots;
* ``--interpolate K``: for each of the ``N = --num-samples`` latent points
  ``z_i``, a row of K images along the great circle (spherical interpolation)
  from ``z_i`` to ``z_{i+1}`` (the last row back to ``z_1``), ``RRRR-KK.png``
  and ``grid.png`` with one row per latent point;
* ``--input`` (translation experiments, whose generator takes images): the
  translation of each image of a file or folder, under the same relative name;
  images are read as in training (``--image-size``), with the data format's
  input channels (grey for colorization).

``--export PATH`` writes the generator as TorchScript (and ONNX) instead; see
``ganzo.export``. Weights: the best ones (``generator.pt``), or those of the
last checkpoint with ``--checkpoint last``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torchvision.utils import save_image
from tqdm import tqdm

import ganzo
from ganzo.data import Transform, image_transform, input_colors, load_image, readable_image
from ganzo.errors import GanzoError
from ganzo.experiment import (
    CHECKPOINT,
    OPTIONS,
    Experiment,
    load,
    load_state,
    run_directory,
    seed_everything,
)
from ganzo.export import export, onnx_available, onnx_path
from ganzo.generator import Generator
from ganzo.noise import Noise
from ganzo.options import (
    check_experiment_name,
    device,
    number_type,
    parse,
    path_is_writable,
    positive_int,
)
from ganzo.registry import Registry, with_option_parser
from ganzo.snapshot import generate, grid
from ganzo.train import run

# Saved options about where and how training ran, not what it computed.
NOT_INHERITED = ('device', 'seed', 'output_dir')
at_least_two = number_type(int, lambda x: x >= 2, 'an integer >= 2')


@with_option_parser
def add_deh_options(parser: argparse.ArgumentParser, train: bool) -> None:
    if train:
        return
    group = parser.add_argument_group('deh')
    group.add_argument('--num-samples', type=positive_int, metavar='N',
                       help='images to generate, or rows with --interpolate (default: as many '
                       'as the training snapshots, --snapshot-size)')
    group.add_argument('--checkpoint', choices=('best', 'last'), default='best',
                       help='which weights: the best (generator.pt) or those of the last '
                       'checkpoint (checkpoint.pt) (default: %(default)s)')
    group.add_argument('--interpolate', type=at_least_two, metavar='K',
                       help='rows of K images along the great circle from each latent point '
                       'to the next (spherical interpolation)')
    group.add_argument('--input', metavar='PATH',
                       help='translation experiments: an image, or a folder of images, to '
                       'translate; the results keep their file names')
    group.add_argument('--export', metavar='PATH',
                       help='instead of images, write the generator as TorchScript to PATH, '
                       'and as ONNX beside it (suffix .onnx) if onnx is installed')


class TrainedExperiment(Experiment):
    """An experiment directory found from ``--model-dir`` and ``--experiment``,
    whose files are each read once."""

    def __init__(self, options: argparse.Namespace) -> None:
        root = Path(options.model_dir)
        if not root.is_dir():
            raise GanzoError(f'--model-dir {root}: no such folder; point it at the folder '
                             'that holds the experiments')
        found = sorted(p.name for p in root.iterdir() if (p / OPTIONS).is_file())
        listed = ', '.join(found[:10]) + (', ...' if len(found) > 10 else '') or 'none'
        if options.experiment is None:
            raise GanzoError(f'name the experiment with --experiment (experiments in {root}: '
                             f'{listed})')
        check_experiment_name(options.experiment)
        super().__init__(options)
        if not self.path.is_dir():
            raise GanzoError(f'--experiment {options.experiment}: no such experiment in '
                             f'--model-dir {root} (experiments there: {listed})')
        if not self.exists:
            raise GanzoError(f'{self.path / OPTIONS} is missing: {self.path} is not a Ganzo '
                             'experiment, or its training never started')

    @cached_property
    def saved_options(self) -> dict:
        return self.read_options()

    @cached_property
    def checkpoint(self) -> dict:
        return load(self.path / CHECKPOINT)

    def generator_weights(self, which: str) -> tuple[dict, Path]:
        """The generator's state dict: the best one or the last checkpoint's."""
        if which == 'last':
            path, state = self.path / CHECKPOINT, self.checkpoint.get('generator')
        else:
            path = self.path / 'generator.pt'
            if not path.exists():
                instead = ('use --checkpoint last' if (self.path / CHECKPOINT).exists()
                           else 'train it for an epoch first')
                raise GanzoError(f'{path} does not exist: the experiment has no best model; '
                                 f'{instead}')
            state = load(path).get('state_dict')
        if not isinstance(state, dict):
            raise GanzoError(f'{path} holds no generator weights')
        return state, path

    def fixed_noise(self) -> torch.Tensor:
        """The training snapshots' fixed noise, kept in the checkpoint."""
        if not (self.path / CHECKPOINT).exists():
            raise GanzoError(f'--sample-from-fixed-noise: {self.path} has no {CHECKPOINT}, which '
                             'keeps the fixed noise; pass --no-sample-from-fixed-noise')
        noise = (self.checkpoint.get('snapshot') or {}).get('fixed_noise')
        if not isinstance(noise, torch.Tensor):
            raise GanzoError('--sample-from-fixed-noise: the experiment was trained without '
                             'fixed noise; pass --no-sample-from-fixed-noise')
        return noise


def resolve(argv: list[str]) -> tuple[argparse.Namespace, TrainedExperiment]:
    """The options (command line > the experiment's options.json > defaults) and the experiment."""
    experiment = TrainedExperiment(parse(argv, train=False, prog='deh'))
    base = {key: value for key, value in experiment.saved_options.items()
            if key not in NOT_INHERITED}
    try:
        options = parse(argv, train=False, base=base, prog='deh')
    except GanzoError as error:  # the command line alone parsed: options.json is wrong
        raise GanzoError(f'{experiment.path / OPTIONS}: {error}') from None
    if options.seed is None:
        options.seed = random.SystemRandom().randrange(2**31)
    if translates(options) and options.input is None and options.export is None:
        raise GanzoError(f'{experiment.path} translates images: give them with --input '
                         '(an image or a folder of images)')
    if not translates(options) and options.input is not None:
        raise GanzoError(f'--input is for translation experiments; {experiment.path} '
                         'generates images from noise: leave out --input')
    if options.input is not None and options.interpolate is not None:
        raise GanzoError('--interpolate walks the latent space: leave it out with --input')
    return options, experiment


def translates(options: argparse.Namespace) -> bool:
    """Whether the generator takes images (it is marked ``translation = True``,
    as ``u-gen`` is) rather than noise."""
    return bool(getattr(Registry.get('generator', options.generator), 'translation', False))


def load_generator(options: argparse.Namespace, experiment: TrainedExperiment) -> nn.Module:
    """The generator of the options with the chosen weights, in evaluation mode."""
    generator = Generator.from_options(options)
    state, path = experiment.generator_weights(options.checkpoint)
    load_state(generator, state, 'generator', path)
    return generator.eval()


# Latent points

def latents(options: argparse.Namespace, experiment: TrainedExperiment, count: int) -> torch.Tensor:
    """``count`` latent points: the first ones of the fixed noise, or new noise."""
    noise = Noise.from_options(options)
    if not options.sample_from_fixed_noise:
        return noise.sample(count)
    fixed = experiment.fixed_noise()
    if count > len(fixed):
        raise GanzoError(f'--num-samples {count} is more than the {len(fixed)} fixed noise '
                         'vectors of the experiment: lower it, or pass '
                         '--no-sample-from-fixed-noise')
    return fixed[:count].to(device(options))


def slerp(start: torch.Tensor, end: torch.Tensor, steps: int) -> torch.Tensor:
    """Spherical interpolation: for ``B x ...`` points, ``B x steps x ...`` points
    along the great circle from each start to its end, both included:
    ``sin((1-t)W)/sin(W) start + sin(tW)/sin(W) end``, ``W`` the angle between them
    (White 2016, https://arxiv.org/abs/1609.04468). Gaussian noise keeps its typical
    norm along the way, unlike on a straight line, whose middle is atypically short."""
    a, b = start.flatten(1).double(), end.flatten(1).double()
    cosine = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)
    angle = cosine.clamp(-1, 1).acos()[:, None, None]
    t = torch.linspace(0, 1, steps, dtype=a.dtype, device=a.device)[None, :, None]
    small = angle.sin().abs() < 1e-6  # (anti)parallel points: a straight line
    sine = torch.where(small, torch.ones_like(angle), angle.sin())
    first = torch.where(small, 1 - t, ((1 - t) * angle).sin() / sine)
    second = torch.where(small, t, (t * angle).sin() / sine)
    path = first * a[:, None] + second * b[:, None]
    path[:, 0], path[:, -1] = a, b  # the ends exactly
    return path.to(start.dtype).view(start.shape[0], steps, *start.shape[1:])


# Writing images

def to_image(image: torch.Tensor) -> Image.Image:
    """A ``C x H x W`` image in [-1, 1] as a PIL image (grey for one channel), with
    the pixels that ``grid`` and the snapshots give it."""
    pixels = image.detach().float().cpu().clamp(-1, 1).add(1).div(2)
    array = pixels.mul(255).add(0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)


def new_output_folder(options: argparse.Namespace) -> Path:
    """A new folder ``<output-dir>/<experiment>/deh-NNNN``."""
    root = run_directory(options)
    if not path_is_writable(root):
        raise GanzoError(f'--output-dir {options.output_dir or options.model_dir}: cannot '
                         f'write in {root}; choose another --output-dir')
    for number in itertools.count(1):
        folder = root / f'deh-{number:04d}'
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise AssertionError('unreachable')


def write_options(folder: Path, options: argparse.Namespace) -> None:
    values = {'ganzo_version': ganzo.__version__, **dict(sorted(vars(options).items()))}
    (folder / 'deh.json').write_text(json.dumps(values, indent=2, default=str) + '\n')


def batches(inputs: torch.Tensor, size: int) -> Iterator[torch.Tensor]:
    progress = tqdm(total=len(inputs), unit='image', desc='deh', leave=False, disable=None,
                    file=sys.stderr)
    with progress:
        for start in range(0, len(inputs), size):
            yield inputs[start:start + size]
            progress.update(len(inputs[start:start + size]))


def sample(options: argparse.Namespace, experiment: TrainedExperiment,
           generator: nn.Module) -> str:
    """Samples (or interpolations) and their grid in a new folder; what was written."""
    count = options.num_samples or options.snapshot_size or min(options.batch_size, 64)
    if options.interpolate and count < 2:
        raise GanzoError('--interpolate needs --num-samples 2 or more: each row goes from '
                         'one latent point to the next')
    seed_everything(options.seed)
    points = latents(options, experiment, count)
    names = [f'{index:0{max(4, len(str(count)))}d}' for index in range(1, count + 1)]
    columns = None
    if options.interpolate:
        steps = options.interpolate
        points = slerp(points, points.roll(-1, 0), steps).flatten(0, 1)
        names = [f'{row}-{step:0{len(str(steps))}d}' for row in names
                 for step in range(1, steps + 1)]
        columns = steps
    folder = new_output_folder(options)
    write_options(folder, options)
    images, files = [], iter(names)
    for batch in batches(points, options.batch_size):
        images.append(generate(generator, batch).cpu())
        for image in images[-1]:
            to_image(image).save(folder / f'{next(files)}.png')
    save_image(grid(torch.cat(images), columns), folder / 'grid.png')
    what = f'{count} rows of {columns} images' if columns else f'{count} images'
    noise = 'fixed noise' if options.sample_from_fixed_noise else f'seed {options.seed}'
    return f'wrote {what} and grid.png ({noise}) to {folder}'


# Translation

def input_transform(options: argparse.Namespace) -> Transform:
    """PIL image -> the generator's input ``C x H x W`` in [-1, 1], as the training
    images (``--image-size``), with the data format's input channels (1 for colorization)."""
    return image_transform(options.image_size, input_colors(options))


def input_images(path: Path) -> list[Path]:
    """The image files of ``--input``: the file itself, or those in the folder
    and its sub-folders (hidden ones and files that are not images are skipped)."""
    if path.is_file():
        if not readable_image(str(path)):
            raise GanzoError(f'--input {path} is not an image PIL can read')
        return [path]
    if not path.is_dir():
        raise GanzoError(f'--input {path}: no such file or folder')
    files = sorted(p for p in path.rglob('*') if p.is_file()
                   and not any(part.startswith('.') for part in p.relative_to(path).parts)
                   and readable_image(str(p)))
    if not files:
        raise GanzoError(f'--input {path} holds no images: give a folder of image files, '
                         'or one image')
    return files


def output_name(relative: Path) -> Path:
    """The input's name, with ``.png`` added if PIL cannot write its format."""
    image_format = Image.registered_extensions().get(relative.suffix.lower())
    return relative if image_format in Image.SAVE else relative.with_name(relative.name + '.png')


def translate(options: argparse.Namespace, generator: nn.Module) -> str:
    """The translation of each ``--input`` image, under the same name, in a new folder."""
    root = Path(options.input)
    files = input_images(root)
    transform = input_transform(options)
    folder = new_output_folder(options)
    write_options(folder, options)
    indices = torch.arange(len(files))
    for batch in batches(indices, options.batch_size):
        inputs = torch.stack([transform(load_image(str(files[i]))) for i in batch.tolist()])
        for index, image in zip(batch.tolist(), generate(generator, inputs.to(device(options)))):
            relative = files[index].relative_to(root) if root.is_dir() else Path(root.name)
            target = folder / output_name(relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            to_image(image).save(target)
    return f'wrote {len(files)} translated images to {folder}'


# Export

def export_generator(options: argparse.Namespace, generator: nn.Module) -> str:
    """The generator as TorchScript (and ONNX) at ``--export``; what was written."""
    path = Path(options.export)
    if path.suffix.lower() == '.onnx':
        raise GanzoError(f'--export {path}: give the TorchScript file, such as generator.pt; '
                         'the ONNX model goes beside it with the suffix .onnx')
    for target in (path, onnx_path(path)):
        if target.exists():
            raise GanzoError(f'--export {path}: {target} already exists; choose another path '
                             'or delete it')
    if not path_is_writable(path.parent):
        raise GanzoError(f'--export {path}: cannot write in {path.parent}')
    if translates(options):
        blank = Image.new('RGB', (options.image_size, options.image_size))
        example = torch.stack([input_transform(options)(blank)] * 2).to(device(options))
        input_name = 'inputs'
    else:
        example, input_name = Noise.from_options(options).sample(2), 'noise'
    outputs = generate(generator, example)
    metadata = {'ganzo_version': ganzo.__version__, 'experiment': options.experiment,
                'checkpoint': options.checkpoint, 'input': input_name,
                'input_shape': ['B', *example.shape[1:]],
                'output_shape': ['B', *outputs.shape[1:]]}
    path.parent.mkdir(parents=True, exist_ok=True)
    written = export(generator, example, path, input_name, metadata)
    missing = '' if onnx_available() else " (no ONNX: pip install 'ganzo[onnx]')"
    return f'exported the generator to {" and ".join(map(str, written))}{missing}'


def deh(argv: list[str]) -> None:
    options, experiment = resolve(argv)
    generator = load_generator(options, experiment)
    if options.export is not None:
        message = export_generator(options, generator)
    elif options.input is not None:
        message = translate(options, generator)
    else:
        message = sample(options, experiment, generator)
    print(f'deh: {message}')


def main(argv: list[str] | None = None) -> None:
    run(deh, argv, prog='deh')


if __name__ == '__main__':
    main()
