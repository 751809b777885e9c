"""The ResNet generator and discriminator of SNGAN (Miyato et al. 2018,
https://arxiv.org/abs/1802.05957, appendix B.4: the CIFAR-10 networks), as
Mimicry and the authors' code write them, registered as ``resnet`` in the
``generator`` and ``discriminator`` namespaces.

Both keep one width through their blocks, as the CIFAR-10 networks do (256
channels in the generator, 128 in the discriminator: ``--generator-channels``,
``--discriminator-channels``), and grow by stages for other image sizes: for
32 px, the generator goes 4 -> 8 -> 16 -> 32 and the discriminator 32 -> 16 -> 8;
for 64 px, one stage more each; for 48 px, the generator starts from 6 x 6.
Spectral normalization (``--*-spectral-norm``) and a self-attention block
(``--*-attention``) are options, as for any network.

The generator's normalization layers come from a factory (``normalization``:
``BatchNorm2d``, or in a conditional run ``ConditionalBatchNorm2d``) and
receive whatever the generator receives after the noise (``forward(noise,
*condition)``: the labels). The discriminator's ``features`` gives the pooled
features that its last linear layer scores, which a projection discriminator
(the SNGAN-projection of Miyato & Koyama 2018) or an auxiliary classifier uses
(see ``ganzo.conditional``).
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F
from torch import nn

from ganzo.conditional import (
    ConditionalDiscriminator,
    DiscriminatorConditioning,
    GeneratorConditioning,
    Normalization,
)
from ganzo.kind import CONDITIONAL, GENERATION
from ganzo.layers import attention_layers, dropout_layers, resolution_stages
from ganzo.options import complete
from ganzo.registry import register


def init_resnet_weights(blocks: nn.Module, others: list[nn.Module]) -> None:
    """Xavier-uniform initialisation as in the SNGAN code: gain sqrt(2) for the
    3x3 convolutions of the residual branches (``blocks``), 1 for ``others``
    (shortcuts, the first and last layers); biases 0."""
    for module in blocks.modules():
        if isinstance(module, nn.Conv2d):
            residual = module.kernel_size == (3, 3)
            nn.init.xavier_uniform_(module.weight, math.sqrt(2) if residual else 1.0)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    for module in others:
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


class GeneratorBlock(nn.Module):
    """Residual block that doubles the resolution: normalization, ReLU, nearest
    upsampling, 3x3 conv, normalization, ReLU, (Dropout2d), 3x3 conv, added to
    a 1x1 conv of the upsampled input. ``B x I x S x S`` to ``B x O x 2S x 2S``.
    ``normalization(channels)`` makes the normalization layers, which are called
    as ``norm(x, *condition)``."""

    def __init__(self, inputs: int, outputs: int, normalization: Normalization,
                 dropout: float | None) -> None:
        super().__init__()
        self.norm1, self.norm2 = normalization(inputs), normalization(outputs)
        self.conv1 = nn.Conv2d(inputs, outputs, 3, padding=1)
        self.dropout = nn.Sequential(*dropout_layers(dropout, nn.Dropout2d))
        self.conv2 = nn.Conv2d(outputs, outputs, 3, padding=1)
        self.shortcut = nn.Conv2d(inputs, outputs, 1)

    def forward(self, x: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.norm1(x, *condition)), scale_factor=2)
        h = self.conv2(self.dropout(F.relu(self.norm2(self.conv1(h), *condition))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


@register('generator', 'resnet')
class ResNetGenerator(nn.Module):
    """The ResNet generator of SNGAN (Miyato et al. 2018,
    https://arxiv.org/abs/1802.05957), for CIFAR-10 with 256 channels.

    A Linear layer maps the noise ``B x Z`` to a ``c x s0 x s0`` map (``c`` =
    ``--generator-channels``), ``n`` residual blocks (``GeneratorBlock``) each
    double the resolution at ``c`` channels, then normalization, ReLU, a 3x3 conv
    to ``C`` channels and tanh: images ``B x C x H x W``. Dropout2d
    (``--generator-dropout``) goes between the two convolutions of each block, a
    self-attention block after the block of ``--generator-attention`` pixels.

    ``n = --generator-layers`` blocks (default: as many as bring the image size
    down to 4, 3 for 32 px), so the image size must be ``s0 * 2**n``.
    ``normalization`` makes the normalization layers (default ``nn.BatchNorm2d``,
    or in a conditional run ``ConditionalBatchNorm2d``: ``batch-norm``, its only
    conditioning); they are called with ``(x, *condition)``, ``condition`` being
    what ``forward`` gets after the noise (the labels, in a conditional run).
    """

    kinds = {GENERATION, CONDITIONAL}
    conditioning = ('batch-norm',)

    def __init__(self, options: argparse.Namespace,
                 normalization: Normalization | None = None) -> None:
        options = complete(options)
        super().__init__()
        stages = resolution_stages(options.image_size, options.generator_layers,
                                   '--generator-layers')
        channels, size = options.generator_channels, options.image_size >> stages
        self.conditioner = GeneratorConditioning(options, type(self))
        normalization = normalization or self.conditioner.normalization
        self.map_shape = (channels, size, size)
        self.project = nn.Linear(self.conditioner.noise_size, channels * size * size)
        self.blocks = nn.ModuleList(
            GeneratorBlock(channels, channels, normalization, options.generator_dropout)
            for _ in range(stages))
        self.attention = nn.ModuleList(nn.Sequential(*layers) for layers in attention_layers(
            options.generator_attention, [size << stage + 1 for stage in range(stages)],
            [channels] * stages, 'generator', 'resnet', options.image_size))
        self.norm = normalization(channels)
        self.output = nn.Conv2d(channels, options.image_colors, 3, padding=1)
        init_resnet_weights(self.blocks, [self.project, self.output])

    def forward(self, noise: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        """``B x Z`` noise (and labels ``B``) to ``B x C x H x W`` images."""
        x = self.project(self.conditioner.inputs(noise, *condition)).view(-1, *self.map_shape)
        condition = self.conditioner.norm_condition(condition)
        for block, attention in zip(self.blocks, self.attention):
            x = attention(block(x, *condition))
        return torch.tanh(self.output(F.relu(self.norm(x, *condition))))


class DiscriminatorBlock(nn.Module):
    """Residual block of the discriminator: (ReLU unless ``first``), 3x3 conv,
    ReLU, (Dropout2d), 3x3 conv, 2x2 mean pooling if ``down``, added to the
    shortcut: the input, or a 1x1 conv of it (and pooled) when the block changes
    the channels or the resolution; the first block pools before its 1x1 conv,
    the others after, as in SNGAN. ``B x I x S x S`` to ``B x O x S' x S'``,
    ``S' = S / 2`` if ``down``, else ``S``."""

    def __init__(self, inputs: int, outputs: int, down: bool, dropout: float | None,
                 first: bool = False) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            *([] if first else [nn.ReLU()]), nn.Conv2d(inputs, outputs, 3, padding=1),
            nn.ReLU(), *dropout_layers(dropout, nn.Dropout2d),
            nn.Conv2d(outputs, outputs, 3, padding=1), *([nn.AvgPool2d(2)] if down else []))
        pool = [nn.AvgPool2d(2)] if down else []
        if inputs == outputs and not down:
            self.shortcut: nn.Module = nn.Identity()
        elif first:
            self.shortcut = nn.Sequential(*pool, nn.Conv2d(inputs, outputs, 1))
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(inputs, outputs, 1), *pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


