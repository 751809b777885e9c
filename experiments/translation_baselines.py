"""Baselines for a translation experiment: the held-out L1 and PSNR of

* ``mean``: the mean training target (pixel by pixel) predicted for every input;
* ``input``: the input itself (grey inputs repeated in the target's channels),
  which for super-resolution is bicubic upscaling.

Usage, from the repository root, with the experiment's JSON file::

    python experiments/translation_baselines.py experiments/pix2pix-facades.json

For unpaired translation (``experiments/cyclegan-facades.json``) the targets are
the training images of domain B, and the held-out pairs those of the data
(``--domains halves``), in the direction A to B.
"""

import json
import sys

import torch
from torch import nn

from ganzo.data import Data
from ganzo.evaluation import translation_metrics
from ganzo.kind import run_kind
from ganzo.options import parse


class Constant(nn.Module):
    """Predicts ``image`` (``C x H x W``) for every input."""

    def __init__(self, image: torch.Tensor) -> None:
        super().__init__()
        self.image = nn.Parameter(image)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.image.expand(inputs.shape[0], -1, -1, -1)


class Identity(nn.Module):
    """Predicts the input, in ``colors`` channels."""

    def __init__(self, colors: int) -> None:
        super().__init__()
        self.colors = colors
        self.device_marker = nn.Parameter(torch.zeros(()))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.expand(-1, self.colors, -1, -1)


def main(path: str) -> None:
    options = parse(['--from-json', path, '--device', 'cpu', '--no-jitter'])
    options.kind = run_kind(options, check=False)
    data = Data.from_options(options)
    if options.kind.both_ways:  # unpaired: the training images of B
        targets = torch.stack([image for image, _ in data.domains[1]])
    else:
        targets = torch.stack([target for _, target in data.dataset])
    baselines = {'mean': Constant(targets.mean(0)), 'input': Identity(options.image_colors)}
    results = {name: translation_metrics(model, data.held_out(), options.batch_size)
               for name, model in baselines.items()}
    print(json.dumps(results, indent=2))


if __name__ == '__main__':
    main(sys.argv[1])
