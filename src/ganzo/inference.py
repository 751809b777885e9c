"""Images from a trained generator, as ``deh`` makes them: samples from noise,
walks between latent points, and translations of image files, each call
written into a new folder ``<output-dir>/<experiment>/deh-NNNN``.

The folder is filled under a hidden temporary name and renamed into place at
the end: it is complete or absent. It gets ``deh.json``, the options used (the
seed included), and:

* samples: ``--num-samples`` images ``0001.png``... from noise (the fixed
  noise of the training snapshots with ``--sample-from-fixed-noise``) and
  ``grid.png`` of the first ``--grid-size`` of them, laid out as the snapshots;
* ``--interpolate K``: for each of the ``N = --num-samples`` latent points
  ``z_i``, a row of K images along the great circle (spherical interpolation)
  from ``z_i`` to ``z_{i+1}`` (the last row back to ``z_1``), ``RRRR-KK.png``
  and ``grid.png`` with one row per latent point;
* in a conditional experiment, the same for each class of ``--class`` (default:
  all), from the same latent points: ``<class>-0001.png``... (or
  ``<class>-RRRR-KK.png``) and a grid with one row per class (of one class, as
  the samples of an unconditional experiment; per class and latent point with
  ``--interpolate``: the class stays fixed along a row);
* ``--input`` (translation): the translation of each image of a file or
  folder, under the same relative name; images are read as in training
  (``--image-size``), with the run's input channels (grey for colorization).
"""

from __future__ import annotations

import argparse
import errno
import itertools
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torchvision.utils import save_image
from tqdm import tqdm

import ganzo
from ganzo.data import Transform, image_transform, load_image, readable_image
from ganzo.errors import GanzoError
from ganzo.experiment import TrainedExperiment, run_directory
from ganzo.files import TEMPORARY_SUFFIX, umask
from ganzo.kind import RunKind, kind_of
from ganzo.noise import Noise
from ganzo.options import device, path_is_writable
from ganzo.snapshot import class_rows, generate, grid
from ganzo.state import seed_everything

GRID_SIZE = 64  # images in grid.png, unless --grid-size or --snapshot-size say more

# Latent points

def latents(options: argparse.Namespace, experiment: TrainedExperiment, count: int) -> torch.Tensor:
    """``count`` latent points: the first ones of the fixed noise, or new noise."""
    noise = Noise.from_options(options)
    if not options.sample_from_fixed_noise:
        return noise.sample(count)
    fixed = experiment.fixed_noise(options.state_size)
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


@dataclass
class OutputFolder:
    """Where a call of deh writes: ``staging``, a hidden temporary folder, then,
    once it is complete, ``final``, the new ``deh-NNNN`` it was renamed to."""

    staging: Path
    final: Path | None = None


@contextmanager
def new_output_folder(options: argparse.Namespace) -> Iterator[OutputFolder]:
    """A new folder ``<output-dir>/<experiment>/deh-NNNN``, filled in a hidden
    temporary folder that is renamed into place at the end: a ``deh-NNNN`` folder
    is complete or absent. A write that fails (a full disk, a file size limit)
    is a ``GanzoError``, and a failure of any kind leaves nothing behind."""
    root = run_directory(options)
    where = f'--output-dir {options.output_dir or options.model_dir}'
    if not path_is_writable(root):
        raise GanzoError(f'{where}: cannot write in {root}; choose another --output-dir')
    staging = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix='.deh-', suffix=TEMPORARY_SUFFIX))
        staging.chmod(0o777 & ~umask())
        output = OutputFolder(staging)
        yield output
        output.final = published(staging, root)
    except OSError as error:
        raise GanzoError(f'{where}: cannot write in {root} ({error.strerror or error}): '
                         'nothing was written; free some space or choose another '
                         '--output-dir') from None
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def published(staging: Path, root: Path) -> Path:
    """``staging`` renamed to the first free ``deh-NNNN`` of ``root``."""
    for number in itertools.count(1):
        folder = root / f'deh-{number:04d}'
        if os.path.lexists(folder):
            continue
        try:
            os.rename(staging, folder)
            return folder
        except OSError as error:  # another deh took it meanwhile
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    raise AssertionError('unreachable')


