import pytest
import torch
from torch import nn

from ganzo.game import StandardGame
from ganzo.noise import GaussianNoise
from ganzo.options import complete


class CountingLoss:
    """Returns 1, 2, 3... from each method, through the discriminator."""

    def __init__(self, discriminator):
        self.discriminator = discriminator
        self.calls = {'generator': 0, 'discriminator': 0}
        self.discriminator_trainable_in_generator_step = []

    def for_generator(self, fake_data, labels=None):
        self.calls['generator'] += 1
        self.discriminator_trainable_in_generator_step.append(
            any(p.requires_grad for p in self.discriminator.parameters()))
        return self.discriminator(fake_data).mean() * 0 + self.calls['generator']

    def for_discriminator(self, real_data, fake_data, labels=None):
        self.calls['discriminator'] += 1
        scores = self.discriminator(real_data).mean() - self.discriminator(fake_data).mean()
        return scores * 0 + self.calls['discriminator']


def batches(count, size=2):
    return [(torch.randn(size, 1, 4, 4), torch.zeros(size, dtype=torch.long))
            for _ in range(count)]


def models():
    generator = nn.Sequential(nn.Linear(3, 16), nn.Unflatten(1, (1, 4, 4)))
    discriminator = nn.Sequential(nn.Flatten(), nn.Linear(16, 1))
    return generator, discriminator


@pytest.mark.parametrize('discriminator_iterations, generator_iterations', [(1, 1), (2, 3)])
def test_turns_and_epoch_means(discriminator_iterations, generator_iterations):
    generator, discriminator = models()
    loss = CountingLoss(discriminator)
    options = complete(device='cpu', state_size=3, generator_iterations=generator_iterations,
                       discriminator_iterations=discriminator_iterations)
    game = StandardGame(options, generator, discriminator, loss)
    losses = game.run_epoch(batches(4), GaussianNoise(options))
    generator_steps = 4 // discriminator_iterations * generator_iterations
    assert loss.calls == {'discriminator': 4, 'generator': generator_steps}
    # means over the epoch, not the last batch
    assert losses['discriminator'] == pytest.approx(2.5)
    assert losses['generator'] == pytest.approx((generator_steps + 1) / 2)


def test_discriminator_does_no_gradient_work_in_generator_steps():
    generator, discriminator = models()
    loss = CountingLoss(discriminator)
    options = complete(device='cpu', state_size=3)
    game = StandardGame(options, generator, discriminator, loss)
    game.run_epoch(batches(3), GaussianNoise(options))
    assert loss.discriminator_trainable_in_generator_step == [False] * 3
    assert all(p.requires_grad for p in discriminator.parameters())


def test_max_batches_per_epoch_and_progress():
    generator, discriminator = models()
    options = complete(device='cpu', state_size=3, max_batches_per_epoch=2)
    game = StandardGame(options, generator, discriminator, CountingLoss(discriminator))
    seen = []
    game.run_epoch(batches(5), GaussianNoise(options),
                   lambda images, read: seen.append((images, read())))
    assert game.batches(batches(5)) == 2
    assert [images for images, _ in seen] == [2, 2]
    assert seen[-1][1] == {'discriminator': 1.5, 'generator': 1.5}


def test_both_models_learn_and_state_round_trips():
    generator, discriminator = models()
    options = complete(device='cpu', state_size=3)
    from ganzo.loss import GANLoss
    game = StandardGame(options, generator, discriminator, GANLoss(options, discriminator))
    before = [p.detach().clone() for p in [*generator.parameters(), *discriminator.parameters()]]
    game.run_epoch(batches(2), GaussianNoise(options))
    after = [*generator.parameters(), *discriminator.parameters()]
    assert all(not torch.equal(b, a) for b, a in zip(before, after))
    state = game.state_dict()
    other = StandardGame(options, *models(), GANLoss(options, discriminator))
    other.load_state_dict(state)
    assert other.generator_optimizer.state_dict()['state'][0]['step'] == 2


class ConditionalGenerator(nn.Module):
    """Records the labels it is given."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 16)
        self.labels = []

    def forward(self, noise, labels):
        self.labels.append(labels)
        return self.linear(noise).view(-1, 1, 4, 4) + labels.view(-1, 1, 1, 1)


class RecordingLoss(CountingLoss):
    def __init__(self, discriminator):
        super().__init__(discriminator)
        self.labels = []

    def for_generator(self, fake_data, labels=None):
        self.labels.append(labels)
        return super().for_generator(fake_data, labels)

    def for_discriminator(self, real_data, fake_data, labels=None):
        self.labels.append(labels)
        return super().for_discriminator(real_data, fake_data, labels)


def test_a_conditional_game_makes_images_of_the_classes_of_each_batch():
    from ganzo.kind import run_kind
    options = complete(state_size=3, device='cpu', conditional=True)
    options.kind = run_kind(options, ('a', 'b', 'c'))
    generator, (_, discriminator) = ConditionalGenerator(), models()
    loss = RecordingLoss(discriminator)
    data = [(torch.randn(2, 1, 4, 4), torch.tensor([2, 0])),
            (torch.randn(2, 1, 4, 4), torch.tensor([1, 1]))]
    StandardGame(options, generator, discriminator, loss).run_epoch(data, GaussianNoise(options))
    assert [labels.tolist() for labels in generator.labels] == [[2, 0], [1, 1]]
    assert [labels.tolist() for labels in loss.labels] == [[2, 0], [2, 0], [1, 1], [1, 1]]
