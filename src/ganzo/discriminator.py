"""Discriminators: networks that map images ``B x C x H x W``
(``C = --image-colors``, ``H = W = --image-size``) to logits of shape ``B``,
without a sigmoid (the losses apply what they need); in a conditional run,
images and labels ``B`` to logits (``discriminator(images, labels)``, see
``ganzo.conditional``).

* ``fc`` (``FCDiscriminator``): a multilayer perceptron;
* ``conv`` (``ConvDiscriminator``, the default): DCGAN;
* ``good`` (``GoodDiscriminator``): the ResNet critic of WGAN-GP;
* ``patch-gan`` (``PatchGAN``): the PatchGAN of pix2pix, which scores (input,
  output) pairs patch by patch (the ``translate`` game), or images of a domain
  (the ``cycle`` game, as in CycleGAN).

In unpaired translation (``cycle``) ``Discriminator.from_options`` builds the
chosen discriminator twice, one per domain, as a ``ganzo.cycle.DiscriminatorPair``.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from ganzo.conditional import ConditionalDiscriminator, DiscriminatorConditioning
from ganzo.cycle import DiscriminatorPair
from ganzo.errors import GanzoError
from ganzo.kind import TRANSLATION, UNPAIRED, kind_of
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
from ganzo.options import complete, non_negative_float, owned_by
from ganzo.registry import register


@register('discriminator', 'fc')
class FCDiscriminator(ConditionalDiscriminator):
    """A multilayer perceptron on the flattened image: ``--discriminator-layers``
    hidden layers (default 3) of ``8 x --discriminator-channels`` units, each
    Linear then LeakyReLU 0.2 (then Dropout if ``--discriminator-dropout``), and
    a Linear output layer to one logit. Conditional: ``concat`` (the default:
    the label's embedding concatenated to the flattened image), ``projection``
    or ``auxiliary`` on the last hidden layer."""

    conditioning = ('concat', 'projection', 'auxiliary')

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        super().__init__()
        width = 8 * options.discriminator_channels
        layers: list[nn.Module] = [nn.Flatten()]
        self.conditioner = DiscriminatorConditioning(options, type(self), width)
        inputs = options.image_colors * options.image_size ** 2 + self.conditioner.extra_channels
        for _ in range(options.discriminator_layers or 3):
            layers += [nn.Linear(inputs, width), nn.LeakyReLU(0.2),
                       *dropout_layers(options.discriminator_dropout)]
            inputs = width
        layers.append(nn.Linear(inputs, 1))
        self.layers = nn.Sequential(*layers)

    def features(self, images: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        """``B x C x H x W`` images (and labels ``B``) to the last hidden layer ``B x F``."""
        return self.layers[1:-1](self.conditioner.inputs(self.layers[0](images), *condition))

    def score(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers[-1](features).view(-1)


@register('discriminator', 'conv', default=True)
class ConvDiscriminator(ConditionalDiscriminator):
    """DCGAN (Radford et al. 2015, https://arxiv.org/abs/1511.06434).

    A 4x4 stride-2 Conv2d per halving of resolution, with LeakyReLU 0.2 and
    BatchNorm on all but the first (then Dropout2d if ``--discriminator-dropout``,
    and a SAGAN self-attention block after the map of ``--discriminator-attention``
    pixels);
    the first has ``channels`` (``--discriminator-channels``) outputs, and
    channels double at each halving up to ``channels * 2**(n-1)``. A last Conv2d
    whose kernel covers the remaining ``s0 x s0`` map gives one logit.

    ``n = --discriminator-layers`` stride-2 stages (default: as many as bring the
    image size down to 4, i.e. ``log2(size / 4)`` for powers of two), so the image
    size must be ``s0 * 2**n``. Weights use the DCGAN initialisation.
    Conditional: ``projection`` (the default), ``concat`` or ``auxiliary``, on
    the flattened last map (the features that the last convolution scores).
    """

    conditioning = ('projection', 'concat', 'auxiliary')

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        super().__init__()
        stages = resolution_stages(options.image_size, options.discriminator_layers,
                                   '--discriminator-layers')
        width, dropout = options.discriminator_channels, options.discriminator_dropout
        attention = attention_layers(
            options.discriminator_attention,
            [options.image_size >> (k + 1) for k in range(stages)],
            [width << k for k in range(stages)], 'discriminator', 'conv', options.image_size)
        features = (width << (stages - 1)) * (options.image_size >> stages) ** 2
        self.conditioner = DiscriminatorConditioning(options, type(self), features)
        layers: list[nn.Module] = [
            nn.Conv2d(options.image_colors + self.conditioner.extra_channels, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            *dropout_layers(dropout, nn.Dropout2d), *attention[0]]
        for stage in range(1, stages):
            layers += [nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
                       *dropout_layers(dropout, nn.Dropout2d), *attention[stage]]
            width *= 2
        layers.append(nn.Conv2d(width, 1, options.image_size >> stages))
        self.layers = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def features(self, images: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        """``B x C x H x W`` images (and labels ``B``) to the last map ``B x W x s0 x s0``."""
        return self.layers[:-1](self.conditioner.inputs(images, *condition))

    def score(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers[-1](features).view(-1)


class DownBlock(nn.Module):
    """Residual block that halves the resolution: GroupNorm(1, I) (a layer norm,
    as WGAN-GP critics must not use batch norm), ReLU, 3x3 conv, GroupNorm, ReLU,
    (Dropout2d), 3x3 conv, 2x2 mean pool, added to a 1x1 conv of the mean-pooled
    input. ``B x I x S x S`` to ``B x O x S/2 x S/2``."""

    def __init__(self, inputs: int, outputs: int, dropout: float | None) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.GroupNorm(1, inputs), nn.ReLU(), nn.Conv2d(inputs, inputs, 3, padding=1),
            nn.GroupNorm(1, inputs), nn.ReLU(), *dropout_layers(dropout, nn.Dropout2d),
            nn.Conv2d(inputs, outputs, 3, padding=1), nn.AvgPool2d(2))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(inputs, outputs, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.residual(x)


@register('discriminator', 'good')
class GoodDiscriminator(ConditionalDiscriminator):
    """The ResNet critic of WGAN-GP (Gulrajani et al. 2017,
    https://arxiv.org/abs/1704.00028, "GoodDiscriminator" of the 64x64 experiments).

    A 3x3 conv to ``channels`` (``--discriminator-channels``), then ``n`` residual
    down-blocks (``DownBlock``) each halve the resolution and double the channels
    up to ``8 * channels``, then a Linear layer from the flattened ``s0 x s0`` map
    to one logit. Dropout2d (``--discriminator-dropout``) goes between the two
    convolutions of each block.

    ``n = --discriminator-layers`` blocks (default: as many as bring the image
    size down to 4), so the image size must be ``s0 * 2**n``. Conditional:
    ``projection`` (the default), ``concat`` or ``auxiliary``, on the flattened
    last map.
    """

    conditioning = ('projection', 'concat', 'auxiliary')

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        super().__init__()
        stages = resolution_stages(options.image_size, options.discriminator_layers,
                                   '--discriminator-layers')
        channels = options.discriminator_channels
        size = options.image_size >> stages
        features = resnet_width(channels, stages) * size * size
        self.conditioner = DiscriminatorConditioning(options, type(self), features)
        self.input = nn.Conv2d(options.image_colors + self.conditioner.extra_channels,
                               channels, 3, padding=1)
        self.blocks = nn.Sequential(*(
            DownBlock(resnet_width(channels, halvings), resnet_width(channels, halvings + 1),
                      options.discriminator_dropout)
            for halvings in range(stages)))
        self.output = nn.Linear(features, 1)

    def features(self, images: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        """``B x C x H x W`` images (and labels ``B``) to the flattened last map ``B x F``."""
        return self.blocks(self.input(self.conditioner.inputs(images, *condition))).flatten(1)

    def score(self, features: torch.Tensor) -> torch.Tensor:
        return self.output(features).view(-1)


@register('discriminator', 'patch-gan')
class PatchGAN(nn.Module):
    """The PatchGAN of pix2pix (Isola et al. 2017, https://arxiv.org/abs/1611.07004),
    for image-to-image translation: it gives a map ``B x 1 x H' x W'`` of logits,
    one per overlapping patch (``H' = H / 2**n - 2``), of what it sees: in paired
    translation an input and an output stacked on the channels,
    ``B x (I + C) x H x W`` (``I`` the input colors of the run, see ``ganzo.kind``,
    ``C = --image-colors``); in unpaired translation images ``B x C x H x W`` of
    one domain, as in CycleGAN (Zhu et al. 2017, https://arxiv.org/abs/1703.10593).

    ``n = --discriminator-layers`` 4x4 stride-2 Conv2d (default: 3, fewer for
    images smaller than 24 px), then a stride-1 one, each with LeakyReLU 0.2 and
    a normalization on all but the first (``--discriminator-normalization``: batch,
    the default, as in pix2pix, or instance, as in CycleGAN);
    ``--discriminator-channels`` after the first and twice as many per layer, at
    most 8 times as many; a last stride-1 Conv2d gives the logits. With the
    default 3 layers a patch is 70x70 pixels. Dropout2d (``--discriminator-dropout``)
    follows each activation. It serves paired and unpaired translation (``kinds``).
    """

    kinds = {TRANSLATION, UNPAIRED}
    default_layers = 3

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        super().__init__()
        layers, size = options.discriminator_layers, options.image_size
        if layers is None:
            layers = max(1, min(self.default_layers, (size // 3).bit_length() - 1))
        if size >> layers < 3:
            raise GanzoError(f'--image-size {size} is too small for patch-gan with '
                             f'--discriminator-layers {layers}: it needs at least '
                             f'{3 << layers} px; use fewer layers or larger images')
        channels, dropout = options.discriminator_channels, options.discriminator_dropout
        norm = options.discriminator_normalization or 'batch'
        widths = [channels * 2 ** min(layer, 3) for layer in range(layers + 1)]
        kind = kind_of(options)
        seen = kind.image_colors + (0 if kind.both_ways else kind.input_colors)
        modules: list[nn.Module] = [
            nn.Conv2d(seen, channels, 4, 2, 1),
            nn.LeakyReLU(0.2), *dropout_layers(dropout, nn.Dropout2d)]
        for layer in range(1, layers + 1):
            modules += [nn.Conv2d(widths[layer - 1], widths[layer], 4, 2 if layer < layers else 1,
                                  1, bias=needs_bias(norm)),
                        normalization_layer(norm, widths[layer]), nn.LeakyReLU(0.2),
                        *dropout_layers(dropout, nn.Dropout2d)]
        modules.append(nn.Conv2d(widths[layers], 1, 4, 1, 1))
        self.layers = nn.Sequential(*modules)
        self.apply(init_dcgan_weights)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``B x (I + C) x H x W`` pairs (or ``B x C x H x W`` images) to
        ``B x 1 x H' x W'`` logits."""
        return self.layers(images)


class Discriminator(NetworkFactory, namespace='discriminator'):
    """Builds the discriminator named by ``--discriminator`` (see ``NetworkFactory``)."""

    pair = DiscriminatorPair

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        if train:
            group = add_network_options(parser, 'discriminator')
            owned_by(group.add_argument(
                '--auxiliary-weight', type=non_negative_float, default=1.0,
                help='auxiliary: weight of the classification loss added to both players\' '
                'losses (default: %(default)s)'), 'discriminator_conditioning', 'auxiliary')
