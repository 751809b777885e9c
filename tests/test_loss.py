import math
from argparse import Namespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganzo.loss import (
    GANLoss,
    HingeLoss,
    LeastSquaresLoss,
    RelativisticLoss,
    WGANGPLoss,
    WGANLoss,
)


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


def test_hinge_loss():
    loss = HingeLoss(Namespace(), Fixed())
    # inside the margin each side pays 1 - |D|; beyond it, nothing
    assert loss.for_discriminator(batch(0.25), batch(-0.5)).item() == pytest.approx(0.75 + 0.5)
    assert loss.for_discriminator(batch(3), batch(-2)).item() == 0
    assert loss.for_discriminator(batch(-1), batch(1)).item() == pytest.approx(4)
    assert loss.for_generator(batch(-2)).item() == pytest.approx(2)


def test_least_squares_loss():
    loss = LeastSquaresLoss(Namespace(), Fixed())
    assert loss.for_discriminator(batch(1), batch(0)).item() == 0
    assert loss.for_discriminator(batch(3), batch(2)).item() == pytest.approx((4 + 4) / 2)
    assert loss.for_generator(batch(1)).item() == 0
    assert loss.for_generator(batch(-1)).item() == pytest.approx(2)


def relativistic(form):
    return RelativisticLoss(Namespace(relativistic_form=form), Fixed())


def mixed(values):
    return torch.tensor(values, dtype=torch.float).view(-1, 1, 1, 1)


def test_relativistic_standard_compares_each_image_with_the_average_of_the_others():
    real, fake = mixed([2.0, 4.0]), mixed([-1.0, 1.0])  # means 3 and 0
    loss = relativistic('standard')
    expected = -(F.logsigmoid(real.view(-1) - 0).mean() + F.logsigmoid(-(fake.view(-1) - 3)).mean())
    assert loss.for_discriminator(real, fake).item() == pytest.approx(expected.item())
    # the generator's loss swaps the roles, against the real images of the last D step
    expected = -(F.logsigmoid(fake.view(-1) - 3).mean() + F.logsigmoid(-(real.view(-1) - 0)).mean())
    assert loss.for_generator(fake).item() == pytest.approx(expected.item())


def test_relativistic_hinge():
    real, fake = mixed([0.5, 1.5]), mixed([-0.5, 0.5])  # means 1 and 0
    loss = relativistic('hinge')
    # D: relu(1 - (real - 0)) = [0.5, 0], relu(1 + (fake - 1)) = [0, 0.5]
    assert loss.for_discriminator(real, fake).item() == pytest.approx(0.25 + 0.25)
    # G: relu(1 - (fake - 1)) = [2.5, 1.5], relu(1 + (real - 0)) = [1.5, 2.5]
    assert loss.for_generator(fake).item() == pytest.approx(2 + 2)


def test_relativistic_generator_loss_needs_a_discriminator_step_first():
    with pytest.raises(RuntimeError, match='for_discriminator'):
        relativistic('standard').for_generator(batch(0))


def test_the_generator_gets_gradients_from_every_loss():
    for loss in (HingeLoss(Namespace(), Fixed()), LeastSquaresLoss(Namespace(), Fixed()),
                 relativistic('standard'), relativistic('hinge')):
        loss.for_discriminator(mixed([0.5, 1.0]), mixed([0.0, 0.2]))
        fake = mixed([0.1, -0.3]).requires_grad_(True)
        loss.for_generator(fake).backward()
        assert fake.grad.abs().sum() > 0, type(loss).__name__


def test_help_says_that_gan_is_non_saturating():
    from ganzo.options import build_parser
    assert 'gan (the non-saturating GAN loss)' in ' '.join(build_parser().format_help().split())


# Conditional runs

class ByClass(nn.Module):
    """A conditional 'discriminator': the mean of each image plus 10 x its label,
    recording the labels; with ``classify``, class logits that favour class 1."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, images, labels):
        self.seen.append(labels)
        return images.flatten(1).mean(1) + 10 * labels

    def classify(self, images):
        return torch.tensor([[0.0, 2.0]]).expand(images.shape[0], -1)


def conditional():
    from ganzo.kind import run_kind
    from ganzo.options import complete
    options = complete(conditional=True, loss='gan')
    options.kind = run_kind(options, ('cat', 'dog'))
    return options


@pytest.mark.parametrize('name', ['gan', 'wgan', 'wgan-gp', 'hinge', 'least-squares',
                                  'relativistic'])
def test_every_loss_gives_the_discriminator_the_labels(name):
    from ganzo.registry import Registry
    critic = ByClass()
    loss = Registry.build('loss', name, conditional(), critic)
    labels = torch.tensor([0, 1, 1])
    real, fake = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2).requires_grad_(True)
    loss.for_discriminator(real, fake.detach(), labels)
    loss.for_generator(fake, labels)
    assert critic.seen and all(seen is labels for seen in critic.seen)


def test_the_auxiliary_classifier_adds_its_cross_entropy_to_both_losses():
    from ganzo.loss import AuxiliaryClassifierLoss, Loss
    critic = ByClass()
    critic.classifies = True
    loss = Loss.from_options(complete_with(auxiliary_weight=0.5), critic)
    assert isinstance(loss, AuxiliaryClassifierLoss)
    plain = GANLoss(conditional(), critic)
    real, fake, labels = batch(0.5, 2), batch(-0.5, 2), torch.tensor([1, 0])
    # class logits (0, 2): cross-entropy log(1 + e^-2) for class 1, log(1 + e^2) for class 0
    entropy = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(2))) / 2
    assert loss.for_discriminator(real, fake, labels).item() == pytest.approx(
        plain.for_discriminator(real, fake, labels).item() + 0.5 * entropy)
    assert loss.for_generator(fake, labels).item() == pytest.approx(
        plain.for_generator(fake, labels).item() + 0.5 * entropy)
    wrapped = AuxiliaryClassifierLoss(WGANGPLoss(conditional(), critic), critic, 1.0)
    assert wrapped.double_backward and wrapped.penalizes_gradients  # what the game asks


def complete_with(**values):
    options = conditional()
    for key, value in values.items():
        setattr(options, key, value)
    return options
