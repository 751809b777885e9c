"""Generators: every registered one (a plugin's too), in every way it takes
class labels, is built from its options and runs forward and backward; then
the specifics of each architecture."""

from argparse import Namespace

import pytest
import torch
from torch import nn

from conftest import CLASSES, generator_inputs, network_variants, variant_options
from conftest import assert_builds_the_registered_class as assert_builds
from ganzo.errors import GanzoError
from ganzo.generator import ConvGenerator, Generator, ResidualBlock
from ganzo.options import OptionParser
from ganzo.registry import Registry
from test_layers import assert_spectral_norm_works, attention_map_size

NAMES = Registry.names('generator')
VARIANTS = network_variants('generator')  # (name, conditioning mode or None)
CONDITIONAL = [(name, mode) for name, mode in VARIANTS if mode]


def options(name: str = 'conv', mode: str | None = None, **values) -> Namespace:
    """Tiny options in which the generator ``name`` serves: 16 px colour images
    from 8 numbers (or from images, in translation), 4 channels; in a
    conditional run with its conditioning ``mode`` unless None."""
    return variant_options('generator', name, mode, **values)


def build(name: str, mode: str | None = None, **values) -> nn.Module:
    return Registry.build('generator', name, options(name, mode, **values))


def test_the_default_is_dcgan():
    assert {'conv', 'fc', 'good', 'u-gen'} <= set(NAMES)
    assert Registry.default('generator') == 'conv'


@pytest.mark.parametrize('name, mode', VARIANTS)
def test_from_options_builds_the_registered_class(name, mode):
    assert_builds('generator', name, mode)


@pytest.mark.parametrize('name, mode', VARIANTS)
@pytest.mark.parametrize('size', [8, 16, 32, 48])
@pytest.mark.parametrize('colors', [1, 3])
def test_output_shape_range_and_finiteness(name, mode, size, colors):
    values = options(name, mode, image_size=size, image_colors=colors)
    images = Registry.build('generator', name, values)(*generator_inputs(values, 2))
    assert images.shape == (2, colors, size, size)
    assert torch.isfinite(images).all() and images.abs().max() <= 1
    assert images.std() > 0


@pytest.mark.parametrize('name, mode', VARIANTS)
def test_gradients_reach_every_parameter(name, mode):
    generator = build(name, mode)
    images = generator(*generator_inputs(options(name, mode)))
    (images * torch.randn_like(images)).sum().backward()
    for parameter_name, parameter in generator.named_parameters():
        assert parameter.grad is not None, parameter_name
        assert parameter.grad.abs().sum() > 0, parameter_name


@pytest.mark.parametrize('name, mode', VARIANTS)
def test_eval_mode_works_on_a_single_sample(name, mode):
    generator = build(name, mode).eval()
    assert generator(*generator_inputs(options(name, mode), 1)).shape == (1, 3, 16, 16)


@pytest.mark.parametrize('name, mode', CONDITIONAL)
def test_the_images_depend_on_the_label(name, mode):
    torch.manual_seed(0)
    generator = build(name, mode).eval()
    noise = torch.randn(1, 8).expand(len(CLASSES), -1)  # the same noise for each class
    images = generator(noise, torch.arange(len(CLASSES)))
    for first in range(len(CLASSES)):
        for second in range(first):
            # (a DCGAN's images are tiny at first: relative differences)
            assert not torch.allclose(images[first], images[second], rtol=1e-3, atol=1e-7)
    again = generator(noise, torch.arange(len(CLASSES)))
    assert torch.equal(images, again)  # and on nothing else


def test_conditional_generators_need_the_classes():
    values = options('conv', 'concat')
    del values.kind  # not completed by the data
    with pytest.raises(GanzoError, match='needs the classes of the data'):
        Generator.from_options(values)


@pytest.mark.parametrize('name', NAMES)
def test_dropout_only_when_set(name):
    def dropouts(generator):
        return [m for m in generator.modules() if isinstance(m, (nn.Dropout, nn.Dropout2d))]

    assert dropouts(build(name)) == []
    with_dropout = dropouts(build(name, generator_dropout=0.3))
    assert with_dropout and all(module.p == 0.3 for module in with_dropout)


