"""Building blocks shared by the generators and the discriminators: their
options, how many resolution stages an image size allows, widths, weight
initialisation, dropout, spectral normalization and self-attention, and
``NetworkFactory``, what ``Generator`` and ``Discriminator`` build alike."""

from __future__ import annotations

import argparse
from typing import ClassVar

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ganzo.acceleration import memory_format
from ganzo.errors import GanzoError
from ganzo.kind import CONDITIONING, kind_of
from ganzo.options import (
    Factory,
    complete,
    component_option,
    device,
    owned_by,
    positive_int,
    probability,
)

SMALLEST_MAP = 4


def resolution_stages(image_size: int, layers: int | None, option: str) -> int:
    """How many times a ``s0 x s0`` map doubles to reach ``image_size``, i.e. the
    ``n`` of ``image_size = s0 * 2**n``: ``layers`` if given, otherwise the most
    stages that keep ``s0 >= 4``. ``option`` (such as ``--generator-layers``)
    names ``layers`` in the ``GanzoError`` raised for a size that cannot be reached."""
    if layers is None:
        layers = 0
        while image_size % 2 ** (layers + 1) == 0 and image_size >> (layers + 1) >= SMALLEST_MAP:
            layers += 1
        if layers == 0:
            instead = f'; or set {option} 1' if image_size % 2 == 0 else ''
            raise GanzoError(
                f'--image-size {image_size}: the default {option} needs a size s * 2**n with '
                f's >= {SMALLEST_MAP} and n >= 1, such as 8, 16, 32, 48 or 64{instead}')
    elif image_size % 2 ** layers:
        step = 2 ** layers
        smaller, larger = image_size // step * step, (image_size // step + 1) * step
        sizes = f'{smaller} or {larger}' if smaller else f'{larger}'
        fewer = max(n for n in range(layers) if image_size % 2 ** n == 0)
        instead = f', or {option} {fewer}' if fewer else ''
        raise GanzoError(
            f'--image-size {image_size} is not a multiple of {step}, as {option} {layers} '
            f'needs: use --image-size {sizes}{instead}')
    return layers


def resnet_width(channels: int, halvings: int) -> int:
    """Channels of the ``good`` architectures' maps that are ``halvings`` times
    smaller than the image: ``channels`` at full size, doubling at each halving
    up to ``8 * channels``."""
    return channels * 2 ** min(halvings, 3)


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN initialisation, for ``Module.apply``: convolution weights
    N(0, 0.02), batch norm weights N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
    else:
        return
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def dropout_layers(dropout: float | None, layer: type[nn.Module] = nn.Dropout) -> list[nn.Module]:
    """``[layer(dropout)]`` if ``dropout`` is set, otherwise no layer."""
    return [] if dropout is None else [layer(dropout)]


def add_network_options(parser: argparse.ArgumentParser,
                        network: str) -> argparse._ArgumentGroup:
    """The options of ``network`` ('generator' or 'discriminator'): its
    architecture, ``--<network>-layers``, ``-channels``, ``-dropout``,
    ``-spectral-norm``, ``-conditioning`` and ``-attention``; their group."""
    group = parser.add_argument_group(network)
    component_option(group, network, f'{network} architecture')
    group.add_argument(
        f'--{network}-layers', type=positive_int,
        help=f'depth of the {network}: hidden layers for fc (default 3), stride-2 '
             'stages for conv, u-gen and patch-gan, residual blocks for good (default: as '
             'many as bring the image size down to 4, e.g. 4 for 64 px; 3 for patch-gan)')
    group.add_argument(
        f'--{network}-channels', type=positive_int, default=64,
        help=f'width of the {network}: fc has 8 times as many units per hidden layer; '
             'the others have this many channels in the full-resolution map and twice '
             'as many per halving of resolution (default: %(default)s)')
    group.add_argument(
        f'--{network}-dropout', type=probability,
        help=f'dropout probability between {network} layers (default: no dropout)')
    group.add_argument(
        f'--{network}-spectral-norm', action=argparse.BooleanOptionalAction, default=False,
        help=f'spectral normalization (Miyato et al. 2018) of every linear and convolution '
             f'weight of the {network} (default: off)')
    group.add_argument(
        f'--{network}-conditioning', choices=CONDITIONING[network],
        help=f'with --conditional, how the {network} takes the class labels: '
             + CONDITIONING_HELP[network] + ' (default: the first the architecture has: '
             + DEFAULT_CONDITIONING[network] + ')')
    owned_by(group.add_argument(
        f'--{network}-attention', type=positive_int, metavar='SIZE',
        help=f'conv, resnet: a self-attention block (SAGAN) on the {network}\'s feature maps '
             'of SIZE x SIZE pixels, e.g. 16 (default: none)'), network, *ATTENTION_NETWORKS)
    normalized = NORMALIZED_NETWORKS[network]
    owned_by(group.add_argument(
        f'--{network}-normalization', choices=tuple(NORMALIZATIONS),
        help=f'{", ".join(normalized)}: batch or instance normalization in the {network} '
             '(default: the network\'s own: batch for u-gen and patch-gan as in pix2pix, '
             'instance for resnet-translator as in CycleGAN)'), network, *normalized)
    return group


CONDITIONING_HELP = {
    'generator': 'concat (an embedding of the label concatenated to the noise: fc, conv) or '
                 'batch-norm (conditional batch normalization: conv, good, resnet)',
    'discriminator': 'concat (label planes concatenated to the image), projection (Miyato & '
                     'Koyama 2018) or auxiliary (a classifier of the class, ACGAN; '
                     '--auxiliary-weight)'}
