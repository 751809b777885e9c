"""The standard game: turns, means, hooks (the moving average of the
generator), the learning-rate schedule and the augmentations."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganzo.errors import GanzoError
from ganzo.game import StandardGame
from ganzo.hook import Hook, moving_average
from ganzo.loss import GANLoss
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
    game = StandardGame(options, generator, discriminator, GANLoss(options, discriminator))
    before = [p.detach().clone() for p in [*generator.parameters(), *discriminator.parameters()]]
    game.run_epoch(batches(2), GaussianNoise(options))
    after = [*generator.parameters(), *discriminator.parameters()]
    assert all(not torch.equal(b, a) for b, a in zip(before, after))
    state = game.state_dict()
    other = StandardGame(options, *models(), GANLoss(options, discriminator))
    other.load_state_dict(state)
    assert other.generator_optimizer.state_dict()['state'][0]['step'] == 2


class Recorder(Hook):
    """Records the generator's weights after each of its steps."""

    def __init__(self):
        self.weights = []

    def __call__(self, model):
        self.weights.append([p.detach().clone() for p in model.parameters()])


def test_the_game_keeps_a_moving_average_of_the_generator():
    generator, discriminator = models()
    options = complete(device='cpu', state_size=3, ema_decay=0.9)
    recorder = Recorder()
    hooks = {'generator': [recorder, *Hook.from_options(options, 'generator', generator)],
             'discriminator': []}
    game = StandardGame(options, generator, discriminator, GANLoss(options, discriminator), hooks)
    game.run_epoch(batches(3), GaussianNoise(options))
    expected = recorder.weights[0]  # after the first step, the average is the weights
    for weights in recorder.weights[1:]:
        expected = [0.9 * e + 0.1 * w for e, w in zip(expected, weights)]
    assert len(recorder.weights) == 3
    average = moving_average(hooks['generator'])
    assert all(torch.allclose(a, e, atol=1e-6) for a, e in zip(average.model.parameters(),
                                                               expected))
    # built by the game itself from the options, too
    game = StandardGame(options, *models(), GANLoss(options, discriminator))
    assert moving_average(game.hooks['generator']) is not None
    assert 'moving_average' in game.state_dict()['hooks']['generator'][0]


def rates(game):
    return [game.generator_optimizer.param_groups[0]['lr'],
            game.discriminator_optimizer.param_groups[0]['lr']]


def test_learning_rates_decay_linearly_to_zero_from_the_given_epoch():
    generator, discriminator = models()
    options = complete(device='cpu', state_size=3, epochs=5, lr_decay_start=3,
                       generator_lr=1e-3, discriminator_lr=4e-3)
    game = StandardGame(options, generator, discriminator, CountingLoss(discriminator))
    seen = []
    for _ in range(5):
        game.run_epoch(batches(1), GaussianNoise(options))
        seen.append(rates(game))
    # epochs 1, 2 as given; then 3/3, 2/3, 1/3 of them: zero would be epoch 6
    assert [factor for factor, _ in seen] == pytest.approx([1e-3] * 3 + [2e-3 / 3, 1e-3 / 3])
    assert all(discriminator == pytest.approx(4 * generator) for generator, discriminator in seen)
    restored = StandardGame(options, *models(), CountingLoss(discriminator))
    restored.load_state_dict({**game.state_dict(), 'schedule': {'epoch': 3}})
    restored.run_epoch(batches(1), GaussianNoise(options))
    assert rates(restored) == pytest.approx(seen[3])


def test_the_decay_counts_epochs_from_the_start_epoch():
    generator, discriminator = models()
    options = complete(device='cpu', state_size=3, start_epoch=3, epochs=4, lr_decay_start=3,
                       generator_lr=1e-3)
    game = StandardGame(options, generator, discriminator, CountingLoss(discriminator))
    seen = []
    for _ in range(2):  # epochs 3 and 4
        game.run_epoch(batches(1), GaussianNoise(options))
        seen.append(rates(game)[0])
    assert seen == pytest.approx([1e-3, 1e-3 / 2])


def test_without_a_decay_the_rates_stay():
    generator, discriminator = models()
    options = complete(device='cpu', state_size=3, epochs=2)
    game = StandardGame(options, generator, discriminator, CountingLoss(discriminator))
    for _ in range(3):
        game.run_epoch(batches(1), GaussianNoise(options))
    assert rates(game) == [2e-4, 2e-4]


