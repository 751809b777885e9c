"""Snapshots: grids of generated images, taken every few epochs.

What a grid shows depends on the kind of run (``ganzo.kind``): images from
noise for generation, one row per class for conditional generation (the same
noise in every row), input | generated | target triptychs for translation,
round trips A | G(A) | F(G(A)) and B | F(B) | G(F(B)) for unpaired translation.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, ClassVar

import torch
from torch import nn
from torchvision.utils import make_grid, save_image

from ganzo.errors import GanzoError
from ganzo.experiment import run_directory
from ganzo.files import write_or_warn
from ganzo.kind import RunKind, kind_of
from ganzo.options import Factory, Ignored, chosen, complete, component_option, positive_int
from ganzo.registry import Registry, register
from ganzo.state import noise_problem
from ganzo.trackers import MLflow, TensorBoard, Tracker, Wandb, shared


def snapshot_size(options: argparse.Namespace, kind: RunKind) -> int:
    """--snapshot-size, checked against --batch-size (translation snapshots,
    made of pairs of the data, may hold more)."""
    if options.snapshot_size is None:
        return min(options.batch_size, 64)
    if options.snapshot_size > options.batch_size and not kind.translates:
        raise GanzoError(f'--snapshot-size {options.snapshot_size} is more than --batch-size '
                         f'{options.batch_size}: lower it')
    return options.snapshot_size


def class_rows(kind: RunKind, size: int) -> tuple[int, int]:
    """The rows (the first classes, one each) and columns of a conditional grid
    of at most ``size`` images."""
    rows = min(len(kind.classes), size)
    return rows, max(1, size // rows)


@torch.no_grad()
def generate(generator: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    """The generator's output for ``inputs`` (noise, and labels in a conditional
    run) in evaluation mode, as at inference."""
    was_training = generator.training
    generator.eval()
    try:
        return generator(*inputs)
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


@torch.no_grad()
def cycle_grid(generator: nn.Module, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The round trips of unpaired translation, one row per image: ``a | G(a) |
    F(G(a)) | b | F(b) | G(F(b))``, for images ``N x C x H x W`` of A and B in
    [-1, 1] and a ``ganzo.cycle.GeneratorPair`` (G and F in evaluation mode), as
    a picture ``C x H' x W'`` in [0, 1]."""
    device = next(generator.parameters()).device
    forward, backward = generator.a_to_b, generator.b_to_a
    to_b, to_a = generate(forward, a.to(device)), generate(backward, b.to(device))
    rows = [a.to(device), to_b, generate(backward, to_b), b.to(device), to_a,
            generate(forward, to_a)]
    return make_grid(torch.stack(rows, 1).flatten(0, 1).float().cpu(), nrow=6, normalize=True,
                     value_range=(-1, 1))