def test_fc_layers_and_width():
    linears = [m for m in build('fc').modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 4  # 3 hidden layers by default, then the output layer
    assert [linear.out_features for linear in linears[:-1]] == [32, 32, 32]
    linears = [m for m in build('fc', generator_layers=1).modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 2


def stride_2_convolutions(module):
    return [m for m in module.modules() if isinstance(m, nn.ConvTranspose2d) and m.stride == (2, 2)]


@pytest.mark.parametrize('size,stages', [(8, 1), (16, 2), (32, 3), (48, 3), (64, 4)])
def test_conv_default_stages_reach_4_or_more(size, stages):
    generator = build('conv', image_size=size)
    convolutions = stride_2_convolutions(generator)
    assert len(convolutions) == stages
    assert convolutions[0].in_channels == 4 * 2 ** (stages - 1)
    assert convolutions[-1].in_channels == 4
    assert generator.layers[0].kernel_size == (size >> stages,) * 2


@pytest.mark.parametrize('size,layers', [(8, 3), (48, 4), (24, 1)])
def test_conv_explicit_layers_any_s0(size, layers):
    generator = build('conv', image_size=size, generator_layers=layers)
    assert len(stride_2_convolutions(generator)) == layers
    assert generator(torch.randn(2, 8)).shape == (2, 3, size, size)


def test_conv_dcgan_initialisation():
    generator = build('conv', generator_channels=16)
    convolution = generator.layers[0]
    assert abs(convolution.weight.std().item() - 0.02) < 0.005
    norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(abs(norm.weight.mean().item() - 1) < 0.02 for norm in norms)
    assert all(norm.bias.abs().max() == 0 for norm in norms)


def test_good_widths():
    generator = build('good', image_size=32)
    assert generator.project.out_features == 8 * 4 * 4 * 4  # 8 x channels x 4 x 4
    assert [(block.shortcut[1].in_channels, block.shortcut[1].out_channels)
            for block in generator.blocks] == [(32, 16), (16, 8), (8, 4)]
    assert len(build('good', image_size=32, generator_layers=2).blocks) == 2


@pytest.mark.parametrize('name', ['conv', 'good', 'resnet'])
@pytest.mark.parametrize('size,layers', [(30, 3), (20, 3), (4, 3), (7, 1)])
def test_unreachable_size_names_the_options(name, size, layers):
    with pytest.raises(GanzoError, match='--generator-layers') as error:
        build(name, image_size=size, generator_layers=layers)
    assert f'--image-size {size}' in str(error.value)
    assert '\n' not in str(error.value)


@pytest.mark.parametrize('name', ['conv', 'good', 'resnet'])
@pytest.mark.parametrize('size', [2, 3, 4, 6, 31])
def test_size_without_default_stages(name, size):
    with pytest.raises(GanzoError, match=f'--image-size {size}.*--generator-layers'):
        build(name, image_size=size)


def test_library_example():
    generator = ConvGenerator(Namespace(image_size=16, image_colors=1, state_size=8,
                                        generator_channels=4))
    assert generator(torch.randn(5, 8)).shape == (5, 1, 16, 16)


def test_command_line_options():
    parser = OptionParser()
    Generator.add_options(parser, train=False)
    parsed = parser.parse_args([])
    assert (parsed.generator, parsed.generator_layers, parsed.generator_channels,
            parsed.generator_dropout) == ('conv', None, 64, None)
    parsed = parser.parse_args(['--generator', 'good', '--generator-layers', '2',
                                '--generator-channels', '8', '--generator-dropout', '0.5'])
    assert (parsed.generator, parsed.generator_layers, parsed.generator_channels,
            parsed.generator_dropout) == ('good', 2, 8, 0.5)
    for wrong in (['--generator', 'nope'], ['--generator-layers', '0'],
                  ['--generator-dropout', '1.5']):
        with pytest.raises(GanzoError):
            parser.parse_args(wrong)


@pytest.mark.parametrize('name, mode', VARIANTS)
def test_spectral_norm_makes_every_weight_1_lipschitz(name, mode):
    assert_spectral_norm_works(
        lambda on: Generator.from_options(options(name, mode, generator_spectral_norm=on)),
        lambda: generator_inputs(options(name, mode)))


@pytest.mark.parametrize('name', ['conv', 'resnet'])
@pytest.mark.parametrize('size,reached', [(32, [4, 8, 16]), (48, [6, 12, 24])])
def test_attention_at_each_resolution_the_generator_reaches(name, size, reached):
    if name == 'resnet':
        reached = [2 * resolution for resolution in reached]  # its maps go up to the image size
    for resolution in reached:
        generator = build(name, image_size=size, generator_attention=resolution)
        assert attention_map_size(generator, torch.randn(2, 8)) == (resolution, resolution)
    with pytest.raises(GanzoError, match=f'--generator-attention 5: the {name} generator'):
        build(name, image_size=size, generator_attention=5)


def modules_of(model: nn.Module, kind: type) -> list[nn.Module]:
    return [module for module in model.modules() if isinstance(module, kind)]


def test_resnet_translator_layers():
    generator = build('resnet-translator')  # 16 px, 4 channels
    assert len(modules_of(generator, ResidualBlock)) == 6  # below 256 px, as CycleGAN
    assert len(modules_of(build('resnet-translator', image_size=256), ResidualBlock)) == 9
    assert len(modules_of(build('resnet-translator', generator_layers=2), ResidualBlock)) == 2
    down = [(m.in_channels, m.out_channels) for m in modules_of(generator, nn.Conv2d)
            if m.stride == (2, 2)]
    up = [(m.in_channels, m.out_channels) for m in modules_of(generator, nn.ConvTranspose2d)]
    assert down == [(4, 8), (8, 16)] and up == [(16, 8), (8, 4)]
    convolutions = modules_of(generator, nn.Conv2d)
    assert convolutions[0].kernel_size == convolutions[-1].kernel_size == (7, 7)
    assert len(modules_of(generator, nn.ReflectionPad2d)) == 2 + 2 * 6
    assert modules_of(generator, nn.InstanceNorm2d) and not modules_of(generator, nn.BatchNorm2d)
    assert all(m.bias is not None for m in modules_of(generator, nn.Conv2d))
    batch = build('resnet-translator', generator_normalization='batch')
    assert modules_of(batch, nn.BatchNorm2d) and not modules_of(batch, nn.InstanceNorm2d)
    for size in (4, 10, 30):
        with pytest.raises(GanzoError, match=f'--image-size {size}: resnet-translator'):
            build('resnet-translator', image_size=size)


def test_resnet_translator_blocks_are_residual():
    block = ResidualBlock(4, 'instance', None)
    for conv in modules_of(block, nn.Conv2d):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    x = torch.randn(2, 4, 6, 6)
    assert torch.equal(block(x), x)


def test_u_gen_with_instance_normalization():
    generator = build('u-gen', generator_normalization='instance')
    assert modules_of(generator, nn.InstanceNorm2d) and not modules_of(generator, nn.BatchNorm2d)
    assert all(m.bias is not None for m in modules_of(generator, (nn.Conv2d, nn.ConvTranspose2d)))
    norms = modules_of(build('u-gen'), (nn.BatchNorm2d, nn.InstanceNorm2d))
    assert norms and {type(m) for m in norms} == {nn.BatchNorm2d}  # the paper's, by default
