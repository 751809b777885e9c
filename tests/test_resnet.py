"""The SNGAN ResNet networks: their blocks at each image size, and the seams
for conditional variants (the generator's normalization, the discriminator's
features)."""

import pytest
import torch
from torch import nn

from conftest import kind_options
from ganzo.resnet import DiscriminatorBlock, GeneratorBlock, ResNetDiscriminator, ResNetGenerator


def options(**values):
    return kind_options('generator', 'resnet', discriminator='resnet', **values)


@pytest.mark.parametrize('size,start,blocks', [(8, 4, 1), (32, 4, 3), (48, 6, 3), (64, 4, 4)])
def test_generator_doubles_from_the_smallest_map_at_one_width(size, start, blocks):
    generator = ResNetGenerator(options(image_size=size, generator_channels=8))
    assert generator.map_shape == (8, start, start)
    assert len(generator.blocks) == blocks
    assert all(isinstance(block, GeneratorBlock) and block.conv1.in_channels == 8
               and block.conv2.out_channels == 8 for block in generator.blocks)
    assert generator(torch.randn(2, 8)).shape == (2, 3, size, size)


def test_the_cifar10_generator_of_sngan():
    generator = ResNetGenerator(options(image_size=32, generator_channels=256, state_size=128))
    assert generator.project.out_features == 256 * 4 * 4
    assert sum(p.numel() for p in generator.parameters()) == 4_276_739


@pytest.mark.parametrize('size,halvings,last', [(8, 1, 4), (32, 2, 8), (48, 2, 12), (64, 3, 8)])
def test_discriminator_halves_then_keeps_the_resolution(size, halvings, last):
    discriminator = ResNetDiscriminator(options(image_size=size, discriminator_channels=8))
    blocks = list(discriminator.blocks)
    assert all(isinstance(block, DiscriminatorBlock) for block in blocks)
    assert len(blocks) == halvings + 2
    pools = [any(isinstance(m, nn.AvgPool2d) for m in block.residual) for block in blocks]
    assert pools == [True] * halvings + [False, False]
    assert isinstance(blocks[0].shortcut[0], nn.AvgPool2d)  # the first pools, then convolves
    assert all(isinstance(block.shortcut[0], nn.Conv2d) for block in blocks[1:halvings])
    assert all(isinstance(block.shortcut, nn.Identity) for block in blocks[halvings:])
    x = torch.randn(2, 3, size, size)
    for block in blocks:
        x = block(x)
    assert x.shape == (2, 8, last, last)
    assert discriminator.features(torch.randn(2, 3, size, size)).shape == (2, 8)


def test_the_cifar10_discriminator_of_sngan():
    discriminator = ResNetDiscriminator(options(image_size=32, discriminator_channels=128))
    assert sum(p.numel() for p in discriminator.parameters()) == 1_053_825
    images = torch.randn(3, 3, 32, 32)
    features = discriminator.features(images)
    assert torch.allclose(discriminator(images), discriminator.output(features).view(-1))
    assert (features >= 0).all()  # a sum of ReLU outputs


def test_explicit_halvings():
    discriminator = ResNetDiscriminator(options(image_size=32, discriminator_layers=3))
    assert len(discriminator.blocks) == 5


class RecordingNorm(nn.BatchNorm2d):
    """A normalization that records what it is called with after the map."""

    calls: list = []

    def forward(self, x, *condition):
        RecordingNorm.calls.append(condition)
        return super().forward(x)


def test_the_generator_normalization_comes_from_a_factory_and_sees_the_condition():
    RecordingNorm.calls = []
    generator = ResNetGenerator(options(image_size=16), normalization=RecordingNorm)
    norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(isinstance(norm, RecordingNorm) for norm in norms)
    labels = torch.tensor([1, 0])
    assert generator(torch.randn(2, 8), labels).shape == (2, 3, 16, 16)
    assert len(RecordingNorm.calls) == len(norms)
    assert all(len(call) == 1 and call[0] is labels for call in RecordingNorm.calls)
