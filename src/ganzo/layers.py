"""Building blocks shared by the generators and the discriminators: their
options, how many resolution stages an image size allows, widths, weight
initialisation and dropout."""

from __future__ import annotations

import argparse

from torch import nn

from ganzo.errors import GanzoError
from ganzo.options import component_option, positive_int, probability

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
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
    else:
        return
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def dropout_layers(dropout: float | None, layer: type[nn.Module] = nn.Dropout) -> list[nn.Module]:
    """``[layer(dropout)]`` if ``dropout`` is set, otherwise no layer."""
    return [] if dropout is None else [layer(dropout)]


def add_network_options(parser: argparse.ArgumentParser, network: str) -> None:
    """The options of ``network`` ('generator' or 'discriminator'): its
    architecture, ``--<network>-layers``, ``-channels`` and ``-dropout``."""
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
