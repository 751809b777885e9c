"""Generators: networks that map noise ``B x Z`` (``Z = --state-size``) to
images ``B x C x H x W`` (``C = --image-colors``, ``H = W = --image-size``)
with values in [-1, 1]; in a conditional run, noise and labels ``B`` to images
of those classes (``generator(noise, labels)``, see ``ganzo.conditional``).

* ``fc`` (``FCGenerator``): a multilayer perceptron;
* ``conv`` (``ConvGenerator``, the default): DCGAN;
* ``good`` (``GoodGenerator``): the ResNet generator of WGAN-GP;
* ``u-gen`` (``UGenerator``): the U-Net of pix2pix, which maps images to images
  (``translation = True``: for the ``translate`` game, not noise).
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from ganzo.acceleration import memory_format
from ganzo.conditional import ConditionalSequential, GeneratorConditioning, Normalization
from ganzo.kind import CONDITIONAL, GENERATION, kind_of
from ganzo.layers import (
    add_network_options,
    attention_layers,
    dropout_layers,
    init_dcgan_weights,
    resnet_width,
    resolution_stages,
    spectral_normalization,
)
from ganzo.options import Factory, complete, device
from ganzo.registry import register


@register('generator', 'fc')
class FCGenerator(nn.Module):
    """A multilayer perceptron: ``--generator-layers`` hidden layers (default 3)
    of ``8 x --generator-channels`` units, each Linear then ReLU (then Dropout if
    ``--generator-dropout``), and a Linear output layer with tanh, reshaped to
    ``B x C x H x W``. Conditional: the label's embedding concatenated to the
    noise (``concat``)."""

    kinds = {GENERATION, CONDITIONAL}
    conditioning = ('concat',)

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        super().__init__()
        self.image_shape = (options.image_colors, options.image_size, options.image_size)
        width = 8 * options.generator_channels
        layers: list[nn.Module] = []
        self.conditioner = GeneratorConditioning(options, type(self))
        inputs = self.conditioner.noise_size
        for _ in range(options.generator_layers or 3):
            layers += [nn.Linear(inputs, width), nn.ReLU(),
                       *dropout_layers(options.generator_dropout)]
            inputs = width
        layers += [nn.Linear(inputs, options.image_colors * options.image_size ** 2), nn.Tanh()]
        self.layers = nn.Sequential(*layers)

    def forward(self, noise: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        """``B x Z`` noise (and labels ``B``) to ``B x C x H x W`` images."""
        return self.layers(self.conditioner.inputs(noise, *condition)).view(-1, *self.image_shape)


@register('generator', 'conv', default=True)
class ConvGenerator(nn.Module):
    """DCGAN (Radford et al. 2015, https://arxiv.org/abs/1511.06434).

    A 4x4 stride-2 ConvTranspose2d per doubling of resolution, with BatchNorm
    and ReLU (then Dropout2d if ``--generator-dropout``, and a SAGAN
    self-attention block after the map of ``--generator-attention`` pixels), the
    last one to ``C`` channels with tanh. The noise, viewed as ``B x Z x 1 x 1``, is first
    projected to a ``s0 x s0`` map of ``channels * 2**(n-1)`` channels by a
    ConvTranspose2d of kernel ``s0``; channels halve with each doubling, down to
    ``channels`` (``--generator-channels``) before the last layer.

    ``n = --generator-layers`` stride-2 stages (default: as many as bring the
    image size down to 4, i.e. ``log2(size / 4)`` for powers of two), so the image
    size must be ``s0 * 2**n``. Weights use the DCGAN initialisation.
    Conditional: the label's embedding concatenated to the noise (``concat``, the
    default), or conditional batch normalization (``batch-norm``).
    """

    kinds = {GENERATION, CONDITIONAL}
    conditioning = ('concat', 'batch-norm')

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        super().__init__()
        stages = resolution_stages(options.image_size, options.generator_layers,
                                   '--generator-layers')
        width = options.generator_channels * 2 ** (stages - 1)
        dropout = options.generator_dropout
        sizes = [options.image_size >> (stages - k) for k in range(stages)]
        attention = attention_layers(options.generator_attention, sizes,
                                     [width >> k for k in range(stages)], 'generator', 'conv',
                                     options.image_size)
        self.conditioner = GeneratorConditioning(options, type(self))
        norm = self.conditioner.normalization
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(self.conditioner.noise_size, width, options.image_size >> stages,
                               bias=False),
            norm(width), nn.ReLU(), *dropout_layers(dropout, nn.Dropout2d), *attention[0]]
        for stage in range(1, stages):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       norm(width // 2), nn.ReLU(),
                       *dropout_layers(dropout, nn.Dropout2d), *attention[stage]]
            width //= 2
        layers += [nn.ConvTranspose2d(width, options.image_colors, 4, 2, 1), nn.Tanh()]
        self.layers = ConditionalSequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, noise: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        """``B x Z`` noise (and labels ``B``) to ``B x C x H x W`` images."""
        noise = self.conditioner.inputs(noise, *condition)
        return self.layers(noise.view(*noise.shape, 1, 1),
                           *self.conditioner.norm_condition(condition))


class UpBlock(nn.Module):
    """Residual block that doubles the resolution: BatchNorm, ReLU, nearest
    upsampling, 3x3 conv, BatchNorm, ReLU, (Dropout2d), 3x3 conv, added to a
    1x1 conv of the upsampled input. ``B x I x S x S`` to ``B x O x 2S x 2S``.
    The normalization layers come from ``normalization`` and get what the block
    gets after ``x`` (the labels, for conditional batch normalization)."""

    conditioned = True

    def __init__(self, inputs: int, outputs: int, dropout: float | None,
                 normalization: Normalization = nn.BatchNorm2d) -> None:
        super().__init__()
        self.residual = ConditionalSequential(
            normalization(inputs), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(inputs, outputs, 3, padding=1),
            normalization(outputs), nn.ReLU(), *dropout_layers(dropout, nn.Dropout2d),
            nn.Conv2d(outputs, outputs, 3, padding=1))
        self.shortcut = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(inputs, outputs, 1))

    def forward(self, x: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.residual(x, *condition)


@register('generator', 'good')
class GoodGenerator(nn.Module):
    """The ResNet generator of WGAN-GP (Gulrajani et al. 2017,
    https://arxiv.org/abs/1704.00028, "GoodGenerator" of the 64x64 experiments).

    A Linear layer maps the noise to a ``s0 x s0`` map, then ``n`` residual
    up-blocks (``UpBlock``) each double the resolution, then BatchNorm, ReLU and
    a 3x3 conv to ``C`` channels with tanh. The map has ``channels``
    (``--generator-channels``) at full resolution and twice as many per halving,
    at most ``8 * channels`` (so ``8 * channels x 4 x 4`` after the Linear layer
    for 32 px and larger images). Dropout2d (``--generator-dropout``) goes
    between the two convolutions of each block.

    ``n = --generator-layers`` blocks (default: as many as bring the image size
    down to 4), so the image size must be ``s0 * 2**n``. Conditional: conditional
    batch normalization (``batch-norm``).
    """

    kinds = {GENERATION, CONDITIONAL}
    conditioning = ('batch-norm',)

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        super().__init__()
        stages = resolution_stages(options.image_size, options.generator_layers,
                                   '--generator-layers')
        channels = options.generator_channels
        size = options.image_size >> stages
        self.conditioner = GeneratorConditioning(options, type(self))
        norm = self.conditioner.normalization
        self.map_shape = (resnet_width(channels, stages), size, size)
        self.project = nn.Linear(self.conditioner.noise_size, self.map_shape[0] * size * size)
        self.blocks = ConditionalSequential(*(
            UpBlock(resnet_width(channels, halvings), resnet_width(channels, halvings - 1),
                    options.generator_dropout, norm)
            for halvings in range(stages, 0, -1)))
        self.output = ConditionalSequential(
            norm(channels), nn.ReLU(),
            nn.Conv2d(channels, options.image_colors, 3, padding=1), nn.Tanh())

    def forward(self, noise: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        """``B x Z`` noise (and labels ``B``) to ``B x C x H x W`` images."""
        norm_condition = self.conditioner.norm_condition(condition)
        x = self.project(self.conditioner.inputs(noise, *condition)).view(-1, *self.map_shape)
        return self.output(self.blocks(x, *norm_condition), *norm_condition)


@register('generator', 'u-gen')
class UGenerator(nn.Module):
    """The U-Net of pix2pix (Isola et al. 2017, https://arxiv.org/abs/1611.07004),
    for image-to-image translation: images ``B x I x H x W`` (``I`` the input
    colors of the run, see ``ganzo.kind``) to images
    ``B x C x H x W`` (``C = --image-colors``) in [-1, 1].

    ``n = --generator-layers`` encoder stages (default: as many as bring the image
    size down to 4), each a 4x4 stride-2 Conv2d with LeakyReLU 0.2 before it
    (except the first) and BatchNorm after it (except the first and the
    innermost); ``--generator-channels`` after the first and twice as many per
    stage, at most 8 times as many. The decoder mirrors it with ReLU, 4x4
    stride-2 ConvTranspose2d and BatchNorm, each stage's output concatenated
    with the encoder's map of the same size (the skip connections); tanh at the
    end. Dropout (``--generator-dropout``; 0.5 in the paper) follows the first
    three decoder stages, as in the paper. H and W must be multiples of ``2**n``.
    Marked ``translation = True``: it belongs to the ``translate`` game.
    """

    translation = True

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        super().__init__()
        stages = resolution_stages(options.image_size, options.generator_layers,
                                   '--generator-layers')
        widths = [options.generator_channels * 2 ** min(stage, 3) for stage in range(stages)]
        inputs = [kind_of(options).input_colors, *widths[:-1]]
        self.encoder = nn.ModuleList(
            nn.Sequential(*([nn.LeakyReLU(0.2)] if stage else []),
                          nn.Conv2d(inputs[stage], widths[stage], 4, 2, 1,
                                    bias=stage in (0, stages - 1)),
                          *([nn.BatchNorm2d(widths[stage])] if 0 < stage < stages - 1 else []))
            for stage in range(stages))
        self.decoder = nn.ModuleList()
        for stage in reversed(range(1, stages)):
            dropout = options.generator_dropout if stages - stage <= 3 else None
            self.decoder.append(nn.Sequential(
                nn.ReLU(), nn.ConvTranspose2d(widths[stage] * (1 if stage == stages - 1 else 2),
                                              widths[stage - 1], 4, 2, 1, bias=False),
                nn.BatchNorm2d(widths[stage - 1]), *dropout_layers(dropout)))
        self.decoder.append(nn.Sequential(
            nn.ReLU(), nn.ConvTranspose2d(widths[0] * (1 if stages == 1 else 2),
                                          options.image_colors, 4, 2, 1), nn.Tanh()))
        self.apply(init_dcgan_weights)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``B x I x H x W`` images to ``B x C x H x W`` images."""
        skips = []
        for stage in self.encoder:
            images = stage(images)
            skips.append(images)
        images = skips.pop()
        for stage in self.decoder[:-1]:
            images = torch.cat([stage(images), skips.pop()], 1)
        return self.decoder[-1](images)


class Generator(Factory, namespace='generator'):
    """Builds the generator named by ``--generator``."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        group = add_network_options(parser, 'generator')
        if not train:  # deh and ganzo-eval
            group.add_argument('--class', dest='classes', nargs='+', action='extend',
                               metavar='CLASS', help='conditional experiments: the classes to '
                               'generate (deh) or to score (ganzo-eval), by name or label index, '
                               'the option repeated or a list (default: every class)')

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> nn.Module:
        """The generator named by ``--generator``, spectrally normalized if
        ``--generator-spectral-norm``, on ``--device``, in the memory format of
        ``--channels-last``."""
        options = complete(options)
        model = super().from_options(options)
        if options.generator_spectral_norm:
            spectral_normalization(model, '--generator-spectral-norm')
        return model.to(device(options), memory_format=memory_format(options))
