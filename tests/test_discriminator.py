"""Discriminators: every registered one (a plugin's too), in every way it takes
class labels, is built from its options and runs forward and backward; then
the specifics of each architecture."""

from argparse import Namespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import (
    CLASSES,
    assert_builds_the_registered_class,
    discriminator_inputs,
    network_variants,
    variant_options,
)
from ganzo.discriminator import ConvDiscriminator, Discriminator
from ganzo.errors import GanzoError
from ganzo.generator import ConvGenerator
from ganzo.options import OptionParser
from ganzo.registry import Registry
from test_layers import assert_spectral_norm_works, attention_map_size

NAMES = Registry.names('discriminator')
VARIANTS = network_variants('discriminator')  # (name, conditioning mode or None)


def options(name: str = 'conv', mode: str | None = None, **values) -> Namespace:
    """Tiny options in which the discriminator ``name`` serves: 16 px colour
    images (or pairs of images, in translation), 4 channels; in a conditional
    run with its conditioning ``mode`` unless None."""
    return variant_options('discriminator', name, mode, **values)


def build(name: str, mode: str | None = None, **values) -> nn.Module:
    return Registry.build('discriminator', name, options(name, mode, **values))


def test_the_default_is_dcgan():
    assert {'conv', 'fc', 'good', 'patch-gan'} <= set(NAMES)
    assert Registry.default('discriminator') == 'conv'


@pytest.mark.parametrize('name, mode', VARIANTS)
def test_from_options_builds_the_registered_class(name, mode):
    assert_builds_the_registered_class('discriminator', name, mode)


@pytest.mark.parametrize('name, mode', VARIANTS)
@pytest.mark.parametrize('size', [8, 16, 32, 48])
@pytest.mark.parametrize('colors', [1, 3])
def test_finite_logits_for_each_image(name, mode, size, colors):
    values = options(name, mode, image_size=size, image_colors=colors)
    logits = Registry.build('discriminator', name, values)(*discriminator_inputs(values))
    assert logits.shape[0] == 3 and torch.isfinite(logits).all()


@pytest.mark.parametrize('name, mode', [(name, mode) for name, mode in VARIANTS
                                        if name in ('conv', 'fc', 'good', 'resnet')])
def test_one_logit_per_image(name, mode):
    assert build(name, mode)(*discriminator_inputs(options(name, mode))).shape == (3,)


@pytest.mark.parametrize('name, mode', VARIANTS)
def test_gradients_reach_every_parameter_and_the_images(name, mode):
    discriminator = build(name, mode)
    images, *labels = discriminator_inputs(options(name, mode))
    images.requires_grad_(True)
    logits = discriminator(images, *labels)
    if mode == 'auxiliary':  # its classifier learns from the classification loss
        logits = logits + F.cross_entropy(discriminator.classify(images), *labels,
                                          reduction='none')
    (logits * torch.randn_like(logits)).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    for parameter_name, parameter in discriminator.named_parameters():
        assert parameter.grad is not None, parameter_name
        assert parameter.grad.abs().sum() > 0, parameter_name


@pytest.mark.parametrize('name, mode', VARIANTS)
def test_eval_mode_works_on_a_single_image(name, mode):
    discriminator = build(name, mode).eval()
    assert discriminator(*discriminator_inputs(options(name, mode), 1)).shape[0] == 1


@pytest.mark.parametrize('name, mode', [(name, mode) for name, mode in VARIANTS if mode])
def test_the_score_depends_on_the_label(name, mode):
    torch.manual_seed(0)
    discriminator = build(name, mode).eval()
    image = torch.rand(1, 3, 16, 16).expand(len(CLASSES), -1, -1, -1) * 2 - 1
    labels = torch.arange(len(CLASSES))
    if mode == 'auxiliary':  # its logits say real or fake; its classifier scores the label
        logits = discriminator(image, labels)
        assert torch.allclose(logits, logits[:1].expand(len(CLASSES)))
        scores = -F.cross_entropy(discriminator.classify(image), labels, reduction='none')
    else:
        scores = discriminator(image, labels)
    assert len(set(scores.tolist())) == len(CLASSES), scores


@pytest.mark.parametrize('name', NAMES)
def test_dropout_only_when_set(name):
    def dropouts(discriminator):
        return [m for m in discriminator.modules() if isinstance(m, (nn.Dropout, nn.Dropout2d))]

    assert dropouts(build(name)) == []
    with_dropout = dropouts(build(name, discriminator_dropout=0.25))
    assert with_dropout and all(module.p == 0.25 for module in with_dropout)


def test_fc_layers_and_width():
    linears = [m for m in build('fc').modules() if isinstance(m, nn.Linear)]
    assert [(linear.in_features, linear.out_features) for linear in linears] == [
        (3 * 16 * 16, 32), (32, 32), (32, 32), (32, 1)]
    assert any(isinstance(m, nn.LeakyReLU) for m in build('fc').modules())
    linears = [m for m in build('fc', discriminator_layers=2).modules()
               if isinstance(m, nn.Linear)]
    assert len(linears) == 3