class Snapshot(Factory, namespace='snapshot', option='save_images_as'):
    """Builds the snapshot named by --save-images-as, and is the base of
    snapshots (see ``ganzo.contracts.Snapshot``): every --sample-every epochs it
    makes a picture of the generator's images, which subclasses ``write``.

    For generation, images from noise: from fixed noise with
    --sample-from-fixed-noise (drawn once, kept in checkpoints), otherwise from
    new noise each time. For conditional generation, a row for each class (the
    first ``--snapshot-size`` classes, if there are more), all from the same
    noise: ``columns`` noise points, repeated in every row, with the fixed noise
    its labels are kept too. For translation, input | generated | target for
    the data's ``fixed_pairs`` (the first held-out pairs, or the first training
    pairs), noise unused; for unpaired translation, the round trips of
    ``cycle_grid`` for the data's ``fixed_domains`` (the first held-out images of
    each domain, or the first training ones)."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        group = parser.add_argument_group('snapshot')
        component_option(group, 'snapshot', 'where to save sample images, one or several',
                         flag='save-images-as', several=True)
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
        # The original Ganzo's flag: snapshots of translation are chosen by the kind of run now.
        group.add_argument('--snapshot-translate', '--no-snapshot-translate', action=Ignored,
                           nargs=0, help=argparse.SUPPRESS)

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        self.kind = kind_of(options)
        self.size = snapshot_size(options, self.kind)
        self.every = options.sample_every
        self.fixed = options.sample_from_fixed_noise
        self.fixed_noise: torch.Tensor | None = None
        self.fixed_labels: torch.Tensor | None = None
        self.columns = class_rows(self.kind, self.size)[1] if self.kind.conditional else None
        self.state_size = options.state_size
        self.directory = run_directory(options)
        self.last = 0

    @classmethod
    def from_options(cls, options: argparse.Namespace, *args: Any) -> Any:
        """The snapshot that --save-images-as names; several share one picture
        (``CombinedSnapshot``)."""
        options = complete(options)
        names = chosen(options.save_images_as)
        if len(names) == 1:
            return Registry.build('snapshot', names[0], options, *args)
        return CombinedSnapshot(options, [Registry.build('snapshot', name, options, *args)
                                          for name in names])

    def save(self, data, noise, generator: nn.Module, epoch: int | None = None) -> None:
        """The picture after ``epoch`` (default: the one after the last call)."""
        epoch = epoch or self.last + 1
        self.last = epoch
        if epoch % self.every == 0:
            self.write(epoch, self.picture(data, noise, generator))

    def picture(self, data, noise, generator: nn.Module) -> torch.Tensor:
        """What the generator makes, as a picture ``C x H x W`` in [0, 1]."""
        if self.kind.both_ways:
            return cycle_grid(generator, *data.fixed_domains(self.size))
        if self.kind.translates:
            return translation_grid(generator, *data.fixed_pairs(self.size))
        return grid(generate(generator, *self.inputs(noise)), self.columns)

    def inputs(self, noise) -> tuple[torch.Tensor, ...]:
        """The generator's inputs: the fixed ones, or new ones."""
        if not self.fixed:
            return self.draw(noise)
        if self.fixed_noise is None:
            self.fixed_noise, *labels = self.draw(noise)
            self.fixed_labels = labels[0] if labels else None
        return (self.fixed_noise, *self.kind.condition(self.fixed_labels))

    def draw(self, noise) -> tuple[torch.Tensor, ...]:
        """New inputs: ``--snapshot-size`` noise points, or in a conditional run
        ``columns`` points in each class's row, with their labels."""
        if not self.kind.conditional:
            return (noise.sample(self.size),)
        rows, columns = class_rows(self.kind, self.size)
        points = noise.sample(columns).repeat(rows, 1)
        return points, torch.arange(rows, device=points.device).repeat_interleave(columns)

    def write(self, epoch: int, picture: torch.Tensor) -> None:
        """Save ``picture``, ``C x H x W`` in [0, 1]."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {'fixed_noise': self.fixed_noise, 'fixed_labels': self.fixed_labels}

    def load_state_dict(self, state: dict) -> None:
        noise = state['fixed_noise']
        problem = None if noise is None else noise_problem(noise, self.state_size)
        if problem and not self.kind.translates:
            raise ValueError(problem)
        self.fixed_noise, self.fixed_labels = noise, state.get('fixed_labels')


NoiseSnapshot = Snapshot  # its former name


class CombinedSnapshot(Snapshot):
    """Several snapshots as one: the picture is made once and each of them
    writes it (a plugin with its own ``save`` saves by itself)."""

    def __init__(self, options: argparse.Namespace, parts: list) -> None:
        super().__init__(options)
        self.parts = parts
        self.writers = [part for part in parts if isinstance(part, Snapshot)
                        and type(part).save is Snapshot.save]

    def save(self, data, noise, generator: nn.Module, epoch: int | None = None) -> None:
        epoch = epoch or self.last + 1
        super().save(data, noise, generator, epoch)
        for part in self.parts:
            if part not in self.writers:
                part.save(data, noise, generator, epoch)

    def write(self, epoch: int, picture: torch.Tensor) -> None:
        for part in self.writers:
            part.write(epoch, picture)


@register('snapshot', 'folder', default=True)
class FolderSnapshot(Snapshot):
    """PNG grids in <output-dir>/<experiment>/samples/epoch-NNNN.png. A sample
    that cannot be written (no space, no permission) is a warning: training goes on."""

    def write(self, epoch: int, picture: torch.Tensor) -> None:
        write_or_warn(self.directory / 'samples' / f'epoch-{epoch:04d}.png',
                      lambda file: save_image(picture, file, format='png'))


class TrackerSnapshot(Snapshot):
    """Pictures logged to a tracker (``ganzo.trackers``), whose run is shared
    with the statistics of the run that name the same tracker."""

    tracker: ClassVar[type[Tracker]]

    def __init__(self, options: argparse.Namespace) -> None:
        super().__init__(options)
        self.tracker_run = shared(self.tracker, options)

    def write(self, epoch: int, picture: torch.Tensor) -> None:
        self.tracker_run.log_image(epoch, picture)


@register('snapshot', 'tensorboard')
class TensorBoardSnapshot(TrackerSnapshot):
    """Image grids in TensorBoard (needs tensorboardX), one step per epoch, in
    the event file of ``--log tensorboard``."""

    tracker = TensorBoard


@register('snapshot', 'mlflow')
class MLflowSnapshot(TrackerSnapshot):
    """Image grids in the MLflow run of ``--log mlflow`` (key ``samples``, one
    step per epoch)."""

    tracker = MLflow


@register('snapshot', 'wandb')
class WandbSnapshot(TrackerSnapshot):
    """Image grids in the W&B run of ``--log wandb`` (key ``samples``, one step
    per epoch)."""

    tracker = Wandb


# The spec's spellings.
FolderSnaphot, TensorBoardSnaphot = FolderSnapshot, TensorBoardSnapshot
