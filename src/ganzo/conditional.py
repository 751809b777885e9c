"""Conditional networks: how generators and discriminators take class labels.

In a conditional run (``--conditional``, see ``ganzo.kind``) a generator maps
noise ``B x Z`` and labels ``B`` (int64, ``0 <= label < K``, ``K`` the classes
of the data) to images of those classes, and a discriminator scores images
``B x C x H x W`` as images of the classes ``B``: both are called
``network(inputs, labels)``. A network that can do so declares the modes it has
in its class attribute ``conditioning`` (its default first), and reads the mode
of the run from ``--generator-conditioning`` / ``--discriminator-conditioning``:

* generators: ``concat``: a learned embedding of the label (``K`` numbers) is
  concatenated to the noise (Mirza & Osindero 2014, https://arxiv.org/abs/1411.1784);
  ``batch-norm``: conditional batch normalization, a gain and a bias per class
  after each batch normalization (de Vries et al. 2017,
  https://arxiv.org/abs/1707.00683; Miyato & Koyama 2018,
  https://arxiv.org/abs/1802.05637);
* discriminators: ``concat``: the label's embedding, as ``K`` constant planes,
  concatenated to the image's channels (cGAN); ``projection``: the inner product
  of an embedding of the label with the discriminator's features is added to
  its logit (Miyato & Koyama 2018); ``auxiliary``: a linear classifier of the
  features predicts the class (``classify``), whose cross-entropy the loss adds
  to both players' (ACGAN, Odena et al. 2017, https://arxiv.org/abs/1610.09585;
  ``ganzo.loss.AuxiliaryClassifierLoss``).

The modules here hold the layers of each mode: ``GeneratorConditioning`` and
``DiscriminatorConditioning`` (no parameters in an unconditional run, so the
networks' weights are those of the unconditional architectures), the
``ConditionalBatchNorm2d`` layer, and ``ConditionalSequential``, a
``Sequential`` that hands the labels to the layers that take them.
"""

from __future__ import annotations

import argparse
from functools import partial
from typing import Callable

import torch
from torch import nn

from ganzo.errors import GanzoError
from ganzo.kind import CONDITIONAL, GENERATION, conditioning, kind_of

Normalization = Callable[[int], nn.Module]


def number_of_classes(options: argparse.Namespace, network: str) -> int:
    """``K``, the classes of a conditional run; a ``GanzoError`` if the kind of
    run does not know them yet (the data gives them)."""
    classes = len(kind_of(options).classes)
    if classes < 2:
        raise GanzoError(f'a conditional {network} needs the classes of the data: build the '
                         'data first (Data.from_options completes options.kind with them), or '
                         'set options.kind = ganzo.kind.run_kind(options, classes)')
    return classes


class ConditionalBatchNorm2d(nn.Module):
    """Batch normalization whose gain and bias depend on the class (de Vries et
    al. 2017; Miyato & Koyama 2018): ``gain[y] * BN(x) + bias[y]`` for maps
    ``B x C x H x W`` and labels ``B``. The gains (``K x C``) start near 1
    (N(1, 0.02), so that classes differ from the start) and the biases at 0.
    They are plain parameters, not embeddings: spectral normalization leaves
    them alone."""

    conditioned = True  # called as (x, labels) by ConditionalSequential

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Parameter(torch.empty(classes, channels).normal_(1.0, 0.02))
        self.bias = nn.Parameter(torch.zeros(classes, channels))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return (self.norm(x) * self.gain[labels][:, :, None, None]
                + self.bias[labels][:, :, None, None])


class ConditionalSequential(nn.Sequential):
    """A ``Sequential`` called as ``(x, *condition)``: the layers marked
    ``conditioned`` get ``(x, *condition)``, the others ``x``. Its weights are
    named as a ``Sequential``'s."""

    def forward(self, x: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x, *condition) if getattr(layer, 'conditioned', False) else layer(x)
        return x