@pytest.mark.parametrize('size,stages', [(8, 1), (16, 2), (32, 3), (48, 3), (64, 4)])
def test_conv_default_stages_reach_4_or_more(size, stages):
    discriminator = build('conv', image_size=size)
    convolutions = [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert [conv.stride for conv in convolutions] == [(2, 2)] * stages + [(1, 1)]
    assert [conv.out_channels for conv in convolutions] == [
        4 * 2 ** stage for stage in range(stages)] + [1]
    assert convolutions[-1].kernel_size == (size >> stages,) * 2
    norms = [m for m in discriminator.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == stages - 1  # all stride-2 layers but the first


@pytest.mark.parametrize('size,layers', [(8, 3), (48, 4), (24, 1)])
def test_conv_explicit_layers_any_s0(size, layers):
    discriminator = build('conv', image_size=size, discriminator_layers=layers)
    assert discriminator(torch.randn(2, 3, size, size)).shape == (2,)


def test_conv_dcgan_initialisation():
    discriminator = build('conv', discriminator_channels=16)
    convolution = discriminator.layers[0]
    assert abs(convolution.weight.std().item() - 0.02) < 0.005
    assert convolution.bias.abs().max() == 0
    norms = [m for m in discriminator.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(abs(norm.weight.mean().item() - 1) < 0.02 for norm in norms)


def test_good_widths_and_no_batch_norm():
    discriminator = build('good', image_size=32)
    assert [(block.shortcut[1].in_channels, block.shortcut[1].out_channels)
            for block in discriminator.blocks] == [(4, 8), (8, 16), (16, 32)]
    assert discriminator.output.in_features == 8 * 4 * 4 * 4  # 8 x channels x 4 x 4
    assert not any(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules())
    assert len(build('good', image_size=32, discriminator_layers=2).blocks) == 2


def test_good_logits_do_not_depend_on_the_rest_of_the_batch():
    discriminator = build('good')
    images = torch.randn(4, 3, 16, 16)
    together = discriminator(images)
    alone = torch.cat([discriminator(image[None]) for image in images])
    assert torch.allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize('name', ['conv', 'good', 'resnet'])
@pytest.mark.parametrize('size,layers', [(30, 3), (20, 3), (4, 3), (7, 1)])
def test_unreachable_size_names_the_options(name, size, layers):
    with pytest.raises(GanzoError, match='--discriminator-layers') as error:
        build(name, image_size=size, discriminator_layers=layers)
    assert f'--image-size {size}' in str(error.value)
    assert '\n' not in str(error.value)


@pytest.mark.parametrize('name', ['conv', 'good', 'resnet'])
@pytest.mark.parametrize('size', [2, 3, 4, 6, 31])
def test_size_without_default_stages(name, size):
    with pytest.raises(GanzoError, match=f'--image-size {size}.*--discriminator-layers'):
        build(name, image_size=size)


def test_library_example_with_a_generator():
    options = Namespace(image_size=16, image_colors=1, state_size=8, generator_channels=4,
                        discriminator_channels=4)
    generator = ConvGenerator(options)
    discriminator = ConvDiscriminator(options)
    assert discriminator(generator(torch.randn(5, 8))).shape == (5,)


def test_command_line_options():
    parser = OptionParser()
    Discriminator.add_options(parser)
    parsed = parser.parse_args([])
    assert (parsed.discriminator, parsed.discriminator_layers, parsed.discriminator_channels,
            parsed.discriminator_dropout) == ('conv', None, 64, None)
    parsed = parser.parse_args(['--discriminator', 'fc', '--discriminator-layers', '2',
                                '--discriminator-channels', '8',
                                '--discriminator-dropout', '0'])
    assert (parsed.discriminator, parsed.discriminator_layers, parsed.discriminator_channels,
            parsed.discriminator_dropout) == ('fc', 2, 8, 0.0)
    for wrong in (['--discriminator', 'nope'], ['--discriminator-layers', '-1'],
                  ['--discriminator-dropout', '2']):
        with pytest.raises(GanzoError):
            parser.parse_args(wrong)


def test_no_options_for_inference():
    parser = OptionParser()
    Discriminator.add_options(parser, train=False)
    assert not hasattr(parser.parse_args([]), 'discriminator')


@pytest.mark.parametrize('name, mode', VARIANTS)
def test_spectral_norm_makes_every_weight_1_lipschitz(name, mode):
    assert_spectral_norm_works(
        lambda on: Discriminator.from_options(options(name, mode,
                                                      discriminator_spectral_norm=on)),
        lambda: discriminator_inputs(options(name, mode)))


@pytest.mark.parametrize('name,reached', [('conv', [16, 8, 4]), ('resnet', [16, 8])])
def test_attention_at_each_resolution_the_discriminator_reaches(name, reached):
    for resolution in reached:
        discriminator = build(name, image_size=32, discriminator_attention=resolution)
        assert attention_map_size(discriminator, torch.randn(2, 3, 32, 32)) == (resolution,) * 2
    with pytest.raises(GanzoError, match=f'--discriminator-attention 32: the {name} '):
        build(name, image_size=32, discriminator_attention=32)


def test_patch_gan_with_instance_normalization():
    norms = (nn.BatchNorm2d, nn.InstanceNorm2d)
    default = [type(m) for m in build('patch-gan').modules() if isinstance(m, norms)]
    instance = build('patch-gan', discriminator_normalization='instance')
    assert default and set(default) == {nn.BatchNorm2d}  # pix2pix's by default
    assert {type(m) for m in instance.modules() if isinstance(m, norms)} == {nn.InstanceNorm2d}
    assert all(m.bias is not None for m in instance.modules() if isinstance(m, nn.Conv2d))
    assert instance(*discriminator_inputs(options("patch-gan"))).shape == (3, 1, 2, 2)