DEFAULT_CONDITIONING = {'generator': 'concat for fc and conv, batch-norm for good and resnet',
                        'discriminator': 'concat for fc, projection for conv, good and resnet'}
# The networks that place a self-attention block where --<network>-attention says.
ATTENTION_NETWORKS = ('conv', 'resnet')
# The networks whose normalization --<network>-normalization chooses.
NORMALIZED_NETWORKS = {'generator': ('u-gen', 'resnet-translator'),
                       'discriminator': ('patch-gan',)}
# Batch normalization (Ioffe & Szegedy 2015) normalizes each channel over the batch and
# learns a scale and shift; instance normalization (Ulyanov et al. 2016,
# https://arxiv.org/abs/1607.08022) over each image alone, without either, as in CycleGAN.
NORMALIZATIONS = {'batch': nn.BatchNorm2d, 'instance': nn.InstanceNorm2d}


def normalization_layer(name: str, channels: int) -> nn.Module:
    """The normalization layer ``name`` ('batch' or 'instance') of ``channels``
    channels. A convolution before it needs a bias only for 'instance', which has
    no shift of its own (``needs_bias``)."""
    return NORMALIZATIONS[name](channels)


def needs_bias(normalization: str) -> bool:
    """Whether a convolution followed by ``normalization`` needs its own bias."""
    return normalization == 'instance'


# The layers that spectral normalization divides by their largest singular value.
WEIGHTED_LAYERS = (nn.Linear, nn.Embedding, nn.Conv1d, nn.Conv2d, nn.Conv3d,
                   nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def spectral_normalization(model: nn.Module, option: str) -> nn.Module:
    """``model`` (changed in place) with every linear, embedding and convolution
    weight spectrally normalized: divided by an estimate of its largest singular
    value, one power iteration per training forward pass (Miyato et al. 2018,
    https://arxiv.org/abs/1802.05957), by PyTorch's own parametrization. A weight
    ``w`` is then held as ``parametrizations.w.original``. A ``GanzoError``
    naming ``option`` if the model has no such layer."""
    layers = [module for module in model.modules() if isinstance(module, WEIGHTED_LAYERS)
              and not parametrize.is_parametrized(module, 'weight')]
    if not layers and not parametrize.is_parametrized(model):
        raise GanzoError(f'{option}: {type(model).__name__} has no linear or convolution '
                         'layer to normalize; leave the option out')
    for module in layers:
        spectral_norm(module)
    return model


class SelfAttention(nn.Module):
    """The self-attention block of SAGAN (Zhang et al. 2018,
    https://arxiv.org/abs/1805.08318): every position of a ``B x C x H x W`` map
    attends to every other. With ``C' = max(C / 8, 1)`` and 1x1 convolutions
    ``f, g, h`` (``C`` to ``C'``) and ``v`` (``C'`` to ``C``), the weights
    ``softmax_i(f(x_i) . g(x_j))`` mix ``h(x_i)`` into ``o_j``, and the output is
    ``x + gamma v(o)``, ``gamma`` a learned scalar that starts at 0 (the block
    starts as the identity). ``B x C x H x W`` to ``B x C x H x W``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(channels // 8, 1)
        self.f, self.g, self.h = (nn.Conv2d(channels, inner, 1, bias=False) for _ in range(3))
        self.v = nn.Conv2d(inner, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keys, queries, values = (layer(x).flatten(2) for layer in (self.f, self.g, self.h))
        weights = torch.softmax(keys.transpose(1, 2) @ queries, dim=1)  # B x N(i) x N(j)
        mixed = (values @ weights).view(x.shape[0], -1, *x.shape[2:])
        return x + self.gamma * self.v(mixed)


def attention_layers(resolution: int | None, sizes: list[int], channels: list[int],
                     network: str, name: str, image_size: int) -> list[list[nn.Module]]:
    """For each feature map of a network, in order (``sizes[k] x sizes[k]`` pixels,
    ``channels[k]`` channels), the layers to put after it: a ``SelfAttention``
    block after the first map of ``resolution`` pixels, none elsewhere. A
    ``GanzoError`` naming ``--<network>-attention`` if no map has that resolution."""
    if resolution is not None and resolution not in sizes:
        listed = ', '.join(str(size) for size in sorted(set(sizes)))
        raise GanzoError(f'--{network}-attention {resolution}: the {name} {network} has no '
                         f'{resolution} x {resolution} feature map at --image-size {image_size}; '
                         f'choose one of {listed}')
    first = sizes.index(resolution) if resolution is not None else -1
    return [[SelfAttention(width)] if index == first else []
            for index, width in enumerate(channels)]


class NetworkFactory(Factory):
    """The factory of a player's networks (``namespace``: generator or
    discriminator): the network named by ``--<namespace>`` (in unpaired
    translation, two of them in a ``pair``), spectrally normalized if
    ``--<namespace>-spectral-norm``, on ``--device``, in the memory format of
    ``--channels-last``."""

    pair: ClassVar[type[nn.Module]]  # the two networks of unpaired translation

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> nn.Module:
        options = complete(options)
        model = super().from_options(options)
        if kind_of(options).both_ways:
            model = cls.pair(model, super().from_options(options))
        if getattr(options, f'{cls.namespace}_spectral_norm'):
            spectral_normalization(model, f'--{cls.namespace}-spectral-norm')
        return model.to(device(options), memory_format=memory_format(options))