def test_a_decay_that_starts_after_the_last_epoch_is_one_error_line():
    options = complete(device='cpu', state_size=3, epochs=4, lr_decay_start=5)
    with pytest.raises(GanzoError, match='--lr-decay-start 5 is after the last epoch'):
        StandardGame(options, *models(), CountingLoss(models()[1]))


class Seeing(nn.Module):
    """A discriminator that records every batch it sees, and the labels given
    with it in a conditional run."""

    def __init__(self, channels=1):
        super().__init__()
        self.linear = nn.Linear(16 * channels, 1)
        self.seen, self.labels = [], []

    def forward(self, images, *labels):
        self.seen.append(images)
        self.labels.append(labels[0] if labels else None)
        return self.linear(images.flatten(1)).view(-1)


def test_the_discriminator_sees_augmented_images_and_the_generator_learns_through_them():
    torch.manual_seed(0)
    generator, discriminator = models()[0], Seeing()
    options = complete(device='cpu', state_size=3, augment='cutout')
    game = StandardGame(options, generator, discriminator, GANLoss(options, discriminator))
    real = torch.randn(2, 1, 4, 4)
    fakes, gradients = [], []

    def record(module, inputs, output):
        fakes.append(output.detach())
        output.register_hook(gradients.append)

    generator.register_forward_hook(record)
    game.run_epoch([(real, torch.zeros(2, dtype=torch.long))], GaussianNoise(options))
    seen_real, seen_fake, seen_by_generator = discriminator.seen
    cut = seen_real == 0  # cutout zeroes a square of half the size, cut at the borders
    assert cut.flatten(1).sum(1).min() > 0 and cut.flatten(1).sum(1).max() <= 4
    assert torch.equal(seen_real[~cut], real[~cut])
    assert not torch.equal(seen_fake, fakes[0]) and not torch.equal(seen_by_generator, fakes[0])
    # the generator's step: its gradient reaches the generated images through the
    # augmentation, zero exactly where it cut
    [gradient] = gradients
    assert (gradient[seen_by_generator == 0] == 0).all()
    assert (gradient[seen_by_generator != 0] != 0).all()
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


def test_a_conditional_discriminator_sees_augmented_images_with_their_labels():
    from ganzo.kind import run_kind
    torch.manual_seed(0)
    options = complete(state_size=3, device='cpu', conditional=True, augment='cutout')
    options.kind = run_kind(options, ('a', 'b', 'c'))
    discriminator = Seeing()
    real, labels = torch.randn(2, 1, 4, 4), torch.tensor([2, 0])
    StandardGame(options, ConditionalGenerator(), discriminator,
                 GANLoss(options, discriminator)).run_epoch([(real, labels)],
                                                            GaussianNoise(options))
    assert len(discriminator.seen) == 3  # real, generated; generated in the generator's step
    for images, seen_labels in zip(discriminator.seen, discriminator.labels):
        assert ((images == 0).flatten(1).sum(1) > 0).all()  # cut
        assert seen_labels.tolist() == [2, 0]
    seen_real = discriminator.seen[0]
    assert torch.equal(seen_real[seen_real != 0], real[seen_real != 0])


def test_pix2pix_takes_its_l1_on_the_generated_images_not_the_augmented_pairs():
    from ganzo.game import TranslateGame
    from ganzo.loss import Pix2PixLoss
    torch.manual_seed(0)
    options = complete(device='cpu', game='translate', data_format='colorization',
                       generator='u-gen', discriminator='patch-gan', loss='pix2pix',
                       augment='cutout', l1_weight=1.0)
    generator, discriminator = nn.Conv2d(1, 1, 1), Seeing(channels=2)
    loss = Pix2PixLoss(options, discriminator)
    game = TranslateGame(options, generator, discriminator, loss)
    inputs, targets = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    with torch.no_grad():
        generated = generator(inputs)
    game.run_epoch([(inputs, targets)], None)
    seen_by_generator = discriminator.seen[-1]
    assert (seen_by_generator == 0).any()  # the pairs are cut, input and image alike
    assert torch.equal(seen_by_generator[:, 0] == 0, seen_by_generator[:, 1] == 0)
    # the generator's loss: the adversarial one on what D saw, L1 on the images themselves
    adversarial = GANLoss(options, discriminator).for_generator(seen_by_generator.detach())
    expected = adversarial + F.l1_loss(generated, targets)
    raw = loss.for_generator(seen_by_generator.detach(), targets,
                             generated=torch.cat([inputs, generated], 1))
    assert raw.item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss.for_generator(seen_by_generator.detach(), targets).item() != pytest.approx(
        expected.item(), rel=1e-5)  # what the loss would be on the augmented images
