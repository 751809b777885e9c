"""The regularizers of the discriminator: R1 and R2 computed by hand on a tiny
critic, lazy regularization, their state, and their refusal of wgan-gp."""

import pytest
import torch
from torch import nn

from ganzo.errors import GanzoError
from ganzo.options import complete
from ganzo.regularizer import R1, R2, Regularizer


def critic(weights=(0.5, -1.0, 2.0, 0.25)):
    """D(x) = w . x + 3 on 1 x 2 x 2 images: its gradient is w everywhere."""
    linear = nn.Linear(4, 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([weights]))
        linear.bias.fill_(3)
    return nn.Sequential(nn.Flatten(), linear)


def images():
    return torch.randn(5, 1, 2, 2)


def test_r1_is_gamma_over_2_times_the_squared_gradient_norm_on_real_images():
    regularizer = R1(complete(r1_gamma=4.0), critic())
    squared_norm = 0.25 + 1 + 4 + 0.0625
    assert regularizer(images(), images()).item() == pytest.approx(4.0 / 2 * squared_norm)


def test_r1_looks_at_real_images_and_r2_at_generated_ones():
    class Quadratic(nn.Module):
        def forward(self, x):  # gradient 2x: its squared norm is 4 |x|²
            return x.pow(2).flatten(1).sum(1)

    real, fake = torch.full((3, 1, 2, 2), 1.0), torch.full((3, 1, 2, 2), 2.0)
    r1 = R1(complete(r1_gamma=1.0), Quadratic())
    r2 = R2(complete(r2_gamma=1.0), Quadratic())
    assert r1(real, fake).item() == pytest.approx(0.5 * 4 * 4 * 1)
    assert r2(real, fake).item() == pytest.approx(0.5 * 4 * 4 * 4)


def test_the_penalty_trains_the_discriminator_weights():
    model = critic()
    R1(complete(), model)(images(), images()).backward()
    # d/dw of gamma/2 |w|² is gamma w
    assert torch.allclose(model[1].weight.grad, 10.0 * model[1].weight)
    assert model[1].bias.grad is None or model[1].bias.grad.abs().sum() == 0


def test_lazy_regularization_every_k_steps_weighs_k_times():
    regularizer = R1(complete(r1_gamma=2.0, regularize_every=3), critic((1.0, 0, 0, 0)))
    values = [regularizer(images(), images()) for _ in range(7)]
    assert [value is not None for value in values] == [True, False, False] * 2 + [True]
    assert all(value.item() == pytest.approx(3 * 1.0) for value in values if value is not None)
    state = regularizer.state_dict()
    assert state == {'steps': 7}
    restored = R1(complete(r1_gamma=2.0, regularize_every=3), critic())
    restored.load_state_dict(state)
    assert [restored(images(), images()) is not None for _ in range(3)] == [False, False, True]


@pytest.mark.parametrize('name', ['r1', 'r2'])
def test_a_gradient_penalty_with_wgan_gp_is_one_error_line(name):
    with pytest.raises(GanzoError) as error:
        Regularizer.from_options(complete(loss='wgan-gp', regularizers=[name]), critic())
    message = str(error.value)
    assert f'--regularizers {name}' in message and '--loss wgan-gp' in message
    assert '\n' not in message


def test_regularizers_combine_with_other_losses():
    options = complete(loss='hinge', regularizers=['r1', 'r2'])
    assert [type(r) for r in Regularizer.from_options(options, critic())] == [R1, R2]
    assert Regularizer.from_options(complete(), critic()) == []


def test_in_a_conditional_run_the_penalties_give_the_discriminator_the_labels():
    from ganzo.kind import run_kind
    seen = []

    class ByClass(nn.Module):
        def __init__(self):
            super().__init__()
            self.critic = critic()

        def forward(self, images, labels):
            seen.append(labels)
            return self.critic(images) + labels.view(-1, 1)

    options = complete(conditional=True, r1_gamma=4.0, regularizers=['r1'])
    options.kind = run_kind(options, ('cat', 'dog'))
    labels = torch.tensor([0, 1, 1, 0, 1])
    penalty = R1(options, ByClass())(images(), images(), labels=labels)
    assert penalty.item() == pytest.approx(2.0 * (0.25 + 1 + 4 + 0.0625))  # labels: no gradient
    assert seen == [labels]
