import math
from argparse import Namespace

import pytest
import torch
from torch import nn

from ganzo.loss import GANLoss, WGANGPLoss, WGANLoss


class Fixed(nn.Module):
    """A 'discriminator' whose logit is the mean of each image."""

    def forward(self, images):
        return images.flatten(1).mean(1)


def batch(value, size=6):
    return torch.full((size, 1, 2, 2), float(value))


def test_gan_loss_is_binary_cross_entropy_on_logits():
    loss = GANLoss(Namespace(), Fixed())
    # D(real) = 0, D(fake) = 0: each term is log 2
    assert loss.for_discriminator(batch(0), batch(0)).item() == pytest.approx(2 * math.log(2))
    assert loss.for_generator(batch(0)).item() == pytest.approx(math.log(2))
    # a confident discriminator has a small loss; the non-saturating generator a large one
    assert loss.for_discriminator(batch(10), batch(-10)).item() < 1e-3
    assert loss.for_generator(batch(-10)).item() == pytest.approx(10, abs=1e-3)


def test_soft_labels_are_in_range():
    loss = GANLoss(Namespace(soft_labels=True), Fixed())
    targets = loss._targets(torch.zeros(10000))
    assert targets.min() >= 0.9 and targets.max() <= 1 and targets.std() > 0.01
    # with soft labels a perfect discriminator still pays a price
    assert loss.for_discriminator(batch(20), batch(-20)).item() > 0.05


def test_noisy_labels_swap_some_labels():
    torch.manual_seed(0)
    clean = GANLoss(Namespace(), Fixed()).for_discriminator(batch(10, 1000), batch(-10, 1000))
    noisy = GANLoss(Namespace(noisy_labels=True, noisy_labels_frequency=0.2), Fixed())
    value = noisy.for_discriminator(batch(10, 1000), batch(-10, 1000))
    # about 20% of the samples pay ~10 on each side
    assert clean.item() < 1e-3 and value.item() == pytest.approx(2 * 0.2 * 10, rel=0.2)


def test_wgan_loss_signs():
    loss = WGANLoss(Namespace(), Fixed())
    assert loss.for_discriminator(batch(3), batch(1)).item() == pytest.approx(-2)
    assert loss.for_generator(batch(1)).item() == pytest.approx(-1)


def test_gradient_penalty_is_zero_for_unit_gradients_and_weighted():
    linear = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[0.5, 0.5, 0.5, 0.5]]))  # gradient norm 1
    critic = nn.Sequential(nn.Flatten(), linear)
    loss = WGANGPLoss(Namespace(gradient_penalty_factor=10.0), critic)
    real, fake = torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2)
    assert loss.gradient_penalty(real, fake).item() == pytest.approx(0, abs=1e-10)
    with torch.no_grad():
        linear.weight.mul_(3)  # gradient norm 3: penalty (3 - 1)^2 = 4
    assert loss.gradient_penalty(real, fake).item() == pytest.approx(4)
    wgan = WGANLoss(Namespace(), critic).for_discriminator(real, fake)
    assert loss.for_discriminator(real, fake).item() == pytest.approx(wgan.item() + 40)


def test_gradient_penalty_reaches_the_critic_weights():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(4, 1))
    loss = WGANGPLoss(Namespace(), critic)
    loss.gradient_penalty(torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)).backward()
    assert critic[1].weight.grad is not None and critic[1].weight.grad.abs().sum() > 0
