"""Shared network blocks: spectral normalization, self-attention and where it goes."""

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganzo.errors import GanzoError
from ganzo.layers import SelfAttention, attention_layers, spectral_normalization


def largest_singular_values(model: nn.Module) -> list[float]:
    """The largest singular value of each linear or convolution weight of
    ``model``, as a matrix ``outputs x rest`` (the matrix that spectral
    normalization divides)."""
    values = []
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            weight = module.weight.detach()
            if isinstance(module, nn.ConvTranspose2d):
                weight = weight.transpose(0, 1)
            values.append(torch.linalg.matrix_norm(weight.flatten(1), ord=2).item())
    return values


def assert_spectral_norm_works(build, inputs) -> None:
    """``build(spectral_norm)`` (a network of either kind) with spectral
    normalization has every weight at a largest singular value of 1 after some
    training steps, without it not; ``inputs()`` makes its inputs (a tuple)."""
    torch.manual_seed(0)
    network = build(True)
    for _ in range(30):  # power iterations, one per training forward pass
        network(*inputs())
    assert all(abs(value - 1) < 0.05 for value in largest_singular_values(network))
    assert any(parametrize.is_parametrized(module) for module in network.modules())
    assert not all(abs(value - 1) < 0.05 for value in largest_singular_values(build(False)))


def attention_map_size(model: nn.Module, inputs: torch.Tensor) -> tuple[int, ...]:
    """The ``H x W`` of the map that the one ``SelfAttention`` block of ``model`` sees."""
    blocks = [module for module in model.modules() if isinstance(module, SelfAttention)]
    assert len(blocks) == 1
    seen = []
    handle = blocks[0].register_forward_hook(lambda module, inputs, output: seen.append(output))
    model(inputs)
    handle.remove()
    return tuple(seen[0].shape[2:])


def test_spectral_normalization_divides_each_weight_by_its_largest_singular_value():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ConvTranspose2d(8, 4, 4, 2), nn.Flatten(),
                          nn.LazyLinear(1))
    model(torch.randn(2, 3, 8, 8))  # the lazy layer takes its shape
    with torch.no_grad():
        model[0].weight.mul_(10)
    assert largest_singular_values(model)[0] > 2
    spectral_normalization(model, '--option')
    for _ in range(5):  # power iterations, one per training forward pass
        model(torch.randn(2, 3, 8, 8))
    assert largest_singular_values(model) == pytest.approx([1, 1, 1], abs=0.02)
    assert 'parametrizations.weight.original' in dict(model[0].named_parameters())


def test_spectral_normalization_of_a_model_without_weights_names_the_option():
    with pytest.raises(GanzoError, match='--generator-spectral-norm: Tanh has no linear'):
        spectral_normalization(nn.Tanh(), '--generator-spectral-norm')


def naive_attention(block: SelfAttention, x: torch.Tensor) -> torch.Tensor:
    """SAGAN's equations, position by position."""
    f, g, h = block.f(x), block.g(x), block.h(x)
    batch, _, height, width = x.shape
    positions = height * width
    o = torch.zeros_like(h)
    for b in range(batch):
        for j in range(positions):
            scores = torch.stack([f[b].flatten(1)[:, i] @ g[b].flatten(1)[:, j]
                                  for i in range(positions)])
            beta = torch.softmax(scores, 0)
            o[b].view(o.shape[1], -1)[:, j] = h[b].flatten(1) @ beta
    return x + block.gamma * block.v(o)


def test_self_attention_follows_the_equations_of_sagan():
    torch.manual_seed(0)
    block = SelfAttention(16)
    x = torch.randn(2, 16, 3, 3)
    assert torch.equal(block(x), x)  # gamma starts at 0: the identity
    with torch.no_grad():
        block.gamma.fill_(0.7)
    assert torch.allclose(block(x), naive_attention(block, x), atol=1e-5)
    assert block.f.out_channels == 2 and SelfAttention(4).f.out_channels == 1


def test_attention_goes_after_the_first_map_of_its_resolution():
    layers = attention_layers(8, [16, 8, 8], [4, 8, 8], 'discriminator', 'resnet', 32)
    assert [len(after) for after in layers] == [0, 1, 0]
    assert isinstance(layers[1][0], SelfAttention) and layers[1][0].v.out_channels == 8
    assert attention_layers(None, [16, 8], [4, 8], 'generator', 'conv', 32) == [[], []]


def test_a_resolution_the_network_never_reaches_is_one_error_line():
    with pytest.raises(GanzoError) as error:
        attention_layers(32, [4, 8, 16], [16, 8, 4], 'generator', 'conv', 32)
    message = str(error.value)
    assert message.startswith('--generator-attention 32: the conv generator has no 32 x 32')
    assert message.endswith('choose one of 4, 8, 16') and '\n' not in message
