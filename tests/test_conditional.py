"""Conditional networks' layers (ganzo.conditional), and how the kind of run
decides a conditional run (ganzo.kind): what it accepts and what it refuses."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import CLASSES, kind_options, variant_options
from ganzo.conditional import (
    ConditionalBatchNorm2d,
    ConditionalSequential,
    DiscriminatorConditioning,
)
from ganzo.discriminator import ConvDiscriminator, Discriminator
from ganzo.errors import GanzoError
from ganzo.generator import ConvGenerator, Generator
from ganzo.kind import CONDITIONAL, run_kind
from ganzo.layers import spectral_normalization
from ganzo.options import complete


def test_conditional_batch_norm_has_a_gain_and_a_bias_per_class():
    torch.manual_seed(0)
    norm = ConditionalBatchNorm2d(4, classes=3)
    assert norm.gain.shape == norm.bias.shape == (3, 4)
    assert (norm.gain - 1).abs().max() < 0.1 and norm.gain.std() > 0 and norm.bias.eq(0).all()
    with torch.no_grad():
        norm.bias.copy_(torch.randn(3, 4))
    x, labels = torch.randn(6, 4, 5, 5), torch.tensor([0, 1, 2, 2, 1, 0])
    normalized = F.batch_norm(x, None, None, training=True)
    expected = (normalized * norm.gain[labels][:, :, None, None]
                + norm.bias[labels][:, :, None, None])
    assert torch.allclose(norm(x, labels), expected, atol=1e-5)


def test_spectral_normalization_leaves_the_class_gains_alone():
    generator = ConvGenerator(variant_options('generator', 'conv', 'batch-norm'))
    gains = [module.gain.detach().clone() for module in generator.modules()
             if isinstance(module, ConditionalBatchNorm2d)]
    spectral_normalization(generator, '--generator-spectral-norm')
    assert gains and all(torch.equal(module.gain, gain) for module, gain in zip(
        [m for m in generator.modules() if isinstance(m, ConditionalBatchNorm2d)], gains))


def test_a_conditional_sequential_gives_the_labels_to_the_layers_that_take_them():
    seen = []

    class Taking(nn.Module):
        conditioned = True

        def forward(self, x, labels):
            seen.append(labels)
            return x + labels[:, None]

    layers = ConditionalSequential(nn.Identity(), Taking(), nn.ReLU())
    labels = torch.tensor([1.0, -3.0])
    assert torch.equal(layers(torch.zeros(2, 1), labels), torch.tensor([[1.0], [0.0]]))
    assert seen == [labels]
    assert list(ConditionalSequential(nn.Linear(2, 2)).state_dict()) == ['0.weight', '0.bias']


def discriminator_options(mode, **values):
    return variant_options('discriminator', 'conv', mode, **values)


def test_concat_appends_a_plane_per_class_to_the_images():
    conditioning = DiscriminatorConditioning(discriminator_options('concat'),
                                             ConvDiscriminator, 8)
    images, labels = torch.zeros(2, 3, 4, 4), torch.tensor([0, 2])
    planes = conditioning.inputs(images, labels)
    assert planes.shape == (2, 3 + len(CLASSES), 4, 4)
    embedding = conditioning.embedding.weight[labels]
    assert torch.equal(planes[:, 3:, 1, 2], embedding)
    assert torch.equal(conditioning.inputs(torch.zeros(2, 5), labels)[:, 5:], embedding)


def test_projection_adds_the_inner_product_of_the_features_and_the_class_embedding():
    conditioning = DiscriminatorConditioning(discriminator_options('projection'),
                                             ConvDiscriminator, 6)
    logits, features, labels = torch.randn(2), torch.randn(2, 6), torch.tensor([1, 0])
    expected = logits + (conditioning.embedding.weight[labels] * features).sum(1)
    assert torch.allclose(conditioning.outputs(logits, features, labels), expected)
    with pytest.raises(TypeError, match='only an auxiliary'):
        conditioning.classify(features)


def test_an_auxiliary_classifier_gives_class_logits_of_the_features():
    discriminator = Discriminator.from_options(discriminator_options('auxiliary'))
    assert discriminator.classifies
    assert discriminator.classify(torch.randn(5, 3, 16, 16)).shape == (5, len(CLASSES))
    assert not Discriminator.from_options(discriminator_options('projection')).classifies


@pytest.mark.parametrize('network', ['generator', 'discriminator'])
def test_unconditional_networks_have_no_conditioning_weights(network):
    model = (Generator if network == 'generator' else Discriminator).from_options(
        kind_options(network, 'conv'))
    assert model.conditioner.mode is None
    assert list(model.conditioner.parameters()) == []


# The kind of run

def options(**values):
    return complete(**{'image_size': 16, 'device': 'cpu', 'conditional': True, **values})


def test_conditional_runs_take_the_classes_of_the_data():
    kind = run_kind(options(), ('cat', 'dog'))
    assert kind.name == CONDITIONAL and kind.conditional and kind.classes == ('cat', 'dog')
    assert kind.condition('labels') == ('labels',)
    assert run_kind(options(conditional=False), ('cat', 'dog')).classes == ()
    assert kind.labels(['dog', '0', '1']) == [1, 0]


@pytest.mark.parametrize('values, words', [
    (dict(generator='fc', generator_conditioning='batch-norm'),
     ['--generator-conditioning batch-norm', 'fc generator', 'concat', 'conv, good, resnet']),
    (dict(discriminator='patch-gan'),
     ['--conditional needs a --discriminator', 'conv, fc, good, resnet', 'not patch-gan']),
    (dict(game='translate', data_format='colorization', generator='u-gen',
          discriminator='patch-gan', loss='pix2pix'), ['--conditional', '--game translate']),
    (dict(conditional=False, discriminator_conditioning='projection'),
     ['--discriminator-conditioning projection', 'add --conditional']),
    (dict(conditional=False, generator_conditioning='concat'),
     ['--generator-conditioning concat', 'add --conditional']),
])
def test_what_a_conditional_run_refuses(values, words):
    with pytest.raises(GanzoError) as error:
        run_kind(options(**values))
    for word in words:
        assert word in str(error.value)


def test_a_conditional_run_needs_two_classes_or_more():
    with pytest.raises(GanzoError, match=r'--conditional needs data with labels.*has 1 \(only\)'):
        run_kind(options(), ('only',))
    with pytest.raises(GanzoError, match='has 0 .no labels.'):
        run_kind(options(), ())


def test_unknown_classes_are_named_with_the_known_ones():
    kind = run_kind(options(), ('cat', 'dog'))
    with pytest.raises(GanzoError, match='--class fox: no such class; the classes are cat, '
                                         'dog, or an index below 2'):
        kind.labels(['fox'])
    with pytest.raises(GanzoError, match='--class 2: no such class'):
        kind.labels(['2'])
    with pytest.raises(GanzoError, match='--class is for conditional runs'):
        run_kind(options(conditional=False), ()).labels(['cat'])
