"""Noise: samples of the generator's latent space, and the generator's inputs
made of them (with class labels, in a conditional run)."""

from __future__ import annotations

import argparse

import torch

from ganzo.kind import RunKind
from ganzo.options import Factory, complete, component_option, device, positive_int
from ganzo.registry import register


class Noise(Factory, namespace='noise'):
    """Builds the noise named by --noise: ``sample(B)`` gives latent points
    (see ``ganzo.contracts.Noise``)."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        group = parser.add_argument_group('noise')
        component_option(group, 'noise', 'distribution of the latent space')
        group.add_argument('--state-size', type=positive_int, default=100,
                           help='dimension of the latent space (default: %(default)s)')


@register('noise', 'gaussian', default=True)
class GaussianNoise:
    """Standard normal noise: ``sample(B)`` is ``B x state_size`` on ``--device``."""

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        self.state_size = options.state_size
        self.device = device(options)

    def sample(self, batch_size: int) -> torch.Tensor:
        return torch.randn(batch_size, self.state_size, device=self.device)


def generator_inputs(noise, count: int, kind: RunKind,
                     labels: torch.Tensor | int | None = None) -> tuple[torch.Tensor, ...]:
    """What the generator takes to make ``count`` images: ``(noise B x Z,)``, and
    in a conditional run the labels ``B`` too: ``labels`` (a tensor, or one
    class for all), or classes drawn uniformly."""
    points = noise.sample(count)
    if not kind.conditional:
        return (points,)
    if labels is None:
        labels = torch.randint(len(kind.classes), (count,), device=points.device)
    elif isinstance(labels, int):
        labels = torch.full((count,), labels, dtype=torch.int64, device=points.device)
    return points, labels.to(points.device)