class GeneratorConditioning(nn.Module):
    """How a generator of the class ``network`` takes the labels in the run of
    ``options``: ``mode`` None (an unconditional run), ``concat`` or ``batch-norm``.

    The generator asks it for the width of its noise (``noise_size``), for its
    normalization layers (``normalization``: ``BatchNorm2d``, or
    ``ConditionalBatchNorm2d`` for ``batch-norm``), and in ``forward`` for its
    input (``inputs``: the noise ``B x Z``, or noise and label embedding
    ``B x (Z + K)`` for ``concat``) and for what its normalization layers get
    after the maps (``norm_condition``: the labels for ``batch-norm``)."""

    def __init__(self, options: argparse.Namespace, network: type) -> None:
        super().__init__()
        self.mode = conditioning(options, 'generator', network) if kind_of(
            options).conditional else None
        classes = number_of_classes(options, 'generator') if self.mode else 0
        self.embedding = nn.Embedding(classes, classes) if self.mode == 'concat' else None
        self.noise_size = options.state_size + (classes if self.mode == 'concat' else 0)
        self.normalization: Normalization = (
            partial(ConditionalBatchNorm2d, classes=classes) if self.mode == 'batch-norm'
            else nn.BatchNorm2d)

    def inputs(self, noise: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        """The generator's input: ``B x Z`` noise, with the label embedding for ``concat``."""
        if self.embedding is None:
            return noise
        return torch.cat([noise, self.embedding(*condition).to(noise.dtype)], 1)

    def norm_condition(self, condition: tuple) -> tuple:
        """What the normalization layers get after the maps: what the generator
        got after the noise (the labels), but for ``concat``, which used it."""
        return () if self.mode == 'concat' else condition


class DiscriminatorConditioning(nn.Module):
    """How a discriminator of the class ``network`` takes the labels in the run
    of ``options``: ``mode`` None (an unconditional run), ``concat``,
    ``projection`` or ``auxiliary``; ``features`` is the size ``F`` of the
    discriminator's flattened features (what its last layer scores).

    ``extra_channels``: the planes ``concat`` adds to the images; ``inputs``
    adds them (``B x (C + K) x H x W``); ``outputs`` adds the projection of the
    features ``B x F`` on the label's embedding to the logits ``B``; ``classify``
    gives the class logits ``B x K`` of the features (``auxiliary``)."""

    def __init__(self, options: argparse.Namespace, network: type, features: int) -> None:
        super().__init__()
        self.mode = conditioning(options, 'discriminator', network) if kind_of(
            options).conditional else None
        classes = number_of_classes(options, 'discriminator') if self.mode else 0
        self.extra_channels = classes if self.mode == 'concat' else 0
        self.embedding: nn.Module | None = None
        self.classifier: nn.Module | None = None
        if self.mode == 'concat':
            self.embedding = nn.Embedding(classes, classes)
        elif self.mode == 'projection':
            self.embedding = nn.Embedding(classes, features)
            nn.init.xavier_uniform_(self.embedding.weight)
        elif self.mode == 'auxiliary':
            self.classifier = nn.Linear(features, classes)

    def inputs(self, images: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        """The images ``B x C x H x W``, with the label planes for ``concat``
        (``B x (C + K) x H x W``; flattened images ``B x N`` get ``B x (N + K)``)."""
        if self.mode != 'concat' or not condition:
            return images
        embedding = self.embedding(*condition).to(images.dtype)
        planes = embedding.view(*embedding.shape, *[1] * (images.dim() - 2))
        return torch.cat([images, planes.expand(-1, -1, *images.shape[2:])], 1)

    def outputs(self, logits: torch.Tensor, features: torch.Tensor,
                *condition: torch.Tensor) -> torch.Tensor:
        """The logits ``B``, with the projection term for ``projection``."""
        if self.mode != 'projection' or not condition:
            return logits
        return logits + (self.embedding(*condition) * features.flatten(1)).sum(1)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits ``B x K`` of the features (``auxiliary`` only)."""
        if self.classifier is None:
            raise TypeError('only an auxiliary-classifier discriminator classifies images')
        return self.classifier(features.flatten(1))


class ConditionalDiscriminator(nn.Module):
    """Base of the discriminators that can take labels (``kinds`` generation and
    conditional). A subclass builds ``self.conditioner``
    (``DiscriminatorConditioning``) and writes ``features(images, *condition)``
    (its maps or vectors before the last layer, after ``conditioner.inputs``)
    and ``score(features)`` (the logits ``B``); this class gives ``forward``
    and, for ``auxiliary``, ``classify``."""

    kinds = {GENERATION, CONDITIONAL}
    conditioner: DiscriminatorConditioning

    def features(self, images: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score(self, features: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, images: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        """``B x C x H x W`` images (and labels ``B``, in a conditional run) to ``B`` logits."""
        features = self.features(images, *condition)
        return self.conditioner.outputs(self.score(features), features, *condition)

    @property
    def classifies(self) -> bool:
        """Whether it has an auxiliary classifier (``classify``)."""
        return self.conditioner.mode == 'auxiliary'

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits ``B x K`` of images ``B x C x H x W`` (``auxiliary``)."""
        return self.conditioner.classify(self.features(images))
