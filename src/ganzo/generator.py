"""Generators: networks that map noise ``B x Z`` (``Z = --state-size``) to
images ``B x C x H x W`` (``C = --image-colors``, ``H = W = --image-size``)
with values in [-1, 1]; in a conditional run, noise and labels ``B`` to images
of those classes (``generator(noise, labels)``, see ``ganzo.conditional``).

* ``fc`` (``FCGenerator``): a multilayer perceptron;
* ``conv`` (``ConvGenerator``, the default): DCGAN;
* ``good`` (``GoodGenerator``): the ResNet generator of WGAN-GP;
* ``u-gen`` (``UGenerator``): the U-Net of pix2pix, which maps images to images
  (for the ``translate`` and ``cycle`` games, not noise);
* ``resnet-translator`` (``ResNetTranslator``): the ResNet of Johnson et al. that
  CycleGAN uses, from images to images (for the ``translate`` and ``cycle`` games).

In unpaired translation (``cycle``) ``Generator.from_options`` builds the chosen
generator twice, one per direction, as a ``ganzo.cycle.GeneratorPair``.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from ganzo.conditional import ConditionalSequential, GeneratorConditioning, Normalization
from ganzo.cycle import GeneratorPair
from ganzo.errors import GanzoError
from ganzo.kind import CONDITIONAL, GENERATION, TRANSLATION, UNPAIRED, kind_of
from ganzo.layers import (
    NetworkFactory,
    add_network_options,
    attention_layers,
    dropout_layers,
    init_dcgan_weights,
    needs_bias,
    normalization_layer,
    resnet_width,
    resolution_stages,
)
from ganzo.options import complete
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
    (except the first) and a normalization after it (except the first and the
    innermost); ``--generator-channels`` after the first and twice as many per
    stage, at most 8 times as many. The decoder mirrors it with ReLU, 4x4
    stride-2 ConvTranspose2d and normalization, each stage's output concatenated
    with the encoder's map of the same size (the skip connections); tanh at the
    end. Dropout (``--generator-dropout``; 0.5 in the paper) follows the first
    three decoder stages, as in the paper. The normalization is
    ``--generator-normalization``: batch (the default, as in the paper) or
    instance. H and W must be multiples of ``2**n``. It serves paired and
    unpaired translation (``kinds``): the ``translate`` and ``cycle`` games.
    """

    kinds = {TRANSLATION, UNPAIRED}

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        super().__init__()
        stages = resolution_stages(options.image_size, options.generator_layers,
                                   '--generator-layers')
        norm = options.generator_normalization or 'batch'
        bias = needs_bias(norm)
        widths = [options.generator_channels * 2 ** min(stage, 3) for stage in range(stages)]
        inputs = [kind_of(options).input_colors, *widths[:-1]]
        self.encoder = nn.ModuleList(
            nn.Sequential(*([nn.LeakyReLU(0.2)] if stage else []),
                          nn.Conv2d(inputs[stage], widths[stage], 4, 2, 1,
                                    bias=bias or stage in (0, stages - 1)),
                          *([normalization_layer(norm, widths[stage])]
                            if 0 < stage < stages - 1 else []))
            for stage in range(stages))
        self.decoder = nn.ModuleList()
        for stage in reversed(range(1, stages)):
            dropout = options.generator_dropout if stages - stage <= 3 else None
            self.decoder.append(nn.Sequential(
                nn.ReLU(), nn.ConvTranspose2d(widths[stage] * (1 if stage == stages - 1 else 2),
                                              widths[stage - 1], 4, 2, 1, bias=bias),
                normalization_layer(norm, widths[stage - 1]), *dropout_layers(dropout)))
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


class ResidualBlock(nn.Module):
    """Residual block of the ResNet translator, at a constant width ``c``:
    reflection padding 1, 3x3 conv, normalization, ReLU, (Dropout), reflection
    padding 1, 3x3 conv, normalization, added to the input. ``B x c x S x S`` to
    ``B x c x S x S``."""

    def __init__(self, channels: int, norm: str, dropout: float | None) -> None:
        super().__init__()
        bias = needs_bias(norm)
        self.residual = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias),
            normalization_layer(norm, channels), nn.ReLU(), *dropout_layers(dropout),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias),
            normalization_layer(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.residual(x)


@register('generator', 'resnet-translator')
class ResNetTranslator(nn.Module):
    """The ResNet translator of Johnson et al. 2016 (https://arxiv.org/abs/1603.08155)
    as CycleGAN uses it (Zhu et al. 2017, https://arxiv.org/abs/1703.10593: its
    ``resnet_6blocks`` and ``resnet_9blocks``): images ``B x I x H x W`` (``I`` the
    input colors of the run) to images ``B x C x H x W`` in [-1, 1].

    With ``c = --generator-channels`` (64 in the paper): reflection padding 3, a
    7x7 conv to ``c``, normalization, ReLU; two 3x3 stride-2 convs to ``2c`` and
    ``4c``, each with normalization and ReLU; ``n = --generator-layers`` residual
    blocks at ``4c`` (``ResidualBlock``; default 6 below 256 px and 9 from 256 px,
    as CycleGAN; Dropout inside them with ``--generator-dropout``); two 3x3
    stride-2 transposed convs back to ``2c`` and ``c``, each with normalization
    and ReLU; reflection padding 3, a 7x7 conv to ``C`` and tanh. The
    normalization is ``--generator-normalization``, instance by default (as in
    CycleGAN; the convolutions before it then have biases). H and W must be
    multiples of 4, at least 8. Weights N(0, 0.02), as in CycleGAN. It serves
    paired and unpaired translation (``kinds``)."""

    kinds = {TRANSLATION, UNPAIRED}

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        super().__init__()
        size, c = options.image_size, options.generator_channels
        if size % 4 or size < 8:
            raise GanzoError(f'--image-size {size}: resnet-translator halves the images twice '
                             'down to 2 x 2 or more, so it needs a multiple of 4 of at least 8')
        norm = options.generator_normalization or 'instance'
        bias = needs_bias(norm)
        blocks = options.generator_layers or (9 if size >= 256 else 6)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(kind_of(options).input_colors, c, 7, bias=bias),
            normalization_layer(norm, c), nn.ReLU()]
        for width in (c, 2 * c):
            layers += [nn.Conv2d(width, 2 * width, 3, 2, 1, bias=bias),
                       normalization_layer(norm, 2 * width), nn.ReLU()]
        layers += [ResidualBlock(4 * c, norm, options.generator_dropout) for _ in range(blocks)]
        for width in (4 * c, 2 * c):
            layers += [nn.ConvTranspose2d(width, width // 2, 3, 2, 1, output_padding=1,
                                          bias=bias),
                       normalization_layer(norm, width // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, options.image_colors, 7), nn.Tanh()]
        self.layers = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``B x I x H x W`` images to ``B x C x H x W`` images."""
        return self.layers(images)


class Generator(NetworkFactory, namespace='generator'):
    """Builds the generator named by ``--generator`` (see ``NetworkFactory``)."""

    pair = GeneratorPair

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        group = add_network_options(parser, 'generator')
        if not train:  # deh and ganzo-eval
            group.add_argument('--class', dest='classes', nargs='+', action='extend',
                               metavar='CLASS', help='conditional experiments: the classes to '
                               'generate (deh) or to score (ganzo-eval), by name or label index, '
                               'the option repeated or a list (default: every class)')