@register('discriminator', 'resnet')
class ResNetDiscriminator(ConditionalDiscriminator):
    """The ResNet discriminator of SNGAN (Miyato et al. 2018,
    https://arxiv.org/abs/1802.05957), for CIFAR-10 with 128 channels and
    spectral normalization (``--discriminator-spectral-norm``).

    ``n`` residual blocks (``DiscriminatorBlock``) halve the resolution at ``c``
    = ``--discriminator-channels`` channels, the first one from the ``C`` colours
    of the images ``B x C x H x W``, then two blocks keep it; then ReLU, a sum
    over the positions (``features``, ``B x c``) and a Linear layer give one logit
    per image, ``B``. Dropout2d (``--discriminator-dropout``) goes between the
    two convolutions of each block, a self-attention block after the first block
    whose output has ``--discriminator-attention`` pixels.

    ``n = --discriminator-layers`` halving blocks (default: as many as bring the
    image size down to 8, or twice the ``s0`` of the generator: 2 for 32 px).
    Conditional: ``projection`` (the default, SNGAN-projection), ``concat`` or
    ``auxiliary``, on the features.
    """

    conditioning = ('projection', 'concat', 'auxiliary')

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        super().__init__()
        size, channels = options.image_size, options.discriminator_channels
        halvings = options.discriminator_layers or max(
            1, resolution_stages(size, None, '--discriminator-layers') - 1)
        resolution_stages(size, halvings, '--discriminator-layers')  # size is a multiple
        dropout = options.discriminator_dropout
        self.conditioner = DiscriminatorConditioning(options, type(self), channels)
        colors = options.image_colors + self.conditioner.extra_channels
        self.blocks = nn.ModuleList(
            [DiscriminatorBlock(colors, channels, True, dropout, first=True)]
            + [DiscriminatorBlock(channels, channels, True, dropout) for _ in range(halvings - 1)]
            + [DiscriminatorBlock(channels, channels, False, dropout) for _ in range(2)])
        sizes = [size >> stage + 1 for stage in range(halvings)] + [size >> halvings] * 2
        self.attention = nn.ModuleList(nn.Sequential(*layers) for layers in attention_layers(
            options.discriminator_attention, sizes, [channels] * len(sizes), 'discriminator',
            'resnet', size))
        self.output = nn.Linear(channels, 1)
        init_resnet_weights(self.blocks, [self.output])

    def features(self, images: torch.Tensor, *condition: torch.Tensor) -> torch.Tensor:
        """``B x C x H x W`` images (and labels ``B``) to ``B x c`` features: the
        blocks, ReLU, sum over the positions."""
        x = self.conditioner.inputs(images, *condition)
        for block, attention in zip(self.blocks, self.attention):
            x = attention(block(x))
        return F.relu(x).sum(dim=(2, 3))

    def score(self, features: torch.Tensor) -> torch.Tensor:
        """``B x c`` features to ``B`` logits."""
        return self.output(features).view(-1)
