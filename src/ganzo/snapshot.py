"""Snapshots: grids of generated images, taken every few epochs.

What a grid shows depends on the kind of run (``ganzo.kind``): images from
noise for generation, input | generated | target triptychs for translation.
"""

from __future__ import annotations

import argparse
import math

import torch
from torch import nn
from torchvision.utils import make_grid, save_image

from ganzo.errors import GanzoError
from ganzo.experiment import run_directory
from ganzo.files import write_or_warn
from ganzo.kind import RunKind, kind_of
from ganzo.options import Factory, complete, component_option, positive_int
from ganzo.registry import register
from ganzo.state import noise_problem


def snapshot_size(options: argparse.Namespace, kind: RunKind) -> int:
    """--snapshot-size, checked against --batch-size (translation snapshots,
    made of pairs of the data, may hold more)."""
    if options.snapshot_size is None:
        return min(options.batch_size, 64)
    if options.snapshot_size > options.batch_size and not kind.translates:
        raise GanzoError(f'--snapshot-size {options.snapshot_size} is more than --batch-size '
                         f'{options.batch_size}: lower it')
    return options.snapshot_size


@torch.no_grad()
def generate(generator: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The generator's output for ``inputs`` in evaluation mode, as at inference."""
    was_training = generator.training
    generator.eval()
    try:
        return generator(inputs)
    finally:
        generator.train(was_training)


def grid(images: torch.Tensor, columns: int | None = None) -> torch.Tensor:
    """A grid of ``B x C x H x W`` images in [-1, 1], as ``C x H' x W'`` in [0, 1]:
    ``columns`` images per row (default: a square-ish grid)."""
    columns = columns or math.ceil(math.sqrt(images.shape[0]))
    return make_grid(images.float().cpu(), nrow=columns, normalize=True, value_range=(-1, 1))


def translation_grid(generator: nn.Module, inputs: torch.Tensor,
                     targets: torch.Tensor) -> torch.Tensor:
    """Triptychs input | generated | target of each pair of ``B x I x H x W``
    inputs and ``B x C x H x W`` targets in [-1, 1], a few per row, as a picture
    ``C x H' x W'`` in [0, 1] (grey inputs shown in ``C`` channels)."""
    device = next(generator.parameters()).device
    outputs = generate(generator, inputs.to(device)).float().cpu()
    inputs = inputs.expand(-1, targets.shape[1], -1, -1) if inputs.shape[1] == 1 else inputs
    triptychs = torch.stack([inputs, outputs, targets], 1).flatten(0, 1)
    per_row = math.ceil(math.sqrt(inputs.shape[0] / 3))
    return make_grid(triptychs, nrow=3 * per_row, normalize=True, value_range=(-1, 1))


class Snapshot(Factory, namespace='snapshot', option='save_images_as'):
    """Builds the snapshot named by --save-images-as, and is the base of
    snapshots (see ``ganzo.contracts.Snapshot``): every --sample-every epochs it
    makes a picture of the generator's images, which subclasses ``write``.

    For generation, images from noise: from fixed noise with
    --sample-from-fixed-noise (drawn once, kept in checkpoints), otherwise from
    new noise each time. For translation, input | generated | target for the
    data's ``fixed_pairs`` (the first held-out pairs, or the first training
    pairs), noise unused."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        group = parser.add_argument_group('snapshot')
        component_option(group, 'snapshot', 'where to save sample images', flag='save-images-as')
        group.add_argument('--output-dir', help='directory of the images and logs: they go to '
                           '<output-dir>/<experiment> (default: --model-dir)')
        group.add_argument('--snapshot-size', type=positive_int,
                           help='images in each sample, at most --batch-size '
                           '(default: --batch-size, at most 64)')
        group.add_argument('--sample-every', type=positive_int, default=1,
                           help='sample every this many epochs (default: %(default)s)')
        group.add_argument('--sample-from-fixed-noise', action=argparse.BooleanOptionalAction,
                           default=False, help='sample from the same noise every time, to '
                           'follow the progress of the same images (default: off)')

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        self.kind = kind_of(options)
        self.size = snapshot_size(options, self.kind)
        self.every = options.sample_every
        self.fixed = options.sample_from_fixed_noise
        self.fixed_noise: torch.Tensor | None = None
        self.state_size = options.state_size
        self.directory = run_directory(options)
        self.last = 0

    def save(self, data, noise, generator: nn.Module, epoch: int | None = None) -> None:
        """The picture after ``epoch`` (default: the one after the last call)."""
        epoch = epoch or self.last + 1
        self.last = epoch
        if epoch % self.every == 0:
            self.write(epoch, self.picture(data, noise, generator))

    def picture(self, data, noise, generator: nn.Module) -> torch.Tensor:
        """What the generator makes, as a picture ``C x H x W`` in [0, 1]."""
        if self.kind.translates:
            return translation_grid(generator, *data.fixed_pairs(self.size))
        return grid(generate(generator, self.noise(noise)))

    def noise(self, noise) -> torch.Tensor:
        if not self.fixed:
            return noise.sample(self.size)
        if self.fixed_noise is None:
            self.fixed_noise = noise.sample(self.size)
        return self.fixed_noise

    def write(self, epoch: int, picture: torch.Tensor) -> None:
        """Save ``picture``, ``C x H x W`` in [0, 1]."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {'fixed_noise': self.fixed_noise}

    def load_state_dict(self, state: dict) -> None:
        noise = state['fixed_noise']
        problem = None if noise is None else noise_problem(noise, self.state_size)
        if problem and not self.kind.translates:
            raise ValueError(problem)
        self.fixed_noise = noise


NoiseSnapshot = Snapshot  # its former name


@register('snapshot', 'folder', default=True)
class FolderSnapshot(Snapshot):
    """PNG grids in <output-dir>/<experiment>/samples/epoch-NNNN.png. A sample
    that cannot be written (no space, no permission) is a warning: training goes on."""

    def write(self, epoch: int, picture: torch.Tensor) -> None:
        write_or_warn(self.directory / 'samples' / f'epoch-{epoch:04d}.png',
                      lambda file: save_image(picture, file, format='png'))


@register('snapshot', 'tensorboard')
class TensorBoardSnapshot(Snapshot):
    """Image grids in TensorBoard (needs tensorboardX), one step per epoch."""

    def __init__(self, options: argparse.Namespace) -> None:
        from ganzo.statistics import TensorBoardWriter
        super().__init__(options)
        self.writer = TensorBoardWriter(complete(options))

    def write(self, epoch: int, picture: torch.Tensor) -> None:
        self.writer.get().add_image('samples', picture, epoch)
        self.writer.get().flush()


# The spec's spellings.
FolderSnaphot, TensorBoardSnaphot = FolderSnapshot, TensorBoardSnapshot