def write_options(folder: Path, options: argparse.Namespace) -> None:
    values = {'ganzo_version': ganzo.__version__, **dict(sorted(vars(options).items()))}
    values['kind'] = kind_of(options).to_dict()
    (folder / 'deh.json').write_text(json.dumps(values, indent=2, default=str) + '\n')


def batches(inputs: tuple[torch.Tensor, ...], size: int) -> Iterator[list[torch.Tensor]]:
    """The tensors of ``inputs`` (of one length) in batches of ``size``, with a progress bar."""
    total = len(inputs[0])
    progress = tqdm(total=total, unit='image', desc='deh', leave=False, disable=None,
                    file=sys.stderr)
    with progress:
        for start in range(0, total, size):
            yield [tensor[start:start + size] for tensor in inputs]
            progress.update(min(size, total - start))


def class_stems(kind: RunKind, labels: list[int]) -> list[str]:
    """File name stems of the classes ``labels``: their names, with other
    characters than letters, digits and ``. _ -`` replaced (``class<i>`` when
    that makes two classes alike)."""
    stems = [re.sub(r'[^A-Za-z0-9._-]+', '_', name).strip('.') or '_' for name in kind.classes]
    if len(set(stems)) < len(stems):
        stems = [f'class{label}' for label in range(len(kind.classes))]
    return [stems[label] for label in labels]


def sample(options: argparse.Namespace, experiment: TrainedExperiment,
           generator: nn.Module) -> str:
    """Samples (or interpolations) and their grid in a new folder; what was written."""
    kind = kind_of(options)
    snapshot = options.snapshot_size or min(options.batch_size, 64)
    count = options.num_samples or (class_rows(kind, snapshot)[1] if kind.conditional
                                    else snapshot)
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
    inputs: tuple[torch.Tensor, ...] = (points,)
    if kind.conditional:  # the same points for each class, a class per row
        labels = torch.tensor(options.classes, device=points.device)
        inputs = (points.repeat(len(labels), 1), labels.repeat_interleave(len(points)))
        names = [f'{stem}-{name}' for stem in class_stems(kind, options.classes)
                 for name in names]
        columns = columns or (count if len(options.classes) > 1 else None)  # a row per class
    with new_output_folder(options) as output:
        folder = output.staging
        write_options(folder, options)
        images, files = [], iter(names)
        for batch in batches(inputs, options.batch_size):
            images.append(generate(generator, *batch).cpu())
            for image in images[-1]:
                to_image(image).save(folder / f'{next(files)}.png')
        shown = options.grid_size or max(GRID_SIZE, options.snapshot_size or 0)
        if columns:  # whole rows
            shown = max(1, shown // columns) * columns
        save_image(grid(torch.cat(images)[:shown], columns), folder / 'grid.png')
    what = (f'{count} rows of {options.interpolate} images' if options.interpolate
            else f'{count} images')
    if kind.conditional:
        what += (f' of class {kind.classes[options.classes[0]]}' if len(options.classes) == 1
                 else f' of each of {len(options.classes)} classes')
    noise = 'fixed noise' if options.sample_from_fixed_noise else f'seed {options.seed}'
    return f'wrote {what} and grid.png ({noise}) to {output.final}'


# Translation

def input_transform(options: argparse.Namespace) -> Transform:
    """PIL image -> the generator's input ``C x H x W`` in [-1, 1], as the training
    images (``--image-size``), with the run's input channels (1 for colorization)."""
    return image_transform(options.image_size, kind_of(options).input_colors)


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
    with new_output_folder(options) as output:
        folder = output.staging
        write_options(folder, options)
        indices = torch.arange(len(files))
        for batch, in batches((indices,), options.batch_size):
            inputs = torch.stack([transform(load_image(str(files[i]))) for i in batch.tolist()])
            for index, image in zip(batch.tolist(),
                                    generate(generator, inputs.to(device(options)))):
                relative = files[index].relative_to(root) if root.is_dir() else Path(root.name)
                target = folder / output_name(relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                to_image(image).save(target)
    return f'wrote {len(files)} translated images to {output.final}'
